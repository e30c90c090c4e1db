"""Physiology on CUDA: the scalar equations of ``kernels/physiology.py`` transpiled by CuPy's JIT,
and the per-tick driver that advances every twin's vital signs in place on CuPy arrays.

Pattern: per-element kernel, one CUDA thread per twin, the twin of the numba kernel
(``kernels.numba.physiology.step_physiology``): same arguments in the same order, same loop body
(``kernels.physiology.step_twin``), CuPy arrays instead of numpy ones.

One statement of the equations: ``cupyx.jit.rawkernel`` reads a Python function's source and
emits CUDA C++. ``_device_functions`` rebinds every function of ``kernels/physiology.py`` (the same
code object, hence the same source) to a namespace in which the functions it calls are CuPy device
functions and ``math`` is ``DEVICE_MATH``: CuPy's JIT knows CuPy's ufuncs, not ``math``. What the
JIT takes (CuPy 13-14, ``cupyx/jit/_compile.py``; checked on the CPU by
``tests/test_physiology_cupy.py``): ``if`` on a bool, ``for`` over ``range`` of a run-time
integer, tuple returns and unpacking (``cuda::std::tuple``), ``min``/``max``, calls of device
functions, explicit casts such as ``float(x)``. What it does not: ``math.*`` (hence
``DEVICE_MATH``), default and ``*args`` arguments, and keyword arguments to device functions,
which it drops without a word: ``_step_kernel`` calls ``step_twin`` positionally, and
``kernels/physiology.py`` keeps to positional calls.

Typing: the kernels use the JIT's ``"numpy"`` mode, where a Python float literal is a double
(the default ``"cuda"`` mode makes it a float). Parameters and inputs stored as float32 are widened
to double as they are loaded: numba widens each of them at its first operation, which always meets
a double (module note of ``kernels/physiology.py``), so the arithmetic is the same double
arithmetic. It is not bit for bit the CPU's: CUDA's double ``exp`` and ``cos`` are within 1 and
2 ulp of the exact result (CUDA C++ Programming Guide, "Mathematical Functions", double
precision), glibc's within 1, and NVRTC contracts ``a * b + c`` into fused multiply-adds
(``--fmad=true``, CuPy's default). Each tick's state therefore differs from numba's by a few ulp;
the relaxations contract such differences, and ``tests/test_physiology_cupy.py`` bounds them
over simulated hours.

Memory traffic of one tick, per twin: reads 12 state + 2 accumulators x 8 B, 3 float32 inputs +
1 bool, 13 float32 parameters = 96 + 16 + 13 + 52 = 177 B; writes 12 state + 2 accumulators x
8 B = 112 B; 289 B in all. On an H100 (HBM3, ~3.35 TB/s) that bounds a tick of 100k twins
(28.9 MB) at ~8.6 us; the RK4 substeps (up to 10 per 10 min tick, four rate evaluations each) add
compute, so long ticks are arithmetic-bound rather than memory-bound.
"""

from __future__ import annotations

import inspect
import math
import types
import warnings
from typing import Any

import cupy
from cupyx import jit

from synthtwin.kernels import physiology

__all__ = ["DEVICE_MATH", "JIT_MODE", "THREADS_PER_BLOCK", "step_kernel", "step_physiology"]

THREADS_PER_BLOCK = 128
"""CUDA threads per block of ``_step_kernel``: each thread holds ~100 doubles of RK4 state."""

JIT_MODE = "numpy"
"""CuPy JIT typing rules: Python float literals are doubles, as in Python and numba."""


def _rawkernel(func: types.FunctionType, *, device: bool) -> Any:
    """``cupyx.jit.rawkernel(mode=JIT_MODE, device=device)(func)``, without its FutureWarning
    ("experimental") on every one of the dozen functions."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "cupyx.jit.rawkernel is experimental", FutureWarning)
        return jit.rawkernel(mode=JIT_MODE, device=device)(func)


def _ceil(x: float) -> int:
    """``math.ceil`` on the device: the smallest integer >= ``x``, as a 64-bit integer.

    ``cupy.ceil`` returns a double; ``range`` needs an integer, which ``math.ceil`` gives in
    Python and numba.
    """
    return int(cupy.ceil(x))


DEVICE_MATH = types.SimpleNamespace(
    exp=cupy.exp, cos=cupy.cos, ceil=_rawkernel(_ceil, device=True), pi=math.pi
)
"""What ``kernels/physiology.py`` uses of ``math``, as CuPy's JIT can call it on the device."""


def _device_functions() -> dict[str, Any]:
    """Every function of ``kernels/physiology.py`` as a CuPy device function, by name.

    Each is a new function object over the original's code (so the JIT reads the original
    source) whose globals are a copy of the module's namespace with ``math`` replaced by
    ``DEVICE_MATH`` and each function by its device twin.
    """
    namespace = dict(vars(physiology))
    namespace["math"] = DEVICE_MATH
    for name, func in inspect.getmembers(physiology, inspect.isfunction):
        if func.__module__ == physiology.__name__:
            rebound = types.FunctionType(func.__code__, namespace, func.__name__)
            namespace[name] = _rawkernel(rebound, device=True)
    return namespace


_step_twin = _device_functions()["step_twin"]


