"""The front (net/front.py) over two real shard-like servers on loopback: one world of 200
twins served twice, each server keeping only the twins of its region (the other region's
despawned), so the two hold disjoint twins in disjoint cells, as Ray shards do. Clients of this
repository (CloneClient, RequestClient) talk to the front unchanged."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Iterator

import httpx
import msgpack
import numpy as np
import pytest
import zmq
from websockets.asyncio.client import connect

from synthtwin.clients.python import CloneClient, RequestClient, RequestError
from synthtwin.engine.app.assets import crowd_assets
from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from synthtwin.engine.regions import RegionMap
from synthtwin.net.auth import Role, TokenStore
from synthtwin.net.front import Front, FrontError, ShardEndpoints, shard_security
from synthtwin.net.front_stream import REMOVAL_GRACE_S
from synthtwin.net.gateway import Gateway, GatewaySpec
from synthtwin.net.publisher import MAX_SUBSCRIPTION_MESSAGES
from synthtwin.net.websocket import split_frame
from synthtwin.net.wire import crowd, meta, reply, request
from synthtwin.net.wire.clone import merge_cells
from synthtwin.net.wire.crowd import CrowdDecoder
from synthtwin.net.wire.envelope import unpack_envelope
from synthtwin.net.wire.reply import Reply
from tests.loopback import loopback
from tests.test_client import MONDAY_MORNING
from tests.test_front_stream import Shard
from tests.test_websocket import control, replies, request_frame

TICK_HZ = 30.0
CALL_S = 20.0
"""How long a test's request waits for its reply (wall s): wide, for a loaded machine; no test
here times a reply."""
SHARD_WAIT_S = 10.0
"""The front's wait for a shard's reply (wall s) where a test is not about that wait."""
DEAF_WAIT_S = 3.0
"""The front's wait where a test waits it out for a shard that never answers (wall s): the live
shard must answer within it too."""


def _shard(
    tmp_path, name: str, pub: str | None = None, router: str | None = None, **security
) -> tuple[Serving, threading.Thread]:
    """A server of the test world (200 twins, seed 5) on ``pub`` and ``router`` (default: free
    loopback ports), with ``[security]`` overrides, ticking."""
    config = load_config(
        None,
        serve={
            "pub_endpoint": pub or loopback(),
            "router_endpoint": router or loopback(),
            "checkpoint": tmp_path / f"{name}.ckpt",
            "http_enabled": False,
            "crowd_hz": TICK_HZ,
            # every tick publishes something: net/wire/crowd.py's CrowdEncoder refuses a cell's
            # encode at an unchanged seq, which a tick that published nothing else passes it
            "vitals_hz": TICK_HZ,
        },
        security=security,
        history={"enabled": False},
        twins=200,
        seed=5,
        tick_hz=TICK_HZ,
        start=MONDAY_MORNING,
    )
    config = dataclasses.replace(config, security=shard_security(config.security))
    server = Serving(config)
    thread = threading.Thread(target=server.run, name=f"shard-{name}")
    thread.start()
    return server, thread


def _router(server: Serving) -> str:
    return server.config.serve.router_endpoint


def _wait_ticking(server: Serving, token: str | None = None) -> None:
    with RequestClient(_router(server), timeout_s=30.0, token=token) as client:
        deadline = time.monotonic() + 20
        while client.call("stats")["tick"] < 10 and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Iterator[tuple[list[Serving], RegionMap]]:
    """Two servers of one world, split into two regions by the world's cells."""
    tmp = tmp_path_factory.mktemp("front")
    started = [_shard(tmp, "a"), _shard(tmp, "b")]
    servers = [server for server, _ in started]
    try:
        for server in servers:
            _wait_ticking(server)
        with RequestClient(_router(servers[0]), timeout_s=CALL_S) as client:
            roster = client.call("roster")
        regions = RegionMap.balanced(roster["cells"], 2)
        for k, server in enumerate(servers):
            _keep_region(server, regions, k)
        yield servers, regions
    finally:
        for server, thread in started:
            server.stop.set()
            thread.join(timeout=20)


