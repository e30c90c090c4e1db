"""Spread pass: a system's pass over every twin split into blocks, one block a tick.

A system whose per-twin update may cover any length of simulated time (exact over its window, or
within stated bounds) need not touch every twin every tick. With ticks much shorter than a window
W (realtime: 1/30 s), ``SpreadPass`` splits the rows into B = floor(W / dt_s) contiguous blocks
and names one block a tick, round robin: the system advances each of its twins from the twin's
own time done (a column of the system's) to the tick's end, about W. The pass then costs 1/B of a
whole one every tick, evenly, where a ``[sim.every]`` divisor would pay it whole every B-th tick
(and the tick's p99 with it). B = 1 (ticks of W or longer: headless, fast time scales) is the
plain tick-by-tick pass.

Each twin's time done travels with its row, so spawns, despawns (which swap rows between blocks),
checkpoints and shard handoffs need no bookkeeping: a tick also advances every twin more than B
ticks behind (a new twin, from the tick's start; a twin a change of the row count moved out of a
block just before its turn), so none is ever more than W (B ticks) behind after a tick. When
every twin must be current (``whole``: a day closes at this tick's end) or B changes, every twin
is brought to the tick's end. ``settle`` brings given rows up to the last tick's end before they
leave the world whole (a shard handoff).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synthtwin.components.schema import NOT_STEPPED
from synthtwin.engine.schedule import Tick
from synthtwin.engine.world import World

__all__ = ["SpreadPass", "Window"]


@dataclass(frozen=True)
class Window:
    """Rows to advance from ``start_s`` to ``end_s`` (simulated seconds since the clock's start).

    Attributes:
        rows: a slice (a block: column views) or ``(K,)`` int64 row indices (gather, scatter).
        start_s: where these rows are now, simulated s.
        end_s: where they must be after the pass, simulated s.
    """

    rows: slice | np.ndarray
    start_s: float
    end_s: float

    @property
    def dt_s(self) -> float:
        return self.end_s - self.start_s

    def whole(self, n: int) -> bool:
        """Whether the window holds all ``n`` rows, as one block."""
        return isinstance(self.rows, slice) and self.rows == slice(0, n)


class SpreadPass:
    """Which rows a spread system advances this tick, and from when (module docstring).

    Each twin's time done lives in a column of the system's (``column``, ``(N,) float64``,
    default ``NOT_STEPPED``), so it travels with the twin's row through spawns, despawns,
    checkpoints and shard handoffs; the pass keeps only whose turn it is.

    Args:
        window_s: W, simulated s; 0: every twin every tick.
        column: the column of each twin's time done (the system writes it).
        owner: the system's name, for errors about its saved state.

    Attributes:
        count: B of the last tick (0 before the first).
        next: the block whose turn is next.
        last_end_s: the last tick's end, simulated s (None before the first).
    """

    def __init__(self, window_s: float, column: str, owner: str) -> None:
        self.window_s = window_s
        self.column = column
        self.owner = owner
        self.count = 0
        self.next = 0
        self.last_end_s: float | None = None

    def plan(self, world: World, tick: Tick, whole: bool = False) -> list[Window]:
        """The windows to advance in ``tick`` (every twin when ``whole``); their twins' times
        done are set to the tick's end."""
        end_s = tick.t_s + tick.dt_s
        count = max(1, int(self.window_s / tick.dt_s + 1e-9))
        done, n = world[self.column], world.n
        if whole or count == 1 or count != self.count:
            windows = _windows(slice(0, n), done, tick.t_s, end_s)
            self.count, self.next = count, 0
        else:
            block = slice(self.next * n // count, (self.next + 1) * n // count)
            windows = _windows(block, done, tick.t_s, end_s)
            # twins more than B ticks behind: new ones (NOT_STEPPED, also while the clock is
            # still within W of its start), and those that a change of the row count moved out
            # of a block just before its turn
            late = (done == NOT_STEPPED) | ~(done >= end_s - (count + 0.5) * tick.dt_s)
            behind = np.flatnonzero(late)
            behind = behind[(behind < block.start) | (behind >= block.stop)]
            if behind.size:
                windows += _windows(behind, done, tick.t_s, end_s)
            self.next = (self.next + 1) % count
        for window in windows:
            done[window.rows] = end_s
        self.last_end_s = end_s
        return [w for w in windows if w.dt_s > 0.0 and _size(w.rows, n)]

    def settle(self, world: World, rows: np.ndarray) -> list[Window]:
        """The windows that bring ``rows`` (``(K,)`` int) up to the last tick's end, before they
        leave the world whole; their times done are set to it."""
        if self.last_end_s is None or not len(rows):
            return []
        rows = np.asarray(rows, dtype=np.int64)
        done, end_s = world[self.column], self.last_end_s
        windows = _windows(rows, done, end_s, end_s)
        done[rows] = end_s
        return [w for w in windows if w.dt_s > 0.0]

    def state_dict(self) -> dict:
        """``{"spread": ...}`` once the pass has run, else ``{}``."""
        if self.last_end_s is None:
            return {}
        return {"spread": {"count": self.count, "next": self.next, "last_end_s": self.last_end_s}}

    def load_state_dict(self, state: dict) -> None:
        """Whose turn it is, from ``state`` (absent: the first tick steps every twin)."""
        saved = state.get("spread")
        if saved is None:
            self.count, self.next, self.last_end_s = 0, 0, None
            return
        values = [saved.get(k) if isinstance(saved, dict) else None
                  for k in ("count", "next", "last_end_s")]  # fmt: skip
        count, nxt, end_s = values
        if not (isinstance(count, int) and isinstance(nxt, int) and 0 <= nxt < max(count, 1)
                and isinstance(end_s, float) and math.isfinite(end_s)):  # fmt: skip
            raise ValueError(
                f"{self.owner} spread = {str(saved)[:60]}, expected count, next, last_end_s"
            )
        self.count, self.next, self.last_end_s = count, nxt, end_s


def _windows(
    rows: slice | np.ndarray, done: np.ndarray, new_s: float, end_s: float
) -> list[Window]:
    """``rows`` grouped by their time done (``NOT_STEPPED``: ``new_s``), each up to ``end_s``:
    one window of ``rows`` itself when they agree (a block: views), else index arrays."""
    starts = done[rows]
    starts = np.where(starts == NOT_STEPPED, new_s, starts)
    if starts.size == 0 or starts.min() == starts.max():
        return [Window(rows, float(starts[0]) if starts.size else new_s, end_s)]
    index = np.arange(len(done))[rows] if isinstance(rows, slice) else rows
    return [Window(index[starts == start], float(start), end_s) for start in np.unique(starts)]


def _size(rows: slice | np.ndarray, n: int) -> int:
    return len(range(n)[rows]) if isinstance(rows, slice) else len(rows)
