"""The gateway's WebSocket transport (``net.websocket``) against a real ``Serving`` on loopback,
with a real WebSocket client (``websockets``): late join, prefix subscriptions, pipelined
requests, bad input, a client that never reads, a foreign Origin; and the slow-client rule on
the relay itself. Every wait is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import zmq
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from synthtwin.engine.app.assets import crowd_assets
from synthtwin.engine.app.serve import Serving
from synthtwin.net.auth import Role
from synthtwin.net.gateway import Gateway, GatewaySpec
from synthtwin.net.websocket import (
    DRAIN_AT_ONCE,
    CrowdCache,
    Outbox,
    WsRelay,
    _Connection,
    frame,
    is_health_topic,
    split_frame,
)
from synthtwin.net.wire import reply, request
from synthtwin.net.wire.crowd import CrowdDecoder, CrowdEncoder
from tests.loopback import loopback
from tests.test_http_api import running, serve_config

WAIT_S = 10.0
"""Longest wait for any answer, wall seconds."""


@pytest.fixture(scope="module")
def serving(tmp_path_factory) -> Iterator[Serving]:
    with running(serve_config(tmp_path_factory.mktemp("ws"))) as server:
        yield server


def ws_url(serving: Serving) -> str:
    return serving.http.url.replace("http://", "ws://") + "/ws"


def run(coroutine) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 60))


async def control(ws: ClientConnection, op: str, prefix: str) -> dict:
    """Send a subscribe or unsubscribe and return its answer (PUB messages before it are
    discarded)."""
    await ws.send(json.dumps({"op": op, "prefix": prefix}))
    while True:
        message = await asyncio.wait_for(ws.recv(), WAIT_S)
        if isinstance(message, str):
            return json.loads(message)


def request_frame(request_id: int, op: str, **args) -> bytes:
    return frame(b"", request.encode(request.Request(request_id, op, args, 0, 0, 0.0)))


async def replies(ws: ClientConnection, count: int, pub: list | None = None) -> dict:
    """The next ``count`` replies by id; PUB messages meanwhile go to ``pub`` (topic, payload)."""
    found: dict = {}
    while len(found) < count:
        message = await asyncio.wait_for(ws.recv(), WAIT_S)
        if isinstance(message, str):
            continue
        topic, payload = split_frame(message)
        if topic:
            if pub is not None:
                pub.append((topic, payload))
            continue
        answer = reply.decode(payload)
        found[answer.id] = answer
    return found


def test_late_join_rebuilds_every_twin_of_the_roster(serving):
    """Clone over the WebSocket: subscribe to every crowd, ask roster and snapshot pipelined,
    apply the snapshot then the live messages after its seq: every twin is in one cell, and no
    live delta misses its keyframe."""

    async def join() -> None:
        async with connect(ws_url(serving)) as ws:
            assert (await control(ws, "subscribe", "cell/"))["op"] == "subscribed"
            await ws.send(request_frame(1, "roster"))
            await ws.send(request_frame(2, "snapshot"))
            live: list = []
            answers = await replies(ws, 2, live)
            roster, snapshot = answers[1].result, answers[2].result
            decoder = CrowdDecoder()
            for payload in snapshot["crowd"]:
                decoder.apply(payload)
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                message = await asyncio.wait_for(ws.recv(), WAIT_S)
                live.append(split_frame(message))
            states = {}
            for topic, payload in live:
                if topic.endswith(b"/crowd"):
                    state = decoder.apply(payload)  # raises unknown_base on a lost keyframe
                    if state.seq > answers[2].seq:
                        states[state.cell] = state
            assert states, "no crowd message arrived after the snapshot"
            ids = np.sort(np.concatenate([decoder._cells[c].state.ids for c in decoder._cells]))
            assert np.array_equal(ids, np.sort(roster["ids"]))

    run(join())


def test_prefix_subscriptions_select_topics_and_unsubscribe_stops_them(serving):
    async def follow() -> None:
        async with connect(ws_url(serving)) as ws:
            await ws.send(request_frame(1, "roster"))
            twin = int((await replies(ws, 1))[1].result["ids"][0])
            prefix = f"twin/{twin}/"
            assert await control(ws, "subscribe", prefix) == {"op": "subscribed", "prefix": prefix}
            topics = set()
            while len(topics) < 3:
                topic, _ = split_frame(await asyncio.wait_for(ws.recv(), WAIT_S))
                assert topic.startswith(prefix.encode()), topic
                topics.add(topic)
            assert topics == {f"{prefix}{kind}".encode() for kind in ("pose", "vitals", "shape")}
            answer = await control(ws, "unsubscribe", prefix)
            assert answer == {"op": "unsubscribed", "prefix": prefix}
            await asyncio.sleep(0.3)  # messages already on their way
            while True:
                try:
                    message = await asyncio.wait_for(ws.recv(), 0.05)
                except TimeoutError:
                    break
            with pytest.raises(TimeoutError):
                message = await asyncio.wait_for(ws.recv(), 0.5)
                raise AssertionError(f"after unsubscribe: {message!r}")

    run(follow())


def test_pipelined_requests_keep_their_ids_and_bad_input_changes_nothing(serving):
    async def ask() -> None:
        async with connect(ws_url(serving)) as ws:
            for i in (7, 3, 11):
                await ws.send(request_frame(i, "stats"))
            await ws.send(request_frame(12, "twin", id=2**32 + 5))
            await ws.send(request_frame(13, "teleport"))
            answers = await replies(ws, 5)
            assert all(answers[i].ok and answers[i].result["twins"] >= 1 for i in (7, 3, 11))
            assert answers[12].error.code == "out_of_range"
            assert answers[13].error == reply.ReplyError("unknown_op", "unknown op 'teleport'")
            await ws.send(b"\x00\xc1")  # not msgpack
            await ws.send(b"\x09cell")  # a topic longer than the message
            bad = await replies(ws, 1)
            assert bad[None].error.code == "bad_request"
            second = await replies(ws, 1)
            assert second[None].error.message.startswith("a binary message starts with")
            for text in ("hello", '{"op": "subscribe"}', '{"op": "dance", "prefix": ""}'):
                await ws.send(text)
                answer = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
                assert answer["op"] == "error" and "subscribe" in answer["message"]
            await ws.send(request_frame(14, "stats"))
            assert (await replies(ws, 1))[14].ok
            for twin in range(16):  # twins that do not exist: the server ignores them
                answer = await control(ws, "subscribe", f"twin/{900_000 + twin}/")
                assert answer["op"] == "subscribed"
            answer = await control(ws, "subscribe", "twin/999999/")
            assert answer["op"] == "error"
            assert answer["message"].startswith("at most 16 twin subscriptions at once")
            assert (await control(ws, "subscribe", "twin/"))["op"] == "subscribed"

    run(ask())


def test_callers_beyond_the_servers_rate_get_rate_limited_from_the_gateway_never_a_timeout(
    serving,
):
    """Two connections of one caller pipeline more than the ROUTER lets a peer send: the
    gateway's client paces itself below the server's rate, so the excess is refused at once and
    the server never refuses (and mutes) the gateway, which would drop what it had sent."""
    refused_before = serving.server.handler.rate_limited

    async def flood() -> list[str]:
        async with connect(ws_url(serving)) as one, connect(ws_url(serving)) as two:
            for i in range(380):
                await one.send(request_frame(i, "stats"))
                await two.send(request_frame(i, "stats"))
            answers = [*(await replies(one, 380)).values(), *(await replies(two, 380)).values()]
            return [a.error.code if not a.ok else "ok" for a in answers]

    codes: list[str] = []

    async def collect() -> None:
        codes.extend(await flood())

    run(collect())
    assert set(codes) == {"ok", "rate_limited"}, set(codes)
    assert serving.server.handler.rate_limited == refused_before


def test_a_client_that_never_reads_stalls_nobody(serving):
    """One client subscribes to everything and stops reading; another still gets prompt answers
    and a live stream, and the world keeps ticking."""

    async def stall() -> None:
        idle = await connect(ws_url(serving), max_queue=1)  # the library stops reading too
        try:
            await control(idle, "subscribe", "")
            async with connect(ws_url(serving)) as busy:
                await busy.send(request_frame(1, "stats"))
                first = (await replies(busy, 1))[1].result["tick"]
                await asyncio.sleep(2.0)  # the idle client reads nothing meanwhile
                started = time.monotonic()
                await busy.send(request_frame(2, "stats"))
                later = (await replies(busy, 1))[2].result["tick"]
                assert time.monotonic() - started < 2.0
                assert later > first + 10
                assert (await control(busy, "subscribe", "meta"))["op"] == "subscribed"
        finally:
            idle.transport.abort()  # a closing handshake would wait for the full buffers

    run(stall())


def test_a_client_that_leaves_mid_requests_leaves_nothing_behind(serving):
    """A client follows a twin, sends more requests than may be in flight and vanishes without
    reading: its session ends and its subscription goes (the server follows no twin after)."""

    async def vanish() -> None:
        async with connect(ws_url(serving)) as watcher:
            await watcher.send(request_frame(1, "roster"))
            twin = int((await replies(watcher, 1))[1].result["ids"][0])
            gone = await connect(ws_url(serving), max_queue=1)
            await control(gone, "subscribe", f"twin/{twin}/")
            for i in range(40):
                await gone.send(request_frame(i, "stats"))
            gone.transport.abort()
            followed = 1
            for i in range(100, 200):
                await watcher.send(request_frame(i, "stats"))
                followed = (await replies(watcher, 1))[i].result["followed_twins"]
                if followed == 0:
                    break
                await asyncio.sleep(0.1)
            assert followed == 0

    run(vanish())


def test_a_foreign_origin_is_refused(serving):
    async def foreign() -> None:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url(serving), origin="http://evil.example"):
                pass
        assert refused.value.response.status_code == 403
        assert b"may not connect" in refused.value.response.body
        own = serving.http.url
        async with connect(ws_url(serving), origin=own) as ws:
            await ws.send(request_frame(1, "stats"))
            assert (await replies(ws, 1))[1].ok

    run(foreign())


def test_a_silent_simulation_is_answered_internal():
    """A gateway whose ROUTER never answers: the request gets ``internal`` after the gateway's
    timeout, under its own id, and the connection still works."""
    with zmq.Context() as ctx, ctx.socket(zmq.ROUTER) as deaf:  # bound, never answers
        deaf.setsockopt(zmq.LINGER, 0)
        port = deaf.bind_to_random_port("tcp://127.0.0.1")
        spec = GatewaySpec(f"tcp://127.0.0.1:{port}", loopback(), crowd_assets(), timeout_s=0.2)
        http = Gateway(spec, "127.0.0.1", 0)
        http.start()

        async def ask() -> None:
            url = http.url.replace("http://", "ws://") + "/ws"
            for _ in range(100):  # until the child serves
                try:
                    ws = await connect(url)
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            async with ws:
                await ws.send(request_frame(9, "stats"))
                answer = (await replies(ws, 1))[9]
                assert answer.error == reply.ReplyError(
                    "internal", "the simulation did not answer 'stats' within 0.2 s"
                )
                assert (await control(ws, "subscribe", "meta"))["op"] == "subscribed"

        try:
            run(ask())
        finally:
            http.stop()


def test_the_gateway_serves_the_javascript_client_for_pages(serving):
    """``/js/`` serves ``clients/js/src`` as JavaScript modules a page of the same origin may
    import (the page's CSP allows its own scripts); nothing outside that folder."""
    with httpx.Client(base_url=serving.http.url, timeout=5.0) as web:
        module = web.get("/js/index.js")
        assert module.status_code == 200
        assert module.headers["content-type"].startswith("text/javascript")
        assert "script-src 'self'" in module.headers["content-security-policy"]
        assert 'from "./client.js"' in module.text
        assert web.get("/js/../web/index.html").status_code == 404
        assert web.get("/js/nothing.js").status_code == 404


def test_a_foreign_host_and_an_oversized_message_are_refused(serving):
    """DNS rebinding: a handshake naming another host is refused (400) before any upgrade; a
    client message over ``max_body_bytes`` closes the connection (1009)."""

    async def refuse() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", serving.http.port)
        writer.write(
            b"GET /ws HTTP/1.1\r\nHost: evil.example\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        status = await asyncio.wait_for(reader.readline(), WAIT_S)
        writer.close()
        assert status.startswith(b"HTTP/1.1 400"), status
        limit = serving.config.security.max_body_bytes
        # over the limit in bytes, not in characters: a text of 3-byte characters
        for message in (bytes(limit + 1), "\u20ac" * (limit // 3 + 1)):
            async with connect(ws_url(serving), max_size=None) as ws:
                await ws.send(message)
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), WAIT_S)
                assert closed.value.rcvd.code == 1009

    run(refuse())


# -- the slow-client rule, on the relay alone ----------------------------------------------------


def _cell_stream(updates: int) -> list[bytes]:
    """Crowd payloads of one cell of 50 walking twins, a keyframe every 5 updates."""
    encoder = CrowdEncoder((0, 0), keyframe_every=5)
    rng = np.random.default_rng(0)
    ids = np.arange(50, dtype=np.uint32)
    pos = rng.uniform(100, 1900, (50, 2))
    payloads = []
    for i in range(updates):
        pos = pos + 1.0
        z = np.zeros(50)
        payloads.append(
            encoder.encode(i, i + 1, i / 10, ids, pos, z, z + 1.4, z.astype(np.uint8),
                           z.astype(np.uint8) + 1, (z + i / updates) % 1, z + 1)
        )  # fmt: skip
    return payloads


def test_a_slow_connection_is_bounded_and_skips_to_the_latest_keyframe():
    async def slow() -> None:
        relay = WsRelay("tcp://127.0.0.1:1")  # never connected: messages are delivered by hand
        conn = _Connection(Role.VIEWER, Outbox(max_bytes=4000), [b"cell/"])
        relay.connections.add(conn)
        stream = _cell_stream(23)
        relay.deliver(b"cell/0/0/crowd", stream[0])
        conn.outbox.put('{"op": "subscribed"}', answer=True)  # answers are never dropped
        for payload in stream[1:]:
            relay.deliver(b"cell/0/0/crowd", payload)
            relay.deliver(b"cell/0/0/vitals", payload)  # a health topic: never for a viewer
            assert conn.outbox.size <= 4000 + len(frame(b"cell/0/0/crowd", stream[0]))
        assert conn.outbox.behind and conn.outbox.skips >= 1
        got = []
        while (item := await conn.outbox.get()) is not None:
            got.append(item)
        assert got[0] == ('{"op": "subscribed"}', True)
        conn.outbox.resume(relay.cache.catch_up(conn.wants))
        notice, *catch_up = [m for m, _ in list(conn.outbox.items)]
        assert json.loads(notice)["op"] == "skipped" and json.loads(notice)["dropped"] > 0
        decoder = CrowdDecoder()
        for message in catch_up:
            topic, payload = split_frame(message)
            state = decoder.apply(payload)
        assert state.seq == 23  # the last update: keyframe 21 and its delta 23
        assert [split_frame(m)[1] for m in catch_up] == [stream[20], stream[22]]
        assert not any(is_health_topic(split_frame(m)[0]) for m, _ in got if isinstance(m, bytes))

    run(slow())


def test_frames_and_the_crowd_cache_refuse_what_they_cannot_hold():
    assert split_frame(frame(b"meta", b"xy")) == (b"meta", b"xy")
    assert split_frame(frame(b"", b"xy")) == (b"", b"xy")
    for bad in (b"", b"\x05abc"):
        with pytest.raises(ValueError, match="starts with its topic"):
            split_frame(bad)
    with pytest.raises(ValueError, match="at most 255"):
        frame(b"x" * 256, b"")
    cache = CrowdCache()
    cache.note(b"cell/0/0/crowd", b"framed", b"\xc1")  # unreadable: not kept
    assert cache.topics == {}


def test_the_health_pub_reaches_analysts_only():
    """Whatever its topic, a message of the health PUB goes to analysts and above only (an
    analyst's ``""`` brings event/chat to the relay for every connection following ``event/``);
    a prefix that may carry a health event goes to the health SUB too."""

    async def fan_out() -> None:
        relay = WsRelay("tcp://127.0.0.1:1", "tcp://127.0.0.1:2")  # delivered by hand
        viewer = _Connection(Role.VIEWER, Outbox(1 << 20), [b"event/", b""])
        analyst = _Connection(Role.ANALYST, Outbox(1 << 20), [b"event/"])
        relay.connections.update((viewer, analyst))
        for topic in (b"event/chat", b"event/alert", b"event/other"):
            relay.deliver(topic, b"x", health=True)
        relay.deliver(b"event/chat", b"x")  # a health event on the PUB: not for a viewer
        relay.deliver(b"event/spawn", b"x")
        assert [split_frame(m)[0] for m, _ in viewer.outbox.items] == [b"event/spawn"]
        assert len(analyst.outbox.items) == 5
        for prefix in (b"", b"e", b"event/", b"event/chat", b"event/alert", b"twin/4/"):
            assert relay._sockets_for(prefix, Role.ANALYST) == [False, True], prefix
            assert relay._sockets_for(prefix, Role.VIEWER) == [False], prefix
        assert relay._sockets_for(b"event/spawn", Role.ANALYST) == [False]
        assert relay._sockets_for(b"meta", Role.ANALYST) == [False]

    run(fan_out())


def test_connections_beyond_max_connections_are_refused():
    """Each connection may hold ``max_queue_bytes``: their number is bounded (503 beyond), and a
    closed one frees its place."""
    import threading

    import uvicorn
    from fastapi import FastAPI

    from synthtwin.net.http_api import CallerRequests
    from synthtwin.net.http_security import Access, HttpSecurity
    from synthtwin.net.websocket import PATH, WsSettings, add_websocket_route
    from tests.loopback import free_port

    app = FastAPI()
    relay = WsRelay("tcp://127.0.0.1:1")  # never connected: no subscription needs it
    requests = CallerRequests("tcp://127.0.0.1:1", 1.0, None, None, 200.0, 400)
    add_websocket_route(app, relay, Access(None), requests, HttpSecurity(),
                        WsSettings(max_connections=2))  # fmt: skip
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_config=None, log_level="warning"))
    thread = threading.Thread(target=server.run, name="ws-limit")
    thread.start()
    url = f"ws://127.0.0.1:{port}{PATH}"

    async def limit() -> None:
        while not server.started:
            await asyncio.sleep(0.02)
        async with connect(url) as first, connect(url) as second:
            assert (await control(second, "subscribe", "meta"))["op"] == "subscribed"
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url):
                    pass
            assert refused.value.response.status_code == 503
            assert b"at most 2 WebSocket connections" in refused.value.response.body
            await first.close()
        deadline = time.monotonic() + WAIT_S  # the two closed: room again, once their
        while True:  # sessions have ended on the gateway's side too
            try:
                again = await connect(url)
                break
            except InvalidStatus:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
        async with again:
            assert (await control(again, "subscribe", "meta"))["op"] == "subscribed"

    try:
        run(limit())
    finally:
        server.should_exit = True
        thread.join(timeout=WAIT_S)
    assert not thread.is_alive()


