"""Physiology on the CPU: the scalar equations of ``kernels/physiology.py`` compiled by numba, and
the per-tick driver that advances every twin's vital signs in place.

Pattern: per-element kernel. ``step_physiology`` updates each twin independently (``prange`` over
twins, no reductions), so its results are bit-identical from run to run whatever the thread
count. Each array argument is ``(N,)``: state and accumulators float64 (written in place), inputs
float32 (``asleep`` bool), parameters float32 or float64. The equations are not restated here:
the loop body is ``kernels.physiology.step_twin``, one twin's whole tick, compiled with
``njit(inline="always")`` and written back to the columns; the equations it (and the RK4 step)
calls by plain name are made callable from compiled code with ``register_jitable``.

Caching: numba keys a cached kernel on the source of the file that defines it, never on the files
of the functions it inlines, so an edit of ``kernels/physiology.py`` alone would reload stale
machine code. The kernels are therefore built by ``_compile`` as closures over the SHA-256 of
``kernels/physiology.py``: numba's cache key includes closure contents, so editing an equation
recompiles them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numba import njit, prange
from numba.extending import register_jitable
from numpy.typing import DTypeLike

from synthtwin.kernels import physiology
from synthtwin.kernels.physiology import (
    ACCUMULATOR_COLUMNS,
    INPUT_COLUMNS,
    PARAM_COLUMNS,
    STATE_COLUMNS,
)

__all__ = [
    "ACCUMULATOR_COLUMNS",
    "INPUT_COLUMNS",
    "PARAM_COLUMNS",
    "STATE_COLUMNS",
    "sleep_thresholds",
    "step_physiology",
    "warmup",
]

_device = njit(cache=True, inline="always")

# ``step_twin`` and the RK4 step call these by their plain names: make them resolvable in
# compiled code, inlined like ``_device`` functions.
for _equation in (
    physiology.relax,
    physiology.intensity_fraction,
    physiology.hr_target_bpm,
    physiology.blood_pressure_targets_mmhg,
    physiology.rr_target_brpm,
    physiology.spo2_target_pct,
    physiology.core_temp_target_c,
    physiology.minimal_model_rates,
    physiology.glucose_insulin_step,
    physiology.process_s,
    physiology.energy_kcal,
    physiology.steps_taken,
):
    register_jitable(inline="always")(_equation)
del _equation

_tick_midpoint_h = _device(physiology.tick_midpoint_h)
_step_twin = _device(physiology.step_twin)
_process_c = _device(physiology.process_c)
_sleep_thresholds = _device(physiology.sleep_thresholds)


_EQUATIONS_SHA256 = hashlib.sha256(Path(physiology.__file__).read_bytes()).hexdigest()


def _compile(equations_sha256: str) -> tuple[Callable[..., None], Callable[..., None]]:
    """The (step, sleep-thresholds) kernels, closures over the digest of the equations' source."""

    @njit(parallel=True, cache=True, nogil=True)
    def step_kernel(
        dt_s, clock_h,
        hr_bpm, sbp_mmhg, dbp_mmhg, rr_brpm, spo2_pct, core_temp_c,
        glucose_mgdl, insulin_uu_ml, insulin_action_per_min, gut1_mg, gut2_mg, sleep_pressure,
        mets, cadence_spm, asleep, carbs_g,
        rhr_bpm, hrmax_bpm, vo2max_mets, sbp_rest_mmhg, dbp_rest_mmhg, rr_rest_brpm, spo2_rest_pct,
        weight_kg, glucose_basal_mgdl, insulin_basal_uu_ml, insulin_sensitivity, insulin_secretion,
        circadian_phase_h,
        energy_kcal, steps,
    ):  # fmt: skip
        """The parallel loop of ``step_physiology``; same arguments."""
        equations_sha256  # noqa: B018  (the closure cell that keys numba's cache)
        clock_mid_h = _tick_midpoint_h(clock_h, dt_s)
        # By keyword: Python compiles a call of more than 30 positional arguments to a *args
        # call, which numba cannot inline; with keywords numba rewrites it to a plain call.
        for n in prange(hr_bpm.shape[0]):
            (
                hr_bpm[n], sbp_mmhg[n], dbp_mmhg[n], rr_brpm[n], spo2_pct[n], core_temp_c[n],
                glucose_mgdl[n], insulin_uu_ml[n], insulin_action_per_min[n], gut1_mg[n],
                gut2_mg[n], sleep_pressure[n], energy_step_kcal, steps_step,
            ) = _step_twin(
                dt_s=dt_s, clock_mid_h=clock_mid_h,
                hr_bpm=hr_bpm[n], sbp_mmhg=sbp_mmhg[n], dbp_mmhg=dbp_mmhg[n],
                rr_brpm=rr_brpm[n], spo2_pct=spo2_pct[n], core_temp_c=core_temp_c[n],
                glucose_mgdl=glucose_mgdl[n], insulin_uu_ml=insulin_uu_ml[n],
                insulin_action_per_min=insulin_action_per_min[n],
                gut1_mg=gut1_mg[n], gut2_mg=gut2_mg[n], sleep_pressure=sleep_pressure[n],
                mets=mets[n], cadence_spm=cadence_spm[n], asleep=asleep[n], carbs_g=carbs_g[n],
                rhr_bpm=rhr_bpm[n], hrmax_bpm=hrmax_bpm[n], vo2max_mets=vo2max_mets[n],
                sbp_rest_mmhg=sbp_rest_mmhg[n], dbp_rest_mmhg=dbp_rest_mmhg[n],
                rr_rest_brpm=rr_rest_brpm[n], spo2_rest_pct=spo2_rest_pct[n],
                weight_kg=weight_kg[n], glucose_basal_mgdl=glucose_basal_mgdl[n],
                insulin_basal_uu_ml=insulin_basal_uu_ml[n],
                insulin_sensitivity=insulin_sensitivity[n],
                insulin_secretion=insulin_secretion[n], circadian_phase_h=circadian_phase_h[n],
            )  # fmt: skip
            energy_kcal[n] += energy_step_kcal
            steps[n] += steps_step

    @njit(cache=True, nogil=True)
    def thresholds_kernel(
        clock_h: float, circadian_phase_h: np.ndarray, out_upper: np.ndarray, out_lower: np.ndarray
    ) -> None:
        """Process S thresholds of N twins at ``clock_h``, into ``out_upper`` and ``out_lower``.

        ``circadian_phase_h`` ``(N,) float32``; outputs ``(N,) float64``. An awake twin falls
        asleep once its sleep pressure reaches the upper threshold and wakes once it decays to
        the lower one (two-process model, see ``kernels.physiology.sleep_thresholds``).
        """
        for n in range(circadian_phase_h.shape[0]):
            upper, lower = _sleep_thresholds(_process_c(clock_h, circadian_phase_h[n]))
            out_upper[n] = upper
            out_lower[n] = lower

    return step_kernel, thresholds_kernel


