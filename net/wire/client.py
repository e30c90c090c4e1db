"""``client``: the Clone client, a SUB and a DEALER feeding one ``Replica``, blocking or asyncio.

Pattern: Clone (ZeroMQ guide, chapter 5; ``docs/protocol.md`` section 8). The state machine is
``net.wire.clone.Replica`` and the requests are ``net.wire.dealer``; this module only moves bytes
between them and the sockets:

1. subscribe on a SUB socket and keep what arrives until the first message, or ``settle_s``;
2. send ``roster`` and ``snapshot`` together and ``Replica.join`` their replies;
3. ``Replica.receive`` the kept messages, then every later one (``poll``), asking for a snapshot
   of the cells whose keyframe was lost (``Replica.recovery``).

``CloneClient`` blocks (``twin watch``, ``twin record``); ``AsyncCloneClient`` awaits on an
asyncio loop (the gateway: its REST API uses ``requests``, its video view the crowd). Both share
the selection, the draining and the reading (``_Clone``); they differ only where they wait.

    with CloneClient("tcp://127.0.0.1:5556", "tcp://127.0.0.1:5557") as client:
        client.poll(1.0)
        crowd = client.crowd()        # every known twin once: crowd.ids, crowd.pos_m, ...

    client = AsyncCloneClient("tcp://127.0.0.1:5556", "tcp://127.0.0.1:5557")
    await client.join()
    while True:
        for applied in await client.poll(None): ...

Access control (``docs/protocol.md`` section 2.1): ``token`` goes with every request; ``keys``
(``net.wire.curve.CurveKeys``) are the client's CURVE keys, for the health PUB at
``health_endpoint`` (a second SUB, subscribed to the selection's health topics: its cells' and
twins' vitals) and, with ``curve=True``, for the main PUB and ROUTER too. A client without the
health PUB gets no vitals from a server with access control.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
import zmq
import zmq.asyncio

from synthtwin.net.wire import topics
from synthtwin.net.wire.clone import Applied, Crowd, Replica, Tables, join_calls, topics_of
from synthtwin.net.wire.curve import CurveKeys
from synthtwin.net.wire.dealer import DEFAULT_TIMEOUT_S, AsyncRequestClient, RequestClient
from synthtwin.net.wire.event import EventMessage

__all__ = ["MAX_BATCH", "SETTLE_S", "AsyncCloneClient", "CloneClient"]

SETTLE_S = 0.5
"""Longest wait for the subscriptions to take effect before the snapshot, wall seconds (the wait
ends at the first PUB message)."""
MAX_BATCH = 10_000
"""Most PUB messages one ``poll`` handles, so that a busy stream cannot hold the caller."""


def _wait_ms(timeout_s: float | None) -> int:
    """ZeroMQ's poll timeout: milliseconds, -1 for no limit."""
    return -1 if timeout_s is None else max(0, round(timeout_s * 1000))


def _is_health(prefix: bytes) -> bool:
    """Whether the topics under ``prefix`` may be health topics (cell and twin vitals,
    ``event/chat`` and ``event/alert``: ``event/`` follows them on the health PUB too)."""
    if any(e.startswith(prefix) or prefix.startswith(e) for e in topics.HEALTH_EVENTS):
        return True
    return prefix.startswith((topics.CELL_PREFIX, topics.TWIN_PREFIX))


def _sub(context: zmq.Context, endpoint: str, keys: CurveKeys | None, prefixes: list[bytes]):
    """A SUB socket, a CURVE client with ``keys`` (or plain), connected and subscribed."""
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    if keys is not None:
        keys.apply(sub)
    sub.connect(endpoint)
    for prefix in prefixes:
        sub.subscribe(prefix)
    return sub


