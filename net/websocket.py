"""The gateway's WebSocket transport, ``ws://HOST:PORT/ws``: the PUB stream and the ROUTER's
requests for clients that cannot speak ZeroMQ (browsers, JavaScript, Unity).

Pattern: a relay of the Clone pattern (``docs/protocol.md`` section 2) with a last-keyframe cache
per cell. One ``WsRelay`` per gateway holds one SUB socket on the server's PUB (and one on the
health PUB when there is one), subscribed to the union of its connections' topic prefixes
(reference counted), and fans each message out to the connections that asked for it, the same
bytes for all. Requests go through the gateway's request pool (``net.http_api.CallerRequests``)
with the connection's token, under ids of the pool's own; the reply goes back under the client's
id. The wire rules are in ``docs/protocol.md``, section "WebSocket transport":

- binary message: ``[n: u8][topic: n bytes ASCII][payload]``; n = 0: a request (client to
  gateway) or a reply (gateway to client), payload as over ZeroMQ.
- text message: one JSON object, ``{"op": "subscribe" | "unsubscribe", "prefix": str}`` from
  the client, answered ``{"op": "subscribed" | "unsubscribed" | "error", ...}``; the gateway
  also sends ``{"op": "skipped", "dropped": n}`` after it skipped a slow client ahead.

Slow clients (``Outbox``): each connection's queue of PUB messages holds at most
``max_queue_bytes``. Past it the connection is *behind*: its queued PUB messages are dropped,
later ones are counted and dropped, and once its queue has drained it gets ``skipped``, then
the latest keyframe and delta after it of each crowd stream it follows (``CrowdCache``), then the
live stream again. So a client that never reads costs one message in flight, and a slow one sees
gaps (normal: section 8 rule 4) but never an unknown base for a cell the gateway has a keyframe
of. Replies and control answers are never dropped; a connection has at most
``max_in_flight`` client messages unanswered-or-unsent, beyond which the gateway stops reading
its socket (TCP pushes back on the client).

Shares (``WsSettings``, from ``[security] ws_*``): connections at once over all callers; per caller
over all of its connections (``CallerShares``: the token's id when the gateway has a token file,
else the connection alone), a request bucket and the twins followed by id.

Access, as the REST routes (``net.http_security``): the Host and Origin allow-lists (a foreign
``Origin`` is refused: browsers send one with every WebSocket handshake), then the token: the
``Authorization: Bearer`` header, the login cookie, or the subprotocol ``bearer.<token>`` (what a
browser script can set); with a token file, none valid: 401. The role is re-checked every
``RECHECK_S`` (a revoked or expired token closes the connection, code 1008); a viewer never
receives health topics (``cell/<ix>/<iy>/vitals``, ``twin/<id>/vitals``, ``event/chat``,
``event/alert``) nor anything the health PUB sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import zmq
import zmq.asyncio
from fastapi import FastAPI, WebSocket
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect

from synthtwin.engine.config import SecurityConfig
from synthtwin.net.auth import AuthError, Role
from synthtwin.net.http_security import (
    COOKIE,
    LOOPBACK_NAMES,
    Access,
    Caller,
    HostCheck,
    HttpSecurity,
    OriginCheck,
)
from synthtwin.net.limits import PeerBuckets
from synthtwin.net.wire import reply, request
from synthtwin.net.wire.curve import CurveKeys
from synthtwin.net.wire.dealer import ClientClosed, RequestTimeout
from synthtwin.net.wire.envelope import unpack_envelope
from synthtwin.net.wire.errors import WireError
from synthtwin.net.wire.topics import HEALTH_EVENTS

if TYPE_CHECKING:  # net.http_api builds the app and imports this module
    from synthtwin.net.http_api import CallerRequests

__all__ = [
    "PATH",
    "SUBPROTOCOL",
    "CallerShares",
    "CrowdCache",
    "Outbox",
    "WsRelay",
    "WsSettings",
    "add_websocket_route",
    "frame",
    "is_health_topic",
    "split_frame",
]

PATH = "/ws"
SUBPROTOCOL = "synthtwin-v1"
"""The subprotocol the gateway accepts (and echoes when the client offers it)."""
BEARER_PREFIX = "bearer."
"""A subprotocol ``bearer.<token>`` carries the token (browsers cannot set headers)."""
MAX_TOPIC_BYTES = 255
"""Longest topic a frame carries (its length is one byte)."""
MAX_PREFIX_BYTES = 1012
"""Longest subscription prefix. The server's PUB drops a subscriber that sends a subscription
message over 1024 bytes (``net.server.MAX_SUBSCRIPTION_BYTES``), here the relay's SUB with every
client's stream (reconnecting, it sends it again, over and over); ZeroMQ 4.3 (ZMTP 3.1) sends a
prefix as a ``SUBSCRIBE`` command, 10 bytes more, and ``UNSUBSCRIBE``, 12 bytes more."""
RECHECK_S = 2.0
"""How often a connection's token is checked again, wall seconds (``net.auth.RELOAD_S``)."""
HEALTH_SUFFIX = b"/vitals"
CROWD_SUFFIX = b"/crowd"
POLICY_VIOLATION = 1008
"""WebSocket close code of a connection whose token stopped working."""
DRAIN_AT_ONCE = 256
"""Most PUB messages the relay takes from its SUB in one wake-up before it lets the connections'
send tasks run."""
_DEFAULTS = SecurityConfig()
"""``[security]``'s defaults, the one place the ``ws_*`` limits' defaults are set."""


