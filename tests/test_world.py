"""World: dense columns, stable ids, spawn and swap-remove despawn, sparse components."""

from dataclasses import dataclass

import numpy as np
import pytest

from synthtwin.components.schema import Column
from synthtwin.engine.backend import Backend
from synthtwin.engine.clock import SimClock
from synthtwin.engine.world import UnknownTwinError, World

SCHEMA = {
    "x": Column("x", "float32", default=1.5),
    "v": Column("v", "float64", shape=(3,)),
}


@pytest.fixture
def world():
    from datetime import datetime

    w = World(
        SCHEMA, SimClock(datetime(2026, 1, 5)), seed=1, backend=Backend("cpu", np), capacity=4
    )
    yield w
    w.close()


@dataclass
class Selected:
    viewer: str


def test_spawn_gives_stable_ids_and_defaults(world):
    ids = world.spawn({"x": np.arange(3, dtype=np.float32)}, 3)
    assert ids.tolist() == [1, 2, 3]
    assert world.n == 3
    assert world["x"].tolist() == [0, 1, 2]
    assert world["v"].shape == (3, 3) and not world["v"].any()
    more = world.spawn({}, 2)
    assert more.tolist() == [4, 5]
    assert world["x"][3:].tolist() == [1.5, 1.5]


def test_capacity_grows_without_losing_rows(world):
    world.spawn({"x": np.arange(3, dtype=np.float32)}, 3)
    world.spawn({"x": np.arange(10, 20, dtype=np.float32)}, 10)
    assert world["x"].tolist() == [0, 1, 2, *range(10, 20)]
    assert world.rows_of([13]).tolist() == [12]


def test_despawn_swap_removes_and_repoints_the_moved_twin(world):
    ids = world.spawn({"x": np.array([10, 20, 30, 40], dtype=np.float32)}, 4)
    world.despawn([ids[1]])
    assert world.n == 3
    assert world.ids.tolist() == [1, 4, 3]
    assert world["x"].tolist() == [10, 40, 30]
    assert world.row_of(4) == 1
    with pytest.raises(UnknownTwinError, match="no twin with id 2"):
        world.row_of(2)


def test_despawn_of_an_unknown_id_changes_nothing(world):
    world.spawn({}, 3)
    with pytest.raises(UnknownTwinError, match="no twin with id 99"):
        world.despawn([1, 99])
    assert world.ids.tolist() == [1, 2, 3]


def test_ids_are_never_reused(world):
    world.spawn({}, 2)
    world.despawn([2])
    assert world.spawn({}, 1).tolist() == [3]


def test_spawn_rejects_wrong_shapes_and_unknown_columns(world):
    with pytest.raises(ValueError, match="column 'v': got shape"):
        world.spawn({"v": np.zeros((2, 4))}, 2)
    with pytest.raises(KeyError, match="unknown column"):
        world.spawn({"nope": np.zeros(2)}, 2)
    assert world.n == 0


def test_sparse_components_follow_the_twin_across_swap_remove(world):
    ids = world.spawn({}, 3)
    world.add_sparse(int(ids[2]), Selected("alice"))
    world.despawn([ids[0]])
    assert world.sparse(int(ids[2]), Selected) == Selected("alice")
    assert world.query_sparse(Selected) == [(int(ids[2]), Selected("alice"))]
    world.remove_sparse(int(ids[2]), Selected)
    assert world.query_sparse(Selected) == []


def test_two_worlds_do_not_share_esper_state():
    from datetime import datetime

    a = World(SCHEMA, SimClock(datetime(2026, 1, 5)), 1, Backend("cpu", np))
    b = World(SCHEMA, SimClock(datetime(2026, 1, 5)), 1, Backend("cpu", np))
    try:
        a.spawn({}, 2)
        b.spawn({}, 1)
        a.add_sparse(1, Selected("a"))
        assert b.query_sparse(Selected) == []
        assert a.query_sparse(Selected) == [(1, Selected("a"))]
    finally:
        a.close()
        b.close()