def _keep_region(server: Serving, regions: RegionMap, k: int, token: str | None = None) -> None:
    """Despawn the server's twins outside region ``k``: it is then shard ``k`` of the world."""
    with RequestClient(_router(server), token=token, timeout_s=CALL_S) as client:
        roster = client.call("roster")
        owner = regions.shard_of_cells(roster["cells"])
        client.call("despawn", ids=roster["ids"][owner != k])


def _front_config(tmp_path, **security):
    """A front's config on free loopback ports (the health PUB's too, used with tokens)."""
    return load_config(
        None,
        serve={"pub_endpoint": loopback(), "router_endpoint": loopback(), "http_enabled": False},
        security={"health_pub_endpoint": loopback(), **security},
    )


@pytest.fixture(scope="module")
def front(shards, tmp_path_factory) -> Iterator[Front]:
    servers, regions = shards
    endpoints = [ShardEndpoints(s.config.serve.pub_endpoint, _router(s)) for s in servers]
    config = _front_config(tmp_path_factory.mktemp("front_cfg"))
    with Front(endpoints, regions, config, timeout_s=SHARD_WAIT_S).start() as running:
        _wait_joined(running)
        yield running


def _wait_joined(front: Front) -> None:
    deadline = time.monotonic() + 30  # wide, for a loaded machine
    while not all(s.joined for s in front.shards) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert all(s.joined for s in front.shards)


def _ids_of(server: Serving, token: str | None = None) -> np.ndarray:
    with RequestClient(_router(server), token=token, timeout_s=CALL_S) as client:
        return np.asarray(client.call("roster")["ids"])


def _poll_for(sub: CloneClient, seconds: float) -> None:
    end = time.monotonic() + seconds
    while (left_s := end - time.monotonic()) > 0:
        sub.poll(left_s)


def test_a_late_joiner_through_the_front_holds_both_shards_twins(shards, front):
    servers, _ = shards
    a, b = (_ids_of(s) for s in servers)
    assert a.size and b.size and np.intersect1d(a, b).size == 0
    endpoints = front.endpoints
    with CloneClient(endpoints["pub"], endpoints["router"], timeout_s=CALL_S) as sub:
        both = np.union1d(a, b)
        np.testing.assert_array_equal(sub.crowd().ids, both)  # from the snapshot alone
        np.testing.assert_array_equal(sub.roster, both)
        _poll_for(sub, 1.0)  # the live stream, re-stamped, applies on top of the snapshot
        np.testing.assert_array_equal(sub.crowd().ids, both)
        assert sub.rejected == 0
    assert front.stream.foreign_cells == 0


def test_roster_and_snapshot_agree_at_the_fronts_seq(front):
    with RequestClient(front.endpoints["router"], timeout_s=CALL_S) as client:
        roster, snapshot = client.exchange([("roster", {}), ("snapshot", {})])
    assert roster.ok and snapshot.ok
    ids, cells = roster.result["ids"], roster.result["cells"]
    held = {}
    for payload in snapshot.result["crowd"]:
        env = unpack_envelope(payload, "crowd")
        assert env.seq <= snapshot.seq
        held[tuple(env.body["cell"])] = env
    assert {tuple(c) for c in cells.tolist()} <= set(held)
    regions = front.stream.regions
    owners = set(regions.shard_of_cells(np.array(sorted(held))).tolist())
    assert owners == {0, 1}  # both shards' cells in one snapshot
    assert len(ids) == len(np.unique(ids))


def test_twin_requests_reach_the_owning_shard(shards, front):
    servers, _ = shards
    with RequestClient(front.endpoints["router"], timeout_s=CALL_S) as client:
        for server in servers:
            twin = int(_ids_of(server)[0])
            assert client.call("twin", id=twin)["id"] == twin
        with pytest.raises(RequestError) as err:
            client.call("twin", id=999_999)
        assert (err.value.code, err.value.message) == ("unknown_twin", "twin 999999 does not exist")
        with pytest.raises(RequestError) as err:
            client.call("twin", id=-1)
        assert err.value.code == "out_of_range"  # the shard's own argument check
        with pytest.raises(RequestError) as err:
            client.call("no_such_op")
        assert (err.value.code, err.value.message) == ("unknown_op", "unknown op 'no_such_op'")


