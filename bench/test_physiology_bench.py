"""One physiology tick, 60 s, of N twins: the numba kernel against the naive per-entity esper peer.

Both call the same ``kernels.physiology.step_twin`` (compiled and inlined by numba over columns;
plain Python over dataclass components by the peer), on the same twins: ``test_peer_and_kernel_
agree`` checks they compute the same thing, so the timings compare equal work. Each N is a
benchmark group, so pytest-benchmark prints the peer's time as a multiple of the kernel's.

Run: ``pytest bench/test_physiology_bench.py --benchmark-enable``. With benchmarks disabled (the
project default) every test runs its function once, as a smoke test.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.esper_peer import (
    build_peer_world,
    delete_peer_world,
    peer_columns,
    peer_world_from_columns,
    step_peer,
    twin_columns,
)
from kernels.numba.physiology import (
    ACCUMULATOR_COLUMNS,
    INPUT_COLUMNS,
    PARAM_COLUMNS,
    STATE_COLUMNS,
    step_physiology,
    warmup,
)

DT_S = 60.0
CLOCK_H = 12.0
SEED = 2026
KERNEL_COLUMNS = STATE_COLUMNS + INPUT_COLUMNS + PARAM_COLUMNS + ACCUMULATOR_COLUMNS
TWIN_COUNTS = [1_000, 10_000]
PEER_ROUNDS = 5  # a peer pass at 10k twins takes tens of ms


def _group(n: int) -> str:
    return f"physiology-{n // 1000}k"


def _kernel_tick(cols: dict[str, np.ndarray], dt_s: float, clock_h: float) -> None:
    step_physiology(dt_s, clock_h, *(cols[name] for name in KERNEL_COLUMNS))


@pytest.fixture
def peer_world():
    """A factory of peer worlds, each deleted after the test."""
    names: list[str] = []

    def make(n: int) -> str:
        names.append(build_peer_world(n, np.random.default_rng(SEED)))
        return names[-1]

    yield make
    for name in names:
        delete_peer_world(name)


@pytest.mark.parametrize("n", TWIN_COUNTS)
def test_numba_kernel(benchmark, n: int) -> None:
    benchmark.group = _group(n)
    cols = twin_columns(n, np.random.default_rng(SEED))
    args = [cols[name] for name in KERNEL_COLUMNS]
    warmup(np.float32)
    step_physiology(DT_S, CLOCK_H, *args)  # compiled or loaded from cache, threads started
    benchmark(step_physiology, DT_S, CLOCK_H, *args)
    assert np.isfinite(cols["hr_bpm"]).all()


@pytest.mark.parametrize("n", TWIN_COUNTS)
def test_esper_peer(benchmark, peer_world, n: int) -> None:
    benchmark.group = _group(n)
    name = peer_world(n)
    step_peer(name, DT_S, CLOCK_H)  # fills esper's query cache, cleared by building the world
    benchmark.pedantic(step_peer, args=(name, DT_S, CLOCK_H), rounds=PEER_ROUNDS, iterations=1)
    assert np.isfinite(peer_columns(name)["hr_bpm"]).all()


def test_peer_and_kernel_agree() -> None:
    """Same twins, same ticks (a meal, realtime, minute and 10 min steps): same state."""
    n = 200
    cols = twin_columns(n, np.random.default_rng(SEED))
    cols["carbs_g"][::7] = 75.0
    name = peer_world_from_columns(cols)
    try:
        ticks = [(DT_S, CLOCK_H), (1.0 / 30.0, 22.9), (600.0, 23.9), (DT_S, 3.0)]
        for dt_s, clock_h in ticks:
            _kernel_tick(cols, dt_s, clock_h)
            step_peer(name, dt_s, clock_h)
        peer = peer_columns(name)
    finally:
        delete_peer_world(name)
    assert peer["gut1_mg"].max() > 0.0 and cols["asleep"].any() and (cols["mets"] > 3.0).any()
    for column in STATE_COLUMNS + ACCUMULATOR_COLUMNS:
        np.testing.assert_allclose(
            peer[column], cols[column], rtol=1e-9, atol=1e-12, err_msg=column
        )
