"""The scenario system's recomputation (once a simulated minute while a scenario acts) against
the naive peer: the same effects applied one scenario at a time in Python.

Group ``scenario``: 1,000 active scenarios (all four kinds) on 10,000 twins; the engine's
``ScenarioSystem._compute`` (vectorised over the scenarios) beside ``per_scenario_peer``. Both
write the same columns (checked). With benchmarks disabled (the project default) each runs once
on 1,000 twins and 100 scenarios, as a smoke test.

Run: ``pytest bench/test_scenario_bench.py --benchmark-enable``.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from synthtwin.components.scenario import SCENARIO_EFFECTS, Scenarios, scenario_args
from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.config import load_config
from synthtwin.systems.scenario import PHYSIOLOGY, ScenarioSystem, effect, strength

KINDS = (("illness", {"severity": "severe"}), ("exercise", {"factor": 2.0}),
         ("medication", {"drug": "antihypertensive", "classes": 2}),
         ("short_night", {"hours": 5.0}))  # fmt: skip
NOW_S = 3 * 3600.0


@pytest.fixture(scope="module")
def world(request):
    option = request.config.getoption
    disabled = option("benchmark_disable") and not option("benchmark_enable")
    twins, count = (1_000, 100) if disabled else (10_000, 1_000)
    config = load_config(None, twins=twins, seed=1, start=datetime(2026, 3, 2))
    sim = build_simulation(config)
    scenarios = sim.world.resource(Scenarios)
    for k in range(count):
        kind, args = KINDS[k % len(KINDS)]
        scenarios.add(int(sim.world.ids[k * 7 % twins]), kind, 0.0, 5 * 86_400.0,
                      scenario_args(kind, args))  # fmt: skip
    yield sim.world
    sim.close()


def per_scenario_peer(world, now_s: float) -> None:
    """The effects of every scenario at ``now_s``, one scenario at a time."""
    for column in SCENARIO_EFFECTS.columns:
        world[column.name][...] = column.default
    for scenario in world.resource(Scenarios).items.values():
        how = effect(scenario)
        row = world.row_of(scenario.twin_id)
        k = strength(scenario, how, now_s)
        for name in PHYSIOLOGY:
            world[f"scenario_{name}"][row] += k * getattr(how, name)
        world["scenario_step_factor"][row] *= how.step_factor
        world["scenario_exercise_factor"][row] *= how.exercise_factor
        world["scenario_lie_in"][row] += how.lie_in
        if how.sleep_cap_h > 0:
            cap = world["scenario_sleep_cap_h"][row]
            world["scenario_sleep_cap_h"][row] = (
                min(cap, how.sleep_cap_h) if cap else how.sleep_cap_h
            )


def _effects(world) -> dict[str, np.ndarray]:
    return {name: world[name].copy() for name in SCENARIO_EFFECTS.names}


def test_scenario_system_recompute(benchmark, world):
    benchmark.group = "scenario"
    system = ScenarioSystem(world)
    system._table = type(system._table).of(list(world.resource(Scenarios).items.values()))

    def recompute() -> None:
        system._dirty = True
        system._compute(NOW_S)

    benchmark(recompute)
    ours = _effects(world)
    per_scenario_peer(world, NOW_S)
    for name, values in _effects(world).items():
        np.testing.assert_allclose(ours[name], values, rtol=1e-6, err_msg=name)


def test_per_scenario_peer(benchmark, world):
    benchmark.group = "scenario"
    benchmark(per_scenario_peer, world, NOW_S)