@dataclass(frozen=True)
class WsSettings:
    """Limits of the WebSocket: per connection, per caller and in all. A caller is its token
    (by id) when the gateway has a token file, so its share holds over all of its connections;
    with open access (nobody is known) each connection is a caller of its own.

    Attributes:
        max_queue_bytes: PUB messages queued for a connection before it is skipped ahead, bytes.
        max_prefixes: subscriptions one connection may hold at once.
        max_twins: prefixes naming twins (``twin/<digits>``) one caller holds at once, over its
            connections: the server's PUB follows at most ``max_twin_subscriptions`` twins for
            all of the gateway's callers.
        max_in_flight: client messages whose answer is not sent yet, before the gateway stops
            reading the connection.
        max_message_bytes: largest client message; larger ones close the connection (1009).
        rate_per_s, burst: each caller's requests a second, and burst, over its connections
            (beyond: ``rate_limited`` answered by the gateway).
        max_connections: connections at once, over all callers (beyond: the handshake is
            refused, 503): each may hold ``max_queue_bytes`` and its answers.
        caller_connections: connections one known caller holds at once (beyond: 429).
    """

    max_queue_bytes: int = _DEFAULTS.ws_queue_bytes
    max_prefixes: int = 256
    max_twins: int = _DEFAULTS.ws_max_twins
    max_in_flight: int = 32
    max_message_bytes: int = _DEFAULTS.max_body_bytes
    rate_per_s: float = _DEFAULTS.ws_rate_per_s
    burst: int = _DEFAULTS.ws_burst
    max_connections: int = _DEFAULTS.ws_max_connections
    caller_connections: int = _DEFAULTS.ws_caller_connections

    @classmethod
    def from_security(cls, security: HttpSecurity) -> WsSettings:
        """The limits of ``[security]`` (``ws_*``, ``max_body_bytes``), the rest as default."""
        return cls(
            max_queue_bytes=security.ws_queue_bytes,
            max_twins=security.ws_max_twins,
            max_message_bytes=security.max_body_bytes,
            rate_per_s=security.ws_rate_per_s,
            burst=security.ws_burst,
            max_connections=security.ws_max_connections,
            caller_connections=security.ws_caller_connections,
        )


def frame(topic: bytes, payload: bytes) -> bytes:
    """The binary WebSocket message of ``payload`` on ``topic`` (``b""``: a request or reply)."""
    if len(topic) > MAX_TOPIC_BYTES:
        raise ValueError(f"topic of {len(topic)} bytes, at most {MAX_TOPIC_BYTES}")
    return bytes((len(topic),)) + topic + payload


def split_frame(data: bytes) -> tuple[bytes, bytes]:
    """``(topic, payload)`` of a binary message; ValueError when the topic overruns it."""
    if not data or len(data) < 1 + data[0]:
        raise ValueError("a binary message starts with its topic's length and the topic")
    return data[1 : 1 + data[0]], data[1 + data[0] :]


def is_health_topic(topic: bytes) -> bool:
    """``cell/<ix>/<iy>/vitals``, ``twin/<id>/vitals``, ``event/chat`` and ``event/alert``
    (``docs/protocol.md`` section 2.1)."""
    if topic in HEALTH_EVENTS:
        return True
    return topic.endswith(HEALTH_SUFFIX) and topic.startswith((b"cell/", b"twin/"))


