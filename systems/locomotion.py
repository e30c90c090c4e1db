"""Locomotion: moves travelling twins along their trip and parks the others at their place.

Trips follow the street grid: first along x (east-west), then along y, at a constant ground speed
that covers the door-to-door distance in the trip's time (``kernels.numba.locomotion``).
"""

from __future__ import annotations

import numpy as np

from synthtwin.components.activity import Activity
from synthtwin.components.town import Town
from synthtwin.engine.schedule import Phase, System, Tick
from synthtwin.engine.world import World
from synthtwin.kernels.numba.locomotion import move_along_grid

__all__ = ["LocomotionSystem"]


class LocomotionSystem(System):
    """Positions at the end of the tick: along the trip for travellers, at the place for twins
    whose activity began this tick or who still move after their trip ended (behaviour on a
    divisor starts a window's activities at its first tick's time); everyone else has not
    moved."""

    phase = Phase.LOCOMOTION
    reads = ("activity", "activity_start_s", "activity_end_s", "trip_from_m", "trip_to_m", "place")
    writes = ("position_m", "heading_rad", "speed_mps")

    def __init__(self, world: World, every: int = 1) -> None:
        super().__init__(every)
        self.world = world
        self.town = world.resource(Town)

    def warmup(self) -> None:
        self._move(np.zeros(0, dtype=np.int64), 0.0)

    def _move(self, rows: np.ndarray, t_s: float) -> None:
        w = self.world
        move_along_grid(
            rows, t_s, w["activity_start_s"], w["activity_end_s"],
            w["trip_from_m"], w["trip_to_m"], w["position_m"], w["heading_rad"], w["speed_mps"],
        )  # fmt: skip

    def run(self, tick: Tick) -> None:
        w = self.world
        if w.n == 0:
            return
        moving = w["activity"] == Activity.TRAVEL
        rows = np.flatnonzero(moving)
        began = (w["activity_start_s"] >= tick.t_s) | (w["speed_mps"] != 0)
        arrived = np.flatnonzero(~moving & began)
        w["position_m"][arrived] = self.town.xy_m[w["place"][arrived]]
        w["speed_mps"][arrived] = 0.0
        self._move(rows, tick.t_s + tick.dt_s)
