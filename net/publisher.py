"""Publisher: the server side of the Clone pattern's state stream, on a ZeroMQ XPUB socket.

Each tick the publisher turns the world into ``[topic, payload]`` messages (``docs/protocol.md``):

- ``meta`` when the roster changed (twins spawned or despawned);
- ``event/activity`` for every twin whose activity changed;
- ``cell/<ix>/<iy>/crowd``: keyframes and deltas from one ``CrowdEncoder`` per cell, each cell at
  its own turn, ``crowd_hz`` turns a second (cells spread over the ticks; clients dead-reckon with
  speed and heading, as game engines replicate crowds at 10-20 Hz). At its turn a cell publishes
  when something visible changed (a twin moved, changed activity, clip or cross-fade weight), and
  a keyframe every ``keyframe_every`` turns even when nothing did (cells staggered, so that the
  cells of the first tick do not all keyframe in the same tick ever after). A twin that enters or
  leaves a cell (moving, spawned, despawned) makes the cells concerned publish in that same tick,
  out of turn, so that after every tick the published streams hold each twin in exactly one
  cell, the one ``roster`` names (protocol sections 5 and 9). A cell that empties ends its stream
  with that message; a twin entering it later starts a new one with a keyframe;
- ``cell/<ix>/<iy>/vitals`` for each cell at ``vitals_hz`` (cells spread over the ticks);
- ``twin/<id>/vitals`` and ``twin/<id>/pose`` (24 joint rotations from the clip library) at
  ``twin_hz`` for the twins somebody subscribed to by id (the XPUB socket tells the publisher
  which topics have subscribers, so unwatched twins cost nothing; less often once more than
  ``TWINS_PER_TICK`` a tick would be due), and every twin's vitals at
  ``vitals_hz`` while somebody subscribes to all of ``twin/``;
- ``twin/<id>/shape`` (body model and SMPL betas) of a twin subscribed to by id in the tick after
  it becomes followed, then at ``vitals_hz`` (the XPUB passes a topic's first subscription only,
  so a later subscriber to the same twin gets it at the next one).

Sends never block: a subscriber that does not read loses messages at the high-water mark (ZeroMQ
drops them silently), and the tick goes on. The tick's messages go out together at its end through
the publisher's ``link`` (``net.sender``): sent there and then (``DirectLink``, the default), or
handed to the server's sender thread (``Sender``), which also reads the subscription messages.
A ``meta`` message also goes out every ``META_EVERY_S`` wall seconds, while paused too
(``heartbeat``), so clients can tell a quiet server from a dead one.

Health data: with a ``health_socket`` (access control on, ``net.server``), the vitals topics
(``cell/*/vitals``, ``twin/*/vitals``) go out on that socket only, and the main socket carries
none; ``stop_health`` stops them altogether. Subscriptions to twins by id are followed for at most
``max_twin_subscriptions`` twins per socket (``TwinFollows``); the others are ignored and counted.
Subscription messages are read at most ``MAX_SUBSCRIPTION_MESSAGES`` per socket per tick.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import zmq

from synthtwin.components.activity import ACTIVITY_NAMES
from synthtwin.components.physiology import VITAL_COLUMNS
from synthtwin.components.pose import CLIPS
from synthtwin.engine.schedule import Tick
from synthtwin.engine.world import World
from synthtwin.kernels.clips import ClipLibrary
from synthtwin.net.sender import DirectLink, Encoding, Message, Outbox
from synthtwin.net.wire import event, meta, pose, shape, topics, vitals
from synthtwin.net.wire.crowd import DEAD_RECKONING_M, CrowdEncoder
from synthtwin.net.wire.topics import TWIN_PREFIX

__all__ = ["MAX_SUBSCRIPTION_MESSAGES", "TWINS_PER_TICK", "CellMembers", "Publisher", "TwinFollows"]

CROWD_COLUMNS = ("position_m", "heading_rad", "speed_mps", "activity", "clip", "clip_phase",
                 "clip_blend")  # fmt: skip
"""The columns of a crowd record, in ``CrowdEncoder.encode``'s argument order."""
META_EVERY_S = 4.0
"""Heartbeat, wall s: below the 5 s of protocol section 6.5, so a late tick still keeps it (clients
treat 15 s without ``meta`` as a dead server)."""
MAX_SUBSCRIPTION_MESSAGES = 10_000
"""(Un)subscription messages read from one XPUB socket per tick, at most."""
MAX_TRACKED_EXCESS = 100_000
"""Ignored twin subscriptions remembered (so their unsubscriptions are ignored too), at most."""
TWINS_PER_TICK = 8
"""Twins followed by id whose vitals and pose one tick publishes, about (their ids, or past the
threshold their ranks, spread them over the ticks; then at most): past
``TWINS_PER_TICK * twin_period`` followed twins (24 at the default 10 Hz and 30 Hz ticks), each
is published less often than ``twin_hz`` (64 twins: every 8 ticks, 3.75 Hz at 30 Hz).
This bounds the work a client following many twins makes: the tick gathers their state (~0.1
ms for 64 followed, served at 1,000 twins on the 2-core CPU) and the sender thread samples and
encodes ~8 twins' poses and vitals a tick (~0.3 ms there); 64 followed twins at 10 Hz each
were 21 a tick, 1.25-1.47x the tick's p99 when the tick encoded them (issue #13,
``bench/test_serve_security_bench.py``, where one subscriber of every twin now gives 0.95-1.05x
the p99 of none)."""
_TWIN_TOPIC = re.compile(rb"^twin/(\d{1,10})/")


