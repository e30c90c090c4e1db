"""Daily health aggregates, accumulated over twins in one pass (parallel, or serial for a block).

Per twin and tick: seconds in the current time-use category, time integrals (value x dt) of the
vitals, daily maxima, heart rate at settled seated rest, and sleep bouts (a bout is credited to
the day it ends on, as the longest bout of that day). Pure function of arrays; nothing from the
engine is imported.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import njit, prange

__all__ = ["accumulate_day", "accumulate_day_serial"]


def _compile(parallel: bool) -> Callable[..., None]:
    """``accumulate_day`` over ``prange`` threads or, ``parallel`` False, on the calling thread
    (for a block of a few thousand twins: a parallel region costs more than it saves, and on a
    loaded machine waits for a descheduled worker). A closure over ``parallel``, which keys
    numba's cache, so the two builds never load each other's machine code."""

    @njit(parallel=parallel, cache=True, nogil=True)
    def accumulate(
        dt_s: float, t_s: float, activity: np.ndarray, category_of_activity: np.ndarray,
        sleep_activity: int, activity_start_s: np.ndarray, mets: np.ndarray,
        rest_max_mets: float, settle_s: float, values: tuple, sums: tuple, hr_bpm: np.ndarray,
        glucose_mgdl: np.ndarray, category_s: np.ndarray, covered_s: np.ndarray,
        hr_max: np.ndarray, glucose_max: np.ndarray, rest_hr_sum: np.ndarray,
        rest_s: np.ndarray, main_sleep_s: np.ndarray, sleep_bout_s: np.ndarray,
    ) -> None:  # fmt: skip
        """Add one tick of ``dt_s`` seconds, starting at sim time ``t_s``, to today's aggregates.

        Args:
            activity: ``(N,) uint8`` activity code; ``category_of_activity`` ``(A,) int64``
                maps it to a column of ``category_s`` ``(N, C) float64``.
            sleep_activity: the activity code of sleep.
            activity_start_s: ``(N,) float64`` when the current activity began (sim s).
            mets: ``(N,) float32``; rest is awake, ``mets <= rest_max_mets``, ``settle_s`` into it.
            values, sums: tuples of K ``(N,) float64`` vitals and their ``value x s`` integrals.
            hr_bpm, glucose_mgdl: ``(N,) float64`` for the daily maxima ``hr_max``, ``glucose_max``
                ``(N,) float32``.
            covered_s, rest_hr_sum, rest_s, main_sleep_s, sleep_bout_s: ``(N,) float64``.
        """
        parallel  # noqa: B018  (the closure cell that keys numba's cache)
        for n in prange(activity.shape[0]):
            act = activity[n]
            category_s[n, category_of_activity[act]] += dt_s
            covered_s[n] += dt_s
            for k in range(len(values)):
                sums[k][n] += values[k][n] * dt_s
            hr_max[n] = max(hr_max[n], hr_bpm[n])
            glucose_max[n] = max(glucose_max[n], glucose_mgdl[n])
            asleep = act == sleep_activity
            if asleep:
                sleep_bout_s[n] += dt_s
                continue
            if sleep_bout_s[n] > 0.0:
                main_sleep_s[n] = max(main_sleep_s[n], sleep_bout_s[n])
                sleep_bout_s[n] = 0.0
            if mets[n] <= rest_max_mets and t_s - activity_start_s[n] >= settle_s:
                rest_hr_sum[n] += hr_bpm[n] * dt_s
                rest_s[n] += dt_s

    return accumulate


accumulate_day, accumulate_day_serial = _compile(True), _compile(False)
"""``accumulate_day(dt_s, t_s, activity, ...)``: see ``accumulate`` in ``_compile``;
``accumulate_day_serial`` the same on the calling thread alone."""