def test_scenarios_go_to_the_twins_shard(shards, front):
    """``scenario`` with ``twin`` goes to the shard that owns the twin (shard 0 answered
    ``unknown_twin`` for shard 1's twins); ``list`` and ``stop`` across twins are refused."""
    servers, _ = shards
    with RequestClient(front.endpoints["router"], timeout_s=CALL_S) as client:
        for server in servers:
            twin = int(_ids_of(server)[0])
            started = client.call("scenario", action="start", twin=twin, kind="exercise",
                                  days=1.0, factor=1.5)["scenario"]  # fmt: skip
            assert started["twin"] == twin
            listed = client.call("scenario", action="list", twin=twin)["scenarios"]
            assert [s["id"] for s in listed] == [started["id"]]
            stopped = client.call("scenario", action="stop", id=started["id"], twin=twin)
            assert stopped["scenario"]["stopped"]
        for action in ("list", "stop"):
            with pytest.raises(RequestError) as err:
                client.call("scenario", action=action, id=1)
            assert err.value.code == "unknown_op"
            assert "across shards is not served by the front yet" in err.value.message


def test_requests_the_front_refuses_itself(shards, front):
    """Errors of the front's own checks and routing, with the server's templates; nothing is
    sent on or changed."""
    servers, _ = shards
    a, b = (_ids_of(s) for s in servers)
    router = front.endpoints["router"]
    with RequestClient(router, timeout_s=CALL_S) as client:
        with pytest.raises(RequestError) as err:
            client.call("despawn", ids=[int(a[0]), int(b[0]), 999_999])
        assert (err.value.code, err.value.message) == ("unknown_twin", "twin 999999 does not exist")
        with pytest.raises(RequestError) as err:
            client.call("despawn", ids=[])
        assert err.value.code == "out_of_range"  # shard 0's own check of the list
        with pytest.raises(RequestError) as err:
            client.call("history", query="population")
        assert err.value.code == "unknown_op"
        with pytest.raises(RequestError) as err:
            client.call("snapshot", cells=[[0]])
        assert err.value.message == "field 'args.cells[0]' must be an array of 2 int"
    np.testing.assert_array_equal(_ids_of(servers[0]), a)
    np.testing.assert_array_equal(_ids_of(servers[1]), b)
    with zmq.Context() as ctx, ctx.socket(zmq.DEALER) as raw:
        raw.setsockopt(zmq.LINGER, 0)
        raw.connect(router)
        raw.send(b"\x81\xa1v")  # msgpack, truncated
        assert raw.poll(int(CALL_S * 1000))
        answer = unpack_envelope(raw.recv())
    assert answer.body["id"] is None
    assert answer.body["error"] == {"code": "bad_request", "message": "payload is truncated"}


def test_tokens_and_roles_are_checked_at_the_front(shards, tmp_path):
    """With a token file the front answers ``unauthorized`` and ``forbidden`` itself (section
    6.7); a token of the op's role passes and the shards answer."""
    servers, regions = shards
    store = TokenStore(tmp_path / "tokens.json")
    viewer, operator = store.create(Role.VIEWER, "v"), store.create(Role.OPERATOR, "o")
    endpoints = [ShardEndpoints(s.config.serve.pub_endpoint, _router(s)) for s in servers]
    config = _front_config(tmp_path, tokens_file=tmp_path / "tokens.json")
    with Front(endpoints, regions, config, timeout_s=SHARD_WAIT_S).start() as guarded:
        _wait_joined(guarded)
        router = guarded.endpoints["router"]
        with (
            RequestClient(router, timeout_s=CALL_S) as anonymous,
            pytest.raises(RequestError) as err,
        ):
            anonymous.call("stats")
        assert err.value.code == "unauthorized"
        with RequestClient(router, token=viewer, timeout_s=CALL_S) as client:
            assert client.call("stats")["twins"] > 0
            with pytest.raises(RequestError) as err:
                client.call("time_scale", scale=1.0)
            assert (err.value.code, err.value.message) == (
                "forbidden",
                "this needs the operator role; the token has viewer",
            )
        with RequestClient(router, token=operator, timeout_s=CALL_S) as client:
            assert client.call("time_scale", scale=1.0)["scale"] == 1.0