@dataclass
class TwinFollows:
    """The twins the subscribers of one XPUB socket follow: by id (a topic ``twin/<id>/...``),
    at most ``cap`` twins at once, or all of them (a prefix of ``twin/``).

    Attributes:
        cap: twins followed by id at once, at most; None: no limit.
        twins: subscriptions per followed twin (a twin may be followed on several topics).
        all: subscriptions to every twin.
        ignored: subscriptions to a twin beyond ``cap``, ignored, since the start.
        started: twins followed since the publisher's last ``twin/<id>/shape`` pass, waiting
            for their first shape; always among ``twins`` (a dropped twin leaves it), so the
            health socket's follows, whose shapes nobody sends, hold no more than they follow.
    """

    cap: int | None = None
    twins: Counter[int] = field(default_factory=Counter)
    all: int = 0
    ignored: int = 0
    started: set[int] = field(default_factory=set)
    _excess: Counter[int] = field(default_factory=Counter)
    _sorted: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def sorted_ids(self) -> np.ndarray:
        """``(K,) int64`` the ids of ``twins``, ascending (kept until the twins change)."""
        if self._sorted is None:
            self._sorted = np.array(sorted(self.twins), dtype=np.int64)
        return self._sorted

    def apply(self, message: bytes) -> None:
        """One XPUB (un)subscription message: ``\\x01`` or ``\\x00``, then the topic."""
        subscribe, topic = message[0] == 1, message[1:]
        match = _TWIN_TOPIC.match(topic)
        if match:
            self._change(int(match.group(1)), subscribe)
        elif TWIN_PREFIX.startswith(topic):
            self.all = max(0, self.all + (1 if subscribe else -1))

    def _change(self, twin: int, subscribe: bool) -> None:
        if not subscribe:
            self._drop(twin)
        elif twin in self.twins or self.cap is None or len(self.twins) < self.cap:
            if twin not in self.twins:
                self.started.add(twin)
                self._sorted = None
            self.twins[twin] += 1
        else:
            self.ignored += 1
            if len(self._excess) < MAX_TRACKED_EXCESS:
                self._excess[twin] += 1

    def _drop(self, twin: int) -> None:
        counter = self._excess if self._excess.get(twin) else self.twins
        counter[twin] -= 1
        if counter[twin] <= 0:
            del counter[twin]
        if twin not in self.twins:
            self.started.discard(twin)
            self._sorted = None


_NO_ROWS = np.zeros(0, dtype=np.int64)
NO_CELL = np.iinfo(np.int64).min
"""``RowState.cell_key`` of a twin in no crowd stream yet (the key of no reachable cell)."""


@dataclass
class RowState:
    """What was published of each row of the world, kept by row while rows stay put (between
    spawns and despawns), so that a tick compares whole columns instead of gathering and
    scattering every twin by id. The per-id tables of ``Publisher`` take it back when rows change.

    Attributes:
        version: the world's column version of these rows (-1: none yet).
        ids: ``(N,) uint32`` the twin of each row.
        cell_key: ``(N,) int64`` the cell whose stream holds the twin (``_cell_key``), or
            ``NO_CELL``.
        activity: ``(N,) int16`` the last activity seen (-1: none yet).
        clip: ``(N,) uint8`` and blend ``(N,) float32``, the last seen.
    """

    version: int = -1
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    cell_key: np.ndarray = field(default_factory=lambda: _NO_ROWS)
    activity: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    clip: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    blend: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))


