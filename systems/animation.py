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

__all__ = ["AnimationSystem", "clip_of"]

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


def clip_of(activity: np.ndarray, trip_mode: np.ndarray, work_mets: np.ndarray) -> np.ndarray:
    """``(N,) uint8`` clip for each twin: by activity, by mode while travelling, and standing
    rather than desk work for physical jobs (above 2 MET)."""
    clip = CLIP_OF_ACTIVITY[activity]
    moving = activity == Activity.TRAVEL
    clip[moving] = CLIP_OF_MODE[trip_mode[moving]]
    clip[(activity == Activity.WORK) & (work_mets > DESK_JOB_MAX_METS)] = C["stand"]
    return clip


class AnimationSystem(System):
    """Clip, phase and cross-fade weight of every twin."""

    phase = Phase.ANIMATION
    reads = ("activity", "trip_mode", "work_mets", "speed_mps")
    reads_previous = ("cadence_spm",)
    writes = ("clip", "previous_clip", "clip_phase", "clip_blend")

    def __init__(self, world: World, every: int = 1) -> None:
        super().__init__(every)
        self.world = world
        self.library = world.resource(ClipLibrary)

    def run(self, tick: Tick) -> None:
        w = self.world
        if w.n == 0:
            return
        clip = clip_of(w["activity"], w["trip_mode"], w["work_mets"])
        switched = clip != w["clip"]
        w["previous_clip"][switched] = w["clip"][switched]
        w["clip"][:] = clip
        w["clip_blend"][switched] = 0.0
        blend = w["clip_blend"]
        np.minimum(blend + tick.dt_s / CROSSFADE_S, 1.0, out=blend)
        stride = self.library.stride_m[clip]
        travelling = GAIT[clip] & (w["speed_mps"] > 0) & (stride > 0)
        stepping = w["cadence_spm"] / (60.0 * STEPS_PER_LOOP)
        cycles_per_s = np.where(GAIT[clip], stepping, 1.0 / self.library.period_s[clip])
        cycles_per_s[travelling] = w["speed_mps"][travelling] / stride[travelling]
        phase = w["clip_phase"]
        np.mod(phase + cycles_per_s * tick.dt_s, 1.0, out=phase)
