"""The spread systems' tick at 10k and 100k twins in realtime (30 Hz, 1 simulated s a wall s),
each spread pass (``engine.spread``) beside its peer, the tick-by-tick pass over every twin
(window 0, the system before it):

- health: ``[sim] health_window_s`` = 1 s, one block of 30 a tick;
- physiology: ``[sim] physiology_window_s`` = 0.1 s, one block of 3 a tick (the block's
  exertion included).

Groups ``<system>-10k`` and ``<system>-100k``: the same world (07:45 on a Monday), run 30 ticks;
then each side's own system on it, every twin stepped by one untimed tick (the times done
reset), and each round is the system's run on the next tick (one simulated day, so no day
closes). ``extra_info`` holds the mean ns per twin per tick. Nothing is asserted: timings gate
nothing, and with benchmarks disabled (the project default) each side runs a few rounds at 10k
as a smoke test (the 100k world is skipped). The error bounds: ``systems.health`` and
``systems.physiology``, checked by ``tests/test_health_window.py`` and
``tests/test_physiology_window.py``.

Run: ``pytest bench/test_spread_bench.py --benchmark-enable``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from synthtwin.components.schema import NOT_STEPPED
from synthtwin.engine.app.simulation import Simulation, build_simulation
from synthtwin.engine.config import load_config
from synthtwin.engine.schedule import System, Tick
from synthtwin.systems.health import HealthSystem
from synthtwin.systems.physiology import PhysiologySystem

TICK_HZ = 30.0
RUSH = datetime(2026, 3, 2, 7, 45)
WARMUP_TICKS = 30
ROUNDS = 300
"""Timed ticks: ten windows of the spread pass."""
SYSTEMS: dict[str, tuple[type[System], str, float]] = {
    "health": (HealthSystem, "health_done_s", 1.0),
    "physiology": (PhysiologySystem, "physiology_done_s", 0.1),
}
"""Each spread system: its class, its time-done column and its default window (simulated s)."""
SIDES = ("spread", "tick-by-tick")


@pytest.fixture(scope="module")
def worlds():
    """A factory of 07:45 worlds by twin count, built once per count, closed at the end."""
    built: dict[int, Simulation] = {}

    def make(twins: int) -> Simulation:
        if twins not in built:
            config = load_config(None, twins=twins, tick_hz=TICK_HZ, time_scale=1, start=RUSH)
            built[twins] = build_simulation(config)
            built[twins].loop.run_ticks(WARMUP_TICKS)
        return built[twins]

    yield make
    for sim in built.values():
        sim.close()


def _next_tick(sim: Simulation) -> Callable[[], Tick]:
    """Consecutive ticks from the world's clock on, each ``1 / TICK_HZ`` s."""
    dt_s = 1.0 / TICK_HZ
    clock = sim.world.clock
    t0_s, hour0, day = clock.elapsed_s, clock.hour_of_day, clock.day_index
    index = [0]

    def tick() -> Tick:
        k = index[0] = index[0] + 1
        hour = hour0 + k * dt_s / 3600.0
        return Tick(k, dt_s, t0_s + k * dt_s, hour, clock.weekday, day, day)

    return tick


@pytest.mark.parametrize("twins", [10_000, 100_000])
@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("name", list(SYSTEMS))
def test_spread_system_tick(benchmark, worlds, name, side, twins):
    if benchmark.disabled and twins > 10_000:
        pytest.skip("100k twins only with --benchmark-enable")
    benchmark.group = f"{name}-{twins // 1000}k"
    sim = worlds(twins)
    kind, column, window_s = SYSTEMS[name]
    system = kind(sim.world, window_s=window_s if side == "spread" else 0.0)
    system.warmup()
    tick = _next_tick(sim)
    sim.world[column][:] = NOT_STEPPED  # the other side's times done: forgotten
    system.run(tick())  # every twin, from this tick on
    rounds = 3 if benchmark.disabled else ROUNDS
    benchmark.pedantic(lambda: system.run(tick()), rounds=rounds, iterations=1)
    if benchmark.stats is not None:
        benchmark.extra_info["ns_per_twin"] = benchmark.stats.stats.mean / twins * 1e9
