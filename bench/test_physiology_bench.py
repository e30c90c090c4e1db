"""One physiology tick, 60 s, of N twins: numba on the CPU, CuPy on a GPU and the naive per-entity
esper peer, side by side.

All three run the same ``kernels.physiology.step_twin``: inlined by numba over columns,
transpiled to CUDA by CuPy's JIT, plain Python over dataclass components in the peer.
``test_peer_and_kernel_agree`` checks the peer against numba and ``tests/test_physiology_cupy.py``
CuPy against numba, so the timings compare equal work. Each N is a benchmark group, so
pytest-benchmark prints each time as a multiple of the fastest. The CuPy rows need a CUDA GPU and
skip without one: ``cupy kernel`` launches on device-resident columns (what a GPU-resident engine
would pay), ``cupy staged`` adds the host-device copies that ``--device cuda`` makes each tick
(``engine.backend.DeviceColumns``).

No plain-numpy row: the equations are scalar functions with per-twin control flow (``if asleep``,
a per-twin number of RK4 substeps, ``min``/``max``), which numpy's whole-array operations cannot
run; a numpy version would be a second statement of the model with ``np.where`` and masks.

Memory roofline: per twin a tick reads 15 state and 2 accumulator float64, 5 float32 and 3
float64 inputs and a bool, 13 float32 parameters (233 B) and writes 15 state and 2 accumulator
float64 (136 B): ``bytes_per_twin`` = 369 B, recorded in each row's notes with the achieved
bandwidth. On an H100 (HBM3, ~3.35 TB/s) the bound is 369 B / 3.35 TB/s = 110 ps per twin,
1.1 us for 10k twins: below a kernel launch (~3-5 us), so at these sizes a launch costs its
latency, not its bytes. The staged path moves the same 369 B per twin over PCIe (~25 GB/s
pinned, less pageable), ~0.15 ms per 10k twins: the copies, not the kernel, bound
``--device cuda``.

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
from synthtwin.components.physiology import PHYSIOLOGY_KERNEL_ARGS as ARGS
from synthtwin.engine.backend import DeviceColumns, cuda_unavailable_reason
from synthtwin.kernels.numba.physiology import step_physiology

DT_S = 60.0
CLOCK_H = 12.0
SEED = 2026
GPU_REASON = cuda_unavailable_reason()
needs_gpu = pytest.mark.skipif(GPU_REASON is not None, reason=f"needs a CUDA GPU: {GPU_REASON}")
TWIN_COUNTS = [1_000, 10_000]
PEER_ROUNDS = 5  # a peer pass at 10k twins takes tens of ms


def _group(n: int) -> str:
    return f"physiology-{n // 1000}k"


def bytes_per_twin(cols: dict[str, np.ndarray]) -> int:
    """Bytes one tick moves per twin: every kernel column read, the result columns written."""
    read = sum(cols[name].itemsize for name in ARGS.names)
    return read + sum(cols[name].itemsize for name in ARGS.written)


def _record_bandwidth(benchmark, cols: dict[str, np.ndarray], n: int) -> None:
    """Bytes per twin in the row's notes; after a timed run, the achieved GB/s too."""
    benchmark.extra_info["bytes_per_twin"] = bytes_per_twin(cols)
    if benchmark.stats is not None:
        median_s = benchmark.stats.stats.median
        benchmark.extra_info["GB_per_s"] = bytes_per_twin(cols) * n / median_s / 1e9


def _kernel_tick(cols: dict[str, np.ndarray], dt_s: float, clock_h: float) -> None:
    step_physiology(dt_s, clock_h, *ARGS.by_role(cols))


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
    args = ARGS.by_role(cols)
    step_physiology(DT_S, CLOCK_H, *args)  # compiled or loaded from cache, threads started
    benchmark(step_physiology, DT_S, CLOCK_H, *args)
    _record_bandwidth(benchmark, cols, n)
    assert np.isfinite(cols["hr_bpm"]).all()


@needs_gpu
@pytest.mark.parametrize("n", TWIN_COUNTS)
def test_cupy_kernel(benchmark, n: int) -> None:
    import cupy

    from synthtwin.kernels.cupy.physiology import step_physiology as cupy_step

    benchmark.group = _group(n)
    cols = twin_columns(n, np.random.default_rng(SEED))
    args = ARGS.by_role({name: cupy.asarray(cols[name]) for name in ARGS.names})
    stream = cupy.cuda.get_current_stream()

    def tick() -> None:
        cupy_step(DT_S, CLOCK_H, *args)
        stream.synchronize()

    tick()  # transpiled and compiled, or loaded from CuPy's cache
    benchmark(tick)
    _record_bandwidth(benchmark, cols, n)
    assert bool(cupy.isfinite(args[0][0]).all())


@needs_gpu
@pytest.mark.parametrize("n", TWIN_COUNTS)
def test_cupy_staged(benchmark, n: int) -> None:
    """The ``--device cuda`` engine path: columns copied in, one launch, results copied back."""
    import cupy

    from synthtwin.kernels.cupy.physiology import step_physiology as cupy_step

    benchmark.group = _group(n)
    cols = twin_columns(n, np.random.default_rng(SEED))
    staging = DeviceColumns(cupy)
    results = {name: cols[name] for name in ARGS.written}

    def tick() -> None:
        device = staging.upload(cols)
        cupy_step(DT_S, CLOCK_H, *ARGS.by_role(device))
        staging.download(results)

    tick()
    benchmark(tick)
    _record_bandwidth(benchmark, cols, n)
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
    for column in ARGS.written:
        np.testing.assert_allclose(
            peer[column], cols[column], rtol=1e-9, atol=1e-12, err_msg=column
        )
