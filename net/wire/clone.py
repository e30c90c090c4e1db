"""``clone``: the client side of the Clone pattern as a state machine, without sockets.

Pattern: Clone (ZeroMQ guide, chapter 5; ``docs/protocol.md`` sections 2, 6.1 and 8). A
``Replica`` is what a client knows of the server's published state; the socket side
(``net.wire.client``) feeds it, in this order:

1. subscribe (``topics_of``) and keep what arrives while the subscriptions take effect;
2. ``join`` the replies to ``join_calls``: ``roster`` (seq R) and ``snapshot`` (seq S), whose
   crowd payloads it applies;
3. ``receive`` the kept and every later PUB message: ``meta`` at or below R and any other
   message at or below S are stale and dropped; crowd messages also pass ``CrowdDecoder``'s
   per-cell stale rule (subscriber rule 1);
4. a crowd delta whose keyframe was lost (``unknown_base``) marks its cell: ``recovery`` is then
   the ``snapshot`` request of the marked cells, and ``recover`` applies its reply.

``crowd`` merges the cells into one ``Crowd``, every twin once, with ``merge_cells``: the one
rule for a twin that two cells hold (client rule 6: the cell whose last applied message has the
greatest seq wins).

    replica = Replica()
    roster, snapshot = requests.exchange(join_calls(None))
    replica.join(roster, snapshot)
    for frames in messages:
        replica.receive(frames)
    replica.crowd().pos_m             # (N, 2) every twin's position, ids ascending
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from synthtwin.net.wire import crowd, event, meta, pose, shape, topics, vitals
from synthtwin.net.wire.crowd import CrowdDecoder, CrowdMessage, CrowdState
from synthtwin.net.wire.dealer import Call, result_of
from synthtwin.net.wire.envelope import Envelope, unpack_envelope
from synthtwin.net.wire.errors import UNKNOWN_BASE, WireError
from synthtwin.net.wire.event import EventMessage
from synthtwin.net.wire.meta import MetaMessage
from synthtwin.net.wire.pose import PoseMessage
from synthtwin.net.wire.reply import Reply
from synthtwin.net.wire.shape import Body, ShapeMessage, bodies
from synthtwin.net.wire.vitals import VITAL_FIELDS, VitalsMessage

__all__ = [
    "RECENT_EVENTS",
    "Applied",
    "Crowd",
    "Replica",
    "Tables",
    "join_calls",
    "merge_cells",
    "topics_of",
]

log = logging.getLogger(__name__)

RECENT_EVENTS = 1000
"""Events a replica keeps (``Replica.events``)."""

Applied = CrowdState | VitalsMessage | EventMessage | MetaMessage | PoseMessage | ShapeMessage
"""What applying a message yields: a crowd payload as the full state of its cell after it, any
other kind as its decoded message."""

_READERS: dict[str, Callable[[Envelope], Applied]] = {
    module.KIND: module.from_envelope for module in (vitals, event, meta, pose, shape)
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
class Crowd:
    """Every twin a client knows, once, merged over the cells it follows (``merge_cells``).

    Attributes:
        ids: (N,) uint32, ascending.
        pos_m: (N, 2) float64, map position x east, y north, m.
        heading_rad: (N,) float32 in [0, 2 pi), 0 = east, counter-clockwise.
        speed_mps: (N,) float32, ground speed, m/s.
        activity: (N,) uint8 activity code (``Tables.activities``).
        clip: (N,) uint8 animation clip code (``Tables.clips``).
        phase: (N,) float32 clip phase in [0, 1] at ``sample_t_s``.
        blend: (N,) float32 clip blend weight in [0, 1].
        sample_t_s: (N,) float64, sim time of the message that last carried each twin's record, s.
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

    def __len__(self) -> int:
        return len(self.ids)

    def position_at(self, t_s: float) -> np.ndarray:
        """(N, 2) float64 map positions at sim time ``t_s``, m: each record dead-reckoned from
        its ``sample_t_s`` (``crowd.dead_reckon``, protocol 6.1 subscriber rule 5). Only the
        moving twins are computed (most of a town stands still: at home, at work); the others
        keep ``pos_m``, as ``dead_reckon`` would."""
        pos_m = self.pos_m.copy()
        moving = np.flatnonzero(self.speed_mps > 0)
        pos_m[moving] = crowd.dead_reckon(
            self.pos_m[moving], self.heading_rad[moving], self.speed_mps[moving],
            self.sample_t_s[moving], t_s,
        )  # fmt: skip
        return pos_m

    def rows(self, twin_ids: np.ndarray) -> np.ndarray:
        """``(K,) int64``: the row of each of ``twin_ids`` (K,), -1 where the crowd lacks it."""
        twin_ids = np.asarray(twin_ids)
        if not len(self.ids):
            return np.full(len(twin_ids), -1, np.int64)
        rows = np.minimum(np.searchsorted(self.ids, twin_ids), len(self.ids) - 1)
        return np.where(self.ids[rows] == twin_ids, rows, -1)


