"""Front: one set of public endpoints (PUB, ROUTER) for a world run by N shards.

Each shard (``engine.app.shard``: a Ray actor running today's world restricted to a region of
cells, ``engine.regions.RegionMap``) serves today's PUB and ROUTER on its own loopback ports.
The front gives clients, the gateway included, the endpoints of a single server
(``docs/protocol.md``; the front's rules are its section 16):

- **PUB** (XPUB, ``[serve] pub_endpoint``): fed by one XSUB per shard, as ``zmq.proxy`` does
  (clients' subscriptions are forwarded to every shard), but every message is re-published under
  the front's own ``seq``, crowd streams are taken from the shard that owns each cell, and
  ``meta`` is the front's own (``net.front_stream.FrontStream``). The front itself always follows
  ``cell/`` and ``meta`` of every shard: it keeps each cell's last keyframe and delta and the
  roster, so that ``snapshot`` and ``roster`` are exact at its seq.
- **ROUTER** (``[serve] router_endpoint``): requests are decoded, rate-limited per peer and
  checked against the token's role here, as a single server does (``net.requests``: the same
  limits, ``OP_ROLES`` and token file), then answered or sent on to the shards on one DEALER
  each, under the front's own request ids (``net.front_requests``). ``snapshot`` and ``roster``
  are answered by the front; ``twin``, ``chat`` and ``history`` of a twin, and ``scenario`` with
  ``twin``, go to the shard owning the twin's cell; ``stats``, ``pause``, ``resume`` and
  ``time_scale`` to every shard (replies merged); ``despawn`` to the owners of its ids;
  ``spawn`` and ``town`` to shard 0. The shards trust the front: it is one peer to them, so they
  run with a ROUTER rate far above the clients' (``shard_security``), and they check the
  forwarded token again.
- Nothing waits: one thread polls every socket (``POLL_MS``); a shard that does not answer within
  ``timeout_s`` (or has been silent for ``SILENT_S``) makes its requests fail with ``internal``
  and a message naming the shard, never a hang.

A shard that restarts (its seq begins anew) is joined again as a late joiner would: its cells'
streams end (the front publishes a delta emptying each, so clients keep none of its old twins)
and start again with its snapshot's keyframes.

Access control, as a server (``net.server``; protocol section 2.1): with a token file the front
binds a health PUB (``[security] health_pub_endpoint``, a CURVE server whose ZAP handler admits
the analyst, operator and admin keys) and relays onto it every shard's health PUB
(``ShardEndpoints.health``); with ``[security] curve`` its PUB and ROUTER are CURVE servers too.
The front and its shards share ``keys_dir`` (one server key pair, the key folders) and the token
file: the front connects to CURVE shards with the gateway's key pair (``gateway_keys``, filed as
an analyst) and joins them with a viewer token of its own (``front_token``).

Not yet: ``history`` queries across twins (``population``, ``alerts`` without ``id``, ``ack``)
and ``scenario`` ``list`` and ``stop`` without ``twin`` are refused with ``unknown_op``.

Use::

    front = run_front([ShardEndpoints(pub0, router0), ShardEndpoints(pub1, router1)], regions,
                      config)          # bound and serving on config.serve's endpoints
    # the shards run with shard_security(config.security) (their ROUTER's peer rate)
    ...
    front.close()
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import zmq

from synthtwin.engine.config import Config, SecurityConfig
from synthtwin.engine.regions import RegionMap
from synthtwin.net.auth import AuthError, Role, TokenFileError, TokenStore
from synthtwin.net.front_requests import FrontRequests, ShardCall
from synthtwin.net.front_stream import REMOVAL_GRACE_S, FrontStream, Message, unpack
from synthtwin.net.gateway import gateway_keys
from synthtwin.net.publisher import MAX_SUBSCRIPTION_MESSAGES
from synthtwin.net.server import (
    MAX_SUBSCRIPTION_BYTES,
    ServerError,
    bound_endpoints,
    server_keys,
)
from synthtwin.net.wire import reply, topics
from synthtwin.net.wire.curve import CurveKeys, KeyFileError
from synthtwin.net.wire.fields import is_int
from synthtwin.net.zap import HEALTH_DOMAIN, MAIN_DOMAIN, ZapHandler

__all__ = [
    "JOIN_AFTER_S",
    "LATE_S",
    "POLL_MS",
    "SILENT_S",
    "Front",
    "FrontError",
    "ShardEndpoints",
    "removal_grace_s",
    "front_token",
    "run_front",
    "shard_security",
]

log = logging.getLogger(__name__)

POLL_MS = 20
"""Longest wait of the front's poll loop, wall milliseconds (timers run at least this often)."""
SILENT_S = 15.0
"""A shard heard from by nothing for this long (it sends ``meta`` at least every 5 s) is down:
its requests fail at once."""
JOIN_AFTER_S = 0.2
"""Wall seconds after connecting to a shard before asking its snapshot if it published nothing
yet (a paused shard publishes only its ``meta`` heartbeat)."""
LATE_S = 2.0
"""Wall seconds after a join during which a message older than its snapshot is taken as sent
before it (the PUB's delivery behind the DEALER's reply), not as a restart (a restarted shard
rebuilds its world first: seconds)."""
MAX_BUFFERED = 100_000
"""Messages of a joining shard kept until its snapshot arrives (older ones are dropped)."""
FRONT_TOPICS = (b"cell/", topics.META_TOPIC)
"""What the front follows on every shard whatever its clients follow."""