def test_the_longest_prefix_fits_the_server_s_subscription_messages(serving):
    """The server's PUB drops a subscriber whose subscription message is over
    ``MAX_SUBSCRIPTION_BYTES`` (here the relay's SUB, and with it every client's stream); ZeroMQ
    4.3 sends ``SUBSCRIBE`` and ``UNSUBSCRIBE`` commands of 10 and 12 bytes more than the prefix:
    the longest prefix a client may hold still fits both, a longer one is refused."""
    from synthtwin.net.server import MAX_SUBSCRIPTION_BYTES
    from synthtwin.net.websocket import MAX_PREFIX_BYTES

    assert MAX_PREFIX_BYTES + len(b"\x0bUNSUBSCRIBE") == MAX_SUBSCRIPTION_BYTES

    async def stream_goes_on() -> None:
        async with connect(ws_url(serving)) as watcher, connect(ws_url(serving)) as other:
            await control(watcher, "subscribe", "cell/")
            answer = await control(other, "subscribe", "x" * (MAX_PREFIX_BYTES + 1))
            assert answer == {"op": "error", "message": "a prefix has at most 1012 bytes"}
            for op in ("subscribe", "unsubscribe"):
                assert (await control(other, op, "x" * MAX_PREFIX_BYTES))["op"] == f"{op}d"
                await asyncio.sleep(0.5)  # the relay's SUB has sent it to the server
                while True:  # what was on its way
                    try:
                        await asyncio.wait_for(watcher.recv(), 0.05)
                    except TimeoutError:
                        break
                received, end = 0, time.monotonic() + 3.0
                while received < 5 and time.monotonic() < end:
                    with contextlib.suppress(TimeoutError):
                        if isinstance(await asyncio.wait_for(watcher.recv(), 0.5), bytes):
                            received += 1
                assert received >= 5, f"the stream stopped after a long prefix's {op}"

    run(stream_goes_on())


