"""Publisher: the server side of the Clone pattern's state stream, on a ZeroMQ XPUB socket.

Each tick the publisher turns the world into ``[topic, payload]`` messages (``docs/protocol.md``):

- ``meta`` when the roster changed (twins spawned or despawned);
- ``event/activity`` for every twin whose activity changed;
- ``cell/<ix>/<iy>/crowd`` for every cell where something visible changed (a twin moved, changed
  activity, clip or cross-fade weight, arrived or left), keyframes and deltas from one
  ``CrowdEncoder`` per cell, at ``crowd_hz`` per cell (cells spread over the ticks; clients
  dead-reckon with speed and heading, as game engines replicate crowds at 10-20 Hz);
- ``cell/<ix>/<iy>/vitals`` for each cell at ``vitals_hz`` (cells spread over the ticks);
- ``twin/<id>/vitals`` and ``twin/<id>/pose`` (24 joint rotations from the clip library) at
  ``twin_hz`` for the twins somebody subscribed to by id (the XPUB socket tells the publisher
  which topics have subscribers, so unwatched twins cost nothing), and every twin's vitals at
  ``vitals_hz`` while somebody subscribes to all of ``twin/``.

Sends never block: a subscriber that does not read loses messages at the high-water mark (ZeroMQ
drops them silently), and the tick goes on. A ``meta`` message also goes out every
``META_EVERY_S`` wall seconds, so clients can tell a quiet server from a dead one.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter

import numpy as np
import zmq

from synthtwin.components.activity import ACTIVITY_NAMES
from synthtwin.components.physiology import VITAL_COLUMNS
from synthtwin.components.pose import CLIPS
from synthtwin.engine.schedule import Tick
from synthtwin.engine.world import World
from synthtwin.kernels.clips import ClipLibrary
from synthtwin.net.wire import event, meta, pose, topics, vitals
from synthtwin.net.wire.crowd import CrowdEncoder
from synthtwin.net.wire.topics import TWIN_PREFIX

__all__ = ["Publisher"]

CROWD_COLUMNS = ("position_m", "heading_rad", "speed_mps", "activity", "clip", "clip_phase",
                 "clip_blend")  # fmt: skip
"""The columns of a crowd record, in ``CrowdEncoder.encode``'s argument order."""
META_EVERY_S = 5.0
"""Heartbeat: protocol section 6.5 (clients treat 15 s without ``meta`` as a dead server)."""
_TWIN_TOPIC = re.compile(rb"^twin/(\d+)/")


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
    """

    def __init__(
        self, socket: zmq.Socket, tick_hz: float, keyframe_every: int, crowd_hz: float,
        vitals_hz: float, twin_hz: float,
    ) -> None:  # fmt: skip
        self.socket = socket
        self.epoch_iso = ""
        """Local calendar time of simulation time 0, published in ``meta``; set once the world
        (and its clock) exists."""
        self.keyframe_every = keyframe_every
        self.crowd_period = max(1, round(tick_hz / crowd_hz))
        self.vitals_period = max(1, round(tick_hz / vitals_hz))
        self.twin_period = max(1, round(tick_hz / twin_hz))
        self.seq = 0
        self.sent = 0
        self.refused = 0
        """Sends the socket refused (only with ``ZMQ_XPUB_NODROP``; by default it drops)."""
        self.tick = 0
        self.t_s = 0.0
        self._encoders: dict[tuple[int, int], CrowdEncoder] = {}
        self._roster = np.zeros(0, dtype=np.uint32)
        self._roster_version = -1
        self._last_activity = np.full(0, -1, dtype=np.int16)
        self._last_clip = np.zeros(0, dtype=np.uint8)
        self._last_blend = np.zeros(0, dtype=np.float32)
        self._last_cell = np.zeros((0, 2), dtype=np.int32)
        self._dirty: set[tuple[int, int]] = set()
        self._watched: Counter[int] = Counter()
        """Subscriptions per followed twin (a twin may be followed on several topics)."""
        self._occupied: set[tuple[int, int]] = set()
        self._last_meta_wall = -math.inf
        self._all_twins_watched = 0
        self._outbox: list[tuple[bytes, bytes]] = []

    # -- subscriptions -----------------------------------------------------------------------

    def read_subscriptions(self) -> None:
        """Drain the XPUB socket's (un)subscription messages; track which twins are watched."""
        while True:
            try:
                message = self.socket.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if not message:
                continue
            subscribe, topic = message[0] == 1, message[1:]
            match = _TWIN_TOPIC.match(topic)
            if match:
                twin = int(match.group(1))
                self._watched[twin] += 1 if subscribe else -1
                if self._watched[twin] <= 0:
                    del self._watched[twin]
            elif TWIN_PREFIX.startswith(topic):
                self._all_twins_watched += 1 if subscribe else -1

    # -- the tick ----------------------------------------------------------------------------

    def replicate(self, world: World, tick: Tick) -> None:
        """Publish this tick's changes (called by the replication system, last in the tick)."""
        self.tick, self.t_s = tick.index, tick.t_s + tick.dt_s
        self._grow_tables(world.next_twin_id)
        ids = world.ids
        try:
            self._publish_roster(world)
            changed_activity = self._publish_activity_events(ids, world["activity"])
            cells = topics.cell_of(world["position_m"])
            self._occupied = _cell_set(cells)
            self._publish_crowd(world, ids, cells, changed_activity)
            self._publish_vitals(world, ids, cells, tick.index)
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

    def _publish_roster(self, world: World) -> None:
        """``meta`` with the twins added and removed since the last one, or a heartbeat."""
        if world.columns.version == self._roster_version:
            if time.monotonic() - self._last_meta_wall >= META_EVERY_S:
                self._send_meta(np.zeros(0, np.uint32), np.zeros(0, np.uint32))
            return
        self._roster_version = world.columns.version
        roster = np.sort(world.ids)
        added = np.setdiff1d(roster, self._roster, assume_unique=True)
        removed = np.setdiff1d(self._roster, roster, assume_unique=True)
        self._roster = roster
        self._last_activity[removed] = -1
        self._dirty |= _cell_set(self._last_cell[removed])
        self._send_meta(added.astype(np.uint32), removed.astype(np.uint32))

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
        previous = self._last_activity[ids]
        changed = previous != activity
        topic = topics.topic_for("event", event_type=event.ACTIVITY)
        for row in np.flatnonzero(changed & (previous >= 0)):
            self.seq += 1
            message = event.activity_event(
                self.tick, self.seq, self.t_s, int(ids[row]), int(previous[row]),
                int(activity[row]),
            )  # fmt: skip
            self._send(topic, event.encode(message))
        self._last_activity[ids] = activity
        return changed

    def _publish_crowd(
        self, world: World, ids: np.ndarray, cells: np.ndarray, changed_activity: np.ndarray
    ) -> None:
        """Mark cells where something visible changed; encode the marked cells due this tick."""
        previous_cell = self._last_cell[ids]
        moved_cell = (previous_cell != cells).any(axis=1)
        dirty = (world["speed_mps"] > 0) | changed_activity | moved_cell
        dirty |= self._last_clip[ids] != world["clip"]
        dirty |= self._last_blend[ids] != world["clip_blend"]
        self._dirty |= _cell_set(cells[dirty]) | _cell_set(previous_cell[moved_cell])
        self._last_cell[ids] = cells
        self._last_clip[ids] = world["clip"]
        self._last_blend[ids] = world["clip_blend"]
        slot = self.tick % self.crowd_period
        due = sorted(c for c in self._dirty if _key_of(c) % self.crowd_period == slot)
        if not due:
            return
        self._dirty.difference_update(due)
        key = _cell_key(cells)
        order = np.argsort(key, kind="stable")
        sorted_keys = key[order]
        starts = np.searchsorted(sorted_keys, [_key_of(c) for c in due], "left")
        ends = np.searchsorted(sorted_keys, [_key_of(c) for c in due], "right")
        # gathered once in cell order: each cell's twins are then a slice (a view), not a gather
        columns = [ids[order], *(world[name][order] for name in CROWD_COLUMNS)]
        for cell, lo, hi in zip(due, starts, ends, strict=True):
            self._encode_cell(cell, [column[lo:hi] for column in columns])

    def _encode_cell(self, cell: tuple[int, int], columns: list[np.ndarray]) -> None:
        """Encode one cell's twins: ``columns`` are ids then ``CROWD_COLUMNS``, ``(n,)`` each."""
        encoder = self._encoders.get(cell)
        if encoder is None:
            if columns[0].size == 0:
                return
            encoder = self._encoders[cell] = CrowdEncoder(cell, self.keyframe_every)
        payload = encoder.encode(self.tick, self.seq + 1, self.t_s, *columns)
        if payload is not None:
            self.seq += 1
            self._send(topics.topic_for("crowd", cell=cell), payload)

    def _publish_vitals(
        self, world: World, ids: np.ndarray, cells: np.ndarray, tick_index: int
    ) -> None:
        """Cell vitals for the cells due this tick, and the watched twins' own vitals."""
        slot = tick_index % self.vitals_period
        key = _cell_key(cells)
        due_rows = np.flatnonzero(key % self.vitals_period == slot)
        for cell_key in np.unique(key[due_rows]):
            rows = due_rows[key[due_rows] == cell_key]
            cell = tuple(cells[rows[0]].tolist())
            self._send_vitals(world, ids, rows, topics.topic_for("vitals", cell=cell))
        followed = self._followed_rows(world, ids, tick_index % self.twin_period)
        due = np.flatnonzero(ids % self.vitals_period == slot) if self._all_twins_watched else []
        for row in np.union1d(due, followed).astype(np.int64):
            topic = topics.topic_for("vitals", twin_id=int(ids[row]))
            self._send_vitals(world, ids, np.array([row]), topic)
        for row in followed:
            self._send_pose(world, ids, row)

    def _followed_rows(self, world: World, ids: np.ndarray, slot: int) -> np.ndarray:
        """Rows of the twins whose own topic somebody subscribed to by id, due this tick (slot
        ``slot`` of ``twin_period``).

        Only these get full poses: a wildcard subscription to every twin gets vitals alone, since
        joint rotations travel only for the twins that need them.
        """
        if not self._watched:
            return np.zeros(0, dtype=np.int64)
        watched = np.fromiter(self._watched, dtype=np.int64)
        watched = watched[(watched % self.twin_period == slot) & (watched < world.next_twin_id)]
        alive = watched[np.isin(watched, ids)]
        return world.rows_of(alive) if alive.size else alive

    def _send_vitals(self, world: World, ids: np.ndarray, rows: np.ndarray, topic: bytes) -> None:
        rows = rows[np.argsort(ids[rows])]
        self.seq += 1
        message = vitals.VitalsMessage(
            self.tick, self.seq, self.t_s, ids[rows],
            *(world[name][rows].astype(np.float32) for name in VITAL_COLUMNS),
            world["activity"][rows],
        )  # fmt: skip
        self._send(topic, vitals.encode(message))

    def _send_pose(self, world: World, ids: np.ndarray, row: int) -> None:
        """One twin's joint rotations, with its root on the map (x east, y north, z up)."""
        rows = np.array([row])
        library = world.resource(ClipLibrary)
        state = [world[name][rows] for name in ("clip", "previous_clip", "clip_phase")]
        quat = library.poses(*state, world["clip_blend"][rows])
        root = np.zeros((1, 3))
        root[:, :2] = world["position_m"][rows]
        root[:, 2] = library.root_height_m(state[0], state[2])
        self.seq += 1
        message = pose.PoseMessage(self.tick, self.seq, self.t_s, ids[rows], quat, root)
        self._send(topics.topic_for("pose", twin_id=int(ids[row])), pose.encode(message))

    def _send(self, topic: bytes, payload: bytes) -> None:
        """Queue a message; ``_flush`` sends the tick's messages together."""
        self._outbox.append((topic, payload))

    def _flush(self) -> None:
        """Send the queued messages back to back. One at a time, between encodes, each would
        wake ZeroMQ's I/O thread anew once a subscriber is connected (measured: ~19 us a send,
        ~0.8 ms a tick at 1,000 twins); back to back, the thread drains them in one go."""
        for topic, payload in self._outbox:
            try:
                self.socket.send_multipart([topic, payload], flags=zmq.NOBLOCK, copy=False)
                self.sent += 1
            except zmq.Again:
                self.refused += 1
        self._outbox.clear()

    # -- snapshots ---------------------------------------------------------------------------

    def cells_of(self, ids: np.ndarray, position_m: np.ndarray) -> np.ndarray:
        """``(K, 2) int32`` the cell whose crowd stream carries each of ``ids``: the one last
        published, or for twins not published yet the cell of ``position_m`` ``(K, 2)``."""
        ids = np.asarray(ids, dtype=np.int64)
        cells = topics.cell_of(position_m)
        known = np.isin(ids, self._roster)
        cells[known] = self._last_cell[ids[known]]
        return cells

    def snapshot(self, cells: list[tuple[int, int]] | None) -> list[bytes]:
        """The published keyframe (and latest delta) of each cell, in the order asked."""
        chosen = sorted(self._occupied) if cells is None else cells
        payloads: list[bytes] = []
        for cell in chosen:
            encoder = self._encoders.get(tuple(cell))
            if encoder is not None:
                payloads.extend(encoder.snapshot())
        return payloads


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