def test_stats_merge_both_shards(shards, front):
    servers, _ = shards
    with RequestClient(front.endpoints["router"], timeout_s=CALL_S) as client:
        stats = client.call("stats")
    twins = sum(_ids_of(s).size for s in servers)
    assert stats["twins"] == twins
    assert [s["up"] for s in stats["shards"]] == [True, True]
    assert sum(s["twins"] for s in stats["shards"]) == twins
    assert stats["front"]["joins"] == [1, 1] and stats["front"]["published"] > 0


def test_meta_is_one_stream_and_seq_grows_by_publisher(shards, front):
    """A despawn through the front: one ``removed`` on the front's meta (the shard's own meta
    is not forwarded), after the removal grace; every message's seq is the front's, ascending."""
    servers, _ = shards
    victim = int(_ids_of(servers[1])[-1])
    context = zmq.Context.instance()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(front.endpoints["pub"])
    sub.subscribe(b"")
    try:
        time.sleep(0.3)
        with RequestClient(front.endpoints["router"], timeout_s=CALL_S) as client:
            assert client.call("despawn", ids=[victim])["removed"].tolist() == [victim]
        removals, seqs = [], []
        end = time.monotonic() + REMOVAL_GRACE_S + 10.0  # bounded, wide for a loaded machine
        while time.monotonic() < end and not any(removals):
            if not sub.poll(50):
                continue
            topic, payload = sub.recv_multipart()
            env = unpack_envelope(payload)
            seqs.append(env.seq)
            if env.kind == meta.KIND:
                removals.append(meta.from_envelope(env).removed.tolist())
        assert [r for r in removals if r] == [[victim]]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        with RequestClient(front.endpoints["router"], timeout_s=CALL_S) as client:
            assert victim not in client.call("roster")["ids"]
    finally:
        sub.close()


def test_the_gateway_attaches_to_the_front_unchanged(shards, front):
    """REST through the gateway's own Clone client and DEALER, and a late join over its
    WebSocket, pointed at the front."""
    servers, _ = shards
    a, b = (_ids_of(s) for s in servers)
    endpoints = front.endpoints
    spec = GatewaySpec(endpoints["router"], endpoints["pub"], crowd_assets(), timeout_s=CALL_S)
    http = Gateway(spec, "127.0.0.1", 0)
    http.start()
    try:
        # the child's start (imports, at lower priority) can take seconds on a loaded machine
        assert httpx.get(f"{http.url}/openapi.json", timeout=60.0).status_code == 200
        page = httpx.get(f"{http.url}/api/twins", params={"limit": 500}, timeout=30.0)
        twin = httpx.get(f"{http.url}/api/twins/{int(b[0])}", timeout=30.0)
        stats = httpx.get(f"{http.url}/api/stats", timeout=30.0)
        held = asyncio.run(asyncio.wait_for(_ws_late_join(http.url + "/ws"), 60))
    finally:
        http.stop()
    np.testing.assert_array_equal(held, np.union1d(a, b))
    assert page.status_code == 200, page.text
    listed = [t["id"] for t in page.json()["items"]]
    assert listed == np.union1d(a, b).tolist()
    assert twin.status_code == 200 and twin.json()["id"] == int(b[0])
    assert stats.status_code == 200 and stats.json()["twins"] == a.size + b.size


