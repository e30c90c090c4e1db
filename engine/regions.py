"""Regions: the town's spatial cells split into N shards, for running one world on several
processes (``engine.app.shard``) behind one front (``net.front``).

A region is a contiguous stripe of cell columns: shard ``k`` owns every cell ``(ix, iy)`` with
``edges[k - 1] <= ix < edges[k]`` (the first stripe reaches to ``-inf``, the last to ``+inf``, so
every cell of the plane, also one outside the town, has exactly one owner). The stripes are
balanced by population when the map is built: the edges sit at the population's quantiles of
``ix``. The cells themselves (``floor(position / CELL_SIZE_M)``) are the wire protocol's
(``net.wire.topics.cell_of``); the engine core never computes them, it receives ``(M, 2)`` cell
indices from whoever does (the app, the front).

The map is a pure function of the starting population's cells and N, so of the world seed and N:
every shard, the coordinator and the front build or load the same map. ``to_dict``/``from_dict``
carry it in a checkpoint manifest and to the front (plain JSON types).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_SHARDS", "RegionError", "RegionMap"]

MAX_SHARDS = 256
"""Most regions a map may have."""


class RegionError(ValueError):
    """A region map that cannot be built or read; the message says what to change."""


@dataclass(frozen=True)
class RegionMap:
    """N stripes of cell columns.

    Attributes:
        edges: ``(N - 1,)`` strictly increasing cell-column indices ``ix`` where stripe ``k + 1``
            begins.
        bounds: ``(ix_min, ix_max, iy_min, iy_max)``, inclusive: the cells of the town (of its
            places and starting population), for listing a region's cells.
    """

    edges: tuple[int, ...]
    bounds: tuple[int, int, int, int]

    def __post_init__(self) -> None:
        if len(self.edges) + 1 > MAX_SHARDS:
            raise RegionError(f"{len(self.edges) + 1} regions: at most {MAX_SHARDS}")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise RegionError(f"region edges {list(self.edges)} must be strictly increasing")
        ix_min, ix_max, iy_min, iy_max = self.bounds
        if ix_max < ix_min or iy_max < iy_min:
            raise RegionError(f"region bounds {list(self.bounds)} are empty")

    @property
    def n(self) -> int:
        """Number of regions (shards)."""
        return len(self.edges) + 1

    @classmethod
    def single(cls, bounds: tuple[int, int, int, int] = (0, 0, 0, 0)) -> RegionMap:
        """One region holding every cell."""
        return cls((), tuple(int(b) for b in bounds))

    @classmethod
    def balanced(cls, cells: np.ndarray, n: int, extent: np.ndarray | None = None) -> RegionMap:
        """Stripes of about equal population.

        Args:
            cells: ``(M, 2)`` int cells of the starting population, one row per twin.
            n: number of regions, ``1..MAX_SHARDS``, at most the number of distinct cell
                columns the population occupies.
            extent: ``(K, 2)`` int more cells the bounds must cover (the town's places).

        Raises:
            RegionError: ``n`` out of range, or too few occupied cell columns for ``n`` stripes.
        """
        cells = _cells(cells)
        if not 1 <= n <= MAX_SHARDS:
            raise RegionError(f"{n} shards is out of range: expected 1..{MAX_SHARDS}")
        if len(cells) == 0:
            raise RegionError("no twins to balance the regions by")
        every = cells if extent is None else np.concatenate([cells, _cells(extent)])
        bounds = (*_span(every[:, 0]), *_span(every[:, 1]))
        columns, counts = np.unique(cells[:, 0], return_counts=True)
        if len(columns) < n:
            raise RegionError(
                f"{n} shards, but the population occupies only {len(columns)} cell column(s): "
                f"use at most {len(columns)} shards, or more twins"
            )
        edges = _quantile_edges(columns, np.cumsum(counts), n)
        return cls(tuple(edges), bounds)

    def shard_of_cells(self, cells: np.ndarray) -> np.ndarray:
        """``(M,) int32`` owning shard of each of ``(M, 2)`` int cells."""
        cells = _cells(cells)
        edges = np.asarray(self.edges, dtype=np.int64)
        return np.searchsorted(edges, cells[:, 0], side="right").astype(np.int32)

    def cells_of_shard(self, k: int) -> np.ndarray:
        """``(K, 2) int32`` the town's cells (within ``bounds``) that shard ``k`` owns, ``ix``
        major."""
        if not 0 <= k < self.n:
            raise RegionError(f"shard {k} is out of range: expected 0..{self.n - 1}")
        ix_min, ix_max, iy_min, iy_max = self.bounds
        lo = self.edges[k - 1] if k > 0 else ix_min
        hi = self.edges[k] - 1 if k < self.n - 1 else ix_max
        ix = np.arange(max(lo, ix_min), min(hi, ix_max) + 1, dtype=np.int32)
        iy = np.arange(iy_min, iy_max + 1, dtype=np.int32)
        grid = np.stack(np.meshgrid(ix, iy, indexing="ij"), axis=-1)
        return grid.reshape(-1, 2)

    def to_dict(self) -> dict:
        """Plain JSON types: ``{"edges": [...], "bounds": [...]}``."""
        return {"edges": list(self.edges), "bounds": list(self.bounds)}

    @classmethod
    def from_dict(cls, data: dict) -> RegionMap:
        """The map ``to_dict`` wrote.

        Raises:
            RegionError: a missing or malformed field, naming it.
        """
        try:
            edges = tuple(_int(e) for e in data["edges"])
            bounds = tuple(_int(b) for b in data["bounds"])
        except (KeyError, TypeError) as exc:
            raise RegionError(f"a region map needs integer 'edges' and 'bounds': {exc}") from None
        if len(bounds) != 4:
            raise RegionError(f"region bounds need 4 integers, got {len(bounds)}")
        return cls(edges, bounds)


def _cells(cells: np.ndarray) -> np.ndarray:
    array = np.asarray(cells)
    if array.ndim != 2 or array.shape[1] != 2 or not np.issubdtype(array.dtype, np.integer):
        raise RegionError(f"cells must be an (M, 2) integer array, got {array.dtype} {array.shape}")
    return array.astype(np.int64, copy=False)


def _span(values: np.ndarray) -> tuple[int, int]:
    return int(values.min()), int(values.max())


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{value!r} is not an integer")
    return int(value)


def _quantile_edges(columns: np.ndarray, cumulative: np.ndarray, n: int) -> list[int]:
    """``n - 1`` edges among the occupied ``columns`` (sorted) that split the population
    (``cumulative`` counts up to each column) nearest to equal parts, each stripe keeping at
    least one occupied column."""
    total = int(cumulative[-1])
    edges: list[int] = []
    low = 1
    for k in range(1, n):
        # split before column ``at``: the left part (cumulative[at - 1]) nearest k/n of the total,
        # leaving at least one occupied column for each stripe on either side
        at = int(np.argmin(np.abs(cumulative[:-1] - total * k / n))) + 1
        at = min(max(at, low), len(columns) - (n - k))
        edges.append(int(columns[at]))
        low = at + 1
    return edges
