"""A crowd's animation state advanced by one tick: clip, cross-fade and phase, in one pass.

One fused loop over the twins replaces about fifteen numpy passes (gathers, masks, ``where``),
with the same float32 arithmetic in the same order, so the columns come out bit for bit as the
vectorised formulation gives them (``tests/test_animation_kernel.py`` holds the two side by side).
Serial on purpose: at about 2 ns a twin, starting a parallel region costs more than it saves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

__all__ = ["ClipRules", "advance_clips"]


@dataclass(frozen=True)
class ClipRules:
    """Which clip each twin plays, as tables the kernel indexes (the animation system's rules).

    Attributes:
        of_activity: ``(A,) uint8`` clip by activity code.
        of_mode: ``(M,) uint8`` clip of a trip by travel mode.
        gait: ``(C,) bool`` clips that step (phase follows the stride or the cadence).
        stride_m: ``(C,) float32`` metres per loop. period_s: ``(C,) float32`` seconds per loop.
        travel, work: the travel and work activity codes. stand: the standing clip's code.
        desk_job_max_mets: a working twin above this intensity (MET) stands rather than sits.
        steps_per_loop: steps in one loop of a gait clip.
        crossfade_s: seconds a cross-fade from the previous clip lasts.
    """

    of_activity: np.ndarray
    of_mode: np.ndarray
    gait: np.ndarray
    stride_m: np.ndarray
    period_s: np.ndarray
    travel: int
    work: int
    stand: int
    desk_job_max_mets: float
    steps_per_loop: float
    crossfade_s: float


def advance_clips(
    rules: ClipRules,
    dt_s: float,
    activity: np.ndarray,
    trip_mode: np.ndarray,
    work_mets: np.ndarray,
    speed_mps: np.ndarray,
    cadence_spm: np.ndarray,
    clip: np.ndarray,
    previous_clip: np.ndarray,
    clip_phase: np.ndarray,
    clip_blend: np.ndarray,
) -> None:
    """Advance N twins' animation state by ``dt_s`` simulated seconds, in place.

    Args:
        rules: the clip tables and codes.
        activity, trip_mode: ``(N,) uint8``. work_mets, speed_mps, cadence_spm: ``(N,) float32``
            (MET, m/s, steps/min).
        clip, previous_clip: ``(N,) uint8`` written: a twin whose clip changes keeps the old one
            as ``previous_clip`` and restarts its cross-fade.
        clip_phase, clip_blend: ``(N,) float32`` written: phase in [0, 1) advanced by
            speed / stride (a gait while moving), cadence / (60 x steps per loop) (a gait in
            place) or 1 / period (any other clip) loops a second; blend raised by
            ``dt_s / crossfade_s``, at most 1.
    """
    _advance(
        np.float32(dt_s), np.float32(dt_s / rules.crossfade_s),
        np.float32(60.0 * rules.steps_per_loop), np.float32(rules.desk_job_max_mets),
        rules.of_activity, rules.of_mode, rules.gait, rules.stride_m, rules.period_s,
        rules.travel, rules.work, rules.stand,
        activity, trip_mode, work_mets, speed_mps, cadence_spm,
        clip, previous_clip, clip_phase, clip_blend,
    )  # fmt: skip


@njit(cache=True, nogil=True)
def _advance(
    dt_s, fade_per_tick, spm_per_loop_per_s, desk_job_max_mets,
    of_activity, of_mode, gait, stride_m, period_s, travel, work, stand,
    activity, trip_mode, work_mets, speed_mps, cadence_spm,
    clip, previous_clip, clip_phase, clip_blend,
):  # fmt: skip
    """The loop of :func:`advance_clips`; every float is float32, as numpy computes it."""
    one = np.float32(1.0)
    for n in range(activity.shape[0]):
        if activity[n] == travel:
            c = of_mode[trip_mode[n]]
        elif activity[n] == work and work_mets[n] > desk_job_max_mets:
            c = np.uint8(stand)
        else:
            c = of_activity[activity[n]]
        if c != clip[n]:
            previous_clip[n] = clip[n]
            clip[n] = c
            clip_blend[n] = 0.0
        clip_blend[n] = min(clip_blend[n] + fade_per_tick, one)
        if not gait[c]:
            loops_per_s = one / period_s[c]
        elif speed_mps[n] > 0 and stride_m[c] > 0:
            loops_per_s = speed_mps[n] / stride_m[c]
        else:
            loops_per_s = cadence_spm[n] / spm_per_loop_per_s
        phase = clip_phase[n] + loops_per_s * dt_s
        clip_phase[n] = phase - np.floor(phase)