def may_carry_health(prefix: bytes) -> bool:
    """Whether some health topic starts with ``prefix`` (``""``, ``c``, ``twin/4``, ``event/``
    ...)."""
    return any(
        p.startswith(prefix) or prefix.startswith(p) for p in (b"cell/", b"twin/", *HEALTH_EVENTS)
    )


# -- the slow-client rule --------------------------------------------------------------------------


@dataclass
class _Keyframes:
    """The latest keyframe of one crowd stream and the latest delta against it (framed)."""

    key: tuple[int, bytes] | None = None
    delta: tuple[int, bytes] | None = None


class CrowdCache:
    """The latest keyframe and delta of every crowd topic the relay receives: what a client that
    was skipped ahead needs to see each cell whole again (the snapshot rule of section 7)."""

    def __init__(self) -> None:
        self.topics: dict[bytes, _Keyframes] = {}

    def note(self, topic: bytes, framed: bytes, payload: bytes) -> None:
        """Remember a crowd message (``framed``: as sent); unreadable ones are not kept."""
        try:
            env = unpack_envelope(payload, "crowd")
            base = env.body["base"]
        except (WireError, KeyError):
            return
        held = self.topics.setdefault(topic, _Keyframes())
        if base == env.seq:
            held.key, held.delta = (env.seq, framed), None
        elif held.key is not None and held.key[0] == base:
            held.delta = (env.seq, framed)

    def catch_up(self, wants: Callable[[bytes], bool]) -> list[bytes]:
        """Framed keyframes and deltas of the topics ``wants(topic)`` accepts, in seq order."""
        found: list[tuple[int, bytes]] = []
        for topic, held in self.topics.items():
            if held.key is not None and wants(topic):
                found.append(held.key)
                if held.delta is not None:
                    found.append(held.delta)
        return [framed for _, framed in sorted(found, key=lambda item: item[0])]

    def forget(self, keep: Callable[[bytes], bool]) -> None:
        """Drop the topics ``keep(topic)`` refuses (nobody subscribes to them any more)."""
        self.topics = {t: held for t, held in self.topics.items() if keep(t)}


