"""Checkpoints: atomic files, bit-identical continuation, clear errors."""

import numpy as np
import pytest

from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

TICKS_PER_HOUR = 60


def columns_equal(a, b) -> bool:
    """Every column but ``entity`` (esper's own handle, renumbered on restore) is bit-identical."""
    names = set(a.world.columns.schema) - {"entity"}
    return all(np.array_equal(a.world[k], b.world[k], equal_nan=True) for k in names)


def test_same_seed_gives_bit_identical_worlds(make_simulation):
    a, b = make_simulation(twins=150, seed=3), make_simulation(twins=150, seed=3)
    a.loop.run_ticks(6 * TICKS_PER_HOUR)
    b.loop.run_ticks(6 * TICKS_PER_HOUR)
    assert columns_equal(a, b)
    c = make_simulation(twins=150, seed=4)
    c.loop.run_ticks(6 * TICKS_PER_HOUR)
    assert not np.array_equal(a.world["hr_bpm"], c.world["hr_bpm"])


def test_a_restored_run_continues_bit_identically(make_simulation, tmp_path):
    first = make_simulation(twins=120, seed=5)
    first.loop.run_ticks(20 * TICKS_PER_HOUR)
    first.world.despawn([3, 4])
    path = tmp_path / "world.ckpt"
    save_checkpoint(first.world, first.schedule, path)
    first.loop.run_ticks(10 * TICKS_PER_HOUR)

    resumed = build_simulation(first.config, resume=path)
    try:
        resumed.loop.run_ticks(10 * TICKS_PER_HOUR)
        assert columns_equal(first, resumed)
        assert resumed.world.tick == first.world.tick
        assert resumed.world.clock.elapsed_s == first.world.clock.elapsed_s
        assert resumed.world.ids.tolist() == first.world.ids.tolist()
        assert resumed.world.spawn({}, 1).tolist() == first.world.spawn({}, 1).tolist()
        assert resumed.record.to_table().equals(first.record.to_table())
    finally:
        resumed.close()


def test_checkpoint_is_written_atomically_and_leaves_no_temporary_file(make_simulation, tmp_path):
    sim = make_simulation(twins=20)
    path = tmp_path / "w.ckpt"
    path.write_bytes(b"old")
    save_checkpoint(sim.world, sim.schedule, path)
    assert path.read_bytes()[:2] == b"PK"
    assert [p.name for p in tmp_path.iterdir()] == ["w.ckpt"]


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), (b"garbage", "is not a SynthTwin checkpoint")],
)
def test_a_bad_checkpoint_gets_a_clear_error_and_changes_nothing(
    make_simulation, tmp_path, content, message
):
    sim = make_simulation(twins=20)
    path = tmp_path / "bad.ckpt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        build_simulation(sim.config, resume=path)
    with pytest.raises(CheckpointError, match="needs an empty world"):
        load_checkpoint(sim.world, sim.schedule, path)
    assert sim.world.n == 20


def test_a_resumed_world_keeps_its_own_calendar_whatever_the_new_start(make_simulation, tmp_path):
    from dataclasses import replace
    from datetime import datetime

    sim = make_simulation(twins=30, seed=2)
    sim.loop.run_ticks(30 * TICKS_PER_HOUR)
    path = tmp_path / "w.ckpt"
    save_checkpoint(sim.world, sim.schedule, path)
    later = replace(sim.config, sim=replace(sim.config.sim, start=datetime(2030, 1, 1)))
    resumed = build_simulation(later, resume=path)
    try:
        resumed.loop.run_ticks(24 * TICKS_PER_HOUR)
        days = sorted({str(d) for d in resumed.record.columns()["day"]})
        assert days == ["2026-03-02", "2026-03-03"]
        assert resumed.world.clock.date.isoformat() == "2026-03-04"
    finally:
        resumed.close()