_CROWD_FIELDS = tuple(f.name for f in fields(Crowd))
EMPTY_CROWD = Crowd(
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


SCATTER_SPAN = 4
"""``merge_cells`` scatters by id when the ids span at most this many times the records (else
it sorts: ids far apart would make the scatter's table large)."""


def merge_cells(states: Iterable[CrowdState]) -> Crowd:
    """Every twin of ``states`` once. A twin that several cells hold comes from the cell whose
    state has the greatest ``seq`` (its last applied message): protocol section 8, rule 6.

    Why seq and not the twin's ``sample_t_s``: every crowd message states its cell's whole
    membership, and the server places a twin in one cell at a time, so the newest message that
    holds the twin is where the server last put it. A record's sample time only says when the
    record last changed: a twin unchanged since its cell's keyframe is in no delta and keeps the
    keyframe's time, however recent the message that still holds it.

    O(N) for N records whose ids are dense (``SCATTER_SPAN``; a server's are): each cell's rows
    are scattered into a table indexed by id, oldest cell first, so the newest writes last
    (``_pick_by_scatter``); otherwise ``_pick_by_sort`` (O(N log N)) gives the same rows.
    """
    states = [s for s in states if len(s.ids)]
    if not states:
        return EMPTY_CROWD
    if len(states) == 1:
        return Crowd(*(getattr(states[0], f) for f in _CROWD_FIELDS))
    low = min(int(s.ids[0]) for s in states)  # each state's ids ascend
    span = max(int(s.ids[-1]) for s in states) - low + 1
    records = sum(len(s.ids) for s in states)
    if span <= SCATTER_SPAN * records:
        pick = _pick_by_scatter(states, low, span)
    else:
        pick = _pick_by_sort(states)
    return Crowd(*(np.concatenate([getattr(s, f) for s in states])[pick] for f in _CROWD_FIELDS))


def _pick_by_scatter(states: Sequence[CrowdState], low: int, span: int) -> np.ndarray:
    """``(n,) int64``: rows of the concatenated ``states`` that ``merge_cells`` keeps, ids
    ascending; ids lie in ``low .. low + span - 1``. The states are written oldest first (by
    seq; of equal seqs the later listed first, as the sort's tie rule), so each id's row is the
    newest state's."""
    starts = np.cumsum([0] + [len(s.ids) for s in states])
    table = np.full(span, -1, np.int64)  # by id - low: a row of the concatenation, -1 if none
    for i in sorted(range(len(states)), key=lambda i: (states[i].seq, -i)):
        table[states[i].ids - low] = np.arange(starts[i], starts[i + 1])
    return table[table >= 0]


def _pick_by_sort(states: Sequence[CrowdState]) -> np.ndarray:
    """``_pick_by_scatter``'s rows by a sort (ids of any spread): by id, then newest first."""
    ids = np.concatenate([s.ids for s in states])
    freshness = np.concatenate([np.full(len(s.ids), s.seq, np.int64) for s in states])
    order = np.lexsort((-freshness, ids))  # by id, then the newest cell message first
    first = np.ones(len(order), bool)
    first[1:] = ids[order][1:] != ids[order][:-1]
    return order[first]


def topics_of(
    cells: Sequence[tuple[int, int]] | None, twins: Iterable[int] = (), events: bool = True
) -> list[bytes]:
    """The SUB prefixes of a selection: ``cells`` (None: every cell), the twins whose own vitals
    and pose to follow, ``event/`` if ``events``, and always ``meta``."""
    chosen = [topics.CELL_PREFIX] if cells is None else [topics.cell_prefix(c) for c in cells]
    chosen += [topics.twin_prefix(t) for t in twins]
    if events:
        chosen.append(topics.EVENT_PREFIX)
    return [*chosen, topics.META_TOPIC]


def _cells_arg(cells: Iterable[tuple[int, int]]) -> dict[str, Any]:
    return {"cells": [[int(ix), int(iy)] for ix, iy in cells]}


def join_calls(cells: Sequence[tuple[int, int]] | None) -> list[Call]:
    """The requests a client joins with, to send together: ``roster``, then ``snapshot`` of
    ``cells`` (None: every cell)."""
    return [("roster", {}), ("snapshot", {} if cells is None else _cells_arg(cells))]


def _is_cell_vitals(topic: bytes) -> bool:
    return topic.startswith(topics.CELL_PREFIX) and topic.endswith(b"/vitals")


class Replica:
    """A client's copy of the state a server publishes: crowd per cell, vitals, events, tables.

    Args:
        cell_vitals: whether to apply ``cell/<ix>/<iy>/vitals`` (a client that follows cells for
            their crowd only skips them before decoding).

    Attributes:
        tables: activity and clip names and the epoch (``roster``, then ``meta``).
        roster: (n,) uint32 ascending, every twin of the world (``roster``, then ``meta``).
        rejected: PUB messages that failed to decode (each logged with its error message).
        applied: ``(tick, seq, t_s)`` of the last PUB message applied (0s if none).
    """

    def __init__(self, cell_vitals: bool = True) -> None:
        self.cell_vitals = cell_vitals
        self.tables = Tables()
        self.roster = np.zeros(0, np.uint32)
        self.rejected = 0
        self.applied: tuple[int, int, float] = (0, 0, 0.0)
        self._decoder = CrowdDecoder()
        self._cells: dict[tuple[int, int], CrowdState] = {}
        self._crowd: Crowd | None = None
        self._vitals: dict[bytes, VitalsMessage] = {}
        self._bodies: dict[int, Body] = {}
        self._events: deque[EventMessage] = deque(maxlen=RECENT_EVENTS)
        self._lost: set[tuple[int, int]] = set()
        self._roster_seq = 0  # meta messages at or below it are in the roster
        self._snapshot_seq = 0  # other messages at or below it are in the snapshot

    # -- joining -----------------------------------------------------------------------------

    def join(self, roster: Reply, snapshot: Reply) -> list[CrowdState]:
        """Apply the replies to ``join_calls``; returns each cell's state after the snapshot.

        Raises:
            RequestError: either is an error reply.
        """
        result = result_of(roster)
        payloads = result_of(snapshot)["crowd"]
        self.tables = Tables(result["epoch"], tuple(result["activities"]), tuple(result["clips"]))
        self.roster = np.asarray(result["ids"], np.uint32)
        self._roster_seq, self._snapshot_seq = roster.seq, snapshot.seq
        return self._apply_snapshot(payloads)

    def recovery(self) -> Call | None:
        """The ``snapshot`` request of the cells whose keyframe was lost since the last call, or
        None; send it and ``recover`` its reply."""
        if not self._lost:
            return None
        cells, self._lost = sorted(self._lost), set()
        return ("snapshot", _cells_arg(cells))

    def recover(self, snapshot: Reply) -> list[CrowdState]:
        """Apply the reply to ``recovery``; returns the states it changed.

        Raises:
            RequestError: an error reply.
        """
        return self._apply_snapshot(result_of(snapshot)["crowd"])

    def _apply_snapshot(self, payloads: Sequence[bytes]) -> list[CrowdState]:
        """Each cell's keyframe and latest delta, in order; returns each changed cell's state
        after the snapshot, once (not the keyframe's state on the way: it may hold twins that
        left since). A bad payload is rejected like a PUB message."""
        after: dict[tuple[int, int], CrowdState] = {}
        for payload in payloads:
            try:
                for state in self._apply_crowd(crowd.decode(payload)):
                    after[state.cell] = state
            except WireError as err:
                self._reject(b"snapshot", str(err))
        return list(after.values())

    # -- applying ----------------------------------------------------------------------------

    def receive(self, frames: Sequence[bytes]) -> list[Applied]:
        """Apply one PUB message ``[topic, payload]``; returns what it changed (nothing when
        stale, skipped or rejected: a bad message is logged and counted in ``rejected``)."""
        if len(frames) != 2:
            why = f"expected 2 frames, got {len(frames)}"
            return self._reject(frames[0] if frames else b"", why)
        topic, payload = frames
        if not self.cell_vitals and _is_cell_vitals(topic):
            return []
        try:
            applied = self._apply(topic, payload)
        except WireError as err:
            return self._reject(topic, str(err))
        return applied

    def _reject(self, topic: bytes, why: str) -> list[Applied]:
        self.rejected += 1
        log.warning("rejected a message on %r: %s", topic, why)
        return []

    def _apply(self, topic: bytes, payload: bytes) -> list[Applied]:
        env = unpack_envelope(payload)
        if env.seq <= (self._roster_seq if env.kind == meta.KIND else self._snapshot_seq):
            return []
        if env.kind == crowd.KIND:
            applied = self._apply_crowd(crowd.from_envelope(env))
        elif env.kind in _READERS:
            applied = [self._keep(topic, _READERS[env.kind](env))]
        else:
            return self._reject(topic, f"kind '{env.kind}' is not published")
        if applied:
            self.applied = (env.tick, env.seq, env.t_s)
        return applied

    def _apply_crowd(self, msg: CrowdMessage) -> list[CrowdState]:
        """Its cell's new state, nothing if stale or if the keyframe it needs was lost (the cell
        is then marked for ``recovery``)."""
        try:
            state = self._decoder.apply_message(msg)
        except WireError as err:
            if err.code != UNKNOWN_BASE:
                raise
            self._lost.add(msg.cell)
            return []
        held = self._cells.get(state.cell)
        if held is not None and state.seq <= held.seq:
            return []
        self._cells[state.cell] = state
        self._crowd = None
        return [state]

    def _keep(self, topic: bytes, msg: Applied) -> Applied:
        """Record a non-crowd message; returns it."""
        if isinstance(msg, VitalsMessage):
            self._vitals[topic] = msg
        elif isinstance(msg, EventMessage):
            self._events.append(msg)
        elif isinstance(msg, ShapeMessage):
            self._bodies.update(bodies(msg))
        elif isinstance(msg, MetaMessage):
            self.tables = Tables(msg.epoch, msg.activities, msg.clips)
            kept = np.setdiff1d(self.roster, msg.removed, assume_unique=True)
            self.roster = np.union1d(kept, msg.added).astype(np.uint32)
            for twin in msg.removed.tolist():
                self._bodies.pop(twin, None)
        return msg

    # -- reading -----------------------------------------------------------------------------

    def crowd(self) -> Crowd:
        """Every twin of the followed cells, once (``merge_cells``); the same object until a
        cell changes."""
        if self._crowd is None:
            self._crowd = merge_cells(self._cells.values())
        return self._crowd

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

    def body(self, twin_id: int) -> Body | None:
        """The body (model and SMPL betas) of a followed twin from its ``twin/<id>/shape``, or
        None before the first arrives."""
        return self._bodies.get(int(twin_id))

    @property
    def events(self) -> list[EventMessage]:
        """The most recent events, oldest first (at most ``RECENT_EVENTS``)."""
        return list(self._events)
