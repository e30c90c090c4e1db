"""Server-side picking: which twin is under a click on the video.

Pattern: *ray casting against proxy shapes*. The click ``(u, v)`` becomes a ray from the eye
(``Camera.ray``); each twin is an upright cylinder (``PICK_RADIUS_M``, from the ground to
``BODY_HEIGHT_M``). The nearest cylinder the ray enters wins; if it enters none, the twin whose
body centre projects nearest the click, within ``PICK_MARKER_PX``, wins, which makes far twins
(a few pixels wide, drawn as markers) clickable. Glossary: N twins.
"""

from __future__ import annotations

import numpy as np

from synthtwin.net.render.camera import Camera
from synthtwin.net.render.crowd_view import CrowdView
from synthtwin.net.render.culling import BODY_CENTRE_M, BODY_HEIGHT_M

__all__ = ["PICK_MARKER_PX", "PICK_RADIUS_M", "pick", "ray_cylinder_hits"]

PICK_RADIUS_M = 0.35
"""Radius of a twin's picking cylinder."""
PICK_MARKER_PX = 8.0
"""A click this close (pixels) to a twin's projected centre picks it when no body is hit."""


def ray_cylinder_hits(
    origin_m: np.ndarray, direction: np.ndarray, pos_m: np.ndarray, radius_m: float, height_m: float
) -> np.ndarray:
    """``(N,) float64``: distance along the ray to where it enters each upright cylinder
    (side or top cap) of axis ``pos_m (N, 2)``, from z = 0 to ``height_m``; inf where it misses.

    Args:
        origin_m: ``(3,)`` ray origin (m), outside the cylinders.
        direction: ``(3,)`` unit direction.
    """
    offset = origin_m[:2] - pos_m  # (N, 2) from each axis to the origin, on the ground
    horizontal = direction[:2]
    a = float(horizontal @ horizontal)
    b = 2 * offset @ horizontal  # (N,)
    c = np.einsum("ni,ni->n", offset, offset) - radius_m**2  # (N,)
    hits = np.full(len(pos_m), np.inf)
    if a > 1e-12:
        disc = b * b - 4 * a * c
        root = np.sqrt(np.maximum(disc, 0.0))
        side_t = (-b - root) / (2 * a)
        side_z = origin_m[2] + side_t * direction[2]
        side = (disc >= 0) & (side_t > 0) & (side_z >= 0) & (side_z <= height_m)
        hits[side] = side_t[side]
    if direction[2] < -1e-12:
        cap_t = (height_m - origin_m[2]) / direction[2]
        if cap_t > 0:
            at = offset + cap_t * horizontal  # (N, 2) from each axis, at the cap's height
            cap = np.einsum("ni,ni->n", at, at) <= radius_m**2
            hits[cap] = np.minimum(hits[cap], cap_t)
    return hits


def pick(
    crowd: CrowdView, camera: Camera, u: float, v: float, width: int, height: int
) -> int | None:
    """The id of the twin under picture point ``(u, v)`` (top-left origin, [0, 1]) of a
    ``width`` x ``height`` frame, or None."""
    if not len(crowd):
        return None
    aspect = width / height
    ray = camera.ray(u, v, aspect)
    hits = ray_cylinder_hits(ray.origin_m, ray.direction, crowd.pos_m, PICK_RADIUS_M, BODY_HEIGHT_M)
    nearest = int(np.argmin(hits))
    if np.isfinite(hits[nearest]):
        return int(crowd.ids[nearest])
    centres = np.column_stack([crowd.pos_m, np.full(len(crowd), BODY_CENTRE_M)])
    seen = camera.project(centres, aspect)
    miss_px = np.hypot((seen.uv[:, 0] - u) * width, (seen.uv[:, 1] - v) * height)
    miss_px[seen.depth_m <= camera.near_m] = np.inf
    nearest = int(np.argmin(miss_px))
    return int(crowd.ids[nearest]) if miss_px[nearest] <= PICK_MARKER_PX else None
