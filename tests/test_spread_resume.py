"""Both spread passes (``engine.spread``: health and physiology) continue a resumed run bit for
bit: the turn is checkpointed with the system, each twin's time done with its row; a despawn moves
rows between blocks, also one right after the resume (a journal's, replayed before the first
tick)."""

import numpy as np
import pytest

from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.checkpoint import save_checkpoint
from synthtwin.systems.health import HealthSystem
from synthtwin.systems.physiology import PhysiologySystem

SPREAD = {
    "health": (HealthSystem, {"step_s": 1.0, "health_window_s": 5.0}),
    "physiology": (PhysiologySystem, {"step_s": 60.0, "physiology_window_s": 300.0}),
}


@pytest.mark.parametrize("name", list(SPREAD))
def test_a_run_resumed_mid_window_continues_bit_identically(make_simulation, tmp_path, name):
    kind, settings = SPREAD[name]
    first = make_simulation(twins=40, seed=6, **settings)
    first.loop.run_ticks(7)
    first.world.despawn([3])
    first.loop.run_ticks(4)
    path = tmp_path / "world.ckpt"
    save_checkpoint(first.world, first.schedule, path)
    resumed = build_simulation(first.config, resume=path)
    try:
        for sim in (first, resumed):
            sim.world.despawn([int(sim.world.ids[0])])
        for sim in (first, resumed):
            sim.loop.run_ticks(13)
        systems = [next(s for s in sim.schedule.systems if isinstance(s, kind))
                   for sim in (first, resumed)]  # fmt: skip
        assert vars(systems[1].spread) == vars(systems[0].spread)
        for column in kind.writes:
            np.testing.assert_array_equal(resumed.world[column], first.world[column], column)
    finally:
        resumed.close()
