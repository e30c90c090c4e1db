"""Physiology on the CPU: the scalar equations of ``kernels/physiology.py`` compiled by numba, and
the per-tick driver that advances every twin's vital signs in place.

Pattern: per-element kernel. ``step_physiology`` updates each twin independently (``prange`` over
twins, no reductions), so its results are bit-identical from run to run whatever the thread
count. It takes the kernel's columns as four tuples of ``(N,)`` arrays, ``(state, inputs, params,
accumulators)``, each in the order of ``kernels.physiology.step_twin``'s parameters, which is the
order of their declaration (``components.physiology.PHYSIOLOGY_KERNEL_ARGS.by_role`` builds the
tuples): no column is named here. The equations are not restated either: the loop body loads
twin ``n``'s row of the columns (``_load_row``), runs ``step_twin``, one twin's whole tick,
compiled with ``njit(inline="always")``, and stores its returns into the state and accumulator
columns (``_store_row``); the equations it (and the RK4 step) calls by plain name are made
callable from compiled code with ``register_jitable``.

Inlining: numba inlines a call only if its arguments are spelled out, and Python compiles a call
of more than 30 positional arguments, or any ``*args`` call, to a call on a tuple, which numba
cannot inline; ``step_twin`` called out of line takes twice as long (its loop-invariant
``exp(-dt_s / tau_s)`` are no longer hoisted out of the loop). ``_step_twin_on``, the call of
``step_twin`` on a row's values by keyword, is therefore generated from ``step_twin``'s
signature. ``_load_row`` and ``_store_row`` index without negative-index wraparound, as numba
does for a ``prange`` index written in the loop body.

Caching: numba keys a cached kernel on the source of the file that defines it, never on the files
of the functions it inlines, so an edit of ``kernels/physiology.py`` alone would reload stale
machine code. The kernels are therefore built by ``_compile`` as closures over the SHA-256 of
``kernels/physiology.py``: numba's cache key includes closure contents, so editing an equation
(or ``step_twin``'s signature, from which ``_step_twin_on`` is made) recompiles them.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, register_jitable
from numba.np.arrayobj import load_item, store_item

from synthtwin.kernels import physiology

__all__ = ["day_variation", "sleep_thresholds", "step_physiology"]

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
    physiology.energy_spent_kcal,
    physiology.steps_taken,
    physiology.mix31,
    physiology.random_bits,
    physiology.approx_normal,
    physiology.normal_pair,
    physiology.ou_step,
    physiology.resting_hr_now_bpm,
    physiology.uniform,
    physiology.excursion_effects,
):
    register_jitable(inline="always")(_equation)
del _equation

_tick_midpoint_h = _device(physiology.tick_midpoint_h)
_process_c = _device(physiology.process_c)
_sleep_thresholds = _device(physiology.sleep_thresholds)
_day_variation = _device(physiology.day_variation)
_wander_amplitudes = _device(physiology.wander_amplitudes)


def _spread_call(func: Callable[..., Any], fixed: int) -> Callable[..., Any]:
    """``call(<func's first fixed arguments>, values)``: ``func`` called with those arguments and
    then the items of the tuple ``values``, every one by keyword (see the module note), compiled
    inline like ``_device`` functions."""
    names = tuple(inspect.signature(func).parameters)
    keywords = [f"{name}={name}" for name in names[:fixed]]
    keywords += [f"{name}=values[{k}]" for k, name in enumerate(names[fixed:])]
    source = f"def call({', '.join(names[:fixed])}, values):\n"
    source += f"    return func({', '.join(keywords)})\n"
    namespace = {"func": _device(func)}
    exec(compile(source, f"<spread call of {func.__qualname__}>", "exec"), namespace)
    return njit(inline="always")(namespace["call"])  # no file to cache by: inlined anyway


_step_twin_on = _spread_call(physiology.step_twin, fixed=2)
"""``_step_twin_on(dt_s, clock_mid_h, values)``: ``step_twin`` on one twin's column values."""


def _item_pointers(
    context: Any, builder: Any, signature: Any, columns: Any, n: Any
) -> Iterator[tuple[int, types.Array, Any]]:
    """``(k, type, pointer to element n)`` of each array ``k`` of the tuple ``columns``, the
    first two arguments of ``signature``. ``n`` is a loop index in ``[0, N)``: no negative-index
    wraparound, as numba does for a ``prange`` index."""
    columns_type, n_type = signature.args[:2]
    index = context.cast(builder, n, n_type, types.intp)
    for k, array_type in enumerate(columns_type):
        array = context.make_array(array_type)(context, builder, builder.extract_value(columns, k))
        yield k, array_type, cgutils.get_item_pointer(context, builder, array_type, array, [index])


def _are_columns(columns: types.Type) -> bool:
    """Whether ``columns`` is a tuple of 1-D arrays."""
    return isinstance(columns, types.BaseTuple) and all(
        isinstance(column, types.Array) and column.ndim == 1 for column in columns
    )


@intrinsic
def _load_row(typingctx: Any, columns: types.Type, n: types.Type) -> Any:
    """``(columns[0][n], columns[1][n], ...)``: row ``n`` of a tuple of ``(N,)`` arrays."""
    if not _are_columns(columns) or not isinstance(n, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        items = _item_pointers(context, builder, signature, *args)
        values = [load_item(context, builder, array_type, ptr) for _, array_type, ptr in items]
        return context.make_tuple(builder, signature.return_type, values)

    return types.Tuple([column.dtype for column in columns])(columns, n), codegen


@intrinsic
def _store_row(typingctx: Any, columns: types.Type, n: types.Type, values: types.Type) -> Any:
    """``columns[k][n] = values[k]`` for each array ``k`` of a tuple of ``(N,)`` arrays."""
    if not _are_columns(columns) or not isinstance(n, types.Integer):
        return None
    if not isinstance(values, types.BaseTuple) or len(values) != len(columns):
        return None

    def codegen(context, builder, signature, args):
        columns, n, values = args
        for k, array_type, ptr in _item_pointers(context, builder, signature, columns, n):
            value = builder.extract_value(values, k)
            value = context.cast(builder, value, signature.args[2][k], array_type.dtype)
            store_item(context, builder, array_type, value, ptr)
        return context.get_dummy_value()

    return types.void(columns, n, values), codegen


_EQUATIONS_SHA256 = hashlib.sha256(Path(physiology.__file__).read_bytes()).hexdigest()


def _compile(equations_sha256: str) -> tuple[Callable[..., None], Callable[..., None]]:
    """The (step, sleep-thresholds, day-variation) kernels, closures over the digest of the
    equations' source."""

    @njit(parallel=True, cache=True, nogil=True)
    def step_kernel(dt_s, clock_h, state, inputs, params, accumulators):
        """The parallel loop of ``step_physiology``; same arguments."""
        equations_sha256  # noqa: B018  (the closure cell that keys numba's cache)
        clock_mid_h = _tick_midpoint_h(clock_h, dt_s)
        columns = state + inputs + params + accumulators
        written = state + accumulators
        for n in prange(state[0].shape[0]):
            _store_row(written, n, _step_twin_on(dt_s, clock_mid_h, _load_row(columns, n)))

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

    @njit(parallel=True, cache=True, nogil=True)
    def day_kernel(
        day_index: int,
        day_of_year: int,
        weekday: int,
        variation_key: np.ndarray,
        age_y: np.ndarray,
        rhr_offset_bpm: np.ndarray,
        bp_offset_mmhg: np.ndarray,
        activity_factor: np.ndarray,
        hr_noise_cv: np.ndarray,
        sbp_noise_mmhg: np.ndarray,
    ) -> None:
        """Each twin's condition on one day: ``kernels.physiology.day_variation`` and
        ``wander_amplitudes``.

        ``variation_key`` ``(N,) float64``, ``age_y`` ``(N,) float32``; written, ``(N,)`` each:
        resting-HR offset (bpm), SBP offset (mmHg), activity factor, HR wander CV, SBP wander SD
        (mmHg). (Separate arrays, not a tuple: numba's parallel loops lose writes to arrays
        unpacked from a tuple argument.)
        """
        equations_sha256  # noqa: B018  (keys numba's cache, as in step_kernel)
        for n in prange(variation_key.shape[0]):
            rhr, sbp, activity = _day_variation(
                variation_key[n], float(day_index), float(day_of_year), weekday
            )
            hr_cv, sbp_sd = _wander_amplitudes(float(age_y[n]))
            rhr_offset_bpm[n] = rhr
            bp_offset_mmhg[n] = sbp
            activity_factor[n] = activity
            hr_noise_cv[n] = hr_cv
            sbp_noise_mmhg[n] = sbp_sd

    return step_kernel, thresholds_kernel, day_kernel


_step_physiology_kernel, sleep_thresholds, day_variation = _compile(_EQUATIONS_SHA256)
"""``sleep_thresholds(clock_h, circadian_phase_h, out_upper, out_lower)``: njit, callable from
Python and from other numba kernels; see ``thresholds_kernel`` in ``_compile``.
``day_variation(day_index, day_of_year, weekday, variation_key, age_y, *outputs)``: see
``day_kernel`` there."""


def step_physiology(
    dt_s: float,
    clock_h: float,
    state: tuple[np.ndarray, ...],
    inputs: tuple[np.ndarray, ...],
    params: tuple[np.ndarray, ...],
    accumulators: tuple[np.ndarray, ...],
) -> None:
    """Advance the physiology of N twins by one tick of ``dt_s`` simulated seconds, in place.

    Reads inputs and parameters; writes state; adds to accumulators. Each tuple holds ``(N,)``
    arrays in ``kernels.physiology.step_twin``'s parameter order (names, units and meanings
    there); ``PHYSIOLOGY_KERNEL_ARGS.by_role(columns)`` makes the four tuples from columns by name.

    Args:
        dt_s: simulated seconds this tick, from 1/30 s (realtime) to 600 s (headless).
        clock_h: local hour of day at the tick's start, ``0 <= clock_h < 24``.
        state: vital signs, minimal-model state and sleep pressure, ``(N,) float64`` each,
            overwritten.
        inputs: this tick's exertion, ``(N,) float32`` each, and whether each twin sleeps,
            ``(N,) bool``.
        params: per-twin parameters, ``(N,) float32`` or ``float64`` each.
        accumulators: energy spent and steps taken, ``(N,) float64`` each; this tick's amounts
            are added.
    """
    _step_physiology_kernel(dt_s, clock_h, state, inputs, params, accumulators)
