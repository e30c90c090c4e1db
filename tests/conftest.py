"""Shared fixtures: small simulations built the way the CLI builds them."""

from __future__ import annotations

import os
from datetime import datetime

import numba
import pytest

from synthtwin.engine.app.simulation import Simulation, build_simulation
from synthtwin.engine.config import load_config
from synthtwin.engine.schedule import Schedule

MONDAY = datetime(2026, 3, 2)

Schedule.check_access = True
"""Every system of every test sees only the columns it declares (``engine.access``): a system
that touches another fails the suite."""

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Parallel test workers already fill the cores; numba's threads would oversubscribe them.
    numba.set_num_threads(1)


def small_simulation(
    twins: int = 200, seed: int = 7, step_s: float = 60.0, **overrides
) -> Simulation:
    """A headless-style simulation from Monday 00:00, ``step_s`` simulated seconds a tick."""
    config = load_config(
        None, twins=twins, seed=seed, tick_hz=1.0, time_scale=step_s, start=MONDAY, **overrides
    )
    return build_simulation(config)


@pytest.fixture
def make_simulation():
    built: list[Simulation] = []

    def make(**kwargs) -> Simulation:
        sim = small_simulation(**kwargs)
        built.append(sim)
        return sim

    yield make
    for sim in built:
        sim.close()


@pytest.fixture(scope="session")
def week():
    """One simulated week of 400 twins (Monday to Sunday), shared by the realism tests.

    Returns ``(simulation, daily)`` where ``daily`` maps each daily-record column to an array.
    """
    sim = small_simulation(twins=400, seed=11)
    sim.loop.run_ticks(7 * 1440)
    yield sim, sim.record.columns()
    sim.close()


@pytest.fixture(scope="session")
def ray_session():
    """One small local Ray for every test of a test process that needs it (the shards', in
    tests/ and bench/): its start costs seconds, so a test process (an xdist worker) pays it
    once. Already initialised: used as it is."""
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 object_store_memory=200 << 20)  # fmt: skip
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture
def followed():
    """A small simulation publishing on a loopback XPUB (``tests.followed.Followed``)."""
    from tests.followed import Followed

    made = Followed()
    yield made
    made.close()
