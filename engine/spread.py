"""Spread pass: a system's pass over every twin split into blocks, one block a tick.

A system whose per-twin update may cover any length of simulated time (exact in its window, or
within stated bounds) need not touch every twin every tick. With ticks much shorter than a window
W (realtime: 1/30 s), ``SpreadPass`` splits the twins into B = floor(W / dt_s) contiguous blocks
of rows and names one block a tick, round robin, with the simulated time it was last brought to:
the system advances that block from then to the tick's end (at most W). The pass then costs 1/B of
a whole one every tick, evenly, where a ``[sim.every]`` divisor would pay it whole every B-th tick
(and the tick's p99 with it). B = 1 (ticks of W or longer: headless, fast time scales) is the
plain tick-by-tick pass.

When every twin must be current (``whole``: a day closes at this tick's end), when the twin count
or B changes, every block is brought to the tick's end. Spawns and despawns swap-move rows between
blocks, so after one every twin is brought up from its own block's time, found by id in the last
run's rows (a new twin: from the tick's start). ``settle`` brings given rows up to the last run's
end, before they leave the world whole (a shard handoff).

Like Bevy's and flecs' "time-sliced" systems: the same work, amortized over frames.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from synthtwin.engine.schedule import Tick
from synthtwin.engine.world import World

__all__ = ["Blocks", "SpreadPass", "Window"]


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


@dataclass
class Blocks:
    """The partition of the twins.

    Attributes:
        done_s: per block, the simulated time its twins are advanced to; empty before the first
            run.
        twins: the twin count the partition splits (block b is rows ``[b n / B, (b + 1) n / B)``).
        next: the block the next tick advances.
    """

    done_s: list[float] = field(default_factory=list)
    twins: int = 0
    next: int = 0

    @classmethod
    def load(cls, saved: object, owner: str) -> Blocks:
        """Blocks from ``asdict``'s form, checked; None: a fresh partition."""
        if saved is None:
            return cls()
        done_s = saved.get("done_s") if isinstance(saved, dict) else None
        twins, nxt = (saved.get(k) if isinstance(saved, dict) else None for k in ("twins", "next"))
        if not (isinstance(done_s, list) and done_s and isinstance(twins, int)
                and isinstance(nxt, int) and 0 <= nxt < len(done_s) and twins >= 0
                and all(isinstance(t, float) and math.isfinite(t) for t in done_s)):  # fmt: skip
            raise ValueError(f"{owner} blocks = {str(saved)[:60]}, expected done_s, twins, next")
        return cls(done_s, twins, nxt)

    def rows(self, block: int) -> slice:
        """Block ``block``'s rows."""
        count = len(self.done_s)
        return slice(block * self.twins // count, (block + 1) * self.twins // count)


class SpreadPass:
    """Which rows a spread system advances this tick, and from when (module docstring).

    Args:
        window_s: W, simulated s; 0: every twin every tick.
        owner: the system's name, for errors about its saved state.
    """

    def __init__(self, window_s: float, owner: str) -> None:
        self.window_s = window_s
        self.owner = owner
        self.blocks = Blocks()
        self._layout: tuple[int, np.ndarray] | None = None
        """(columns version, twin ids by row) at the last run: rows moved since when it differs."""

    def plan(self, world: World, tick: Tick, whole: bool = False) -> list[Window]:
        """The windows to advance in ``tick`` (every twin when ``whole``), then the partition
        brought forward as if they were advanced."""
        end_s = tick.t_s + tick.dt_s
        count = max(1, int(self.window_s / tick.dt_s + 1e-9))
        moved = self._layout is not None and self._layout[0] != world.columns.version
        blocks = self.blocks
        if moved and len(blocks.done_s) > 1:
            windows = self._since(np.arange(world.n), world.ids, tick.t_s, end_s)
            self.blocks = Blocks([end_s] * count, twins=world.n)
        elif whole or (count, world.n) != (len(blocks.done_s), blocks.twins):
            windows = [Window(blocks.rows(b), t, end_s) for b, t in enumerate(blocks.done_s)]
            if len(blocks.done_s) <= 1:
                windows = [Window(slice(0, world.n), tick.t_s, end_s)]
            self.blocks = Blocks([end_s] * count, twins=world.n)
        elif count == 1:
            windows = [Window(slice(0, world.n), tick.t_s, end_s)]
            blocks.done_s[0] = end_s
        else:
            windows = [Window(blocks.rows(blocks.next), blocks.done_s[blocks.next], end_s)]
            blocks.done_s[blocks.next] = end_s
            blocks.next = (blocks.next + 1) % count
        if self._layout is None or self._layout[0] != world.columns.version:
            self._layout = (world.columns.version, world.ids.copy())
        return [w for w in windows if w.dt_s > 0.0 and _size(w.rows, world.n)]

    def settle(self, world: World, rows: np.ndarray) -> list[Window]:
        """The windows that bring ``rows`` (``(K,)`` int) up to the last run's end, before they
        leave the world whole; none when every twin is there already."""
        if len(self.blocks.done_s) <= 1 or not len(rows):
            return []
        rows = np.asarray(rows, dtype=np.int64)
        end_s = float(max(self.blocks.done_s))
        return [w for w in self._since(rows, world.ids[rows], end_s, end_s) if w.dt_s > 0.0]

    def _since(
        self, rows: np.ndarray, ids: np.ndarray, default: float, end_s: float
    ) -> list[Window]:
        """``rows`` (with their ``ids``, ``(K,)`` each) grouped by their block's time done, found
        by id in the last run's rows (``default``: a twin not there then), each up to ``end_s``."""
        old_ids = self._layout[1] if self._layout is not None else np.zeros(0, np.uint32)
        since = np.full(ids.size, default)
        if old_ids.size:
            count, twins = len(self.blocks.done_s), self.blocks.twins
            order = np.argsort(old_ids)
            old_row = order[np.minimum(np.searchsorted(old_ids[order], ids), old_ids.size - 1)]
            block = np.searchsorted(np.arange(count) * twins // count, old_row, side="right") - 1
            known = old_ids[old_row] == ids
            since[known] = np.asarray(self.blocks.done_s)[block[known]]
        return [Window(rows[since == start], float(start), end_s) for start in np.unique(since)]

    def state_dict(self) -> dict:
        """``{"blocks": ...}`` once a partition exists, else ``{}``."""
        return {"blocks": asdict(self.blocks)} if self.blocks.done_s else {}

    def load_state_dict(self, state: dict, world: World) -> None:
        """The partition from ``state`` (absent: none yet; older checkpoints), over ``world``'s
        restored rows."""
        self.blocks = Blocks.load(state.get("blocks"), self.owner)
        self._layout = (world.columns.version, world.ids.copy())


def _size(rows: slice | np.ndarray, n: int) -> int:
    return len(range(n)[rows]) if isinstance(rows, slice) else len(rows)