async def _ws_late_join(url: str) -> np.ndarray:
    """Clone over the gateway's WebSocket (protocol 3.1, rule 3), as the JavaScript and C#
    clients do: the twins held after the snapshot and 1 s of live messages with seq > S."""
    async with connect(url.replace("http://", "ws://")) as ws:
        assert (await control(ws, "subscribe", "cell/"))["op"] == "subscribed"
        await ws.send(request_frame(1, "snapshot"))
        live: list = []
        snapshot = (await replies(ws, 1, live))[1]
        decoder = CrowdDecoder()
        for payload in snapshot.result["crowd"]:
            decoder.apply(payload)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            live.append(split_frame(await asyncio.wait_for(ws.recv(), 5)))
        applied = 0
        for topic, payload in live:
            if topic.endswith(b"/crowd") and crowd.decode(payload).seq > snapshot.seq:
                decoder.apply(payload)  # raises unknown_base on a base the front mis-mapped
                applied += 1
        assert applied
        return merge_cells(c.state for c in decoder._cells.values()).ids


def test_a_dead_shard_gives_a_clean_error(shards, tmp_path):
    """Shard 1 is a ROUTER that never answers, then nothing at all: its requests fail with
    ``internal`` naming it, after the front's timeout, then at once (told apart by their
    messages); shard 0's twins are still served; stats marks shard 1 down; a pause that shard 1
    cannot get is not sent to shard 0 either, and stats answers without shard 1."""
    servers, regions = shards
    live = servers[0]
    with zmq.Context() as ctx, ctx.socket(zmq.ROUTER) as deaf:
        deaf.setsockopt(zmq.LINGER, 0)
        dead = ShardEndpoints(
            loopback(), f"tcp://127.0.0.1:{deaf.bind_to_random_port('tcp://127.0.0.1')}"
        )
        endpoints = [ShardEndpoints(live.config.serve.pub_endpoint, _router(live)), dead]
        config = _front_config(tmp_path)
        with Front(endpoints, regions, config, timeout_s=DEAF_WAIT_S).start() as lone:
            assert _until(lambda: lone.shards[0].joined, 30.0)
            with RequestClient(lone.endpoints["router"], timeout_s=CALL_S) as client:
                with pytest.raises(RequestError) as err:
                    client.call("pause")
                assert err.value.code == "internal"
                assert err.value.message == (
                    f"shard 1 ({dead.router}) did not answer within {DEAF_WAIT_S:g} s"
                )
                twin = int(_ids_of(live)[0])
                assert client.call("twin", id=twin)["id"] == twin
                stats = client.call("stats")
                assert [s["up"] for s in stats["shards"]] == [True, False]
                assert stats["twins"] == _ids_of(live).size
                deaf.close()  # now nothing listens: requests fail at once
                message = ""
                deadline = time.monotonic() + 10
                while "not connected" not in message and time.monotonic() < deadline:
                    with pytest.raises(RequestError) as err:
                        client.call("resume")
                    message = err.value.message
                # failed when sent, not after the front's timeout (whose message differs): no
                # wall-clock bound here, which a loaded machine would break
                assert message == f"shard 1 ({dead.router}) is unavailable: not connected"
                with RequestClient(_router(live), timeout_s=CALL_S) as direct:
                    direct.call("resume")
                    with pytest.raises(RequestError) as err:
                        client.call("pause")
                    assert err.value.message.endswith("is unavailable: not connected")
                    assert not direct.call("stats")["paused"]  # all or nothing: not sent
                stats = client.call("stats")  # answered by the shard that can be asked
                assert [s["up"] for s in stats["shards"]] == [True, False]


def test_a_restarted_shard_is_joined_again(shards, tmp_path):
    """Shard 1 stops and a new one starts on its endpoints (its seq begins again): the front
    joins it again, and a late joiner holds both shards' twins as before."""
    servers, regions = shards
    pub, router = loopback(), loopback()

    def start(name: str) -> tuple[Serving, threading.Thread]:
        server, thread = _shard(tmp_path, name, pub, router)
        _wait_ticking(server)
        _keep_region(server, regions, 1)
        return server, thread

    first = start("one")
    endpoints = [ShardEndpoints(servers[0].config.serve.pub_endpoint, _router(servers[0])),
                 ShardEndpoints(pub, router)]  # fmt: skip
    config = _front_config(tmp_path)
    with Front(endpoints, regions, config, timeout_s=SHARD_WAIT_S).start() as front:
        _wait_joined(front)
        before = front.stream.roster()[0]
        first[0].stop.set()
        first[1].join(timeout=20)
        second = start("two")
        try:
            deadline = time.monotonic() + 20
            while front.shards[1].joins < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert front.shards[1].joins == 2
            with RequestClient(front.endpoints["router"], timeout_s=CALL_S) as client:
                assert client.call("stats")["front"]["joins"] == [1, 2]
            with CloneClient(
                front.endpoints["pub"], front.endpoints["router"], timeout_s=CALL_S
            ) as sub:
                np.testing.assert_array_equal(sub.crowd().ids, before)
                _poll_for(sub, 0.5)
                assert sub.rejected == 0
        finally:
            second[0].stop.set()
            second[1].join(timeout=20)


