"""The Python client against a real ``Serving`` on loopback: a late joiner's crowd equals the
server's world, topic filters, every operation and its errors, the client commands, timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import numpy as np
import pyarrow.parquet as pq
import pytest
import zmq

from synthtwin.clients.python import CloneClient, RequestClient, RequestError
from synthtwin.clients.python.cli import main as client_main
from synthtwin.clients.python.cli import parse_argument
from synthtwin.components.town import PlaceKind, Town
from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from synthtwin.net.wire import (
    AsyncCloneClient,
    AsyncRequestClient,
    ClientClosed,
    WireError,
    reply,
    request,
)
from synthtwin.net.wire.crowd import (
    DEAD_RECKONING_M,
    HEADING_CODES,
    POS_QUANTUM_M,
    SPEED_QUANTUM_MPS,
    CrowdEncoder,
    CrowdState,
)
from synthtwin.net.wire.vitals import VitalsMessage
from tests.loopback import loopback

MONDAY_MORNING = datetime(2026, 3, 2, 8, 0)
TICK_HZ = 30.0
VITALS_HZ = 5.0
"""Faster than the default 1 Hz, so that a short test sees several vitals messages."""
UNKNOWN_ID = 999_999
QUIET_S = 0.3
"""A paused server publishes nothing: this long without a message means the stream is drained."""


@pytest.fixture(scope="module")
def serving(tmp_path_factory) -> Iterator[Serving]:
    """200 twins at 30 Hz in a background thread, already ticking when the tests start."""
    config = load_config(
        None,
        serve={
            "pub_endpoint": loopback(),
            "router_endpoint": loopback(),
            "checkpoint": tmp_path_factory.mktemp("serve") / "w.ckpt",
            "http_enabled": False,  # tests/test_http_api.py covers it; 8000 may be taken
            "vitals_hz": VITALS_HZ,
            # every tick, so that a paused server has published its whole world (at the default
            # 10 Hz, cells changed in the last ticks before a pause wait for the next due tick)
            "crowd_hz": TICK_HZ,
        },
        twins=200,
        seed=5,
        tick_hz=TICK_HZ,
        start=MONDAY_MORNING,
    )
    server = Serving(config)
    thread = threading.Thread(target=server.run, name="serve")
    thread.start()
    with RequestClient(config.serve.router_endpoint, timeout_s=10.0) as client:
        deadline = time.monotonic() + 20
        while client.call("stats")["tick"] < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
    yield server
    server.stop.set()
    thread.join(timeout=20)
    assert not thread.is_alive()


@pytest.fixture
def client(serving: Serving) -> Iterator[RequestClient]:
    with RequestClient(serving.config.serve.router_endpoint) as c:
        yield c


def endpoints(serving: Serving) -> list[str]:
    serve = serving.config.serve
    return ["--pub", serve.pub_endpoint, "--router", serve.router_endpoint]


def poll_for(sub: CloneClient, seconds: float) -> list:
    applied = []
    end = time.monotonic() + seconds
    while (left_s := end - time.monotonic()) > 0:
        applied += sub.poll(left_s)
    return applied


def unpause(serving: Serving) -> None:
    """Resume the server with the ``resume`` op."""
    with RequestClient(serving.config.serve.router_endpoint, timeout_s=10.0) as client:
        client.call("resume")


def drain(sub: CloneClient) -> None:
    """Poll until the (paused) server has published nothing for ``QUIET_S``."""
    deadline = time.monotonic() + 10
    while sub.poll(QUIET_S) and time.monotonic() < deadline:
        pass


# -- Clone ------------------------------------------------------------------------------------


def test_a_late_joiner_mirrors_the_world(serving: Serving):
    with CloneClient(
        serving.config.serve.pub_endpoint, serving.config.serve.router_endpoint
    ) as sub:
        assert sub.crowd().ids.size > 0  # from the snapshot alone
        applied = poll_for(sub, 1.0)
        assert any(isinstance(m, CrowdState) for m in applied)
        sub.requests.call("pause")
        try:
            drain(sub)
            world = serving.sim.world
            order = np.argsort(world.ids)
            view = sub.crowd()
            np.testing.assert_array_equal(view.ids, world.ids[order])
            np.testing.assert_array_equal(sub.roster, world.ids[order])
            # records carried now within the quantum; the others dead-reckoned to now (6.1)
            now_s = serving.server.publisher.t_s
            fresh = view.sample_t_s == now_s
            pos_err_m = np.abs(view.pos_m - world["position_m"][order])[fresh].max(initial=0.0)
            assert pos_err_m <= POS_QUANTUM_M / 2 + 1e-9
            miss_m = np.linalg.norm(view.position_at(now_s) - world["position_m"][order], axis=1)
            assert miss_m.max() <= DEAD_RECKONING_M + 1e-9
            np.testing.assert_array_equal(view.activity, world["activity"][order])
            np.testing.assert_array_equal(view.clip, world["clip"][order])
            # not blend: net/publisher.py marks no cell dirty for a cross-fade at rest
            speed_mps = np.minimum(world["speed_mps"][order], 255 * SPEED_QUANTUM_MPS)
            assert np.abs(view.speed_mps - speed_mps).max() <= SPEED_QUANTUM_MPS / 2 + 1e-5
            turn = np.angle(np.exp(1j * (view.heading_rad - world["heading_rad"][order])))
            assert np.abs(turn).max() <= np.pi / HEADING_CODES + 1e-5
            assert sub.rejected == 0
            joined = asyncio.run(join_async(serving))  # the other flavour, from its snapshot
            for name in ("ids", "pos_m", "heading_rad", "activity", "clip", "sample_t_s"):
                np.testing.assert_array_equal(getattr(joined, name), getattr(view, name))
        finally:
            unpause(serving)


async def join_async(serving: Serving):
    """The crowd an ``AsyncCloneClient`` holds right after joining."""
    serve = serving.config.serve
    async with AsyncCloneClient(serve.pub_endpoint, serve.router_endpoint) as client:
        return client.crowd()


def test_a_twin_subscription_receives_only_that_twins_vitals(serving: Serving):
    twin = int(serving.sim.world.ids[7])
    serve = serving.config.serve
    with CloneClient(serve.pub_endpoint, serve.router_endpoint, cells=[], twins=[twin]) as sub:
        applied = poll_for(sub, 1.0)
        vitals = [m for m in applied if isinstance(m, VitalsMessage)]
        assert vitals, "no vitals arrived"
        assert all(m.ids.tolist() == [twin] for m in vitals)
        assert not any(isinstance(m, CrowdState) for m in applied)
        latest = sub.vitals(twin)
        assert latest["twin_id"] == twin and latest["seq"] == vitals[-1].seq
        assert 30 <= latest["hr_bpm"] <= 220
        assert sub.vitals(twin + 1) is None


FAKE_CELL = (0, 0)
FAKE_IDS = np.array([4, 9], np.uint32)


def fake_server(pub: zmq.Socket, router: zmq.Socket, stop: threading.Event, asked: list) -> None:
    """Publishes one cell's deltas every 20 ms but never their keyframe (seq 1); answers
    ``roster``, and ``snapshot`` with nothing for every cell, the keyframe for that cell."""
    encoder = CrowdEncoder(FAKE_CELL, keyframe_every=10_000)
    seq = 0
    while not stop.is_set():
        seq += 1
        n = len(FAKE_IDS)
        payload = encoder.encode(
            seq, seq, seq / TICK_HZ, FAKE_IDS, np.full((n, 2), 100.0 + seq), np.zeros(n),
            np.ones(n), np.zeros(n, np.uint8), np.zeros(n, np.uint8), np.zeros(n), np.ones(n),
        )  # fmt: skip
        if seq > 1:
            pub.send_multipart([b"cell/0/0/crowd", payload])
        if router.poll(20):
            *envelope, data = router.recv_multipart()
            req = request.decode(data)
            asked.append((req.op, req.args))
            if req.op == "roster":
                result = {"epoch": "2026-03-02T00:00:00", "activities": ["sleep"],
                          "clips": ["stand"], "ids": FAKE_IDS}  # fmt: skip
            else:
                result = {"crowd": encoder.snapshot() if req.args else []}
            answer = reply.Reply(seq, seq, seq / TICK_HZ, req.id, True, result)
            router.send_multipart([*envelope, reply.encode(answer)])


@contextlib.contextmanager
def fake_serving() -> Iterator[tuple[str, str, list]]:
    """``fake_server`` in a thread: its PUB and ROUTER endpoints and the requests it was asked."""
    context = zmq.Context.instance()
    pub, router = context.socket(zmq.PUB), context.socket(zmq.ROUTER)
    for sock in (pub, router):
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind("tcp://127.0.0.1:*")
    stop, asked = threading.Event(), []
    thread = threading.Thread(target=fake_server, args=(pub, router, stop, asked))
    thread.start()
    try:
        yield (
            pub.getsockopt_string(zmq.LAST_ENDPOINT),
            router.getsockopt_string(zmq.LAST_ENDPOINT),
            asked,
        )
    finally:
        stop.set()
        thread.join(timeout=10)
        pub.close()
        router.close()


def test_a_lost_keyframe_is_recovered_with_a_snapshot_of_its_cell():
    with fake_serving() as (pub_endpoint, router_endpoint, asked):  # noqa: SIM117
        with CloneClient(pub_endpoint, router_endpoint) as sub:
            assert sub.crowd().ids.size == 0  # the snapshot of every cell was empty
            applied = poll_for(sub, 0.5)
            view = sub.crowd()
            assert view.ids.tolist() == FAKE_IDS.tolist() and sub.rejected == 0
            assert view.pos_m[0, 0] == pytest.approx(100.0 + applied[-1].seq)
    assert ("snapshot", {"cells": [list(FAKE_CELL)]}) in asked


def test_the_asyncio_flavour_recovers_a_lost_keyframe_too():
    async def follow(pub_endpoint: str, router_endpoint: str) -> tuple[list, AsyncCloneClient]:
        client = AsyncCloneClient(pub_endpoint, router_endpoint)
        assert await client.join() == [] and client.crowd().ids.size == 0
        applied, end = [], time.monotonic() + 0.5
        while (left_s := end - time.monotonic()) > 0:
            applied += await client.poll(left_s)
        await client.close()
        return applied, client

    with fake_serving() as (pub_endpoint, router_endpoint, asked):
        applied, client = asyncio.run(follow(pub_endpoint, router_endpoint))
    crowd = client.crowd()
    assert crowd.ids.tolist() == FAKE_IDS.tolist() and client.rejected == 0
    assert crowd.pos_m[0, 0] == pytest.approx(100.0 + applied[-1].seq)
    assert ("snapshot", {"cells": [list(FAKE_CELL)]}) in asked


# -- requests ---------------------------------------------------------------------------------


def expect_error(client: RequestClient, code: str, message: str, op: str, **args) -> None:
    with pytest.raises(RequestError) as caught:
        client.call(op, **args)
    assert (caught.value.code, caught.value.message) == (code, message)


def test_every_operation_and_its_errors(serving: Serving, client: RequestClient):
    roster = client.call("roster")
    assert roster["activities"][0] == "sleep" and "walk" in roster["clips"]
    twin = int(roster["ids"][0])
    details = client.call("twin", id=twin)
    assert details["id"] == twin and {"vitals", "profile", "today"} <= details.keys()
    assert isinstance(client.call("snapshot", cells=[[0, 0]])["crowd"], list)
    stats = client.call("stats")
    assert stats["twins"] == len(roster["ids"]) and stats["tick_hz"] == TICK_HZ
    assert {"measured_hz", "overruns", "dropped_ticks", "sim_time", "systems"} <= stats.keys()
    with pytest.raises(RequestError, match="unknown_twin"):
        client.call("twin", id=UNKNOWN_ID)  # the message: test_unknown_twin_message
    expect_error(client, "bad_request", "missing field 'args.id'", "twin")
    expect_error(client, "unknown_op", "unknown op 'fly'", "fly")

    spawned = client.call("spawn", count=2, seed=1)["ids"]
    assert len(spawned) == 2
    expect_error(
        client, "out_of_range", "field 'args.count' holds 0, expected 1..10000", "spawn", count=0
    )
    assert client.call("despawn", ids=spawned.tolist())["removed"].tolist() == spawned.tolist()
    twins = client.call("stats")["twins"]
    message = f"twin {UNKNOWN_ID} does not exist"
    expect_error(client, "unknown_twin", message, "despawn", ids=[twin, UNKNOWN_ID])
    assert client.call("stats")["twins"] == twins
    assert client.call("twin", id=twin)["id"] == twin  # not removed either
    message = "field 'args.ids' holds 0 ids, expected 1..10000 ids"
    expect_error(client, "out_of_range", message, "despawn", ids=[])

    assert client.call("time_scale", scale=2.0) == {"scale": 2.0, "previous": 1.0}
    assert client.call("time_scale", scale=1.0)["previous"] == 2.0
    expect_error(
        client, "out_of_range", "field 'args.scale' holds 0.0, expected 0.01..18000",
        "time_scale", scale=0.0,
    )  # fmt: skip
    assert client.call("resume") == {"paused": False}
    try:
        assert client.call("pause") == {"paused": True}
    finally:
        unpause(serving)


def test_town_gives_every_place_kind_and_position(serving: Serving, client: RequestClient):
    town = serving.sim.world.resource(Town)
    reply = client.call("town")
    assert reply["kinds"] == [kind.name.lower() for kind in PlaceKind]
    assert reply["kind"].dtype == np.uint8 and reply["xy_m"].dtype == np.float32
    np.testing.assert_array_equal(reply["kind"], town.kind)
    np.testing.assert_array_equal(reply["xy_m"], town.xy_m)
    assert reply["radius_m"] == town.radius_m
    assert set(reply["kind"].tolist()) == set(range(len(PlaceKind)))
    spawned = client.call("spawn", count=3, seed=2)["ids"]  # into existing homes: same town
    np.testing.assert_array_equal(client.call("town")["xy_m"], reply["xy_m"])
    client.call("despawn", ids=spawned.tolist())


def test_unknown_twin_message(client: RequestClient):
    expect_error(client, "unknown_twin", f"twin {UNKNOWN_ID} does not exist", "twin", id=UNKNOWN_ID)


def test_a_paused_server_still_answers(serving: Serving):
    with RequestClient(serving.config.serve.router_endpoint, timeout_s=10.0) as client:
        client.call("pause")
        time.sleep(0.5)  # past the backlog of ticks the loop may still run through (<= 5)
        try:
            assert client.call("stats")["paused"] is True
            assert client.call("resume") == {"paused": False}
        finally:
            unpause(serving)


def test_an_unreadable_request_gets_bad_request(serving: Serving):
    with zmq.Context.instance().socket(zmq.DEALER) as raw:
        raw.setsockopt(zmq.LINGER, 0)
        raw.connect(serving.config.serve.router_endpoint)
        raw.send(b"\xc1")  # a byte msgpack never uses
        assert raw.poll(5000), "no reply"
        answer = reply.decode(raw.recv())
    assert answer.id is None and not answer.ok
    assert (answer.error.code, answer.error.message) == ("bad_request", "payload is not msgpack")


FLAVOURS = ("blocking", "asyncio")


def run_calls(flavour: str, endpoint: str, ops: list[str], timeout_s: float = 2.0) -> list:
    """The results of ``ops``, called one after the other on one client of ``flavour``."""
    if flavour == "blocking":
        with RequestClient(endpoint, timeout_s) as client:
            return [client.call(op) for op in ops]

    async def run() -> list:
        async with AsyncRequestClient(endpoint, timeout_s) as client:
            return [await client.call(op) for op in ops]

    return asyncio.run(run())


@contextlib.contextmanager
def fake_router(answer, requests: int) -> Iterator[tuple[str, list[request.Request]]]:
    """A ROUTER in a thread that reads ``requests`` requests and sends back, for each batch that
    ``answer(batch)`` takes, the payloads it returns (``answer`` returns None to wait for more)."""
    router = zmq.Context.instance().socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind("tcp://127.0.0.1:*")
    seen: list[request.Request] = []

    def serve() -> None:
        batch = []
        while len(seen) < requests and router.poll(5000):
            *envelope, payload = router.recv_multipart()
            seen.append(request.decode(payload))
            batch.append(seen[-1])
            replies = answer(batch)
            if replies is not None:
                for data in replies:
                    router.send_multipart([*envelope, data])
                batch = []

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield router.getsockopt_string(zmq.LAST_ENDPOINT), seen
    finally:
        thread.join(timeout=10)
        router.close()


def echo(req: request.Request, reply_id: int | None = None) -> bytes:
    reply_id = req.id if reply_id is None else reply_id
    return reply.encode(reply.Reply(0, 0, 0.0, reply_id, True, {"id": reply_id, "op": req.op}))


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_stale_replies_are_skipped_and_ids_grow(flavour):
    """A fake ROUTER answers each request with an old id first, then with the right one."""

    def stale_then_right(batch):
        return [echo(batch[0], batch[0].id - 1), echo(batch[0])]

    with fake_router(stale_then_right, 2) as (endpoint, seen):
        results = run_calls(flavour, endpoint, ["stats", "stats"])
    assert [r["id"] for r in results] == [req.id for req in seen]
    assert seen[1].id == seen[0].id + 1


def test_asyncio_callers_share_one_socket_and_get_their_own_replies():
    """Three requests at once, answered in reverse order: each caller gets its own reply."""

    def reversed_when_all_came(batch):
        return [echo(req) for req in reversed(batch)] if len(batch) == 3 else None

    async def three_at_once(endpoint: str) -> list:
        async with AsyncRequestClient(endpoint) as client:
            one = client.call("stats")
            two = client.exchange([("roster", {}), ("snapshot", {})])
            return await asyncio.gather(one, two)

    with fake_router(reversed_when_all_came, 3) as (endpoint, seen):
        stats, (roster, snapshot) = asyncio.run(three_at_once(endpoint))
    assert stats["op"] == "stats" and roster.result["op"] == "roster"
    assert snapshot.result["op"] == "snapshot" and roster.id + 1 == snapshot.id
    assert sorted(req.id for req in seen) == [1, 2, 3]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_an_unreadable_reply_fails_the_waiting_request(flavour):
    with (
        fake_router(lambda batch: [b"\xc1"], 1) as (endpoint, _),
        pytest.raises(WireError, match="payload is not msgpack"),
    ):
        run_calls(flavour, endpoint, ["stats"])


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_no_server_is_a_timeout_naming_the_endpoint_and_op(flavour):
    endpoint = loopback()
    with pytest.raises(TimeoutError) as caught:
        run_calls(flavour, endpoint, ["roster"], timeout_s=0.2)
    assert endpoint in str(caught.value) and "'roster'" in str(caught.value)
    assert (caught.value.op, caught.value.endpoint, caught.value.timeout_s) == (
        "roster", endpoint, 0.2,
    )  # fmt: skip


def test_a_closed_client_refuses_and_fails_what_waits():
    client = RequestClient(loopback())
    client.close()
    with pytest.raises(ClientClosed):
        client.call("stats")

    async def close_while_waiting() -> None:
        client = AsyncRequestClient(loopback(), timeout_s=5.0)
        waiting = asyncio.ensure_future(client.call("stats"))
        await asyncio.sleep(0.05)
        await client.close()
        with pytest.raises(ClientClosed):
            await waiting
        with pytest.raises(ClientClosed):
            await client.call("stats")

    asyncio.run(close_while_waiting())


# -- commands ---------------------------------------------------------------------------------


def test_query_arguments_parse_as_json_lists_or_strings():
    assert parse_argument("ids=1,2,3") == ("ids", [1, 2, 3])
    assert parse_argument("scale=2.5") == ("scale", 2.5)
    assert parse_argument("cells=[[0,-1]]") == ("cells", [[0, -1]])
    assert parse_argument("name=bob") == ("name", "bob")
    with pytest.raises(ValueError, match="key=value"):
        parse_argument("count")


def test_query_prints_the_result_or_the_error(serving: Serving, capsys):
    twin = int(serving.sim.world.ids[0])
    assert client_main(["query", *endpoints(serving), "twin", f"id={twin}"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["id"] == twin and len(result["pos_m"]) == 2
    despawn = ["despawn", f"ids={twin},{UNKNOWN_ID}"]
    assert client_main(["query", *endpoints(serving), *despawn]) == 2
    assert capsys.readouterr().err == f"error unknown_twin: twin {UNKNOWN_ID} does not exist\n"
    assert client_main(["query", *endpoints(serving), "snapshot"]) == 0
    assert "$bin" in json.loads(capsys.readouterr().out)["crowd"][0]


def test_record_writes_crowd_and_vitals_rows(serving: Serving, tmp_path, capsys):
    out = tmp_path / "crowd.parquet"
    assert client_main(["record", *endpoints(serving), "--seconds", "1", "--out", str(out)]) == 0
    crowd = pq.read_table(out)
    assert crowd.num_rows > 0 and f"{crowd.num_rows} crowd rows" in capsys.readouterr().out
    assert crowd.column_names == [
        "t_s", "tick", "seq", "twin_id", "x_m", "y_m", "heading_rad", "speed_mps", "activity",
        "clip", "phase",
    ]  # fmt: skip
    assert set(crowd["twin_id"].to_pylist()) <= set(serving.sim.world.ids.tolist())
    vitals = pq.read_table(tmp_path / "crowd.vitals.parquet")
    assert vitals.num_rows > 0 and "hr_bpm" in vitals.column_names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crowd.parquet", "crowd.vitals.parquet"]


def test_watch_shows_rates_activities_and_a_twin(serving: Serving, capsys):
    twin = int(serving.sim.world.ids[3])
    argv = ["watch", *endpoints(serving), "--seconds", "2", "--twin", str(twin)]
    assert client_main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("tick rate") == 2  # one block a second
    assert "Hz configured" in out and "p99 ms" in out and "activity" in out
    assert f"twin {twin}: " in out and "bpm" in out