@dataclass(frozen=True)
class _Access:
    """A client's credentials and where the health PUB is (see the module docstring)."""

    token: str | None
    keys: CurveKeys | None
    health_endpoint: str | None
    curve: bool

    @classmethod
    def of(
        cls, token: str | None, keys: CurveKeys | None, health: str | None, curve: bool
    ) -> _Access:
        """Checked: ``curve`` and a health endpoint both need keys."""
        if keys is None and (curve or health is not None):
            raise ValueError("CURVE sockets (curve=True or a health endpoint) need keys")
        return cls(token, keys, health, curve)

    @property
    def router_keys(self) -> CurveKeys | None:
        """The keys for the ROUTER: only when the main sockets are CURVE servers."""
        return self.keys if self.curve else None


class _Clone:
    """What both flavours share: the selection, the SUB socket, draining it into the replica, and
    reading the replica."""

    def __init__(
        self,
        pub_endpoint: str,
        context: zmq.Context | None,
        cells: Sequence[tuple[int, int]] | None,
        twins: Iterable[int],
        events: bool,
        cell_vitals: bool,
        access: _Access,
    ) -> None:
        self.pub_endpoint = pub_endpoint
        self.health_endpoint = access.health_endpoint
        self.cells = None if cells is None else [(int(ix), int(iy)) for ix, iy in cells]
        self.replica = Replica(cell_vitals=cell_vitals)
        self._context = context or zmq.Context.instance()
        self._access = access
        self._topics = topics_of(self.cells, twins, events)
        self._sub: zmq.Socket | None = None
        self._health: zmq.Socket | None = None
        self._kept: list[list[bytes]] = []  # PUB messages received before the join's replies
        self._pending: list[Applied] = []  # applied by the join, for the first poll

    def _open(self) -> zmq.Socket:
        """The SUB socket, connected and subscribed to the selection (made on first use), and the
        health SUB when the client has a health endpoint."""
        if self._sub is None:
            main_keys = self._access.keys if self._access.curve else None
            self._sub = _sub(self._context, self.pub_endpoint, main_keys, self._topics)
            if self.health_endpoint is not None:
                self._health = _sub(
                    self._context, self.health_endpoint, self._access.keys, self._health_topics()
                )
        return self._sub

    def _health_topics(self) -> list[bytes]:
        """The selection's prefixes that may carry health topics."""
        return [p for p in self._topics if _is_health(p) and self._wants_vitals(p)]

    def _wants_vitals(self, prefix: bytes) -> bool:
        return self.replica.cell_vitals or not prefix.startswith(topics.CELL_PREFIX)

    def _sockets(self) -> list[zmq.Socket]:
        return [s for s in (self._sub, self._health) if s is not None]

    def subscribe(self, prefix: bytes) -> None:
        """Also receive the topics starting with ``prefix`` (e.g. ``twin/7/vitals``)."""
        self._topics.append(prefix)
        if self._sub is not None:
            self._sub.subscribe(prefix)
        if self._health is not None and _is_health(prefix) and self._wants_vitals(prefix):
            self._health.subscribe(prefix)

    def unsubscribe(self, prefix: bytes) -> None:
        """Undo one ``subscribe(prefix)``."""
        self._topics.remove(prefix)
        if self._sub is not None:
            self._sub.unsubscribe(prefix)
        if self._health is not None and _is_health(prefix) and self._wants_vitals(prefix):
            self._health.unsubscribe(prefix)

    def _keep_first(self) -> None:
        """Keep the first PUB message, which the caller waited for."""
        with contextlib.suppress(zmq.Again):
            self._kept.append(self._sub.recv_multipart(zmq.NOBLOCK))

    def _receive_kept(self) -> list[Applied]:
        """Apply the messages kept while joining."""
        applied: list[Applied] = []
        kept, self._kept = self._kept, []
        for frames in kept:
            applied += self.replica.receive(frames)
        return applied

    def _drain(self) -> list[Applied]:
        """What the join applied, then the kept messages, then what the SUB sockets hold (at
        most ``MAX_BATCH`` messages each)."""
        applied, self._pending = self._pending, []
        applied += self._receive_kept()
        for sock in self._sockets():
            for _ in range(MAX_BATCH):
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                applied += self.replica.receive(frames)
        return applied

    def _close_subs(self) -> None:
        for sock in self._sockets():
            sock.close(linger=0)

    # -- reading -----------------------------------------------------------------------------

    def crowd(self) -> Crowd:
        """Every twin of the followed cells, once (``net.wire.clone.merge_cells``)."""
        return self.replica.crowd()

    def vitals(self, twin_id: int) -> dict[str, Any] | None:
        """The latest vitals of ``twin_id`` (``Replica.vitals``), or None."""
        return self.replica.vitals(twin_id)

    @property
    def tables(self) -> Tables:
        return self.replica.tables

    @property
    def roster(self) -> np.ndarray:
        """(n,) uint32 ascending: every twin of the world (``roster``, then ``meta`` changes)."""
        return self.replica.roster

    @property
    def rejected(self) -> int:
        """PUB messages that failed to decode (each one logged with its error message)."""
        return self.replica.rejected

    @property
    def events(self) -> list[EventMessage]:
        """The most recent events, oldest first."""
        return self.replica.events


