"""Subscriber: a late joiner that mirrors the server's published state (the Clone pattern).

Pattern: Clone (ZeroMQ guide, chapter 5; ``docs/protocol.md`` section 8). In order:

1. subscribe on a SUB socket (``cell/<ix>/<iy>/`` per cell or ``cell/`` for every cell,
   ``twin/<id>/`` per followed twin, ``event/``, ``meta``) and buffer what arrives while the
   subscriptions take effect;
2. ask the ROUTER for ``roster`` (reply seq R) and ``snapshot`` (reply seq S), apply the snapshot's
   keyframes and deltas;
3. apply the buffered and later PUB messages, dropping every one at or below its floor (R for
   ``meta``, S for the rest); crowd messages also pass ``CrowdDecoder``'s per-cell stale rule.

A crowd delta whose keyframe the client lost (``unknown_base``) triggers a snapshot of that cell.

    with Subscriber("tcp://127.0.0.1:5556", "tcp://127.0.0.1:5557") as sub:
        sub.poll(1.0)
        view = sub.crowd()            # every known twin once: view.ids, view.pos_m, ...
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from types import TracebackType
from typing import Any

import numpy as np
import zmq

from synthtwin.clients.python.request_client import RequestClient
from synthtwin.net.wire import event, meta, pose, topics, vitals
from synthtwin.net.wire.crowd import CrowdDecoder, CrowdState
from synthtwin.net.wire.crowd import decode as decode_crowd
from synthtwin.net.wire.envelope import Envelope, unpack_envelope
from synthtwin.net.wire.errors import UNKNOWN_BASE, WireError
from synthtwin.net.wire.event import EventMessage
from synthtwin.net.wire.meta import MetaMessage
from synthtwin.net.wire.pose import PoseMessage
from synthtwin.net.wire.vitals import VITAL_FIELDS, VitalsMessage

__all__ = ["Applied", "CrowdView", "Subscriber", "Tables", "merge_cells"]

log = logging.getLogger(__name__)

Applied = CrowdState | VitalsMessage | EventMessage | MetaMessage | PoseMessage
"""What ``Subscriber.poll`` returns per applied message: a crowd payload as the full state of its
cell after it, any other kind as its decoded message."""

SETTLE_S = 0.5
"""Longest wait for the subscriptions to take effect before the snapshot, wall seconds (the wait
ends at the first PUB message)."""
MAX_BATCH = 10_000
"""Most PUB messages one ``poll`` handles, so that a busy stream cannot hold the caller."""
RECENT_EVENTS = 1000
"""Events kept in ``Subscriber.events``."""

_READERS: dict[str, Callable[[Envelope], Applied]] = {
    module.KIND: module.from_envelope for module in (vitals, event, meta, pose)
}


@dataclass(frozen=True)
class Tables:
    """The names the codes of the other messages refer to (from ``roster`` and ``meta``).

    Attributes:
        epoch: local calendar time at simulation time 0, ISO 8601 without zone.
        activities: activity names, index = activity code.
        clips: animation clip names, index = clip code.
    """

    epoch: str = ""
    activities: tuple[str, ...] = ()
    clips: tuple[str, ...] = ()


@dataclass(frozen=True)
class CrowdView:
    """Every twin the subscriber knows, once, from the freshest message of its cells.

    Attributes:
        ids: (N,) uint32, ascending.
        pos_m: (N, 2) float64, map position x east, y north, m.
        heading_rad: (N,) float32 in [0, 2 pi), 0 = east, counter-clockwise.
        speed_mps: (N,) float32, ground speed, m/s.
        activity: (N,) uint8 activity code (``Tables.activities``).
        clip: (N,) uint8 animation clip code (``Tables.clips``).
        phase: (N,) float32 clip phase in [0, 1] at ``sample_t_s``.
        blend: (N,) float32 clip blend weight in [0, 1].
        sample_t_s: (N,) float64, sim time of the message that last carried each twin, s.
    """

    ids: np.ndarray
    pos_m: np.ndarray
    heading_rad: np.ndarray
    speed_mps: np.ndarray
    activity: np.ndarray
    clip: np.ndarray
    phase: np.ndarray
    blend: np.ndarray
    sample_t_s: np.ndarray


_VIEW_FIELDS = tuple(f.name for f in fields(CrowdView))
_EMPTY_VIEW = CrowdView(
    ids=np.zeros(0, np.uint32),
    pos_m=np.zeros((0, 2)),
    heading_rad=np.zeros(0, np.float32),
    speed_mps=np.zeros(0, np.float32),
    activity=np.zeros(0, np.uint8),
    clip=np.zeros(0, np.uint8),
    phase=np.zeros(0, np.float32),
    blend=np.zeros(0, np.float32),
    sample_t_s=np.zeros(0),
)


def merge_cells(states: Iterable[CrowdState]) -> CrowdView:
    """One view of the twins of ``states``; a twin held by several cells (it moved, and the old
    cell's message that let it go was lost) comes from the cell whose last message is newest."""
    states = [s for s in states if len(s.ids)]
    if not states:
        return _EMPTY_VIEW
    ids = np.concatenate([s.ids for s in states])
    freshness = np.concatenate([np.full(len(s.ids), s.seq, np.int64) for s in states])
    order = np.lexsort((-freshness, ids))  # by id, then newest cell message first
    first = np.ones(len(order), bool)
    first[1:] = ids[order][1:] != ids[order][:-1]
    pick = order[first]
    return CrowdView(*(np.concatenate([getattr(s, f) for s in states])[pick] for f in _VIEW_FIELDS))


def _topics(
    cells: Sequence[tuple[int, int]] | None, twins: Iterable[int], events: bool
) -> list[bytes]:
    """The SUB prefixes of a subscriber's selection (``cells`` None: every cell)."""
    chosen = [topics.CELL_PREFIX] if cells is None else [topics.cell_prefix(c) for c in cells]
    chosen += [topics.twin_prefix(t) for t in twins]
    if events:
        chosen.append(topics.EVENT_PREFIX)
    return [*chosen, topics.META_TOPIC]


class Subscriber:
    """Mirrors the crowd, vitals, events and tables a SynthTwin server publishes (Clone client).

    Args:
        pub_endpoint: the server's PUB endpoint, e.g. ``tcp://127.0.0.1:5556``.
        router_endpoint: its ROUTER endpoint, e.g. ``tcp://127.0.0.1:5557``.
        cells: (ix, iy) cells to follow; None follows every cell.
        twins: ids whose own vitals (and pose) topics to follow.
        events: whether to follow every ``event/`` topic.
        timeout_s: how long each request (``roster``, ``snapshot``) waits, wall seconds.
        settle_s: longest wait for the subscriptions to take effect, wall seconds.

    Raises:
        TimeoutError: the server did not answer ``roster`` or ``snapshot`` in time.
    """

    def __init__(
        self,
        pub_endpoint: str,
        router_endpoint: str,
        cells: Sequence[tuple[int, int]] | None = None,
        twins: Iterable[int] = (),
        events: bool = True,
        timeout_s: float = 2.0,
        settle_s: float = SETTLE_S,
    ) -> None:
        self.requests = RequestClient(router_endpoint, timeout_s)
        self.tables = Tables()
        self.roster = np.zeros(0, np.uint32)
        """(n,) uint32 ascending: every twin of the world (``roster``, then ``meta`` changes)."""
        self.rejected = 0
        """PUB messages that failed to decode (each one logged with its error message)."""
        self._decoder = CrowdDecoder()
        self._cells: dict[tuple[int, int], CrowdState] = {}
        self._view: CrowdView | None = None
        self._vitals: dict[bytes, VitalsMessage] = {}
        self._events: deque[EventMessage] = deque(maxlen=RECENT_EVENTS)
        self._roster_seq = 0  # meta messages at or below it are in the roster
        self._snapshot_seq = 0  # other messages at or below it are in the snapshot
        self._sub = zmq.Context.instance().socket(zmq.SUB)
        self._sub.setsockopt(zmq.LINGER, 0)
        self._sub.connect(pub_endpoint)
        for prefix in _topics(cells, twins, events):
            self._sub.subscribe(prefix)
        try:
            self._pending = self._join(cells, settle_s)
        except BaseException:
            self.close()
            raise

    # -- joining -----------------------------------------------------------------------------

    def _join(self, cells: Sequence[tuple[int, int]] | None, settle_s: float) -> list[Applied]:
        """Clone steps 1 to 3; returns what was applied, for the first ``poll``."""
        buffered = self._settle(settle_s)
        self._load_roster()
        self._snapshot_seq, applied = self._snapshot(cells)
        for frames in buffered:
            applied += self._receive(frames)
        return applied

    def _settle(self, settle_s: float) -> list[list[bytes]]:
        """PUB messages received until the first one arrives or ``settle_s`` passes."""
        if self._sub.poll(round(settle_s * 1000)):
            return [self._sub.recv_multipart()]
        return []

    def _load_roster(self) -> None:
        answer = self.requests.call_reply("roster")
        result = answer.result
        self.tables = Tables(result["epoch"], tuple(result["activities"]), tuple(result["clips"]))
        self.roster = np.asarray(result["ids"], np.uint32)
        self._roster_seq = answer.seq

    def _snapshot(self, cells: Sequence[tuple[int, int]] | None) -> tuple[int, list[Applied]]:
        """Apply a snapshot of ``cells`` (None: every cell); returns its seq S and the states.

        Each cell's messages at or below S are then stale for ``CrowdDecoder``: the snapshot holds
        the last one published for the cell.
        """
        args = {} if cells is None else {"cells": [[int(ix), int(iy)] for ix, iy in cells]}
        answer = self.requests.call_reply("snapshot", **args)
        return answer.seq, [s for p in answer.result["crowd"] for s in self._apply_crowd(p)]

    # -- applying ----------------------------------------------------------------------------

    def poll(self, timeout_s: float = 0.0) -> list[Applied]:
        """Apply what has arrived, waiting up to ``timeout_s`` wall seconds for the first message.

        Returns:
            the applied messages in order (crowd ones as the full ``CrowdState`` of their cell);
            stale and rejected messages are left out.
        """
        applied, self._pending = self._pending, []
        if not self._sub.poll(0 if applied else round(timeout_s * 1000)):
            return applied
        for _ in range(MAX_BATCH):
            try:
                frames = self._sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            applied += self._receive(frames)
        return applied

    def _receive(self, frames: list[bytes]) -> list[Applied]:
        """Apply one PUB message ``[topic, payload]``; a bad one is logged and counted."""
        if len(frames) != 2:
            return self._reject(frames[0], f"expected 2 frames, got {len(frames)}")
        try:
            return self._apply(*frames)
        except WireError as err:
            return self._reject(frames[0], str(err))

    def _reject(self, topic: bytes, why: str) -> list[Applied]:
        self.rejected += 1
        log.warning("rejected a message on %r: %s", topic, why)
        return []

    def _apply(self, topic: bytes, payload: bytes) -> list[Applied]:
        env = unpack_envelope(payload)
        if env.seq <= (self._roster_seq if env.kind == meta.KIND else self._snapshot_seq):
            return []
        if env.kind == "crowd":
            applied = self._apply_crowd(payload)
        elif env.kind in _READERS:
            applied = [self._keep(topic, _READERS[env.kind](env))]
        else:
            return self._reject(topic, f"kind '{env.kind}' is not published")
        if applied:
            self.requests.applied = (env.tick, env.seq, env.t_s)
        return applied

    def _apply_crowd(self, payload: bytes) -> list[CrowdState]:
        """Apply a crowd payload: its cell's new state, nothing if stale, or, when the keyframe
        it needs was lost, the states of a new snapshot of its cell."""
        try:
            state = self._decoder.apply(payload)
        except WireError as err:
            if err.code != UNKNOWN_BASE:
                raise
            return self._snapshot([decode_crowd(payload).cell])[1]
        held = self._cells.get(state.cell)
        if held is not None and state.seq <= held.seq:
            return []
        self._cells[state.cell] = state
        self._view = None
        return [state]

    def _keep(self, topic: bytes, msg: Applied) -> Applied:
        """Record a non-crowd message in the mirrored state; returns it."""
        if isinstance(msg, VitalsMessage):
            self._vitals[topic] = msg
        elif isinstance(msg, EventMessage):
            self._events.append(msg)
        elif isinstance(msg, MetaMessage):
            self.tables = Tables(msg.epoch, msg.activities, msg.clips)
            kept = np.setdiff1d(self.roster, msg.removed, assume_unique=True)
            self.roster = np.union1d(kept, msg.added).astype(np.uint32)
        return msg

    # -- reading -----------------------------------------------------------------------------

    def crowd(self) -> CrowdView:
        """Every twin of the followed cells, once (see ``merge_cells``)."""
        if self._view is None:
            self._view = merge_cells(self._cells.values())
        return self._view

    def vitals(self, twin_id: int) -> dict[str, Any] | None:
        """The latest vitals of ``twin_id`` from its own or its cell's topic, or None.

        Returns:
            ``{"twin_id", "tick", "seq", "t_s"}`` and every ``net.wire.vitals.VITAL_FIELDS`` name
            as a float in its unit (``hr_bpm``, ...), with ``activity`` as an int code.
        """
        best: tuple[VitalsMessage, int] | None = None
        for msg in self._vitals.values():
            row = int(np.searchsorted(msg.ids, twin_id))
            found = row < len(msg.ids) and msg.ids[row] == twin_id
            if found and (best is None or msg.seq > best[0].seq):
                best = (msg, row)
        if best is None:
            return None
        msg, row = best
        values = {spec.name: float(getattr(msg, spec.name)[row]) for spec in VITAL_FIELDS}
        head = {"twin_id": int(twin_id), "tick": msg.tick, "seq": msg.seq, "t_s": msg.t_s}
        return {**head, **values, "activity": int(msg.activity[row])}

    @property
    def events(self) -> list[EventMessage]:
        """The most recent events, oldest first (at most ``RECENT_EVENTS``)."""
        return list(self._events)

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close both sockets."""
        self._sub.close(linger=0)
        self.requests.close()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
