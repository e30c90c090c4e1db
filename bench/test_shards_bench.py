"""``twin simulate`` on 1 process against 2 Ray shards, side by side (group ``shards-day``): one
simulated day of 10,000 twins at 60 s ticks (300 twins at 600 s ticks with benchmarks disabled),
the merged Parquet output written. The shards' time includes building them (each builds the
seed's world); ``twin_days_per_s_ticking`` leaves that out. ``extra_info`` also gives the
handoffs (twins moved between shards), their rate and wall time a twin. The scaling model these
feed is in docs/deployment.md.

Run: ``pytest bench/test_shards_bench.py --benchmark-enable -n 0``.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from synthtwin.engine.app.shard_simulate import run_sharded
from synthtwin.engine.app.simulate import run_headless
from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.config import load_config
from tests.conftest import ray_session  # noqa: F401  (the worker's one Ray, shared with tests/)

pytest.importorskip("ray")
pytestmark = pytest.mark.usefixtures("ray_session")

BARRIER_TICKS = 15
"""As ``twin simulate --shards`` (``engine.app.cli.SIMULATE_BARRIER_TICKS``)."""


def _config(benchmark, shards: int):
    enabled = not benchmark.disabled
    return load_config(
        None, twins=10_000 if enabled else 300, seed=1, tick_hz=1.0,
        time_scale=60.0 if enabled else 600.0, start=datetime(2026, 3, 2),
        cluster={"shards": shards, "barrier_ticks": BARRIER_TICKS},
    )  # fmt: skip


def test_simulate_day_one_process(benchmark, tmp_path):
    benchmark.group = "shards-day"
    config = _config(benchmark, 1)
    sim = build_simulation(config)
    try:
        started = time.perf_counter()
        run = benchmark.pedantic(run_headless, args=(sim, 1, tmp_path), rounds=1, iterations=1)
        wall_s = time.perf_counter() - started
    finally:
        sim.close()
    assert run.days == 1 and run.twins == config.sim.twins
    benchmark.extra_info["twin_days_per_s"] = round(run.twins / wall_s, 1)


def test_simulate_day_two_shards(benchmark, tmp_path):
    benchmark.group = "shards-day"
    config = _config(benchmark, 2)
    started = time.perf_counter()
    sharded = benchmark.pedantic(run_sharded, args=(config, 1, tmp_path), rounds=1, iterations=1)
    wall_s = time.perf_counter() - started
    assert sharded.run.twins == config.sim.twins and sharded.gaps == ()
    twins = sharded.run.twins
    benchmark.extra_info.update(
        twin_days_per_s=round(twins / wall_s, 1),
        twin_days_per_s_ticking=round(twins / sharded.wall_s, 1),
        handoffs=sharded.handoffs,
        handoffs_per_s=round(sharded.handoffs / sharded.wall_s, 1),
        handoff_us_per_twin=round(1e6 * sharded.handoff_s / max(sharded.handoffs, 1), 1),
        barriers_per_s=round(sharded.run.ticks / BARRIER_TICKS / sharded.wall_s, 2),
    )