@dataclass
class CellMembers:
    """The world's rows by cell, kept between ticks (a spatial hash): each cell's rows in
    ascending id order, and each row's cell as an index into ``cells``.

    Replication then gathers only the twins of the cells due this tick and finds the cells of
    changed twins by a count over the index, instead of sorting every twin by cell each tick.
    Rebuilt when rows change (spawn, despawn: ``version``); otherwise only the twins that changed
    cell are moved, a few a tick.

    Attributes:
        version: the world's column version the rows were taken at (-1: never).
        cells: ``(ix, iy)`` of each index, in the order first seen.
        index: the index of each cell.
        rows: ``(n,) int64`` rows of each index, ids ascending (empty once a cell emptied).
        row_cell: ``(N,) int64`` the index of each row's cell.
    """

    version: int = -1
    cells: list[tuple[int, int]] = field(default_factory=list)
    index: dict[tuple[int, int], int] = field(default_factory=dict)
    rows: list[np.ndarray] = field(default_factory=list)
    row_cell: np.ndarray = field(default_factory=lambda: _NO_ROWS)

    def rebuild(self, version: int, ids: np.ndarray, cells: np.ndarray) -> None:
        """Group every row: ``ids`` (N,) and their ``cells`` (N, 2) int32, by row."""
        key = _cell_key(cells)
        order = np.lexsort((ids, key))  # by cell, then by id
        bounds = np.flatnonzero(np.diff(key[order])) + 1
        self.version, self.cells, self.index, self.rows = version, [], {}, []
        self.row_cell = np.empty(len(ids), np.int64)
        for rows in np.split(order, bounds) if len(order) else []:
            self._add(tuple(cells[rows[0]].tolist()), rows)
            self.row_cell[rows] = len(self.cells) - 1

    def _add(self, cell: tuple[int, int], rows: np.ndarray) -> int:
        self.index[cell] = len(self.cells)
        self.cells.append(cell)
        self.rows.append(rows)
        return self.index[cell]

    def move(self, ids: np.ndarray, rows: np.ndarray, cells: np.ndarray) -> None:
        """Move ``rows`` (M,) to their new ``cells`` (M, 2); ``ids`` (N,) of every row."""
        for row, cell in zip(rows.tolist(), cells.tolist(), strict=True):
            old = self.row_cell[row]
            self.rows[old] = self.rows[old][self.rows[old] != row]
            at = self.index.get((cell[0], cell[1]))
            if at is None:
                at = self._add((cell[0], cell[1]), _NO_ROWS)
            members = self.rows[at]
            place = np.searchsorted(ids[members], ids[row])
            self.rows[at] = np.insert(members, place, row)
            self.row_cell[row] = at

    def of(self, cell: tuple[int, int]) -> np.ndarray:
        """``(n,) int64`` the rows of ``cell``, ids ascending (empty: none)."""
        at = self.index.get(cell)
        return _NO_ROWS if at is None else self.rows[at]

    def cells_with(self, rows: np.ndarray) -> set[tuple[int, int]]:
        """The cells of ``rows`` (a ``(N,) bool`` mask or indices), by a count (no sort)."""
        counts = np.bincount(self.row_cell[rows], minlength=len(self.cells))
        return {self.cells[at] for at in np.flatnonzero(counts).tolist()}


