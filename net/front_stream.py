"""FrontStream: N shards' PUB streams merged into one publisher's stream (``net.front``).

Each shard (a world restricted to a region of cells, ``engine.regions``) publishes today's
stream with its own sequence numbers. Clients need ONE publisher (``docs/protocol.md`` sections
2, 8 and 9): one ``seq`` that grows by one per message, snapshots and rosters exact at a ``seq``,
one ``meta`` stream. So the front re-publishes every shard message under its own ``seq`` and
merges what cannot simply be forwarded:

- **seq**: every forwarded message gets the front's next ``seq`` (the envelope is re-encoded;
  every other byte stays as the shard wrote it). A crowd delta's ``base`` (the seq of its
  keyframe) is mapped to the front's seq of that keyframe; a delta whose keyframe the front did
  not forward (lost at a high-water mark, or sent before the front joined) is dropped, as a
  client would drop it (``unknown_base``), and counted.
- **cells**: a cell's stream is taken only from the shard whose region owns the cell
  (``RegionMap``): a shard that still publishes a twin in a neighbour's cell before handing it off
  is ignored there (counted), so that every cell has one stream. The front keeps each cell's last
  keyframe and the latest delta after it, re-stamped, which is what ``snapshot`` returns: exact
  at the front's seq, as a single server's.
- **roster and meta**: the front's roster is the twins its forwarded crowd streams hold, each in
  the cell whose latest message holds it (protocol section 8 rule 6). The shards' own ``meta``
  messages are not forwarded (a handoff is a removal in one shard and an addition in another);
  the front publishes ``meta`` itself: ``added`` just before the crowd message that first holds a
  twin, ``removed`` once a twin has been in no cell for ``removal_grace_s`` (a twin handed off
  between shards leaves one cell and enters another within about a tick, and is never
  announced removed), and a heartbeat every ``META_EVERY_S`` wall seconds. The tables (epoch,
  activities, clips) are the shards' (all equal).
- everything else (vitals, poses, events) is re-stamped and forwarded.

The class holds no socket: ``net.front`` feeds it ``(shard, topic, payload)`` and publishes what
it returns. Payloads come from the front's own shards over loopback and are trusted (decoded
with msgpack, not checked field by field).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import msgpack
import numpy as np

from synthtwin.engine.regions import RegionMap
from synthtwin.net.publisher import META_EVERY_S
from synthtwin.net.wire import crowd, meta, topics

__all__ = ["REMOVAL_GRACE_S", "FrontStream", "Message", "unpack"]

REMOVAL_GRACE_S = 0.5
"""Wall seconds a twin may be in no cell before the front announces it removed: a handoff
between shards (gone from one shard's cell, new in the other's, about one tick apart) stays
well inside it; a despawned twin's ``removed`` comes this much later than a single server's."""

Message = tuple[bytes, bytes]
"""One PUB message: ``(topic, payload)``."""


@dataclass
class _Cell:
    """One cell's stream as the front forwards it.

    Attributes:
        shard: the shard it comes from.
        shard_base: the shard's seq of the kept keyframe.
        base: the front's seq of it.
        keyframe: the keyframe as the front published it (its seq is the front's base).
        delta: the latest delta after it as published, or None.
        base_ids: ``(K,) uint32`` the keyframe's twins, ascending.
        ids: ``(n,) uint32`` the cell's twins after the latest message, ascending.
    """

    shard: int
    shard_base: int
    base: int
    keyframe: bytes
    delta: bytes | None
    base_ids: np.ndarray
    ids: np.ndarray


class _Presence:
    """Per twin id: how many forwarded cell streams hold it, its latest cell, whether announced.

    Arrays indexed by twin id, grown on demand (ids are dense: 0 up to the next id)."""

    def __init__(self) -> None:
        self.count = np.zeros(0, np.int16)
        self.cell = np.zeros((0, 2), np.int32)
        self.announced = np.zeros(0, bool)

    def _grow(self, ids: np.ndarray) -> None:
        need = int(ids.max()) + 1 if ids.size else 0
        size = len(self.count)
        if need <= size:
            return
        grow = max(need, 2 * size) - size
        self.count = np.concatenate([self.count, np.zeros(grow, np.int16)])
        self.cell = np.concatenate([self.cell, np.zeros((grow, 2), np.int32)])
        self.announced = np.concatenate([self.announced, np.zeros(grow, bool)])

    def enter(self, ids: np.ndarray, cell: tuple[int, int]) -> np.ndarray:
        """``ids`` entered ``cell`` (its latest message): the ones not yet announced."""
        self._grow(ids)
        self.count[ids] += 1
        self.cell[ids] = cell
        fresh = ids[~self.announced[ids]]
        self.announced[fresh] = True
        return fresh

    def leave(self, ids: np.ndarray) -> np.ndarray:
        """``ids`` left a cell: the ones now in no cell."""
        self.count[ids] -= 1
        return ids[self.count[ids] == 0]

    def roster(self) -> tuple[np.ndarray, np.ndarray]:
        ids = np.flatnonzero(self.announced).astype(np.uint32)
        return ids, self.cell[ids].copy()


class FrontStream:
    """Re-stamps and merges the shards' messages (see the module docstring).

    Args:
        regions: which shard owns each cell.
        removal_grace_s: wall seconds a twin may be in no cell before ``removed``.

    Attributes:
        seq: the last sequence number the front published.
        tick, t_s: the latest tick and simulation time any shard published.
        dropped_deltas: deltas dropped because the front did not forward their keyframe.
        foreign_cells: crowd messages ignored because their shard does not own the cell.
    """

    def __init__(self, regions: RegionMap, removal_grace_s: float = REMOVAL_GRACE_S) -> None:
        self.regions = regions
        self.removal_grace_s = removal_grace_s
        self.seq = 0
        self.tick = 0
        self.t_s = 0.0
        self.dropped_deltas = 0
        self.foreign_cells = 0
        self.tables: tuple[str, tuple[str, ...], tuple[str, ...]] | None = None
        self._cells: dict[tuple[int, int], _Cell] = {}
        self._owners: dict[tuple[int, int], int] = {}
        self._presence = _Presence()
        self._pending: dict[int, float] = {}
        """Twins in no cell, announced, by the wall time they left their last cell."""
        self._last_meta_wall = -np.inf

    # -- shard messages ------------------------------------------------------------------------

    def receive(self, shard: int, topic: bytes, env: dict) -> list[Message]:
        """What the front publishes for one message of ``shard`` (in order; maybe nothing):
        ``env`` is its payload as msgpack decoded it (``unpack``); it is changed."""
        if env["tick"] >= self.tick:
            self.tick, self.t_s = env["tick"], env["t"]
        kind = env["kind"]
        if kind == meta.KIND:
            self.set_tables(env["body"])
            return []
        if kind == "crowd":
            return self._crowd(shard, topic, env)
        return [(topic, self._stamp(env))]

    def set_tables(self, body: dict) -> None:
        """The epoch, activities and clips of a shard's ``meta`` body or ``roster`` result."""
        self.tables = (body["epoch"], tuple(body["activities"]), tuple(body["clips"]))

    def _stamp(self, env: dict) -> bytes:
        self.seq += 1
        env["seq"] = self.seq
        return msgpack.packb(env, use_bin_type=True)

    def _owner(self, cell: tuple[int, int]) -> int:
        owner = self._owners.get(cell)
        if owner is None:
            owner = int(self.regions.shard_of_cells(np.array([cell]))[0])
            self._owners[cell] = owner
        return owner

    def _crowd(self, shard: int, topic: bytes, env: dict) -> list[Message]:
        body = env["body"]
        cell = (int(body["cell"][0]), int(body["cell"][1]))
        if self._owner(cell) != shard:
            self.foreign_cells += 1
            return []
        stream = self._cells.get(cell)
        new = _ids(body, "ids")
        if body["base"] == env["seq"]:  # a keyframe: a stream (re)starts here
            shard_base, base_ids, ids = env["seq"], new, new
        elif stream is None or stream.shard != shard or stream.shard_base != body["base"]:
            self.dropped_deltas += 1
            return []
        else:
            shard_base, base_ids = stream.shard_base, stream.base_ids
            gone = _ids(body, "gone")
            ids = base_ids
            if gone.size or new.size:
                ids = np.union1d(np.setdiff1d(base_ids, gone, assume_unique=True), new)
        before = stream.ids if stream is not None else np.zeros(0, np.uint32)
        out = self._membership(cell, before, ids)
        if body["base"] == env["seq"]:
            body["base"] = self.seq + 1
            payload = self._stamp(env)
            stream = _Cell(shard, shard_base, self.seq, payload, None, base_ids, ids)
        else:
            body["base"] = stream.base
            stream.delta, stream.ids = self._stamp(env), ids
            payload = stream.delta
        if ids.size:
            self._cells[cell] = stream
        else:  # emptied: the stream ends (protocol 6.1, publisher rule 5)
            self._cells.pop(cell, None)
        return [*out, (topic, payload)]

    def _membership(
        self, cell: tuple[int, int], before: np.ndarray, after: np.ndarray
    ) -> list[Message]:
        """Track the twins entering and leaving ``cell``; a ``meta`` announcing the new ones."""
        if after is before:
            return []
        entered = np.setdiff1d(after, before, assume_unique=True)
        left = np.setdiff1d(before, after, assume_unique=True)
        now = time.monotonic()
        for twin in self._presence.leave(left).tolist():
            self._pending[twin] = now
        fresh = self._presence.enter(entered, cell)
        for twin in entered.tolist():
            self._pending.pop(twin, None)
        if fresh.size == 0:
            return []
        return [self._meta(fresh, np.zeros(0, np.uint32))]

    # -- front's own messages ------------------------------------------------------------------

    def due(self) -> list[Message]:
        """``meta`` removing the twins in no cell for ``removal_grace_s``, or the heartbeat
        when none went out for ``META_EVERY_S``; call it often (the front's poll loop)."""
        now = time.monotonic()
        gone = [t for t, since in self._pending.items() if now - since >= self.removal_grace_s]
        if gone:
            for twin in gone:
                del self._pending[twin]
            self._presence.announced[gone] = False
            return [self._meta(np.zeros(0, np.uint32), np.array(sorted(gone), np.uint32))]
        if now - self._last_meta_wall >= META_EVERY_S and self.tables is not None:
            return [self._meta(np.zeros(0, np.uint32), np.zeros(0, np.uint32))]
        return []

    def _meta(self, added: np.ndarray, removed: np.ndarray) -> Message:
        self._last_meta_wall = time.monotonic()
        self.seq += 1
        epoch, activities, clips = self.tables or ("", (), ())
        message = meta.MetaMessage(
            self.tick, self.seq, self.t_s, epoch, activities, clips,
            added.astype(np.uint32), removed.astype(np.uint32),
        )  # fmt: skip
        return (topics.META_TOPIC, meta.encode(message))

    # -- snapshots -----------------------------------------------------------------------------

    def snapshot(self, cells: list[tuple[int, int]] | None) -> list[bytes]:
        """Each cell's keyframe and latest delta as the front published them, in the order
        asked; None: every cell with twins (protocol section 7, ``snapshot``)."""
        chosen = sorted(self._cells) if cells is None else cells
        payloads: list[bytes] = []
        for cell in chosen:
            stream = self._cells.get(tuple(cell))
            if stream is not None:
                payloads.append(stream.keyframe)
                if stream.delta is not None:
                    payloads.append(stream.delta)
        return payloads

    def roster(self) -> tuple[np.ndarray, np.ndarray]:
        """``(n,) uint32`` the twins announced up to ``seq``, ascending, and ``(n, 2) int32``
        the cell whose latest forwarded message holds each."""
        return self._presence.roster()

    def owner_of(self, twin_id: int) -> int | None:
        """The shard whose region holds the twin's cell, or None for a twin not announced."""
        presence = self._presence
        if not 0 <= twin_id < len(presence.announced) or not presence.announced[twin_id]:
            return None
        return self._owner(tuple(presence.cell[twin_id].tolist()))

    def forget_shard(self, shard: int) -> list[Message]:
        """End the streams of ``shard``'s cells (it restarted: its seqs begin anew; its next
        keyframes start them again): for each, a delta with every twin of its keyframe gone,
        as a server ends an emptied cell's stream (protocol 6.1), so that clients hold none of
        them there. Their twins leave, to be removed after the grace."""
        ended: list[Message] = []
        for cell in [c for c, s in self._cells.items() if s.shard == shard]:
            stream = self._cells.pop(cell)
            self._membership(cell, stream.ids, np.zeros(0, np.uint32))
            ended.append((topics.topic_for("crowd", cell=cell), self._emptied(cell, stream)))
        return ended

    def _emptied(self, cell: tuple[int, int], stream: _Cell) -> bytes:
        """A delta of ``cell`` against the front's keyframe ``stream.base`` holding no twin."""
        self.seq += 1
        none = np.zeros(0, np.uint8)
        message = crowd.CrowdMessage(
            self.tick, self.seq, self.t_s, cell, stream.base,
            np.zeros((stream.base_ids.size + 7) // 8, np.uint8), np.zeros(0, np.uint32),
            stream.base_ids, np.zeros((0, 2), np.int16), np.zeros(0, np.uint16), none, none,
            none, none, none,
        )  # fmt: skip
        return crowd.encode(message)


def unpack(payload: bytes) -> dict:
    """A shard's payload as a dict (its envelope map; bins as bytes)."""
    return msgpack.unpackb(payload, raw=False)


def _ids(body: dict, key: str) -> np.ndarray:
    """``(n,) uint32`` a crowd body's ``ids`` or ``gone`` bin (absent: empty)."""
    return np.frombuffer(body.get(key, b""), "<u4").astype(np.uint32)