@contextlib.asynccontextmanager
async def relay_on_a_pub(prefix: bytes):
    """A ``WsRelay`` on a real PUB (loopback) with one viewer connection subscribed to
    ``prefix``, once the subscription has reached the PUB: yields (pub, connection)."""
    endpoint = loopback()
    with zmq.Context() as ctx, ctx.socket(zmq.PUB) as pub:
        pub.setsockopt(zmq.LINGER, 0)
        pub.bind(endpoint)
        relay = WsRelay(endpoint, context=ctx)
        conn = _Connection(Role.VIEWER, Outbox(max_bytes=1 << 24))
        relay.connections.add(conn)
        relay.subscribe(conn, prefix)
        try:
            probe = time.monotonic() + 5  # the subscription reaches the PUB (slow joiner)
            while not conn.outbox.items and time.monotonic() < probe:
                pub.send_multipart([prefix + b"probe", b"p"])
                await asyncio.sleep(0.01)
            yield pub, conn
        finally:
            await relay.close()


def test_the_relay_delivers_a_burst_whole_and_in_order():
    """A burst larger than one wake-up's drain (``DRAIN_AT_ONCE``) queued on the relay's SUB
    before it reads: every message reaches the connection once, in order."""
    burst = DRAIN_AT_ONCE * 2 + 7

    async def relay_burst() -> None:
        async with relay_on_a_pub(b"cell/") as (pub, conn):
            for i in range(burst):  # all queued before the relay's reader runs again
                pub.send_multipart([b"cell/0/0/crowd", b"%d" % i])
            got: list[bytes] = []
            deadline = time.monotonic() + 5
            while len(got) < burst and time.monotonic() < deadline:
                item = await asyncio.wait_for(conn.outbox.get(), 5)
                topic, payload = split_frame(item[0])
                if topic != b"cell/probe":
                    got.append(payload)
            assert got == [b"%d" % i for i in range(burst)]

    run(relay_burst())


def test_the_relay_lets_send_tasks_run_after_each_drain():
    """A burst already queued on the SUB is read ``DRAIN_AT_ONCE`` messages at a time with the
    event loop's other tasks run between (an awaited recv of a queued message does not yield)."""
    burst = DRAIN_AT_ONCE * 2 + 7

    async def relay_burst() -> None:
        async with relay_on_a_pub(b"cell/0/") as (pub, conn):
            await asyncio.sleep(0.05)
            base = len(conn.outbox.items)
            for i in range(burst):
                pub.send_multipart([b"cell/0/0/crowd", b"%d" % i])
            time.sleep(0.3)  # the loop blocked: the whole burst reaches the SUB's queue
            seen: list[int] = []
            deadline = time.monotonic() + 5
            while (not seen or seen[-1] < burst) and time.monotonic() < deadline:
                await asyncio.sleep(0)
                seen.append(len(conn.outbox.items) - base)
            assert seen[-1] == burst
            assert any(0 < n < burst for n in seen), f"no task ran during the burst: {seen}"

    run(relay_burst())
