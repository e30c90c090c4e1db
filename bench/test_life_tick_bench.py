"""One tick of the life systems (behaviour, locomotion, physiology, health) against the naive peer.

The engine's tick runs every life system over dense columns; the peer is the same physiology
written as a per-entity esper Processor (``bench.esper_peer``), which is only one of the four
systems. Groups ``life-1k`` and ``life-10k`` put them side by side, so pytest-benchmark prints the
ratio; the target at 10k twins is a full engine tick at least 100x faster than the peer's
physiology alone. ``test_tick_of_100k_twins`` gives the tick's and every system's p50 and p99
at 100,000 twins in real time (issue 14: p99 <= 33 ms with replication), 300 ticks after 300
(30 after 30 with benchmarks disabled). ``test_headless_day_of_10k_twins`` times one simulated
day of 10,000 twins at 60 s ticks (target <= 30 s on 2 cores).

Run: ``pytest bench/test_life_tick_bench.py --benchmark-enable``.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from bench.esper_peer import build_peer_world, delete_peer_world, step_peer
from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.config import load_config
from synthtwin.engine.timings import RollingTimings

TWIN_COUNTS = [1_000, 10_000]
SCALE_TWINS = 100_000
SCALE_TICKS = 300
"""Ticks of warm-up, then ticks timed, at ``SCALE_TWINS`` (a tenth with benchmarks disabled)."""
REALTIME_HZ = 30.0
WARM_TICKS = 9_000
"""Ticks run before timing (five simulated minutes at 30 Hz), so activities are under way."""


def _simulation(twins: int, time_scale: float, tick_hz: float):
    config = load_config(
        None,
        twins=twins,
        seed=1,
        tick_hz=tick_hz,
        time_scale=time_scale,
        start=datetime(2026, 3, 2, 7, 30),
    )
    return build_simulation(config)


@pytest.mark.parametrize("twins", TWIN_COUNTS)
def test_life_tick(benchmark, twins):
    benchmark.group = f"life-{twins // 1000}k"
    sim = _simulation(twins, time_scale=1.0, tick_hz=REALTIME_HZ)
    try:
        sim.loop.run_ticks(300)
        benchmark(sim.loop.step)
        timings = sim.loop.stats().timings
        benchmark.extra_info.update(
            {name: round(t.p50_ms, 4) for name, t in timings.items() if name != "tick"}
        )
    finally:
        sim.close()


@pytest.mark.parametrize("twins", TWIN_COUNTS)
def test_esper_peer_physiology_tick(benchmark, twins):
    benchmark.group = f"life-{twins // 1000}k"
    name = build_peer_world(twins, np.random.default_rng(1))
    try:
        step_peer(name, 1 / REALTIME_HZ, 7.5)
        benchmark.pedantic(step_peer, args=(name, 1 / REALTIME_HZ, 7.5), rounds=5, iterations=1)
    finally:
        delete_peer_world(name)


def test_tick_of_100k_twins(benchmark):
    benchmark.group = "life-100k"
    ticks = SCALE_TICKS // 10 if benchmark.disabled else SCALE_TICKS
    sim = _simulation(SCALE_TWINS, time_scale=1.0, tick_hz=REALTIME_HZ)
    try:
        sim.loop.run_ticks(ticks)
        sim.loop.timings = RollingTimings()
        for system in sim.schedule.systems:
            system.timings = sim.loop.timings
        benchmark.pedantic(sim.loop.run_ticks, args=(ticks,), rounds=1, iterations=1)
        timings = sim.loop.stats().timings
        assert timings["tick"].count == ticks
        benchmark.extra_info.update(
            {f"{name}_{q}_ms": round(getattr(t, f"{q}_ms"), 3)
             for name, t in timings.items() for q in ("p50", "p99")}
        )  # fmt: skip
    finally:
        sim.close()


def test_headless_day_of_10k_twins(benchmark):
    benchmark.group = "headless-day"
    sim = _simulation(10_000, time_scale=60.0, tick_hz=1.0)
    try:
        benchmark.pedantic(sim.loop.run_ticks, args=(1440,), rounds=1, iterations=1)
        assert sim.world.clock.day_index == 1
    finally:
        sim.close()