_step_physiology_kernel, sleep_thresholds = _compile(_EQUATIONS_SHA256)
"""``sleep_thresholds(clock_h, circadian_phase_h, out_upper, out_lower)``: njit, callable from
Python and from other numba kernels; see ``thresholds_kernel`` in ``_compile``."""


def step_physiology(
    dt_s: float,
    clock_h: float,
    hr_bpm: np.ndarray,
    sbp_mmhg: np.ndarray,
    dbp_mmhg: np.ndarray,
    rr_brpm: np.ndarray,
    spo2_pct: np.ndarray,
    core_temp_c: np.ndarray,
    glucose_mgdl: np.ndarray,
    insulin_uu_ml: np.ndarray,
    insulin_action_per_min: np.ndarray,
    gut1_mg: np.ndarray,
    gut2_mg: np.ndarray,
    sleep_pressure: np.ndarray,
    mets: np.ndarray,
    cadence_spm: np.ndarray,
    asleep: np.ndarray,
    carbs_g: np.ndarray,
    rhr_bpm: np.ndarray,
    hrmax_bpm: np.ndarray,
    vo2max_mets: np.ndarray,
    sbp_rest_mmhg: np.ndarray,
    dbp_rest_mmhg: np.ndarray,
    rr_rest_brpm: np.ndarray,
    spo2_rest_pct: np.ndarray,
    weight_kg: np.ndarray,
    glucose_basal_mgdl: np.ndarray,
    insulin_basal_uu_ml: np.ndarray,
    insulin_sensitivity: np.ndarray,
    insulin_secretion: np.ndarray,
    circadian_phase_h: np.ndarray,
    energy_kcal: np.ndarray,
    steps: np.ndarray,
) -> None:
    """Advance the physiology of N twins by one tick of ``dt_s`` simulated seconds, in place.

    Reads inputs and parameters; writes state; adds to accumulators. All arrays are ``(N,)``.

    Args:
        dt_s: simulated seconds this tick, from 1/30 s (realtime) to 600 s (headless).
        clock_h: local hour of day at the tick's start, ``0 <= clock_h < 24``.
        hr_bpm, sbp_mmhg, dbp_mmhg, rr_brpm, spo2_pct, core_temp_c: vital signs,
            ``(N,) float64`` (beats/min, mmHg, mmHg, breaths/min, %, deg C).
        glucose_mgdl, insulin_uu_ml, insulin_action_per_min, gut1_mg, gut2_mg: minimal-model
            state G (mg/dL), I (uU/mL), X (1/min) and gut carbohydrate q1, q2 (mg),
            ``(N,) float64``.
        sleep_pressure: Process S in [0, 1], ``(N,) float64``.
        mets: metabolic equivalent of the current activity, ``(N,) float32``.
        cadence_spm: steps per minute now, ``(N,) float32``.
        asleep: whether the twin sleeps this tick, ``(N,) bool``.
        carbs_g: carbohydrate eaten at the tick's start (g), ``(N,) float32``.
        rhr_bpm, hrmax_bpm, vo2max_mets, sbp_rest_mmhg, dbp_rest_mmhg, rr_rest_brpm,
            spo2_rest_pct, weight_kg, glucose_basal_mgdl, insulin_basal_uu_ml: per-twin
            parameters, ``(N,) float32`` or ``float64``.
        insulin_sensitivity: multiplier on the minimal model's p3 (1 healthy, ~0.3 type 2).
        insulin_secretion: multiplier on the pancreatic gain gamma (1 healthy, ~0.4 type 2).
        circadian_phase_h: chronotype shift of the circadian clock in hours (+ = later).
        energy_kcal: energy spent (kcal), ``(N,) float64``; this tick's amount is added.
        steps: steps taken, ``(N,) float64``; this tick's amount is added.
    """
    _step_physiology_kernel(
        dt_s, clock_h,
        hr_bpm, sbp_mmhg, dbp_mmhg, rr_brpm, spo2_pct, core_temp_c,
        glucose_mgdl, insulin_uu_ml, insulin_action_per_min, gut1_mg, gut2_mg, sleep_pressure,
        mets, cadence_spm, asleep, carbs_g,
        rhr_bpm, hrmax_bpm, vo2max_mets, sbp_rest_mmhg, dbp_rest_mmhg, rr_rest_brpm, spo2_rest_pct,
        weight_kg, glucose_basal_mgdl, insulin_basal_uu_ml, insulin_sensitivity, insulin_secretion,
        circadian_phase_h,
        energy_kcal, steps,
    )  # fmt: skip


def warmup(param_dtype: DTypeLike = np.float32) -> None:
    """Compile (or load from cache) both kernels for the column dtypes, on two-twin arrays.

    ``param_dtype`` is the dtype of the parameter columns the engine will pass.
    """
    n = 2
    state = [np.ones(n, np.float64) for _ in STATE_COLUMNS]
    inputs = [
        np.ones(n, np.float32),
        np.zeros(n, np.float32),
        np.zeros(n, np.bool_),
        np.zeros(n, np.float32),
    ]
    params = [np.full(n, 2.0, param_dtype) for _ in PARAM_COLUMNS]
    accumulators = [np.zeros(n, np.float64) for _ in ACCUMULATOR_COLUMNS]
    step_physiology(1.0, 12.0, *state, *inputs, *params, *accumulators)
    upper, lower = np.empty(n, np.float64), np.empty(n, np.float64)
    sleep_thresholds(12.0, params[PARAM_COLUMNS.index("circadian_phase_h")], upper, lower)
