"""The CUDA physiology kernel (``kernels.cupy.physiology``): on the CPU, what can be checked without
a GPU; on a GPU, parity with the numba kernel over simulated hours.

Without a GPU: CuPy's JIT transpiles the kernel from the source of ``kernels/physiology.py`` to
CUDA C++ (``cupyx.jit._compile.transpile``, the step ``rawkernel`` takes before compiling, called
with the argument types the launch infers), and NVRTC compiles that C++ to PTX for the H100
(``compute_90``), which checks that the arithmetic is double throughout. These are the very code
and compiler a GPU run uses; only the launch and the numbers need the device. The test skips when
CuPy is absent; the NVRTC test when NVRTC does not load.
"""

from __future__ import annotations

import ast
import inspect
import re

import numpy as np
import pytest

from synthtwin.components.physiology import PHYSIOLOGY_KERNEL_ARGS as ARGS
from synthtwin.engine.backend import cuda_unavailable_reason
from synthtwin.kernels import physiology

cupy = pytest.importorskip("cupy", reason="CuPy is not installed (pip install -e '.[cuda]')")

from cupy.cuda import nvrtc  # noqa: E402
from cupyx.jit import _compile, _cuda_types  # noqa: E402

from synthtwin.kernels.cupy import physiology as cuda_physiology  # noqa: E402

H100_ARCH = "compute_90"
GPU_REASON = cuda_unavailable_reason()
needs_gpu = pytest.mark.skipif(GPU_REASON is not None, reason=f"needs a CUDA GPU: {GPU_REASON}")


def _equations() -> dict[str, object]:
    return {
        name: func
        for name, func in inspect.getmembers(physiology, inspect.isfunction)
        if func.__module__ == physiology.__name__
    }


def _nvrtc_reason() -> str | None:
    try:
        nvrtc.getVersion()
    except Exception as error:  # noqa: BLE001 - any failure to load NVRTC
        return f"NVRTC does not load: {error}"
    return None


def _column_dtypes(param_dtype: type) -> list[np.dtype]:
    """The declared dtypes, in kernel argument order, with parameters as ``param_dtype``: state
    and accumulators float64, inputs float32 (``asleep`` bool)."""
    declared = [np.dtype(column.dtype) for column in ARGS.state + ARGS.inputs]
    params = [np.dtype(param_dtype)] * len(ARGS.params)
    return declared + params + [np.dtype(column.dtype) for column in ARGS.accumulators]


def _transpile(param_dtype: type) -> _compile.Result:
    """CUDA C++ of the global kernel for these column dtypes, as ``step_physiology`` picks it
    and ``_JitRawKernel.__call__`` makes it: float scalars, and for each array
    ``CArray.from_ndarray`` of a 1-D C-contiguous array under 2**31 elements."""
    scalar = _cuda_types.Scalar(np.float64)
    dtypes = _column_dtypes(param_dtype)
    arrays = [_cuda_types.CArray(dtype, 1, True, True) for dtype in dtypes]
    widened = tuple(dtype == np.float32 for dtype in dtypes)
    kernel = cuda_physiology.step_kernel(len(ARGS.state), len(ARGS.accumulators), widened)
    return _compile.transpile(
        kernel._func,
        ['extern "C"', "__global__"],
        cuda_physiology.JIT_MODE,
        [scalar, scalar, *arrays],
        _cuda_types.void,
    )


def _ptx(result: _compile.Result, arch: str) -> str:
    """PTX of the transpiled kernel from NVRTC, with the headers and options CuPy compiles with."""
    from cupy._core import core

    source = "".join(f"#include <{header}>\n" for header in core._cupy_header_list) + result.code
    options = core.assemble_cupy_compiler_options(result.options) + (
        "-ftz=true",
        "--device-as-default-execution-space",
        f"-arch={arch}",
    )
    program = nvrtc.createProgram(source, "physiology.cu", (), ())
    try:
        nvrtc.compileProgram(program, options)
    except nvrtc.NVRTCError as error:
        raise AssertionError(nvrtc.getProgramLog(program)) from error
    ptx = nvrtc.getPTX(program)
    nvrtc.destroyProgram(program)
    return ptx.decode() if isinstance(ptx, bytes) else ptx


def test_every_equation_becomes_a_device_function() -> None:
    namespace = cuda_physiology._device_functions()
    for name, func in _equations().items():
        device = namespace[name]
        assert device._device, name
        assert device._func.__code__ is func.__code__, name
    assert namespace["math"] is cuda_physiology.DEVICE_MATH


def test_equations_keep_to_what_cupy_jit_translates() -> None:
    """CuPy's JIT silently drops keyword arguments of device-function calls and rejects default
    arguments; every use of ``math`` must have a device version in ``DEVICE_MATH``."""
    tree = ast.parse(inspect.getsource(physiology))
    equations = set(_equations())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in equations:
            assert not node.args.defaults and not node.args.kwonlyargs, node.name
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in equations:
            assert not node.keywords, f"line {node.lineno}: keyword call of {node.func.id}"
        if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "math":
            assert hasattr(cuda_physiology.DEVICE_MATH, node.attr), f"math.{node.attr}"


@pytest.mark.parametrize("param_dtype", [np.float32, np.float64])
def test_kernel_transpiles_from_the_equations_source(param_dtype: type) -> None:
    code = _transpile(param_dtype).code
    called = {"step_twin", "relax", "glucose_insulin_step", "minimal_model_rates", "process_s"}
    called |= {"random_bits", "mix31", "normal_pair", "approx_normal", "ou_step"}
    for name in called:
        assert re.search(rf"__device__ .* {name}(_\d+)?\(", code), name
    assert "exp(" in code and "cos(" in code
    assert re.search(r"for \(long long __it = 0ll, __stop = substeps", code)  # RK4 substeps
    assert "float " not in code.replace("CArray<float", "")  # no single-precision variable