class FrontError(RuntimeError):
    """The front cannot start: an endpoint cannot be bound, the token file cannot be read, or
    the shards do not match the regions; the message says which."""


@dataclass(frozen=True)
class ShardEndpoints:
    """Where a shard serves: its ``[serve] pub_endpoint`` and ``router_endpoint`` and, with
    access control, its ``[security] health_pub_endpoint``."""

    pub: str
    router: str
    health: str | None = None


def removal_grace_s(config: Config) -> float:
    """How long a twin may be in no cell before the front announces it removed, wall seconds:
    ``REMOVAL_GRACE_S``, or twice the time between two barriers of the shards when longer (a
    twin crossing a region edge is published by its old shard, in a cell the front ignores,
    until the barrier hands it over)."""
    barrier_s = config.cluster.barrier_ticks / config.sim.tick_hz
    return max(REMOVAL_GRACE_S, 2.0 * barrier_s)


def front_token(tokens: TokenStore, keys_dir: Path) -> str:
    """The front's own token (role viewer), for joining shards with access control (``roster``,
    ``snapshot``): kept in ``<keys_dir>/front/front.token`` (``0600``) and made, and filed in the
    token file, on first use or once it was revoked or expired.

    Raises:
        FrontError: it cannot be read, made or kept.
    """
    path = Path(keys_dir) / "front" / "front.token"
    try:
        if path.is_file():
            token = path.read_text().strip()
            try:
                tokens.check(token, Role.VIEWER)
                return token
            except AuthError:
                pass
        token = tokens.create(Role.VIEWER, "front")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(token)
    except (OSError, ValueError, TokenFileError) as error:
        raise FrontError(f"cannot make or keep the front's token in {path}: {error}") from None
    return token


def shard_security(security: SecurityConfig) -> SecurityConfig:
    """The ``[security]`` a shard behind a front runs with: the clients' settings, but a ROUTER
    rate for its one peer, the front, that the front's clients together cannot exceed (the
    front enforces each client's rate itself)."""
    return replace(security, router_rate_per_s=1_000_000.0, router_burst=1_000_000)


