"""RegionMap: stripes of cell columns balanced by population, one owner per cell, round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from synthtwin.engine.regions import RegionError, RegionMap


def _population(seed: int = 0, m: int = 2000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(rng.normal(0.0, 3.0, (m, 2))).astype(np.int32)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_every_cell_has_one_owner_and_stripes_are_balanced(n: int) -> None:
    cells = _population()
    regions = RegionMap.balanced(cells, n)
    shards = regions.shard_of_cells(cells)
    assert shards.dtype == np.int32 and shards.shape == (len(cells),)
    counts = np.bincount(shards, minlength=n)
    assert counts.min() > 0 and counts.max() - counts.min() < 0.25 * len(cells)
    listed = np.concatenate([regions.cells_of_shard(k) for k in range(n)])
    ix_min, ix_max, iy_min, iy_max = regions.bounds
    assert len(listed) == (ix_max - ix_min + 1) * (iy_max - iy_min + 1)
    assert len(np.unique(listed, axis=0)) == len(listed)
    for k in range(n):
        assert (regions.shard_of_cells(regions.cells_of_shard(k)) == k).all()
    # cells far outside the town still have an owner: the end stripes
    far = np.array([[-(10**6), 0], [10**6, 5]], dtype=np.int32)
    assert regions.shard_of_cells(far).tolist() == [0, n - 1]


def test_deterministic_and_round_trips_through_json() -> None:
    a = RegionMap.balanced(_population(), 3)
    assert a == RegionMap.balanced(_population(), 3)
    assert RegionMap.from_dict(json.loads(json.dumps(a.to_dict()))) == a


def test_bad_input_is_refused_clearly() -> None:
    with pytest.raises(RegionError, match="occupies only 1 cell column"):
        RegionMap.balanced(np.zeros((5, 2), np.int32), 2)
    with pytest.raises(RegionError, match="out of range"):
        RegionMap.balanced(_population(), 0)
    with pytest.raises(RegionError, match=r"\(M, 2\) integer"):
        RegionMap.balanced(np.zeros((5, 2)), 1)
    with pytest.raises(RegionError, match="strictly increasing"):
        RegionMap.from_dict({"edges": [2, 1], "bounds": [0, 3, 0, 3]})
    with pytest.raises(RegionError, match="integer 'edges'"):
        RegionMap.from_dict({"edges": ["a"], "bounds": [0, 1, 0, 1]})
    with pytest.raises(RegionError, match="out of range"):
        RegionMap.single().cells_of_shard(1)
