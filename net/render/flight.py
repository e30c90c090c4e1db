"""Follow's flight: the camera glides from where it is to a followed twin and down towards it,
instead of jumping there.

Pattern: a *camera tween* with smoothstep easing (ease in, ease out): over ``FLIGHT_S`` the target
blends from the flight's start to the twin's current position (the twin may walk meanwhile, so the
flight ends exactly on it), and the distance blends geometrically (zooming feels even) down to
``FOLLOW_DISTANCE_M`` when it started farther. Orbit and field of view stay the viewer's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from synthtwin.net.render.camera import Camera

__all__ = ["FLIGHT_S", "FOLLOW_DISTANCE_M", "Flight"]

FLIGHT_S = 1.0
"""Seconds (wall) from the start of a flight to its arrival."""
FOLLOW_DISTANCE_M = 40.0
"""A flight ends at most this far from the twin: close enough to see it walk."""


@dataclass(frozen=True)
class Flight:
    """A flight that started at ``start`` (the camera then) at ``started_s`` (monotonic s)."""

    start: Camera
    started_s: float

    def progress(self, now_s: float) -> float:
        """The eased share of the flight done at ``now_s``, 0..1 (smoothstep)."""
        s = min(max((now_s - self.started_s) / FLIGHT_S, 0.0), 1.0)
        return s * s * (3.0 - 2.0 * s)

    def done(self, now_s: float) -> bool:
        return now_s - self.started_s >= FLIGHT_S

    def camera(self, current: Camera, now_s: float, target_m: np.ndarray) -> Camera:
        """``current`` (its orbit and field of view kept) placed where the flight is at ``now_s``,
        on its way to the twin now at ``target_m`` (x, y m)."""
        e = self.progress(now_s)
        end_m = min(self.start.distance_m, FOLLOW_DISTANCE_M)
        return dataclasses.replace(
            current,
            x=self.start.x + (float(target_m[0]) - self.start.x) * e,
            y=self.start.y + (float(target_m[1]) - self.start.y) * e,
            distance_m=self.start.distance_m * (end_m / self.start.distance_m) ** e,
        )