@dataclass
class _Shard:
    """One shard as the front sees it.

    Attributes:
        index: its region's index.
        endpoints: where it serves.
        sub: XSUB connected to its PUB.
        dealer: DEALER connected to its ROUTER.
        health: XSUB connected to its health PUB (access control), or None.
        heard_s: monotonic time of its last message or reply.
        last_seq: its seq of the last message the front took from it.
        joined: whether its snapshot was applied (else its messages wait in ``buffer``).
        joins: how many times it was joined (more than once: it restarted).
        join_due_s: when to ask its snapshot if it published nothing yet.
        behind_until_s: until when, nothing newer than its snapshot having come on its PUB
            since the join, a message at or before the snapshot's seq is one its PUB sent
            before the snapshot (the reply came first, on the DEALER), which the snapshot
            holds, not a restart (``LATE_S``).
    """

    index: int
    endpoints: ShardEndpoints
    sub: zmq.Socket
    dealer: zmq.Socket
    heard_s: float
    health: zmq.Socket | None = None
    last_seq: int = 0
    joined: bool = False
    join_due_s: float = 0.0
    joining: bool = False
    joins: int = 0
    behind_until_s: float = 0.0
    buffer: deque = field(default_factory=lambda: deque(maxlen=MAX_BUFFERED))

    def silent_s(self, now_s: float) -> float:
        return now_s - self.heard_s


