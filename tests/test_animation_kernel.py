"""The fused animation kernel against the vectorised numpy formulation it replaced: bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from synthtwin.components.activity import Activity
from synthtwin.components.pose import CLIPS
from synthtwin.kernels.numba.animation import advance_clips
from synthtwin.systems.animation import (
    CLIP_OF_ACTIVITY,
    CLIP_OF_MODE,
    CROSSFADE_S,
    DESK_JOB_MAX_METS,
    GAIT,
    STEPS_PER_LOOP,
    AnimationSystem,
    C,
    clip_rules,
)

N = 20_000
_ORDER = (*AnimationSystem.reads, *AnimationSystem.reads_previous, *AnimationSystem.writes)
"""The kernel's column arguments, in order."""


def _numpy_step(cols: dict[str, np.ndarray], stride_m, period_s, dt_s: float) -> None:
    """The animation system's tick as numpy passes (its formulation before the fused kernel)."""
    activity, trip_mode = cols["activity"], cols["trip_mode"]
    clip = CLIP_OF_ACTIVITY[activity]
    moving = activity == Activity.TRAVEL
    clip[moving] = CLIP_OF_MODE[trip_mode[moving]]
    clip[(activity == Activity.WORK) & (cols["work_mets"] > DESK_JOB_MAX_METS)] = C["stand"]
    switched = clip != cols["clip"]
    cols["previous_clip"][switched] = cols["clip"][switched]
    cols["clip"][:] = clip
    cols["clip_blend"][switched] = 0.0
    blend = cols["clip_blend"]
    np.minimum(blend + dt_s / CROSSFADE_S, 1.0, out=blend)
    stride = stride_m[clip]
    travelling = GAIT[clip] & (cols["speed_mps"] > 0) & (stride > 0)
    stepping = cols["cadence_spm"] / (60.0 * STEPS_PER_LOOP)
    cycles_per_s = np.where(GAIT[clip], stepping, 1.0 / period_s[clip])
    cycles_per_s[travelling] = cols["speed_mps"][travelling] / stride[travelling]
    phase = cols["clip_phase"]
    np.mod(phase + cycles_per_s * dt_s, 1.0, out=phase)


def _columns(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random animation inputs and state of N twins: every activity and mode, some at rest."""
    f32 = np.float32
    return {
        "activity": rng.integers(0, len(Activity), N).astype(np.uint8),
        "trip_mode": rng.integers(0, len(CLIP_OF_MODE), N).astype(np.uint8),
        "work_mets": rng.uniform(1.0, 4.0, N).astype(f32),
        "speed_mps": np.where(rng.random(N) < 0.3, 0.0, rng.uniform(0, 12, N)).astype(f32),
        "cadence_spm": rng.uniform(0, 170, N).astype(f32),
        "clip": rng.integers(0, len(CLIPS), N).astype(np.uint8),
        "previous_clip": rng.integers(0, len(CLIPS), N).astype(np.uint8),
        "clip_phase": rng.random(N).astype(f32),
        "clip_blend": np.where(rng.random(N) < 0.5, 1.0, rng.random(N)).astype(f32),
    }


@pytest.mark.parametrize("dt_s", [1 / 30, 0.1, 2.0, 60.0])
def test_fused_kernel_matches_the_numpy_passes_bit_for_bit(dt_s) -> None:
    rng = np.random.default_rng(7)
    stride_m = np.where(GAIT, rng.uniform(0.5, 3.0, len(CLIPS)), 0.0).astype(np.float32)
    stride_m[C["cycle"]] = 0.0  # a gait without a stride steps at the cadence while moving
    period_s = rng.uniform(0.8, 6.0, len(CLIPS)).astype(np.float32)
    expected = _columns(rng)
    got = {name: column.copy() for name, column in expected.items()}
    rules = clip_rules(stride_m, period_s)
    for _ in range(3):  # the second and third ticks start from fades and phases under way
        _numpy_step(expected, stride_m, period_s, dt_s)
        advance_clips(rules, dt_s, *(got[name] for name in _ORDER))
        expected["activity"] = rng.permutation(expected["activity"])
        got["activity"] = expected["activity"].copy()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name, strict=True)
    assert ((got["clip_phase"] >= 0) & (got["clip_phase"] < 1)).all()
