"""Locomotion: moves travelling twins along their trip and parks the others at their place.

Trips follow the street grid: first along x (east-west), then along y, at a constant ground speed
that covers the door-to-door distance in the trip's time (``kernels.travel``). Heading is the
direction of motion (0 = east, pi/2 = north).
"""

from __future__ import annotations

import numpy as np

from components.activity import Activity
from engine.schedule import Phase, System, Tick
from engine.synth.town import Town
from engine.world import World

__all__ = ["LocomotionSystem", "grid_path_position"]


def grid_path_position(
    frm: np.ndarray, to: np.ndarray, fraction: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Point ``fraction`` of the way along an x-then-y grid path.

    Args:
        frm, to: ``(M, 2) float32`` trip ends in metres.
        fraction: ``(M,)`` in [0, 1].

    Returns:
        position ``(M, 2) float32`` and heading ``(M,) float32`` in radians.
    """
    delta = to - frm
    legs = np.abs(delta)
    covered = fraction * legs.sum(axis=1)
    on_x = covered < legs[:, 0]
    along_x = np.minimum(covered, legs[:, 0])
    along_y = np.clip(covered - legs[:, 0], 0.0, legs[:, 1])
    position = frm + np.sign(delta) * np.stack([along_x, along_y], axis=1)
    heading = np.where(
        on_x,
        np.where(delta[:, 0] >= 0, 0.0, np.pi),
        np.where(delta[:, 1] >= 0, np.pi / 2, -np.pi / 2),
    )
    return position.astype(np.float32), heading.astype(np.float32)


class LocomotionSystem(System):
    """Positions at the end of the tick: along the trip for travellers, at the place otherwise."""

    phase = Phase.LOCOMOTION
    reads = ("activity", "activity_start_s", "activity_end_s", "trip_from_m", "trip_to_m", "place")
    writes = ("position_m", "heading_rad", "speed_mps")

    def __init__(self, world: World, every: int = 1) -> None:
        super().__init__(every)
        self.world = world
        self.town = world.resource(Town)

    def run(self, tick: Tick) -> None:
        w = self.world
        if w.n == 0:
            return
        moving = w["activity"] == Activity.TRAVEL
        rows = np.flatnonzero(moving)
        still = np.flatnonzero(~moving)
        w["position_m"][still] = self.town.xy_m[w["place"][still]]
        w["speed_mps"][still] = 0.0
        if rows.size == 0:
            return
        start, end = w["activity_start_s"][rows], w["activity_end_s"][rows]
        duration = np.maximum(end - start, 1e-6)
        fraction = np.clip((tick.t_s + tick.dt_s - start) / duration, 0.0, 1.0)
        frm, to = w["trip_from_m"][rows], w["trip_to_m"][rows]
        position, heading = grid_path_position(frm, to, fraction)
        w["position_m"][rows] = position
        w["heading_rad"][rows] = heading
        w["speed_mps"][rows] = np.abs(to - frm).sum(axis=1) / duration