class Publisher:
    """Encodes and publishes the world's changes; also serves the ``snapshot`` of the streams.

    Args:
        socket: a bound XPUB socket (owned by the simulation thread).
        tick_hz: ticks per second, to turn rates into tick periods.
        keyframe_every: crowd updates of a cell between keyframes.
        crowd_hz: most crowd updates per cell per wall second.
        vitals_hz: vitals rate per cell (and per twin, for a subscriber of all twins), per wall
            second.
        twin_hz: vitals and pose rate of each twin subscribed to by id, per wall second.
        health_socket: a bound XPUB socket for the vitals topics; None: they go on ``socket``.
        max_twin_subscriptions: twins followed by id at once per socket, at most; None: any.
        dead_reckoning_m: each cell's ``CrowdEncoder`` tolerance, m (0: no dead reckoning).
    """

    def __init__(
        self, socket: zmq.Socket, tick_hz: float, keyframe_every: int, crowd_hz: float,
        vitals_hz: float, twin_hz: float, health_socket: zmq.Socket | None = None,
        max_twin_subscriptions: int | None = None, dead_reckoning_m: float = DEAD_RECKONING_M,
    ) -> None:  # fmt: skip
        self.socket = socket
        self.health_socket = health_socket
        self.epoch_iso = ""
        """Local calendar time of simulation time 0, published in ``meta``; set once the world
        (and its clock) exists."""
        self.keyframe_every = keyframe_every
        self.dead_reckoning_m = dead_reckoning_m
        self.crowd_period = max(1, round(tick_hz / crowd_hz))
        self.vitals_period = max(1, round(tick_hz / vitals_hz))
        self.twin_period = max(1, round(tick_hz / twin_hz))
        self.seq = 0
        self.link: DirectLink = DirectLink(socket, health_socket, MAX_SUBSCRIPTION_MESSAGES)
        """Where each tick's messages go and the subscriptions come from: the sockets in this
        thread, or a ``net.sender.Sender`` that owns them (``ZmqServer``)."""
        self.tick = 0
        self.t_s = 0.0
        self._encoders: dict[tuple[int, int], CrowdEncoder] = {}
        self._roster = np.zeros(0, dtype=np.uint32)
        self._roster_version = -1
        self._last_activity = np.full(0, -1, dtype=np.int16)
        self._last_clip = np.zeros(0, dtype=np.uint8)
        self._last_blend = np.zeros(0, dtype=np.float32)
        self._last_cell = np.zeros((0, 2), dtype=np.int32)
        self._carried = np.zeros(0, dtype=bool)
        """Per twin id: whether a published crowd stream holds it (in ``_last_cell``)."""
        self._rows = RowState()
        """What was published of each row, as of the last tick."""
        self._members = CellMembers()
        """The world's rows by cell, as of this tick."""
        self._dirty: set[tuple[int, int]] = set()
        """Cells where something visible changed, waiting for their turn."""
        self._membership: set[tuple[int, int]] = set()
        """Cells a twin entered or left this tick: they publish now, out of turn."""
        self.pose_follows = TwinFollows(max_twin_subscriptions)
        """Who follows twins on ``socket``: their poses (and vitals, without a health socket)."""
        self.vitals_follows = self.pose_follows
        """Who follows twins on the socket of the vitals topics."""
        if health_socket is not None:
            self.vitals_follows = TwinFollows(max_twin_subscriptions)
        self._last_meta_wall = -math.inf
        self._outbox: Outbox = []
        self._health_outbox: Outbox = []
        self._vitals_outbox: Outbox | None = (
            self._outbox if health_socket is None else self._health_outbox
        )

    # -- subscriptions -----------------------------------------------------------------------

    def read_subscriptions(self) -> None:
        """Apply (at most ``MAX_SUBSCRIPTION_MESSAGES`` of) each XPUB socket's subscription
        messages, as the ``link`` has them; track which twins are followed."""
        for message in self.link.subscriptions(health=False):
            self.pose_follows.apply(message)
        for message in self.link.subscriptions(health=True):
            self.vitals_follows.apply(message)

    @property
    def sent(self) -> int:
        """Messages ZeroMQ took so far."""
        return self.link.sent

    @property
    def refused(self) -> int:
        """Sends the socket refused (only with ``ZMQ_XPUB_NODROP``; by default it drops)."""
        return self.link.refused

    @property
    def followed_twins(self) -> int:
        """Twins followed by id now (on either socket)."""
        return len(self.pose_follows.twins.keys() | self.vitals_follows.twins.keys())

    @property
    def ignored_subscriptions(self) -> int:
        """Subscriptions to twins beyond ``max_twin_subscriptions``, ignored, since the start."""
        ignored = self.pose_follows.ignored
        if self.vitals_follows is not self.pose_follows:
            ignored += self.vitals_follows.ignored
        return ignored

    def stop_health(self) -> None:
        """Publish no vitals topics from now on (access control came on while serving without a
        health socket: only a restart can serve them to the authorised alone)."""
        self._vitals_outbox = None

    # -- the tick ----------------------------------------------------------------------------

    def replicate(self, world: World, tick: Tick) -> None:
        """Publish this tick's changes (called by the replication system, last in the tick)."""
        self.tick, self.t_s = tick.index, tick.t_s + tick.dt_s
        self._grow_tables(world.next_twin_id)
        ids = world.ids
        try:
            rows_changed = world.columns.version != self._rows.version
            if rows_changed:
                self._store_rows()
            self._publish_roster(world)
            if rows_changed:
                self._load_rows(world.columns.version, ids)
            changed_activity = self._publish_activity_events(ids, world["activity"])
            cells = topics.cell_of(world["position_m"])
            self._publish_crowd(world, ids, cells, changed_activity)
            self._publish_vitals(world, ids, tick.index)
            self._publish_shapes(world, ids, tick.index)
        finally:
            self._flush()

    def _grow_tables(self, next_id: int) -> None:
        size = len(self._last_activity)
        if next_id <= size:
            return
        grow = max(next_id, 2 * size) - size
        self._last_activity = np.concatenate([self._last_activity, np.full(grow, -1, np.int16)])
        self._last_clip = np.concatenate([self._last_clip, np.zeros(grow, np.uint8)])
        self._last_blend = np.concatenate([self._last_blend, np.zeros(grow, np.float32)])
        self._last_cell = np.concatenate([self._last_cell, np.zeros((grow, 2), np.int32)])
        self._carried = np.concatenate([self._carried, np.zeros(grow, bool)])

    def _store_rows(self) -> None:
        """Put ``RowState`` back into the per-id tables (the rows are about to change)."""
        rows = self._rows
        self._last_activity[rows.ids] = rows.activity
        self._last_clip[rows.ids] = rows.clip
        self._last_blend[rows.ids] = rows.blend

    def _load_rows(self, version: int, ids: np.ndarray) -> None:
        """``RowState`` of the rows ``ids`` (N,) from the per-id tables."""
        key = np.where(self._carried[ids], _cell_key(self._last_cell[ids]), NO_CELL)
        self._rows = RowState(
            version, ids.copy(), key, self._last_activity[ids], self._last_clip[ids],
            self._last_blend[ids],
        )  # fmt: skip

    def _publish_roster(self, world: World) -> None:
        """``meta`` with the twins added and removed since the last one, or a heartbeat."""
        if world.columns.version == self._roster_version:
            self._beat()
            return
        self._roster_version = world.columns.version
        roster = np.sort(world.ids)
        added = np.setdiff1d(roster, self._roster, assume_unique=True)
        removed = np.setdiff1d(self._roster, roster, assume_unique=True)
        self._roster = roster
        self._last_activity[removed] = -1
        self._membership |= _cell_set(self._last_cell[removed[self._carried[removed]]])
        self._carried[removed] = False
        self._send_meta(added.astype(np.uint32), removed.astype(np.uint32))

    def heartbeat(self) -> None:
        """Send ``meta`` now if none went out for ``META_EVERY_S`` wall seconds: the server
        calls it between ticks, so that a paused server (no ticks) is heard too (protocol
        section 6.5)."""
        try:
            self._beat()
        finally:
            self._flush()

    def _beat(self) -> None:
        if time.monotonic() - self._last_meta_wall >= META_EVERY_S:
            self._send_meta(np.zeros(0, np.uint32), np.zeros(0, np.uint32))

    def meta_message(self, added: np.ndarray, removed: np.ndarray) -> meta.MetaMessage:
        return meta.MetaMessage(
            self.tick, self.seq, self.t_s, self.epoch_iso, ACTIVITY_NAMES, CLIPS, added, removed
        )

    def _send_meta(self, added: np.ndarray, removed: np.ndarray) -> None:
        self._last_meta_wall = time.monotonic()
        self.seq += 1
        self._send(topics.META_TOPIC, meta.encode(self.meta_message(added, removed)))

    def _publish_activity_events(self, ids: np.ndarray, activity: np.ndarray) -> np.ndarray:
        """Publish ``event/activity`` for each change; returns the ``(N,) bool`` changed mask."""
        previous = self._rows.activity
        changed = previous != activity
        topic = topics.topic_for("event", event_type=event.ACTIVITY)
        for row in np.flatnonzero(changed & (previous >= 0)):
            self.seq += 1
            message = event.activity_event(
                self.tick, self.seq, self.t_s, int(ids[row]), int(previous[row]),
                int(activity[row]),
            )  # fmt: skip
            self._send(topic, event.encode(message))
        np.copyto(previous, activity)
        return changed

    def _publish_crowd(
        self, world: World, ids: np.ndarray, cells: np.ndarray, changed_activity: np.ndarray
    ) -> None:
        """Encode the cells a twin entered or left, and those whose turn it is that changed
        visibly or owe a keyframe; only the twins that changed cell, and those of the cells
        encoded, are gathered."""
        rows = self._rows
        key = _cell_key(cells)
        moved = np.flatnonzero(key != rows.cell_key)  # rows that changed cell (or are new)
        moved_ids = ids[moved]
        previous_cell = self._last_cell[moved_ids][self._carried[moved_ids]]
        self._membership |= _cell_set(cells[moved]) | _cell_set(previous_cell)
        self._update_members(world, ids, cells, moved)
        self._last_cell[moved_ids] = cells[moved]
        self._carried[moved_ids] = True
        rows.cell_key[moved] = key[moved]
        clip, blend = world["clip"], world["clip_blend"]
        dirty = world["speed_mps"] > 0
        dirty |= changed_activity
        dirty |= rows.clip != clip
        dirty |= rows.blend != blend
        np.copyto(rows.clip, clip)
        np.copyto(rows.blend, blend)
        self._dirty |= self._members.cells_with(dirty)
        due = self._due_cells(self.tick % self.crowd_period)
        if not due:
            return
        of_cell = [self._members.of(cell) for cell in due]
        at = np.concatenate(of_cell)
        # gathered once for the due cells' twins: each cell's are then a slice (a view)
        columns = [ids[at], *(world[name][at] for name in CROWD_COLUMNS)]
        ends = np.cumsum([len(rows) for rows in of_cell]).tolist()
        for cell, lo, hi in zip(due, [0, *ends[:-1]], ends, strict=True):
            self._encode_cell(cell, [column[lo:hi] for column in columns])

    def _update_members(
        self, world: World, ids: np.ndarray, cells: np.ndarray, moved: np.ndarray
    ) -> None:
        """Bring ``CellMembers`` to this tick: rebuilt when rows changed, else the ``moved``
        rows (M,) moved."""
        if world.columns.version != self._members.version:
            self._members.rebuild(world.columns.version, ids, cells)
        else:
            self._members.move(ids, moved, cells[moved])

    def _due_cells(self, slot: int) -> list[tuple[int, int]]:
        """The cells to encode this tick, sorted: those a twin entered or left, and of the cells
        whose turn is ``slot``, those that changed visibly or owe a keyframe. The other cells of
        the turn count a turn without a message (``CrowdEncoder.skip``)."""
        turn = {c for c in self._dirty if _key_of(c) % self.crowd_period == slot}
        self._dirty -= turn
        due = turn | self._membership
        self._dirty -= self._membership
        self._membership = set()
        for cell, encoder in self._encoders.items():
            if cell in due or _key_of(cell) % self.crowd_period != slot:
                continue
            if encoder.keyframe_due:
                due.add(cell)
            else:
                encoder.skip()
        return sorted(due)

    def _encode_cell(self, cell: tuple[int, int], columns: list[np.ndarray]) -> None:
        """Encode one cell's twins: ``columns`` are ids then ``CROWD_COLUMNS``, ``(n,)`` each."""
        encoder = self._encoders.get(cell)
        if encoder is None:
            if columns[0].size == 0:
                return
            stagger = (31 * cell[0] + cell[1]) % self.keyframe_every  # spread over the turns
            encoder = self._encoders[cell] = CrowdEncoder(
                cell, self.keyframe_every, stagger, self.dead_reckoning_m
            )
        payload = encoder.encode(self.tick, self.seq + 1, self.t_s, *columns)
        if payload is not None:
            self.seq += 1
            self._send(topics.topic_for("crowd", cell=cell), payload)
        if columns[0].size == 0:  # emptied: the stream ends; a twin entering starts a new one
            del self._encoders[cell]

    def _publish_vitals(self, world: World, ids: np.ndarray, tick_index: int) -> None:
        """Cell vitals for the cells due this tick, the followed twins' own vitals, and the
        poses of the twins followed on the main socket."""
        slot = tick_index % self.vitals_period
        followed = self._followed_rows(world, self.vitals_follows, tick_index)
        if self._vitals_outbox is not None:
            self._publish_cell_vitals(world, ids, slot)
            own = followed
            if self.vitals_follows.all:
                own = np.union1d(np.flatnonzero(ids % self.vitals_period == slot), followed)
            self._send_twin_vitals(world, ids, own)
        if self.pose_follows is not self.vitals_follows:
            followed = self._followed_rows(world, self.pose_follows, tick_index)
        self._send_poses(world, ids, followed)

    def _publish_cell_vitals(self, world: World, ids: np.ndarray, slot: int) -> None:
        """One vitals message for each cell (with twins) due in ``slot`` of ``vitals_period``."""
        members = self._members
        for cell, rows in zip(members.cells, members.rows, strict=True):
            if rows.size and _key_of(cell) % self.vitals_period == slot:
                self._send_vitals(world, ids, rows, topics.topic_for("vitals", cell=cell))

    def _followed_rows(self, world: World, follows: TwinFollows, tick_index: int) -> np.ndarray:
        """Rows of the twins ``follows`` names by id, due this tick: each every ``twin_period``
        ticks, or every ``ceil(followed / TWINS_PER_TICK)`` when more are followed, so that a
        tick publishes the vitals and poses of at most ``TWINS_PER_TICK`` of them: then each
        twin's turn is its rank among the followed ids (ids alone could all share one turn: a
        client following every 8th id got all of them in one tick of 8).

        Only these get full poses: a wildcard subscription to every twin gets vitals alone, since
        joint rotations travel only for the twins that need them.
        """
        watched = follows.sorted_ids()
        if watched.size == 0:
            return _NO_ROWS
        period = max(self.twin_period, -(-len(watched) // TWINS_PER_TICK))
        turn = watched if period == self.twin_period else np.arange(watched.size)
        rows = world.find_rows(watched[turn % period == tick_index % period])
        return rows[rows >= 0]

    def _send_vitals(self, world: World, ids: np.ndarray, rows: np.ndarray, topic: bytes) -> None:
        """One vitals message of the twins ``rows`` (a cell's) on ``topic``."""
        rows = rows[np.argsort(ids[rows])]
        self.seq += 1
        message = self._vitals_message(world, ids, rows)
        self._send(topic, vitals.encode(message), self._vitals_outbox)

    def _send_twin_vitals(self, world: World, ids: np.ndarray, rows: np.ndarray) -> None:
        """Each of ``rows``' own vitals message (``twin/<id>/vitals``): their values gathered
        now, quantized at once and encoded by the link's thread."""
        if len(rows) == 0:
            return
        message = self._vitals_message(world, ids, rows, self.seq + 1)
        encoding = functools.partial(_each_twin, "vitals", vitals.encode_each, message)
        self._encode_later("vitals", message.ids, encoding, self._vitals_outbox)

    def _vitals_message(
        self, world: World, ids: np.ndarray, rows: np.ndarray, seq: int | None = None
    ) -> vitals.VitalsMessage:
        """The vitals of ``rows`` (``(K,)`` int64) in their units, as of this tick."""
        return vitals.VitalsMessage(
            self.tick, self.seq if seq is None else seq, self.t_s, ids[rows],
            *(world[name][rows].astype(np.float32) for name in VITAL_COLUMNS),
            world["activity"][rows],
        )  # fmt: skip

    def _send_poses(self, world: World, ids: np.ndarray, rows: np.ndarray) -> None:
        """Each of ``rows``' joint rotations, with its root on the map (x east, y north, z up),
        one message a twin: their animation state gathered now, the poses sampled at once and
        encoded by the link's thread (``_pose_messages``)."""
        if len(rows) == 0:
            return
        state = tuple(world[name][rows] for name in ("clip", "previous_clip", "clip_phase",
                                                     "clip_blend"))  # fmt: skip
        encoding = functools.partial(
            _pose_messages, world.resource(ClipLibrary), self.tick, self.seq + 1, self.t_s,
            ids[rows], world["position_m"][rows], state,
        )  # fmt: skip
        self._encode_later("pose", ids[rows], encoding)

    def _publish_shapes(self, world: World, ids: np.ndarray, tick_index: int) -> None:
        """``twin/<id>/shape`` of the twins followed by id on the main socket that started being
        followed since the last tick or are due (slot of ``vitals_period``), one message each
        (gathered now, encoded by the link's thread)."""
        follows = self.pose_follows
        watched = follows.sorted_ids()
        if watched.size == 0:
            return
        due = watched % self.vitals_period == tick_index % self.vitals_period
        if follows.started:
            due |= np.isin(watched, np.fromiter(follows.started, np.int64, len(follows.started)))
            follows.started.clear()
        rows = world.find_rows(watched[due])  # (K,) in ascending id order
        rows = rows[rows >= 0]
        if rows.size == 0:
            return
        message = shape.ShapeMessage(
            self.tick, self.seq + 1, self.t_s, ids[rows], world["sex"][rows], world["betas"][rows]
        )
        encoding = functools.partial(_each_twin, "shape", shape.encode_each, message)
        self._encode_later("shape", message.ids, encoding)

    def _encode_later(
        self, kind: str, ids: np.ndarray, encoding: Encoding, outbox: Outbox | None = None
    ) -> None:
        """Queue ``encoding`` for the main socket (or ``outbox``): the ``twin/<id>/<kind>``
        messages of ``ids`` ``(K,)``, which it encodes with the next K seqs, taken here."""
        (self._outbox if outbox is None else outbox).append(encoding)
        self.seq += len(ids)

    def _send(self, topic: bytes, payload: bytes, outbox: Outbox | None = None) -> None:
        """Queue a message for the main socket (or ``outbox``); ``_flush`` sends the tick's
        messages together."""
        (self._outbox if outbox is None else outbox).append((topic, payload))

    def _flush(self) -> None:
        """Hand the queued messages to the ``link``, which sends them back to back. One at a
        time, between encodes, each would wake ZeroMQ's I/O thread anew once a subscriber is
        connected (measured: ~19 us a send, ~0.8 ms a tick at 1,000 twins); back to back, the
        thread drains them in one go."""
        if self._outbox or self._health_outbox:
            self.link.hand_over(self._outbox, self._health_outbox)
            self._outbox.clear()
            self._health_outbox.clear()

    # -- snapshots ---------------------------------------------------------------------------

    def roster(self) -> tuple[np.ndarray, np.ndarray]:
        """The twins as published so far: ``(n,) uint32`` ids ascending (those announced by
        ``meta``) and ``(n, 2) int32`` the cell whose crowd stream holds each (protocol 9.3: the
        roster agrees with a snapshot at the same seq)."""
        ids = self._roster.astype(np.uint32)
        return ids, self._last_cell[ids].copy()

    def snapshot(self, cells: list[tuple[int, int]] | None) -> list[bytes]:
        """The published keyframe (and latest delta) of each cell, in the order asked; None:
        every cell whose stream holds twins."""
        chosen = sorted(self._encoders) if cells is None else cells
        payloads: list[bytes] = []
        for cell in chosen:
            encoder = self._encoders.get(tuple(cell))
            if encoder is not None:
                payloads.extend(encoder.snapshot())
        return payloads


def _each_twin(
    kind: str, encode_each: Callable[[Any], list[bytes]],
    message: vitals.VitalsMessage | pose.PoseMessage | shape.ShapeMessage,
) -> list[Message]:  # fmt: skip
    """The ``twin/<id>/<kind>`` messages of ``message``'s twins, each encoded by
    ``encode_each`` (called by the link's thread)."""
    payloads = encode_each(message)
    return [(topics.topic_for(kind, twin_id=twin), payload)
            for twin, payload in zip(message.ids.tolist(), payloads, strict=True)]  # fmt: skip


def _pose_messages(
    library: ClipLibrary, tick: int, seq: int, t_s: float, ids: np.ndarray,
    position_m: np.ndarray, state: tuple[np.ndarray, ...],
) -> list[Message]:  # fmt: skip
    """The ``twin/<id>/pose`` messages of twins ``ids`` ``(K,)`` standing at ``position_m``
    ``(K, 2)`` in animation ``state`` (clip, previous clip, phase, blend: each ``(K,)``), with
    seqs from ``seq``: their joint rotations sampled at once, the root on the map (x east,
    y north, z up)."""
    clip, previous, phase, blend = state
    root = np.zeros((len(ids), 3))
    root[:, :2] = position_m
    root[:, 2] = library.root_height_m(clip, phase)
    quat = library.poses(clip, previous, phase, blend)  # (K, 24, 4)
    message = pose.PoseMessage(tick, seq, t_s, ids, quat, root)
    return _each_twin("pose", pose.encode_each, message)


def _cell_key(cells: np.ndarray) -> np.ndarray:
    """``(N,) int64`` one integer per ``(N, 2)`` cell index."""
    return (cells[:, 0].astype(np.int64) << 32) + (cells[:, 1].astype(np.int64) & 0xFFFFFFFF)


def _key_of(cell: tuple[int, int]) -> int:
    """``_cell_key`` of one cell, in plain integers."""
    return (cell[0] << 32) + (cell[1] & 0xFFFFFFFF)


def _cell_set(cells: np.ndarray) -> set[tuple[int, int]]:
    """The distinct ``(ix, iy)`` of ``(M, 2)`` cell indices (unique keys: a 1-D sort, several
    times faster than ``np.unique(axis=0)``)."""
    keys = np.unique(_cell_key(cells))
    ix = (keys >> 32).tolist()
    iy = (keys & 0xFFFFFFFF).astype(np.uint32).view(np.int32).tolist()
    return set(zip(ix, iy, strict=True))