class CloneClient(_Clone):
    """Mirrors the crowd, vitals, events and tables a SynthTwin server publishes (blocking).

    Joins on construction: when it returns, ``crowd()`` holds the snapshot.

    Args:
        pub_endpoint: the server's PUB endpoint, e.g. ``tcp://127.0.0.1:5556``.
        router_endpoint: its ROUTER endpoint, e.g. ``tcp://127.0.0.1:5557``.
        cells: (ix, iy) cells to follow; None follows every cell.
        twins: ids whose own vitals (and pose) topics to follow.
        events: whether to follow every ``event/`` topic.
        cell_vitals: whether to apply the followed cells' vitals.
        timeout_s: how long each request waits, wall seconds.
        settle_s: longest wait for the subscriptions to take effect, wall seconds.
        context: the ZeroMQ context (default: the process's shared instance).
        token: the access token sent with every request; None: none (open access).
        keys: the client's CURVE keys (for the health PUB, and with ``curve`` for the main PUB
            and ROUTER).
        health_endpoint: the server's health PUB (``[security] health_pub_endpoint``), for the
            vitals of the selection; None: no health socket.
        curve: whether the main PUB and ROUTER are CURVE servers (``[security] curve``).

    Attributes:
        requests: the ``RequestClient`` on the ROUTER, for any other operation.

    Raises:
        RequestTimeout: the server did not answer ``roster`` or ``snapshot`` in time.
        RequestError: it answered them with an error.
    """

    def __init__(
        self,
        pub_endpoint: str,
        router_endpoint: str,
        cells: Sequence[tuple[int, int]] | None = None,
        twins: Iterable[int] = (),
        events: bool = True,
        cell_vitals: bool = True,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        settle_s: float = SETTLE_S,
        context: zmq.Context | None = None,
        *,
        token: str | None = None,
        keys: CurveKeys | None = None,
        health_endpoint: str | None = None,
        curve: bool = False,
    ) -> None:
        access = _Access.of(token, keys, health_endpoint, curve)
        super().__init__(pub_endpoint, context, cells, twins, events, cell_vitals, access)
        self.requests = RequestClient(
            router_endpoint, timeout_s, self._context, token, access.router_keys
        )
        try:
            self._join(settle_s)
        except BaseException:
            self.close()
            raise

    def _join(self, settle_s: float) -> None:
        if self._open().poll(_wait_ms(settle_s)):
            self._keep_first()
        roster, snapshot = self.requests.exchange(join_calls(self.cells))
        self._pending = self.replica.join(roster, snapshot) + self._receive_kept()

    def poll(self, timeout_s: float | None = 0.0) -> list[Applied]:
        """Apply what has arrived, waiting up to ``timeout_s`` wall seconds (None: no limit) for
        the first message.

        Returns:
            the applied messages in order (crowd ones as the full ``CrowdState`` of their cell);
            stale and rejected messages are left out.

        Raises:
            RequestTimeout, RequestError: the snapshot of a cell whose keyframe was lost failed.
        """
        if not self._pending and not self._wait(timeout_s):
            return []
        applied = self._drain()
        while (call := self.replica.recovery()) is not None:
            op, args = call
            applied += self.replica.recover(self.requests.call_reply(op, **args))
        self.requests.applied = self.replica.applied
        return applied

    def _wait(self, timeout_s: float | None) -> bool:
        """Whether a PUB message is there (on either SUB), waiting up to ``timeout_s``."""
        if self._health is None:
            return bool(self._sub.poll(_wait_ms(timeout_s)))
        poller = zmq.Poller()
        for sock in self._sockets():
            poller.register(sock, zmq.POLLIN)
        return bool(poller.poll(_wait_ms(timeout_s)))

    def close(self) -> None:
        """Close every socket."""
        self._close_subs()
        self.requests.close()

    def __enter__(self) -> CloneClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncCloneClient(_Clone):
    """``CloneClient`` for an asyncio loop: ``join`` is awaited, and the ``requests``
    (``AsyncRequestClient``) work before and without it.

    Args: as ``CloneClient``. Every use must be in one loop (the sockets are made in it).

    Attributes:
        requests: the ``AsyncRequestClient`` on the ROUTER, shared by every coroutine.
    """

    def __init__(
        self,
        pub_endpoint: str,
        router_endpoint: str,
        cells: Sequence[tuple[int, int]] | None = None,
        twins: Iterable[int] = (),
        events: bool = True,
        cell_vitals: bool = True,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        settle_s: float = SETTLE_S,
        context: zmq.Context | None = None,
        *,
        token: str | None = None,
        keys: CurveKeys | None = None,
        health_endpoint: str | None = None,
        curve: bool = False,
    ) -> None:
        access = _Access.of(token, keys, health_endpoint, curve)
        super().__init__(pub_endpoint, context, cells, twins, events, cell_vitals, access)
        self.requests = AsyncRequestClient(
            router_endpoint, timeout_s, self._context, token, access.router_keys
        )
        self.settle_s = settle_s
        self._waiter: zmq.asyncio.Poller | None = None

    @property
    def joined(self) -> bool:
        """Whether ``join`` has subscribed (it may have failed after)."""
        return self._waiter is not None

    async def _ready(self, timeout_s: float | None) -> bool:
        """Whether a PUB message is there, waiting up to ``timeout_s`` (None: no limit)."""
        if self._waiter is None:
            self._open()
            self._waiter = zmq.asyncio.Poller()
            for sock in self._sockets():
                self._waiter.register(zmq.asyncio.Socket.from_socket(sock), zmq.POLLIN)
        return bool(await self._waiter.poll(_wait_ms(timeout_s)))

    async def join(self) -> list[Applied]:
        """Subscribe, then apply the snapshot and what arrived meanwhile; returns what it applied.

        Raises:
            RequestTimeout, RequestError: ``roster`` or ``snapshot`` failed; the client stays
                subscribed, and ``poll`` applies the stream from there on.
        """
        if await self._ready(self.settle_s):
            self._keep_first()
        roster, snapshot = await self.requests.exchange(join_calls(self.cells))
        return self.replica.join(roster, snapshot) + self._receive_kept()

    async def poll(self, timeout_s: float | None = 0.0) -> list[Applied]:
        """``CloneClient.poll``, awaited (``join`` first)."""
        if not self._pending and not self._kept and not await self._ready(timeout_s):
            return []
        applied = self._drain()
        while (call := self.replica.recovery()) is not None:
            op, args = call
            applied += self.replica.recover(await self.requests.call_reply(op, **args))
        self.requests.applied = self.replica.applied
        return applied

    async def close(self) -> None:
        """Close every socket; requests still waiting raise ``ClientClosed``."""
        if self._waiter is not None:
            for sock, _ in self._waiter.sockets:
                sock.close(linger=0)
        self._close_subs()
        await self.requests.close()

    async def __aenter__(self) -> AsyncCloneClient:
        await self.join()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
