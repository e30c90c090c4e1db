"""The full-pass peer of the publisher's crowd and cell-vitals passes, as they were before
``CellMembers``: every tick, every twin is sorted by cell and every column gathered in that
order, and the cells of changed twins are found by sorting their cell keys.

Pattern: the same ``Publisher`` (a subclass), with only the two passes that ``CellMembers``
replaced restored, so that both sides do the same encoding and only the bookkeeping differs
(``bench/test_replication_bench.py`` puts them side by side). It keeps clip and blend by id
each tick, as before, so it assumes no spawn or despawn while timed.
"""

from __future__ import annotations

import numpy as np

from synthtwin.engine.world import World
from synthtwin.net.publisher import CROWD_COLUMNS, Publisher, _cell_key, _cell_set, _key_of
from synthtwin.net.wire import topics

__all__ = ["FullPassPublisher"]


class FullPassPublisher(Publisher):
    """``Publisher`` with the per-tick full sort and gather of the crowd pass and a sort per
    tick for the cell vitals."""

    def _publish_crowd(
        self, world: World, ids: np.ndarray, cells: np.ndarray, changed_activity: np.ndarray
    ) -> None:
        previous_cell = self._last_cell[ids]
        carried = self._carried[ids]
        moved = ~carried | (previous_cell != cells).any(axis=1)
        dirty = (world["speed_mps"] > 0) | changed_activity
        dirty |= self._last_clip[ids] != world["clip"]
        dirty |= self._last_blend[ids] != world["clip_blend"]
        self._dirty |= _cell_set(cells[dirty])
        self._membership |= _cell_set(cells[moved]) | _cell_set(previous_cell[moved & carried])
        self._last_cell[ids] = cells
        self._carried[ids] = True
        self._last_clip[ids] = world["clip"]
        self._last_blend[ids] = world["clip_blend"]
        due = self._due_cells(self.tick % self.crowd_period)
        if not due:
            return
        key = _cell_key(cells)
        order = np.argsort(key, kind="stable")
        sorted_keys = key[order]
        starts = np.searchsorted(sorted_keys, [_key_of(c) for c in due], "left")
        ends = np.searchsorted(sorted_keys, [_key_of(c) for c in due], "right")
        columns = [ids[order], *(world[name][order] for name in CROWD_COLUMNS)]
        for cell, lo, hi in zip(due, starts, ends, strict=True):
            self._encode_cell(cell, [column[lo:hi] for column in columns])

    def _publish_cell_vitals(self, world: World, ids: np.ndarray, slot: int) -> None:
        cells = topics.cell_of(world["position_m"])
        key = _cell_key(cells)
        due_rows = np.flatnonzero(key % self.vitals_period == slot)
        for cell_key in np.unique(key[due_rows]):
            rows = due_rows[key[due_rows] == cell_key]
            cell = tuple(cells[rows[0]].tolist())
            self._send_vitals(world, ids, rows, topics.topic_for("vitals", cell=cell))