def _step_kernel(
    dt_s, clock_mid_h,
    hr_bpm, sbp_mmhg, dbp_mmhg, rr_brpm, spo2_pct, core_temp_c,
    glucose_mgdl, insulin_uu_ml, insulin_action_per_min, gut1_mg, gut2_mg, sleep_pressure,
    mets, cadence_spm, asleep, carbs_g,
    rhr_bpm, hrmax_bpm, vo2max_mets, sbp_rest_mmhg, dbp_rest_mmhg, rr_rest_brpm, spo2_rest_pct,
    weight_kg, glucose_basal_mgdl, insulin_basal_uu_ml, insulin_sensitivity, insulin_secretion,
    circadian_phase_h,
    energy_kcal, steps,
):  # fmt: skip
    """Thread ``n`` advances twin ``n`` by one tick; the arguments of ``step_physiology``, with
    ``clock_mid_h`` for ``clock_h``. float32 columns are widened to double as they are read."""
    n = jit.grid(1)
    if n < hr_bpm.size:
        (
            hr_bpm[n], sbp_mmhg[n], dbp_mmhg[n], rr_brpm[n], spo2_pct[n], core_temp_c[n],
            glucose_mgdl[n], insulin_uu_ml[n], insulin_action_per_min[n], gut1_mg[n],
            gut2_mg[n], sleep_pressure[n], energy_step_kcal, steps_step,
        ) = _step_twin(
            dt_s, clock_mid_h,
            hr_bpm[n], sbp_mmhg[n], dbp_mmhg[n], rr_brpm[n], spo2_pct[n], core_temp_c[n],
            glucose_mgdl[n], insulin_uu_ml[n], insulin_action_per_min[n], gut1_mg[n],
            gut2_mg[n], sleep_pressure[n],
            float(mets[n]), float(cadence_spm[n]), asleep[n], float(carbs_g[n]),
            float(rhr_bpm[n]), float(hrmax_bpm[n]), float(vo2max_mets[n]),
            float(sbp_rest_mmhg[n]), float(dbp_rest_mmhg[n]), float(rr_rest_brpm[n]),
            float(spo2_rest_pct[n]), float(weight_kg[n]), float(glucose_basal_mgdl[n]),
            float(insulin_basal_uu_ml[n]), float(insulin_sensitivity[n]),
            float(insulin_secretion[n]), float(circadian_phase_h[n]),
        )  # fmt: skip
        energy_kcal[n] += energy_step_kcal
        steps[n] += steps_step


step_kernel = _rawkernel(_step_kernel, device=False)
"""The global CUDA kernel; ``step_kernel._func`` is its Python source, for transpiling alone."""


def step_physiology(
    dt_s: float,
    clock_h: float,
    hr_bpm: cupy.ndarray,
    sbp_mmhg: cupy.ndarray,
    dbp_mmhg: cupy.ndarray,
    rr_brpm: cupy.ndarray,
    spo2_pct: cupy.ndarray,
    core_temp_c: cupy.ndarray,
    glucose_mgdl: cupy.ndarray,
    insulin_uu_ml: cupy.ndarray,
    insulin_action_per_min: cupy.ndarray,
    gut1_mg: cupy.ndarray,
    gut2_mg: cupy.ndarray,
    sleep_pressure: cupy.ndarray,
    mets: cupy.ndarray,
    cadence_spm: cupy.ndarray,
    asleep: cupy.ndarray,
    carbs_g: cupy.ndarray,
    rhr_bpm: cupy.ndarray,
    hrmax_bpm: cupy.ndarray,
    vo2max_mets: cupy.ndarray,
    sbp_rest_mmhg: cupy.ndarray,
    dbp_rest_mmhg: cupy.ndarray,
    rr_rest_brpm: cupy.ndarray,
    spo2_rest_pct: cupy.ndarray,
    weight_kg: cupy.ndarray,
    glucose_basal_mgdl: cupy.ndarray,
    insulin_basal_uu_ml: cupy.ndarray,
    insulin_sensitivity: cupy.ndarray,
    insulin_secretion: cupy.ndarray,
    circadian_phase_h: cupy.ndarray,
    energy_kcal: cupy.ndarray,
    steps: cupy.ndarray,
) -> None:
    """Advance the physiology of N twins by one tick of ``dt_s`` simulated seconds, in place, on
    the current CUDA device and stream (asynchronous, like any CuPy launch).

    Same arguments, dtypes and units as ``kernels.numba.physiology.step_physiology``, every array
    a C-contiguous ``(N,)`` CuPy array: state and accumulators ``(N,) float64``; ``mets``,
    ``cadence_spm``, ``carbs_g`` ``(N,) float32``; ``asleep`` ``(N,) bool``; parameters
    ``(N,) float32`` or ``float64``. The kernel is transpiled and compiled on the first call for
    each set of dtypes (CuPy caches it on disk), then launched once per call.
    """
    n = hr_bpm.size
    if n == 0:
        return
    blocks = (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    step_kernel(
        (blocks,),
        (THREADS_PER_BLOCK,),
        (
            float(dt_s), physiology.tick_midpoint_h(float(clock_h), float(dt_s)),
            hr_bpm, sbp_mmhg, dbp_mmhg, rr_brpm, spo2_pct, core_temp_c,
            glucose_mgdl, insulin_uu_ml, insulin_action_per_min, gut1_mg, gut2_mg, sleep_pressure,
            mets, cadence_spm, asleep, carbs_g,
            rhr_bpm, hrmax_bpm, vo2max_mets, sbp_rest_mmhg, dbp_rest_mmhg, rr_rest_brpm,
            spo2_rest_pct, weight_kg, glucose_basal_mgdl, insulin_basal_uu_ml,
            insulin_sensitivity, insulin_secretion, circadian_phase_h,
            energy_kcal, steps,
        ),
    )  # fmt: skip
