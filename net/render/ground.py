"""The ground as line geometry: grid lines every 10 m, 100 m and 1 km, and a sky backdrop.

The ground itself is the framebuffer's clear colour, so it costs nothing per pixel; only the grid
lines and (near the horizon) the sky are drawn. Pattern: *level-of-detail grid*: a level of
spacing ``s`` is drawn out to the distance where its lines would be ``MIN_SPACING_PX`` apart on
screen, and fades out towards there, so the picture never fills with converging lines and a
frame's line count is bounded (about ``4 focal_px / MIN_SPACING_PX`` per level). The sky is a
vertical backdrop standing on the ground ``BACKDROP_PER_FAR`` of the far plane away, facing the
eye. Everything is relative to the camera's target (metres, x east, y north, z up).
Glossary: L line vertices (two per line).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthtwin.net.render.camera import Camera

__all__ = [
    "BACKDROP_PER_FAR",
    "GRID_SPACING_M",
    "MIN_SPACING_PX",
    "GroundLines",
    "backdrop",
    "grid_lines",
]

GRID_SPACING_M = (10.0, 100.0, 1000.0)
"""Spacing of each grid level, finest first."""
MIN_SPACING_PX = 16.0
"""A level is drawn out to where its lines are this many pixels apart."""
BACKDROP_PER_FAR = 0.9
"""The sky backdrop's horizontal distance from the eye, as a share of the far plane."""
BACKDROP_SPAN = 10.0
"""The backdrop's half-width and height, in multiples of its distance."""


@dataclass(frozen=True)
class GroundLines:
    """Grid lines to draw.

    Attributes:
        vertices: ``(L, 3) float32``: target-relative x, y (m) and the line's level index.
        reach_m: ``(levels,) float32`` distance from the eye where each level has faded out.
    """

    vertices: np.ndarray
    reach_m: np.ndarray


def grid_lines(camera: Camera, height_px: int) -> GroundLines:
    """The grid lines around the eye for a picture ``height_px`` tall, coarsest level first (so
    that where levels share a line, the coarser one is drawn)."""
    eye = camera.eye_offset_m()
    focal = camera.focal_px(height_px)
    target = np.array([camera.x, camera.y])
    spacing = np.asarray(GRID_SPACING_M)
    reach = np.minimum(spacing * focal / MIN_SPACING_PX, camera.far_m)
    pieces = []
    for level in range(len(spacing) - 1, -1, -1):
        step, radius = spacing[level], reach[level]
        if radius <= eye[2]:  # every line of this level is too far to see
            continue
        centre = target + eye[:2]  # the eye's ground point, absolute
        coarser = spacing[level + 1] if level + 1 < len(spacing) else None
        for axis in (0, 1):
            first = np.ceil((centre[axis] - radius) / step)
            at = np.arange(first, np.floor((centre[axis] + radius) / step) + 1) * step  # absolute
            if coarser is not None:
                at = at[np.abs(np.remainder(at + coarser / 2, coarser) - coarser / 2) > step / 2]
            count = len(at)
            lines = np.empty((count, 2, 3))
            lines[:, :, axis] = (at - target[axis])[:, None]
            other = 1 - axis
            lines[:, 0, other] = centre[other] - radius - target[other]
            lines[:, 1, other] = centre[other] + radius - target[other]
            lines[:, :, 2] = level
            pieces.append(lines.reshape(-1, 3))
    vertices = np.concatenate(pieces) if pieces else np.zeros((0, 3))
    return GroundLines(vertices=vertices.astype(np.float32), reach_m=reach.astype(np.float32))


def backdrop(camera: Camera) -> np.ndarray:
    """``(4, 3) float32``: corners (triangle-strip order) of the sky backdrop, target-relative."""
    yaw = np.radians(camera.yaw_deg)
    ahead = np.array([-np.sin(yaw), np.cos(yaw), 0.0])
    right = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    eye = camera.eye_offset_m()
    distance = BACKDROP_PER_FAR * camera.far_m
    foot = np.array([eye[0], eye[1], 0.0]) + ahead * distance
    side, up = right * distance * BACKDROP_SPAN, np.array([0.0, 0.0, distance * BACKDROP_SPAN])
    return np.stack([foot - side, foot + side, foot - side + up, foot + side + up]).astype(
        np.float32
    )