def test_shards_must_match_the_regions(shards, tmp_path):
    servers, regions = shards
    one = [ShardEndpoints(servers[0].config.serve.pub_endpoint, _router(servers[0]))]
    with pytest.raises(FrontError, match="1 shards for 2 regions"):
        Front(one, regions, _front_config(tmp_path))


def _answer(router: zmq.Socket, results: dict[str, object], seconds: float = 10.0) -> None:
    """Act as a shard's ROUTER: answer the next request of each op in ``results`` with its
    result (ok, at seq 5)."""
    left, deadline = set(results), time.monotonic() + seconds
    while left and time.monotonic() < deadline:
        if router.poll(50):
            peer, payload = router.recv_multipart()
            req = request.decode(payload)
            answer = Reply(1, 5, 0.0, req.id, True, results[req.op], None)
            router.send_multipart([peer, reply.encode(answer)])
            left.discard(req.op)
    assert not left, f"no request {sorted(left)} within {seconds} s"


def _until(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_a_shard_sending_malformed_replies_and_messages_cannot_end_the_front(shards, tmp_path):
    """Shard 1 is a PUB and a ROUTER of the test's own. Its join replies lack the roster's tables
    and hold a snapshot payload that is not msgpack; then it publishes a crowd message whose seq
    is a string and a message of three frames, and answers stats without its fields. The front
    counts what it cannot read (``malformed``), asks the join again, answers the stats it cannot
    merge with ``internal``, and serves shard 0's twins throughout."""
    servers, regions = shards
    live = servers[0]
    with RequestClient(_router(live), timeout_s=CALL_S) as client:
        tables = {k: client.call("roster")[k] for k in ("protocol", "epoch", "activities", "clips")}
    with zmq.Context() as ctx, ctx.socket(zmq.XPUB) as pub, ctx.socket(zmq.ROUTER) as router:
        for sock in (pub, router):
            sock.setsockopt(zmq.LINGER, 0)
        port = "tcp://127.0.0.1"
        fake = ShardEndpoints(
            f"{port}:{pub.bind_to_random_port(port)}", f"{port}:{router.bind_to_random_port(port)}"
        )
        endpoints = [ShardEndpoints(live.config.serve.pub_endpoint, _router(live)), fake]
        with Front(endpoints, regions, _front_config(tmp_path), timeout_s=5.0).start() as front:
            _answer(router, {"roster": {}, "snapshot": {"crowd": [b"\xc1"]}})
            assert _until(lambda: front.malformed == 1)
            roster = {**tables, "ids": np.zeros(0, np.uint32), "cells": np.zeros((0, 2), np.int32)}
            _answer(router, {"roster": roster, "snapshot": {"crowd": []}})  # asked again
            assert _until(lambda: front.shards[1].joined)
            assert pub.poll(10_000) and pub.recv().startswith(b"\x01")  # the front follows
            body = {"cell": [0, 0], "base": 1, "ids": b""}
            bad = {"v": 1, "kind": "crowd", "tick": 1, "seq": "x", "t": 0.0, "body": body}
            pub.send_multipart([b"cell/0/0", msgpack.packb(bad)])
            assert _until(lambda: front.malformed == 2)
            pub.send_multipart([b"cell/0/0", b"two", b"payloads"])  # not a topic and a payload
            assert _until(lambda: front.malformed == 3)
            shard = threading.Thread(target=_answer, args=(router, {"stats": {"tick": 1}}))
            shard.start()
            with RequestClient(front.endpoints["router"], timeout_s=CALL_S) as client:
                with pytest.raises(RequestError) as err:
                    client.call("stats")
                shard.join(timeout=15)
                assert err.value.code == "internal"
                assert "cannot be merged: KeyError" in err.value.message
                twin = int(_ids_of(live)[0])
                assert client.call("twin", id=twin)["id"] == twin  # the loop serves on


def test_a_flood_of_subscriptions_cannot_hold_the_loop(tmp_path):
    """Twice ``MAX_SUBSCRIPTION_MESSAGES`` distinct subscriptions queued at the front's PUB: one
    pass of the loop forwards at most ``MAX_SUBSCRIPTION_MESSAGES`` of them (as a server reads
    them), leaving the rest for the next pass, so the streams and requests get their turn."""
    regions = RegionMap.balanced(np.array([[0, 0], [5, 0]]), 2)
    shards = [ShardEndpoints(loopback(), loopback()) for _ in range(2)]
    flood = 2 * MAX_SUBSCRIPTION_MESSAGES
    config = _front_config(tmp_path)
    with (
        Front(shards, regions, config) as front,
        zmq.Context() as ctx,
        ctx.socket(zmq.XSUB) as client,
    ):
        client.setsockopt(zmq.LINGER, 0)
        client.setsockopt(zmq.SNDHWM, 0)  # nothing of the flood is dropped at the client
        client.connect(front.endpoints["pub"])
        for i in range(flood):
            client.send(b"\x01twin/%d/" % i)
        assert _until(lambda: front.pub.poll(0), 10.0)
        time.sleep(1.0)  # the flood reaches the front (~200 kB over loopback)
        front._forward_subscriptions(front.pub, [])  # one pass of the loop's
        taken = 0
        while front.pub.poll(500):
            front.pub.recv()
            taken += 1
        assert taken >= flood - MAX_SUBSCRIPTION_MESSAGES  # the pass read at most its share


def test_a_message_older_than_the_snapshot_is_not_a_restart(tmp_path):
    """Shard 1 (the test's PUB and ROUTER) answers the front's join at seq 5, then its PUB
    delivers seq 4 (sent before the snapshot, late on the other connection) and seq 6: the front
    drops 4 (the snapshot holds it) and stays joined, taking 6; a seq that then goes back (1) is
    a restart, joined again."""
    regions = RegionMap(edges=(1,), bounds=(0, 1, 0, 0))
    tables = {"protocol": 1, "epoch": "2026-03-02T00:00:00", "activities": ["sleep"],
              "clips": ["stand"], "ids": np.zeros(0, np.uint32)}  # fmt: skip
    with zmq.Context() as ctx, ctx.socket(zmq.XPUB) as pub, ctx.socket(zmq.ROUTER) as router:
        for sock in (pub, router):
            sock.setsockopt(zmq.LINGER, 0)
        port = "tcp://127.0.0.1"
        fake = ShardEndpoints(
            f"{port}:{pub.bind_to_random_port(port)}", f"{port}:{router.bind_to_random_port(port)}"
        )
        shards = [ShardEndpoints(loopback(), loopback()), fake]
        with Front(shards, regions, _front_config(tmp_path)).start() as front:
            assert pub.poll(10_000) and pub.recv().startswith(b"\x01")  # the front follows
            _answer(router, {"roster": tables, "snapshot": {"crowd": []}})
            assert _until(lambda: front.shards[1].joined)
            for seq, ids in ((4, [7]), (6, [8])):
                keyframes = Shard()  # a keyframe each
                keyframes.seq = seq - 1
                pub.send_multipart(keyframes.crowd((1, 0), ids, seq))
            assert _until(lambda: 8 in front.stream.roster()[0].tolist())
            assert front.shards[1].joined and front.shards[1].joins == 1
            assert 7 not in front.stream.roster()[0].tolist()
            pub.send_multipart(Shard().crowd((1, 0), [9], 1))
            assert _until(lambda: not front.shards[1].joined)  # restarted: joined again