class Outbox:
    """One connection's send queue: PUB messages up to ``max_bytes``, then behind (see the
    module docstring); answers (``answer=True``) are always queued."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.items: deque[tuple[bytes | str, bool]] = deque()  # (message, is an answer)
        self.size = 0
        self.behind = False
        self.dropped = 0
        """PUB messages dropped since the last ``skipped`` notice."""
        self.skips = 0
        """Times the connection was skipped ahead."""
        self._ready = asyncio.Event()

    def put(self, message: bytes | str, answer: bool = False) -> None:
        if self.behind and not answer:
            self.dropped += 1
            return
        self.items.append((message, answer))
        self.size += len(message)
        self._ready.set()
        if not answer and self.size > self.max_bytes:
            self._fall_behind()

    def _fall_behind(self) -> None:
        kept = deque(item for item in self.items if item[1])
        self.dropped += len(self.items) - len(kept)
        self.items = kept
        self.size = sum(len(message) for message, _ in kept)
        self.behind = True
        self.skips += 1

    async def get(self) -> tuple[bytes | str, bool] | None:
        """The next message and whether it is an answer; None when the queue drained while
        behind (the caller then queues the catch-up and calls ``resume``)."""
        while not self.items:
            if self.behind:
                return None
            self._ready.clear()
            await self._ready.wait()
        message, answer = self.items.popleft()
        self.size -= len(message)
        return message, answer

    def resume(self, catch_up: list[bytes]) -> None:
        """Leave the behind state: the ``skipped`` notice, then ``catch_up``, then live."""
        notice = json.dumps({"op": "skipped", "dropped": self.dropped})
        self.behind, self.dropped = False, 0
        for message in (notice, *catch_up):
            self.items.append((message, False))
            self.size += len(message)
        self._ready.set()


# -- the relay -------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Connection:
    """What the relay knows of one WebSocket: its role, prefixes and queue."""

    role: Role
    outbox: Outbox
    prefixes: list[bytes] = field(default_factory=list)

    def wants(self, topic: bytes) -> bool:
        if self.role < Role.ANALYST and is_health_topic(topic):
            return False
        return any(topic.startswith(prefix) for prefix in self.prefixes)


class WsRelay:
    """The SUB side of every WebSocket connection of one gateway (see the module docstring).

    Args:
        pub_endpoint: the server's PUB.
        health_endpoint: its health PUB, or None (health topics are on the PUB).
        keys: the gateway's CURVE keys (the health PUB needs them), or None.
        curve: whether the PUB is a CURVE server.
        context: ZeroMQ context (None: the process's shared instance).
    """

    def __init__(
        self,
        pub_endpoint: str,
        health_endpoint: str | None = None,
        keys: CurveKeys | None = None,
        curve: bool = False,
        context: zmq.Context | None = None,
    ) -> None:
        self.pub_endpoint, self.health_endpoint = pub_endpoint, health_endpoint
        self.keys, self.curve = keys, curve
        self.context = context or zmq.Context.instance()
        self.connections: set[_Connection] = set()
        self.cache = CrowdCache()
        self._counts: dict[tuple[bool, bytes], int] = {}  # (health SUB?, prefix): subscribers
        self._subs: dict[bool, zmq.asyncio.Socket] = {}
        self._readers: list[asyncio.Task] = []

    def _sub(self, health: bool) -> zmq.asyncio.Socket:
        sock = self._subs.get(health)
        if sock is None:
            # the asyncio socket owns the handle; ``raw`` is a blocking view of it that owns
            # nothing (the other way round, the blocking owner's garbage collection after the
            # handle was closed and reused would close another socket)
            sock = self._subs[health] = zmq.asyncio.Socket(self.context, zmq.SUB)
            sock.setsockopt(zmq.LINGER, 0)
            if health or self.curve:
                self.keys.apply(sock)
            sock.connect(self.health_endpoint if health else self.pub_endpoint)
            raw = zmq.Socket.shadow(sock.underlying)
            self._readers.append(asyncio.ensure_future(self._read(sock, raw, health)))
        return sock

    def _sockets_for(self, prefix: bytes, role: Role) -> list[bool]:
        """Which SUBs a prefix goes to: the PUB, and the health PUB for analysts and above."""
        health = self.health_endpoint is not None and role >= Role.ANALYST
        return [False, True] if health and may_carry_health(prefix) else [False]

    def subscribe(self, conn: _Connection, prefix: bytes) -> None:
        conn.prefixes.append(prefix)
        for health in self._sockets_for(prefix, conn.role):
            count = self._counts.get((health, prefix), 0)
            if count == 0:
                self._sub(health).subscribe(prefix)
            self._counts[(health, prefix)] = count + 1

    def unsubscribe(self, conn: _Connection, prefix: bytes) -> None:
        conn.prefixes.remove(prefix)
        for health in self._sockets_for(prefix, conn.role):
            count = self._counts.pop((health, prefix)) - 1
            if count:
                self._counts[(health, prefix)] = count
            else:
                self._subs[health].unsubscribe(prefix)
        prefixes = [p for _, p in self._counts]
        self.cache.forget(lambda topic: any(topic.startswith(p) for p in prefixes))

    def remove(self, conn: _Connection) -> None:
        for prefix in list(conn.prefixes):
            self.unsubscribe(conn, prefix)
        self.connections.discard(conn)

    async def _read(self, sock: zmq.asyncio.Socket, raw: zmq.Socket, health: bool) -> None:
        """Deliver what ``sock`` receives: one awaited message, then those already queued, read
        from ``raw`` (the same socket, unawaited). A tick publishes a burst of cells; awaiting each
        cost an event-loop round trip, and the last cell waited for all of them. After each
        batch the loop runs the send tasks: an awaited recv of a message already queued returns
        without yielding, so without that a flood would be read whole before anybody sent."""
        while True:
            try:
                batch = [await sock.recv_multipart(copy=True)]
                while len(batch) < DRAIN_AT_ONCE and raw.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                    try:
                        batch.append(raw.recv_multipart(zmq.NOBLOCK))
                    except zmq.Again:  # nothing after all: deliver what was read
                        break
            except zmq.ZMQError:  # closed: the relay is stopping
                return
            for frames in batch:
                if len(frames) == 2 and len(frames[0]) <= MAX_TOPIC_BYTES:
                    self.deliver(frames[0], frames[1], health)
            await asyncio.sleep(0)

    def deliver(self, topic: bytes, payload: bytes, health: bool = False) -> None:
        """Queue one PUB message for every connection that wants it (one framed copy); one
        from the health PUB (``health``) for analysts and above only, whatever its topic (an
        analyst's subscription brings it to the relay for every connection's prefixes)."""
        framed = frame(topic, payload)
        if topic.endswith(CROWD_SUFFIX) and not health:
            self.cache.note(topic, framed, payload)
        for conn in self.connections:
            if (not health or conn.role >= Role.ANALYST) and conn.wants(topic):
                conn.outbox.put(framed)

    async def close(self) -> None:
        for task in self._readers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sock in self._subs.values():
            sock.close(linger=0)
        self._subs.clear()


# -- each caller's share ---------------------------------------------------------------------------


class CallerShares:
    """What each caller holds over all of its connections: one request bucket and its twin
    subscriptions (``WsSettings.rate_per_s``, ``burst``, ``max_twins``).

    Args:
        settings: the limits.
    """

    def __init__(self, settings: WsSettings) -> None:
        self.settings = settings
        self.buckets = PeerBuckets(settings.rate_per_s, settings.burst)
        self.connections: dict[bytes, set[_Connection]] = {}

    def join(self, key: bytes, conn: _Connection) -> None:
        self.connections.setdefault(key, set()).add(conn)

    def leave(self, key: bytes, conn: _Connection) -> None:
        held = self.connections.get(key, set())
        held.discard(conn)
        if not held:
            self.connections.pop(key, None)

    def twins(self, key: bytes) -> int:
        """Twin subscriptions the caller holds over its connections."""
        conns = self.connections.get(key, ())
        return sum(1 for conn in conns for held in conn.prefixes if _NAMES_TWINS.match(held))

    def take(self, key: bytes) -> float:
        """One request of the caller now: 0.0 if allowed, else seconds to wait."""
        return self.buckets.take(key, time.monotonic())


# -- one connection --------------------------------------------------------------------------------


class _Session:
    """One accepted WebSocket: reads client messages, sends the outbox."""

    def __init__(
        self, ws: WebSocket, relay: WsRelay, caller: Caller, access: Access,
        requests: CallerRequests, shares: CallerShares, key: bytes,
    ) -> None:  # fmt: skip
        self.ws, self.relay, self.caller, self.access = ws, relay, caller, access
        self.requests, self.shares, self.key = requests, shares, key
        self.settings = settings = shares.settings
        self.conn = _Connection(caller.role, Outbox(settings.max_queue_bytes))
        self.answers = asyncio.Semaphore(settings.max_in_flight)
        self.tasks: set[asyncio.Task] = set()

    async def run(self) -> None:
        """Until the client leaves, a send fails or the token stops working (whichever ends
        first: a receive loop waiting for answers that can no longer be sent must not wait on)."""
        self.relay.connections.add(self.conn)
        self.shares.join(self.key, self.conn)
        loops = [asyncio.ensure_future(loop) for loop in (self._receive(), self._send(),
                                                          self._watch())]  # fmt: skip
        try:
            await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*loops, *self.tasks):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self.relay.remove(self.conn)
            self.shares.leave(self.key, self.conn)

    async def _receive(self) -> None:
        while True:
            await self.answers.acquire()
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            text = message.get("text")
            size = len(data) if data is not None else len((text or "").encode())  # bytes
            if size > self.settings.max_message_bytes:
                await self.ws.close(1009, "message too large")
                return
            if data is not None:
                task = asyncio.ensure_future(self._request(data))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            else:
                self._control(text or "")

    async def _send(self) -> None:
        while True:
            item = await self.conn.outbox.get()
            if item is None:
                self.conn.outbox.resume(self.relay.cache.catch_up(self.conn.wants))
                continue
            message, answer = item
            if isinstance(message, str):
                await self.ws.send_text(message)
            else:
                await self.ws.send_bytes(message)
            if answer:
                self.answers.release()

    async def _watch(self) -> None:
        """Close the connection once its token no longer grants access (revoked, expired)."""
        while True:
            await asyncio.sleep(RECHECK_S)
            try:
                self.access.check(self.caller.token, Role.VIEWER)
            except AuthError as err:
                await self.ws.close(POLICY_VIOLATION, str(err)[:120])
                return

    def _answer(self, answer: dict[str, Any]) -> None:
        self.conn.outbox.put(json.dumps(answer), answer=True)

    def _control(self, text: str) -> None:
        """A subscribe or unsubscribe; anything else is answered ``error``. Each counts against
        the caller's rate, as a request does."""
        refused = self._over_rate()
        if refused is not None:
            self._answer({"op": "error", "message": refused[0]})
            return
        try:
            command = json.loads(text)
            op, prefix = command["op"], command["prefix"].encode("ascii")
        except (ValueError, TypeError, KeyError, AttributeError, UnicodeEncodeError):
            self._answer({"op": "error", "message": _CONTROL_HELP})
            return
        holds = prefix in self.conn.prefixes
        refused = None if op != "subscribe" or holds else self._refusal(prefix)
        if refused is not None:
            self._answer({"op": "error", "message": refused})
        elif op == "subscribe":
            if not holds:
                self.relay.subscribe(self.conn, prefix)
            self._answer({"op": "subscribed", "prefix": prefix.decode()})
        elif op == "unsubscribe":
            if holds:
                self.relay.unsubscribe(self.conn, prefix)
            self._answer({"op": "unsubscribed", "prefix": prefix.decode()})
        else:
            self._answer({"op": "error", "message": _CONTROL_HELP})

    def _refusal(self, prefix: bytes) -> str | None:
        """Why a new subscription is refused (its size, or the connection's limits), or None."""
        if len(prefix) > MAX_PREFIX_BYTES:
            return f"a prefix has at most {MAX_PREFIX_BYTES} bytes"
        if len(self.conn.prefixes) >= self.settings.max_prefixes:
            return f"at most {self.settings.max_prefixes} subscriptions at once"
        if _NAMES_TWINS.match(prefix) and self.shares.twins(self.key) >= self.settings.max_twins:
            return (
                f"at most {self.settings.max_twins} twin subscriptions at once, over all of "
                "this caller's connections (security.ws_max_twins)"
            )
        return None

    async def _request(self, data: bytes) -> None:
        """Forward one request through the pool; answer under the client's id."""
        try:
            topic, payload = split_frame(data)
            if topic:
                raise WireError("bad_request", "a request travels with an empty topic")
            asked = request.decode(payload, request.RequestLimits(max_items=10_000, max_nesting=8))
        except (ValueError, WireError) as err:
            text = err.message if isinstance(err, WireError) else str(err)
            self._reply(None, reply.ReplyError(reply.BAD_REQUEST, text))
            return
        refused = self._over_rate()
        if refused is not None:
            text, retry_ms = refused
            self._reply(asked.id, reply.ReplyError(reply.RATE_LIMITED, text, retry_ms))
            return
        try:
            client = self.requests.of(self.caller)
            (answer,) = await client.exchange([(asked.op, asked.args)])
        except RequestTimeout as err:  # the request MAY have had an effect (section 6.7)
            text = f"the simulation did not answer '{err.op}' within {err.timeout_s:g} s"
            self._reply(asked.id, reply.ReplyError(reply.INTERNAL, text))
            return
        except (ClientClosed, WireError, zmq.ZMQError):
            text = "the simulation has stopped, or its reply could not be read"
            self._reply(asked.id, reply.ReplyError(reply.INTERNAL, text))
            return
        self.conn.outbox.put(
            frame(b"", reply.encode(reply.Reply(answer.tick, answer.seq, answer.t_s, asked.id,
                                                answer.ok, answer.result, answer.error))),
            answer=True,
        )  # fmt: skip

    def _over_rate(self) -> tuple[str, int] | None:
        """Take one request or control message from the caller's bucket: None when allowed,
        else the refusal and the milliseconds to wait."""
        wait_s = self.shares.take(self.key)
        if wait_s <= 0:
            return None
        retry_ms = max(1, round(wait_s * 1000))
        text = (
            f"more than {self.settings.rate_per_s:g} messages a second from this caller "
            f"(security.ws_rate_per_s); retry in {retry_ms} ms"
        )
        return text, retry_ms

    def _reply(self, request_id: int | None, error: reply.ReplyError) -> None:
        payload = reply.encode(reply.Reply(0, 0, 0.0, request_id, False, error=error))
        self.conn.outbox.put(frame(b"", payload), answer=True)


_NAMES_TWINS = re.compile(rb"twin/[0-9]")
"""A prefix that names twins by id (the server publishes their poses while it is held)."""
_CONTROL_HELP = (
    'a text message is {"op": "subscribe" or "unsubscribe", "prefix": "<ASCII topic prefix>"}'
)


# -- the handshake ---------------------------------------------------------------------------------


def _token_of(ws: WebSocket) -> tuple[str | None, str | None]:
    """The token (bearer header, then the subprotocol ``bearer.<token>``, then the login
    cookie) and the subprotocol to accept (``SUBPROTOCOL`` when offered)."""
    offered = ws.scope.get("subprotocols") or []
    accept = SUBPROTOCOL if SUBPROTOCOL in offered else None
    scheme, _, credentials = ws.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip(), accept
    for protocol in offered:
        if protocol.startswith(BEARER_PREFIX):
            return protocol[len(BEARER_PREFIX) :], accept
    return ws.cookies.get(COOKIE) or None, accept


_TOKEN_KEY = b"token "  # the caller key of a connection with a known token starts so


def _caller_key(access: Access, caller: Caller, connection: int) -> bytes:
    """Whom a connection's limits count as: its token's id, else the connection itself."""
    token_id = access.identity(caller.token)
    return _TOKEN_KEY + str(token_id).encode() if token_id is not None else b"#%d" % connection


def _over_share(
    caller: Caller, key: bytes, held: Counter[bytes], settings: WsSettings
) -> tuple[int, str] | Caller:
    """``caller``, or the status and reason to refuse its handshake: all connections taken (503),
    or a known caller (``key`` a token's) holding its share already (429)."""
    if held.total() >= settings.max_connections:
        return 503, f"at most {settings.max_connections} WebSocket connections at once"
    if key.startswith(_TOKEN_KEY) and held[key] >= settings.caller_connections:
        return 429, (
            f"at most {settings.caller_connections} WebSocket connections at once for one token "
            "(security.ws_caller_connections)"
        )
    return caller


def _refusal(ws: WebSocket, security: HttpSecurity, access: Access) -> tuple[int, str] | Caller:
    """The caller of a handshake, or the status and reason to refuse it with."""
    headers = Headers(scope=ws.scope)
    scope = {**ws.scope, "scheme": "https" if ws.scope.get("scheme") == "wss" else "http"}
    hosts = security.allowed_hosts or LOOPBACK_NAMES
    if "*" not in hosts and not HostCheck(None, hosts).allows(headers.get("host", ""),
                                                              scope["scheme"]):  # fmt: skip
        return 400, "this host is not served here (security.allowed_hosts)"
    origin = headers.get("origin")
    if origin is not None and not OriginCheck(None, security.allowed_origins).allows(
        origin, scope, headers
    ):
        return 403, f"origin {origin[:100]!r} may not connect (security.allowed_origins)"
    token, _ = _token_of(ws)
    try:
        role = access.check(token, Role.VIEWER)
    except AuthError as err:
        return (403 if err.code == "forbidden" else 401), str(err)
    return Caller(None if access.open else token, role)


def add_websocket_route(
    app: FastAPI, relay: WsRelay, access: Access, requests: CallerRequests, security: HttpSecurity,
    settings: WsSettings | None = None,
) -> None:  # fmt: skip
    """Serve ``PATH`` on ``app``: ``requests`` is the gateway's ``CallerRequests``; ``settings``
    (default: ``security``'s) the limits."""
    settings = settings or WsSettings.from_security(security)
    shares = CallerShares(settings)
    held: Counter[bytes] = Counter()  # open connections by caller key
    opened = itertools.count()

    @app.websocket(PATH)
    async def websocket(ws: WebSocket) -> None:
        found = _refusal(ws, security, access)
        key = _caller_key(access, found, next(opened)) if isinstance(found, Caller) else b""
        if isinstance(found, Caller):
            found = _over_share(found, key, held, settings)
        if not isinstance(found, Caller):
            status, reason = found
            await ws.send_denial_response(JSONResponse({"detail": reason}, status))
            return
        held[key] += 1
        try:
            await ws.accept(subprotocol=_token_of(ws)[1])
            with contextlib.suppress(WebSocketDisconnect):
                await _Session(ws, relay, found, access, requests, shares, key).run()
        finally:
            held[key] -= 1
            if not held[key]:
                del held[key]
