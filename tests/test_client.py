"""The Python client against a real ``Serving`` on loopback: a late joiner's crowd equals the
server's world, topic filters, every operation and its errors, the client commands, timeouts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import numpy as np
import pyarrow.parquet as pq
import pytest
import zmq

from synthtwin.clients.python import RequestClient, RequestError, Subscriber, merge_cells
from synthtwin.clients.python.cli import main as client_main
from synthtwin.clients.python.cli import parse_argument
from synthtwin.components.town import PlaceKind, Town
from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from synthtwin.net.wire import reply, request
from synthtwin.net.wire.crowd import (
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


def poll_for(sub: Subscriber, seconds: float) -> list:
    applied = []
    end = time.monotonic() + seconds
    while (left_s := end - time.monotonic()) > 0:
        applied += sub.poll(left_s)
    return applied


def unpause(serving: Serving) -> None:
    """Resume the server with the ``resume`` op."""
    with RequestClient(serving.config.serve.router_endpoint) as client:
        client.call("resume")


def drain(sub: Subscriber) -> None:
    """Poll until the (paused) server has published nothing for ``QUIET_S``."""
    deadline = time.monotonic() + 10
    while sub.poll(QUIET_S) and time.monotonic() < deadline:
        pass


# -- Clone ------------------------------------------------------------------------------------


def test_a_late_joiner_mirrors_the_world(serving: Serving):
    with Subscriber(serving.config.serve.pub_endpoint, serving.config.serve.router_endpoint) as sub:
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
            pos_err_m = np.abs(view.pos_m - world["position_m"][order]).max()
            assert pos_err_m <= POS_QUANTUM_M / 2 + 1e-9
            np.testing.assert_array_equal(view.activity, world["activity"][order])
            np.testing.assert_array_equal(view.clip, world["clip"][order])
            # not blend: net/publisher.py marks no cell dirty for a cross-fade at rest
            speed_mps = np.minimum(world["speed_mps"][order], 255 * SPEED_QUANTUM_MPS)
            assert np.abs(view.speed_mps - speed_mps).max() <= SPEED_QUANTUM_MPS / 2 + 1e-5
            turn = np.angle(np.exp(1j * (view.heading_rad - world["heading_rad"][order])))
            assert np.abs(turn).max() <= np.pi / HEADING_CODES + 1e-5
            assert sub.rejected == 0
        finally:
            unpause(serving)


def test_a_twin_subscription_receives_only_that_twins_vitals(serving: Serving):
    twin = int(serving.sim.world.ids[7])
    serve = serving.config.serve
    with Subscriber(serve.pub_endpoint, serve.router_endpoint, cells=[], twins=[twin]) as sub:
        applied = poll_for(sub, 1.0)
        vitals = [m for m in applied if isinstance(m, VitalsMessage)]
        assert vitals, "no vitals arrived"
        assert all(m.ids.tolist() == [twin] for m in vitals)
        assert not any(isinstance(m, CrowdState) for m in applied)
        latest = sub.vitals(twin)
        assert latest["twin_id"] == twin and latest["seq"] == vitals[-1].seq
        assert 30 <= latest["hr_bpm"] <= 220
        assert sub.vitals(twin + 1) is None


def cell_state(cell: tuple[int, int], seq: int, ids: list[int], x_m: float) -> CrowdState:
    """A decoded cell whose twins all stand at (x_m, 0)."""
    n = len(ids)
    zeros = np.zeros(n, np.float32)
    return CrowdState(
        cell, seq, seq, seq / TICK_HZ, np.array(ids, np.uint32), np.tile([x_m, 0.0], (n, 1)),
        zeros, zeros, np.zeros(n, np.uint8), np.zeros(n, np.uint8), zeros, zeros, np.zeros(n),
    )  # fmt: skip


def test_a_twin_held_by_two_cells_comes_from_the_fresher_one():
    old = cell_state((0, 0), seq=10, ids=[1, 2], x_m=1.0)
    new = cell_state((1, 0), seq=12, ids=[2, 3], x_m=2.0)
    for states in ([old, new], [new, old]):
        view = merge_cells(states)
        assert view.ids.tolist() == [1, 2, 3]
        assert view.pos_m[:, 0].tolist() == [1.0, 2.0, 2.0]
    assert merge_cells([]).ids.dtype == np.uint32


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


def test_a_lost_keyframe_is_recovered_with_a_snapshot_of_its_cell():
    context = zmq.Context.instance()
    pub, router = context.socket(zmq.PUB), context.socket(zmq.ROUTER)
    for sock in (pub, router):
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind("tcp://127.0.0.1:*")
    stop, asked = threading.Event(), []
    thread = threading.Thread(target=fake_server, args=(pub, router, stop, asked))
    thread.start()
    try:
        pub_endpoint, router_endpoint = (
            s.getsockopt_string(zmq.LAST_ENDPOINT) for s in (pub, router)
        )
        with Subscriber(pub_endpoint, router_endpoint) as sub:
            assert sub.crowd().ids.size == 0  # the snapshot of every cell was empty
            applied = poll_for(sub, 0.5)
            view = sub.crowd()
            assert view.ids.tolist() == FAKE_IDS.tolist() and sub.rejected == 0
            assert view.pos_m[0, 0] == pytest.approx(100.0 + applied[-1].seq)
    finally:
        stop.set()
        thread.join(timeout=10)
        pub.close()
        router.close()
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
        client, "out_of_range", "field 'args.scale' holds 0.0, expected (0, 18000]",
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
    with RequestClient(serving.config.serve.router_endpoint, timeout_s=1.0) as client:
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


def test_stale_replies_are_skipped_and_ids_grow():
    """A fake ROUTER answers each request with an old id first, then with the right one."""
    context = zmq.Context.instance()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind("tcp://127.0.0.1:*")
    seen: list[int] = []

    def answer_twice() -> None:
        for _ in range(2):
            if not router.poll(5000):
                return
            *envelope, payload = router.recv_multipart()
            req = request.decode(payload)
            seen.append(req.id)
            for reply_id in (req.id - 1, req.id):
                answer = reply.Reply(0, 0, 0.0, reply_id, True, {"id": reply_id})
                router.send_multipart([*envelope, reply.encode(answer)])

    thread = threading.Thread(target=answer_twice)
    thread.start()
    try:
        with RequestClient(router.getsockopt_string(zmq.LAST_ENDPOINT)) as client:
            assert client.call("stats") == {"id": seen[0]}
            assert client.call("stats") == {"id": seen[1]}
    finally:
        thread.join(timeout=10)
        router.close()
    assert seen[1] == seen[0] + 1


def test_no_server_is_a_timeout_naming_the_endpoint_and_op():
    endpoint = loopback()
    with RequestClient(endpoint, timeout_s=0.2) as client, pytest.raises(TimeoutError) as caught:
        client.call("roster")
    assert endpoint in str(caught.value) and "'roster'" in str(caught.value)


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
