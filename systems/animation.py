"""Animation: picks each twin's clip from what it does and advances the clip's phase.

Gait clips (walk, run, cycle) advance one loop per stride while travelling (ground speed /
stride length, so the planted foot does not slide) and one loop per two steps otherwise (the
cadence is the exertion the physiology phase computed on the previous tick); other clips loop
over their own period. A clip change starts a linear cross-fade of
``CROSSFADE_S`` seconds from the previous clip (clients slerp joint rotations by ``clip_blend``).
"""

from __future__ import annotations

import numpy as np

from synthtwin.components.activity import Activity
from synthtwin.components.pose import CLIPS
from synthtwin.engine.schedule import Phase, System, Tick
from synthtwin.engine.world import World
from synthtwin.kernels.clips import ClipLibrary
from synthtwin.kernels.numba.animation import ClipRules, advance_clips

__all__ = ["AnimationSystem", "clip_rules"]

CROSSFADE_S = 0.3
STEPS_PER_LOOP = 2.0
DESK_JOB_MAX_METS = 2.0

C = {name: code for code, name in enumerate(CLIPS)}
CLIP_OF_ACTIVITY = np.full(len(Activity), C["stand"], dtype=np.uint8)
for _activity, _clip in {
    Activity.SLEEP: "lie",
    Activity.EAT: "eat",
    Activity.EAT_OUT: "eat",
    Activity.TV: "sit",
    Activity.LEISURE: "sit",
    Activity.SOCIALIZE: "sit",
    Activity.SCHOOL: "desk_work",
    Activity.EXERCISE_GYM: "exercise",
    Activity.EXERCISE_PARK: "run",
    Activity.WORK: "desk_work",
}.items():
    CLIP_OF_ACTIVITY[_activity] = C[_clip]
CLIP_OF_MODE = np.array([C["walk"], C["cycle"], C["drive"], C["sit"]], dtype=np.uint8)
"""(4,) clip of a trip by mode: walk, bike, car, bus."""
GAIT = np.isin(np.arange(len(CLIPS)), [C["walk"], C["run"], C["cycle"]])


def clip_rules(stride_m: np.ndarray, period_s: np.ndarray) -> ClipRules:
    """The rules above as the kernel's tables, with a library's ``(C,) float32`` strides (m per
    loop) and periods (s per loop)."""
    return ClipRules(
        CLIP_OF_ACTIVITY, CLIP_OF_MODE, GAIT, stride_m, period_s,
        int(Activity.TRAVEL), int(Activity.WORK), C["stand"],
        DESK_JOB_MAX_METS, STEPS_PER_LOOP, CROSSFADE_S,
    )  # fmt: skip


class AnimationSystem(System):
    """Clip, phase and cross-fade weight of every twin (one fused kernel,
    ``kernels.numba.animation``)."""

    phase = Phase.ANIMATION
    reads = ("activity", "trip_mode", "work_mets", "speed_mps")
    reads_previous = ("cadence_spm",)
    writes = ("clip", "previous_clip", "clip_phase", "clip_blend")

    def __init__(self, world: World, every: int = 1) -> None:
        super().__init__(every)
        self.world = world
        library = world.resource(ClipLibrary)
        self.rules = clip_rules(library.stride_m, library.period_s)

    def warmup(self) -> None:
        """Compile the clip kernel, and the pose sampler that the clips' readers (the
        publisher, skinning) call, for the columns' types: not in a tick."""
        self._advance(0.0, slice(0, 0))
        w = self.world
        state = (w[name][:0] for name in ("clip", "previous_clip", "clip_phase", "clip_blend"))
        w.resource(ClipLibrary).poses(*state)

    def run(self, tick: Tick) -> None:
        if self.world.n:
            self._advance(tick.dt_s, slice(None))

    def _advance(self, dt_s: float, rows: slice) -> None:
        """The kernel on ``rows``: it takes the declared columns in declaration order."""
        w = self.world
        advance_clips(
            self.rules, dt_s, *(w[name][rows] for name in (*self.reads, *self.reads_previous)),
            *(w[name][rows] for name in self.writes),
        )  # fmt: skip