class Front:
    """The front's sockets and its poll loop (see the module docstring).

    Args:
        shards: each shard's endpoints, in region order (shard k serves region k).
        regions: the region map the shards run (``regions.n == len(shards)``).
        config: ``serve.pub_endpoint`` / ``router_endpoint`` (bound here), ``serve.hwm``,
            ``security`` (limits, rates) and ``tokens_file`` (access control, as a server).
        timeout_s: how long a request waits for a shard's reply, wall seconds.

    Attributes:
        stream: the merged stream (seq, roster, snapshots).
        requests: the request router.
        published: messages published; refused: messages ZeroMQ would not queue.
        malformed: shard messages that were not a topic and a msgpack envelope with an int
            seq, or lacked the fields of their kind (dropped), and joins whose replies were not
            a roster and a snapshot (asked again).

    Raises:
        FrontError: see the class.
    """

    def __init__(
        self,
        shards: Sequence[ShardEndpoints],
        regions: RegionMap,
        config: Config,
        timeout_s: float = 1.5,
    ) -> None:
        if len(shards) != regions.n:
            raise FrontError(f"{len(shards)} shards for {regions.n} regions: give one per region")
        self.config = config
        self.stream = FrontStream(regions, removal_grace_s(config))
        self.published = 0
        self.refused = 0
        self.malformed = 0
        self.context = zmq.Context()
        self._sockets: list[zmq.Socket] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.zap: ZapHandler | None = None
        self.health: zmq.Socket | None = None
        try:
            tokens = TokenStore(config.tokens_file) if config.tokens_file is not None else None
        except TokenFileError as error:
            raise FrontError(str(error)) from None
        self.access_control = tokens is not None and not tokens.open_access
        try:
            self._bind_all()
            now = time.monotonic()
            self.shards = [self._connect(k, e, now) for k, e in enumerate(shards)]
            own = front_token(tokens, config.security.keys_dir) if self.access_control else None
        except BaseException:
            self._close_sockets()
            raise
        self.requests = FrontRequests(
            self.stream, [s.endpoints.router for s in self.shards], config.security, tokens,
            timeout_s, own, self._counters,
        )  # fmt: skip

    def _counters(self) -> dict[str, Any]:
        """The front's counts in ``stats`` (``front``): messages published, refused at the
        high-water mark and malformed, and each shard's joins (more than 1: it restarted)."""
        return {
            "published": self.published, "refused": self.refused, "malformed": self.malformed,
            "joins": [shard.joins for shard in self.shards],
        }  # fmt: skip

    # -- sockets -------------------------------------------------------------------------------

    def _socket(self, kind: int) -> zmq.Socket:
        sock = self.context.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, self.config.serve.hwm)
        sock.setsockopt(zmq.RCVHWM, self.config.serve.hwm)
        self._sockets.append(sock)
        return sock

    def _bind_all(self) -> None:
        """The public sockets, as ``net.server.ZmqServer`` binds them: CURVE servers (ZAP
        domains and key folders of ``net.zap``) where ``[security]`` asks, the health PUB with
        access control."""
        security, serve = self.config.security, self.config.serve
        keys = None
        if self.access_control or security.curve:
            self.zap = ZapHandler(self.context, security.keys_dir)  # before any CURVE socket
            try:
                keys = server_keys(security.keys_dir)
            except ServerError as error:
                raise FrontError(str(error)) from None
        main = keys if security.curve else None
        self.pub = self._bind(zmq.XPUB, serve.pub_endpoint, MAX_SUBSCRIPTION_BYTES, main)
        largest = security.max_request_bytes
        self.router = self._bind(zmq.ROUTER, serve.router_endpoint, largest, main)
        if self.access_control:
            endpoint = security.health_pub_endpoint
            self.health = self._bind(
                zmq.XPUB, endpoint, MAX_SUBSCRIPTION_BYTES, keys, HEALTH_DOMAIN
            )

    def _bind(
        self,
        kind: int,
        endpoint: str,
        largest: int,
        curve: tuple[bytes, bytes] | None = None,
        domain: str = MAIN_DOMAIN,
    ) -> zmq.Socket:
        sock = self._socket(kind)
        sock.setsockopt(zmq.MAXMSGSIZE, largest)
        if curve is not None:
            sock.curve_server = True
            sock.curve_publickey, sock.curve_secretkey = curve
            sock.zap_domain = domain.encode()
            sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)
        try:
            sock.bind(endpoint)
        except zmq.ZMQError as err:
            raise FrontError(f"cannot bind {endpoint}: {err.strerror}") from None
        return sock

    def _client_keys(self) -> CurveKeys | None:
        """The keys the front connects to CURVE shards with: the gateway's pair of the shared
        ``keys_dir`` (filed as an analyst: the health PUBs let it in), and the servers' public
        key (front and shards share the pair, ``server_keys``)."""
        security = self.config.security
        if not (self.access_control or security.curve):
            return None
        try:
            return CurveKeys.load(*gateway_keys(security.keys_dir))
        except (OSError, KeyFileError) as error:
            raise FrontError(f"cannot read the front's CURVE keys: {error}") from None

    def _connect(self, index: int, endpoints: ShardEndpoints, now_s: float) -> _Shard:
        keys = self._client_keys()
        main = keys if self.config.security.curve else None
        sub = self._connect_one(zmq.XSUB, endpoints.pub, main)
        for prefix in FRONT_TOPICS:
            sub.send(b"\x01" + prefix)
        dealer = self._connect_one(zmq.DEALER, endpoints.router, main)
        health = None
        if self.health is not None and endpoints.health is not None:
            health = self._connect_one(zmq.XSUB, endpoints.health, keys)
        return _Shard(index, endpoints, sub, dealer, now_s, health, join_due_s=now_s + JOIN_AFTER_S)

    def _connect_one(self, kind: int, endpoint: str, keys: CurveKeys | None) -> zmq.Socket:
        sock = self._socket(kind)
        if kind == zmq.DEALER:
            sock.setsockopt(zmq.IMMEDIATE, 1)
        if keys is not None:
            keys.apply(sock)
        sock.connect(endpoint)
        return sock

    @property
    def endpoints(self) -> dict[str, str]:
        """The bound endpoints (with the actual port when bound to ``:*``); ``health`` only
        with access control."""
        return bound_endpoints(self.pub, self.router, self.health)

    # -- running -------------------------------------------------------------------------------

    def start(self) -> Front:
        """Serve on a thread of its own (``close`` stops it)."""
        self._thread = threading.Thread(target=self.run, name="front", daemon=True)
        self._thread.start()
        return self

    def run(self) -> None:
        """Poll every socket until ``close``; never blocks longer than ``POLL_MS``."""
        poller = zmq.Poller()
        healths = [s.health for s in self.shards if s.health is not None]
        downstream = [sock for sock in (self.pub, self.health) if sock is not None]
        for sock in (*downstream, self.router, *(s.sub for s in self.shards), *healths):
            poller.register(sock, zmq.POLLIN)
        for shard in self.shards:
            poller.register(shard.dealer, zmq.POLLIN)
        while not self._stop.is_set():
            ready = dict(poller.poll(POLL_MS))
            if self.zap is not None:
                self.zap.poll()
            if self.pub in ready:
                self._forward_subscriptions(self.pub, [s.sub for s in self.shards])
            if self.health is not None and self.health in ready:
                self._forward_subscriptions(self.health, healths)
            for shard in self.shards:
                if shard.sub in ready:
                    self._take_stream(shard)
                if shard.health is not None and shard.health in ready:
                    self._take_health(shard)
                if shard.dealer in ready:
                    self._take_replies(shard)
            if self.router in ready:
                self._take_requests()
            self._timers()

    def _forward_subscriptions(self, downstream: zmq.Socket, upstream: list[zmq.Socket]) -> None:
        """Clients' (un)subscriptions on ``downstream``, sent on to every shard's socket of
        ``upstream`` (XSUB counts them, so the front's own ``FRONT_TOPICS`` stay followed
        whatever clients drop). At most ``MAX_SUBSCRIPTION_MESSAGES`` a call, as a server reads
        them (protocol 9.7), so that a flood of them cannot hold the loop."""
        for _ in range(MAX_SUBSCRIPTION_MESSAGES):
            try:
                message = downstream.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            for sock in upstream:
                sock.send(message, zmq.NOBLOCK)

    def _take_health(self, shard: _Shard) -> None:
        """The shard's health topics (vitals, ``event/chat``, ``event/alert``): re-stamped onto
        the front's health PUB (they hold no crowd state)."""
        for _ in range(self.config.serve.hwm):
            try:
                topic, payload = shard.health.recv_multipart(zmq.NOBLOCK)
                env = unpack(payload)
            except zmq.Again:
                return
            except ValueError:
                self.malformed += 1
                continue
            self._publish(self._receive(shard.index, topic, env), self.health)

    def _take_stream(self, shard: _Shard) -> None:
        for _ in range(self.config.serve.hwm):
            try:
                topic, payload = shard.sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            except ValueError:  # not two frames: not a shard's message
                self.malformed += 1
                continue
            shard.heard_s = time.monotonic()
            try:
                env = unpack(payload)
                seq = env["seq"]
            except (ValueError, KeyError, TypeError):
                seq = None
            if not is_int(seq):  # not a shard's envelope: its seq orders nothing
                self.malformed += 1
                continue
            if shard.joined and seq <= shard.last_seq and shard.heard_s < shard.behind_until_s:
                continue  # sent before the snapshot that holds it
            if shard.joined and seq <= shard.last_seq:  # restarted: seqs begin anew
                log.warning("shard %d restarted (seq %d after %d): joining it again",
                            shard.index, env["seq"], shard.last_seq)  # fmt: skip
                self._publish(self.stream.forget_shard(shard.index))
                shard.joined, shard.joining = False, False
            if not shard.joined:
                shard.buffer.append((topic, env))
                shard.join_due_s = min(shard.join_due_s, shard.heard_s)
                continue
            shard.last_seq, shard.behind_until_s = seq, 0.0
            self._publish(self._receive(shard.index, topic, env))

    def _receive(self, shard: int, topic: bytes, env: dict) -> list[Message]:
        """``FrontStream.receive``; a message without the fields of its kind is dropped and
        counted (``malformed``), so that no shard message can end the loop."""
        try:
            return self.stream.receive(shard, topic, env)
        except (ValueError, KeyError, TypeError, IndexError):
            self.malformed += 1
            return []

    def _take_replies(self, shard: _Shard) -> None:
        while True:
            try:
                frame = shard.dealer.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            shard.heard_s = time.monotonic()
            joined = self.requests.take_reply(shard.index, frame)
            if joined is not None:
                self._joined(shard, *joined)
            self._send_replies()

    def _take_requests(self) -> None:
        for _ in range(self.config.serve.max_requests_per_tick):
            try:
                frames = self.router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            envelope, payload = frames[:-1], frames[-1]
            calls = self.requests.handle(envelope, payload, self._down(), self._unconnected())
            self._send_calls(calls)
        self._send_replies()

    def _unconnected(self) -> set[int]:
        """The shards a call cannot be sent to now: their DEALER (``IMMEDIATE``) holds no
        connection with room (no ``POLLOUT``)."""
        return {s.index for s in self.shards if not s.dealer.getsockopt(zmq.EVENTS) & zmq.POLLOUT}

    def _down(self) -> set[int]:
        now = time.monotonic()
        return {s.index for s in self.shards if s.silent_s(now) >= SILENT_S}

    def _send_calls(self, calls: list[ShardCall]) -> None:
        """Send each call; one whose shard is not connected (``IMMEDIATE``: nothing is queued
        for a shard that is down, to run when it comes back) fails its request at once."""
        for call in calls:
            try:
                self.shards[call.shard].dealer.send(call.payload, zmq.NOBLOCK)
            except zmq.Again:
                self.requests.unreachable(call)

    def _send_replies(self) -> None:
        for envelope, payload in self.requests.replies():
            try:
                self.router.send_multipart([*envelope, payload], zmq.NOBLOCK)
            except zmq.Again:
                self.refused += 1

    def _timers(self) -> None:
        now = time.monotonic()
        for shard in self.shards:
            if not shard.joined and not shard.joining and now >= shard.join_due_s:
                shard.joining = True
                self._send_calls(self.requests.join(shard.index))
        self.requests.expire(now)
        self._send_replies()
        for shard_index in self.requests.failed_joins():
            shard = self.shards[shard_index]
            shard.joining, shard.join_due_s = False, now + JOIN_AFTER_S
        self._publish(self.stream.due())

    def _joined(self, shard: _Shard, roster: reply.Reply, snapshot: reply.Reply) -> None:
        """Apply a shard's snapshot (at its seq S), then the messages it published meanwhile
        with seq > S (the Clone pattern, protocol section 8). Replies that are not a roster
        and a snapshot are counted (``malformed``) and the join is asked again later."""
        try:
            crowd = [unpack(payload) for payload in snapshot.result["crowd"]]
            cells = [topics.topic_for("crowd", cell=tuple(env["body"]["cell"])) for env in crowd]
            if not is_int(snapshot.seq):
                raise TypeError(f"snapshot seq {snapshot.seq!r}")
            self.stream.set_tables(roster.result)
        except (ValueError, KeyError, TypeError, IndexError) as error:
            log.warning("shard %d: its join replies are malformed (%s); asking again", shard.index,
                        error)  # fmt: skip
            self.malformed += 1
            shard.joining, shard.join_due_s = False, time.monotonic() + JOIN_AFTER_S
            return
        for topic, env in zip(cells, crowd, strict=True):
            self._publish(self._receive(shard.index, topic, env))
        shard.last_seq, shard.joined, shard.joining = snapshot.seq, True, False
        shard.joins += 1
        shard.behind_until_s = time.monotonic() + LATE_S
        while shard.buffer:
            topic, env = shard.buffer.popleft()
            if env["seq"] > shard.last_seq:
                shard.last_seq, shard.behind_until_s = env["seq"], 0.0
                self._publish(self._receive(shard.index, topic, env))
        log.info("joined shard %d at its seq %d", shard.index, snapshot.seq)

    def _publish(self, messages: list[Message], sock: zmq.Socket | None = None) -> None:
        """Send ``messages`` on ``sock`` (default: the PUB)."""
        sock = self.pub if sock is None else sock
        for topic, payload in messages:
            try:
                sock.send_multipart([topic, payload], zmq.NOBLOCK, copy=False)
                self.published += 1
            except zmq.Again:
                self.refused += 1

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the loop and close every socket and the context."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_sockets()

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            sock.close(linger=0)
        if self.zap is not None:
            self.zap.close()
        self.context.term()

    def __enter__(self) -> Front:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_front(shards: Sequence[ShardEndpoints], regions: RegionMap, config: Config) -> Front:
    """A front bound on ``config.serve``'s endpoints and serving ``shards`` on its own thread.

    Raises:
        FrontError: see ``Front``.
    """
    return Front(shards, regions, config).start()