@pytest.mark.parametrize("param_dtype", [np.float32, np.float64])
def test_kernel_compiles_to_h100_ptx_in_double_precision(param_dtype: type) -> None:
    reason = _nvrtc_reason()
    if reason is not None:
        pytest.skip(reason)
    ptx = _ptx(_transpile(param_dtype), H100_ARCH)
    assert ".visible .entry _step_kernel(" in ptx
    assert re.search(r"\bfma\.rn\.f64\b", ptx)
    single = re.findall(r"\b(?:add|sub|mul|div|fma|ex2|lg2|sin|cos|rcp|sqrt)\.[a-z.]*f32\b", ptx)
    assert not single, single[:5]
    widened = len(re.findall(r"\bcvt(?:\.ftz)?\.f64\.f32\b", ptx))
    float32_columns = 3 + (len(ARGS.params) if param_dtype is np.float32 else 0)
    assert widened >= float32_columns


# On a GPU: parity with numba over simulated hours.

PARITY_TWINS = 10_000
PARITY_SEED = 2026
PARITY_HOURS = 6
PARITY_RTOL = 1e-10
"""Per tick the kernels differ by about an ulp (CUDA's exp/cos within 1-2 ulp of exact, glibc's
within 1; FMA contraction on the GPU). The vitals relax toward targets recomputed each tick, so an
error in a target does not build up, and the minimal model is stable: at worst the rounding
differences add up over the scenario's 5,706 ticks, 5,706 x 1.1e-16 ~ 6e-13 relative, as they do
in the energy and step sums. The bound leaves a factor of ~150 and is still a million times finer
than any displayed digit."""
PARITY_ATOL = 1e-12
"""For values that pass through zero (insulin action X, emptied gut compartments), in the
column's units."""


def _parity_scenario(cols: dict[str, np.ndarray], rng: np.random.Generator):
    """Yields ``(dt_s, clock_h)`` ticks over ``PARITY_HOURS`` from 06:00, changing the inputs in
    ``cols`` between them: each hour a fresh activity mix (0.9-14 MET, 30 % asleep, cadence 0-170
    steps/min) and meals for a fifth of the twins; each hour 30 s of realtime 1/30 s ticks, one of
    30 s, 49 of 60 s and one of 10 min (951 ticks)."""
    n = cols["mets"].shape[0]
    clock_h = 6.0
    for _ in range(PARITY_HOURS):
        cols["mets"][:] = rng.uniform(0.9, 14.0, n)
        cols["asleep"][:] = rng.random(n) < 0.3
        cols["cadence_spm"][:] = rng.uniform(0.0, 170.0, n)
        cols["carbs_g"][:] = np.where(rng.random(n) < 0.2, 75.0, 0.0)
        ticks = [1.0 / 30.0] * 900 + [30.0] + [60.0] * 49 + [600.0]
        for dt_s in ticks:
            yield dt_s, clock_h
            cols["carbs_g"][:] = 0.0
            clock_h = (clock_h + dt_s / 3600.0) % 24.0


@needs_gpu
def test_cupy_matches_numba_over_simulated_hours() -> None:
    from bench.esper_peer import twin_columns
    from synthtwin.kernels.numba.physiology import step_physiology as numba_step

    host = twin_columns(PARITY_TWINS, np.random.default_rng(PARITY_SEED))
    device = {name: cupy.asarray(host[name]) for name in ARGS.names}
    inputs = {column.name: host[column.name] for column in ARGS.inputs}
    for dt_s, clock_h in _parity_scenario(inputs, np.random.default_rng(PARITY_SEED + 1)):
        for name in inputs:
            device[name].set(host[name])
        numba_step(dt_s, clock_h, *ARGS.by_role(host))
        cuda_physiology.step_physiology(dt_s, clock_h, *ARGS.by_role(device))
    assert host["gut1_mg"].max() > 0.0 and host["steps"].min() >= 0.0
    for name in ARGS.written:
        np.testing.assert_allclose(
            device[name].get(), host[name], rtol=PARITY_RTOL, atol=PARITY_ATOL, err_msg=name
        )


@needs_gpu
def test_cuda_backend_world_matches_the_cpu_world() -> None:
    """The engine path: ``--device cuda`` stages the columns through ``DeviceColumns`` each tick;
    every other system runs on the CPU, so the worlds agree to the kernel parity above (none of
    the 90 ticks' sleep or health decisions sits within 1e-12 of its threshold)."""
    from datetime import datetime

    from synthtwin.engine.app.simulation import build_simulation
    from synthtwin.engine.config import Config, SimConfig

    worlds = {}
    for device in ("cpu", "cuda"):
        sim = SimConfig(
            twins=500, seed=7, time_scale=600.0, device=device, start=datetime(2026, 3, 2, 7)
        )
        simulation = build_simulation(Config(sim=sim))
        try:
            assert simulation.world.backend.name == device
            simulation.loop.run_ticks(90)  # 30 simulated minutes in 20 s ticks
            worlds[device] = {c.name: simulation.world[c.name].copy() for c in ARGS.state}
        finally:
            simulation.close()
    for name in worlds["cpu"]:
        np.testing.assert_allclose(
            worlds["cuda"][name], worlds["cpu"][name], rtol=PARITY_RTOL, atol=PARITY_ATOL
        )
