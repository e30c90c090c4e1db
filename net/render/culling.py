"""Which twins a frame draws, and how: frustum culling and the level of detail, on the CPU.

Pattern: *view-frustum culling with distance-based LOD*. Each twin is bounded by a sphere around
its body's centre; twins whose sphere lies outside one of the six frustum planes (Gribb and
Hartmann's extraction from the view-projection matrix) are dropped before anything is uploaded.
A visible twin whose body would be at least ``BODY_MIN_HEIGHT_PX`` tall is drawn as a skinned
body, nearest first and at most ``max_bodies`` per frame (so a frame's cost is bounded); every
other visible twin is a marker, a disc a few pixels wide. Of the bodies, those at least
``BODY_DETAIL_HEIGHT_PX`` tall (at most ``max_detailed`` of them, the nearest) get the full
low-poly mesh, the others its coarse level (``net.render.body_mesh.coarse``). Glossary: N twins,
B bodies, M markers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthtwin.net.render.camera import Camera

__all__ = [
    "BODY_CENTRE_M",
    "BODY_DETAIL_HEIGHT_PX",
    "BODY_HEIGHT_M",
    "BODY_MIN_HEIGHT_PX",
    "BOUND_RADIUS_M",
    "MARKER_RADIUS_PX",
    "MAX_BODIES",
    "MAX_DETAILED_BODIES",
    "DrawList",
    "frustum_planes",
    "select",
]

BODY_HEIGHT_M = 1.8
"""Height a body is taken to have, for its projected size and for picking."""
BODY_CENTRE_M = 0.9
"""Height of a body's centre: the bounding sphere's centre and the marker's place."""
BOUND_RADIUS_M = 1.2
"""Radius of the sphere that bounds a body in any clip (standing, sitting, lying, cycling)."""
BODY_MIN_HEIGHT_PX = 8.0
"""Twins whose body would be shorter on screen are drawn as markers."""
BODY_DETAIL_HEIGHT_PX = 144.0
"""Bodies at least this tall on screen get the full low-poly mesh, shorter ones the coarse one."""
MAX_BODIES = 128
"""Default cap on skinned bodies per frame; the rest of the visible twins become markers."""
MAX_DETAILED_BODIES = 32
"""Default cap on full-detail bodies per frame; the rest of the bodies get the coarse mesh."""
MARKER_RADIUS_PX = 3.0
"""Radius of a far twin's marker disc (pixels)."""


@dataclass(frozen=True)
class DrawList:
    """Rows of the crowd a frame draws.

    Attributes:
        bodies: ``(B,) int64`` rows drawn as skinned bodies, nearest first.
        markers: ``(M,) int64`` rows drawn as markers.
        body_depth_m: ``(B,) float64`` the bodies' depth ahead of the eye.
        detailed: the first ``detailed`` bodies get the full mesh, the others the coarse one.
    """

    bodies: np.ndarray
    markers: np.ndarray
    body_depth_m: np.ndarray
    detailed: int


def frustum_planes(view_projection: np.ndarray) -> np.ndarray:
    """``(6, 4) float64``: the frustum's planes (left, right, bottom, top, near, far) of a
    ``(4, 4)`` view-projection, normalised so that ``plane @ [p, 1]`` is the signed distance (m)
    of point ``p``, positive inside."""
    m = view_projection
    planes = np.stack([m[3] + m[i // 2] * (1 - 2 * (i % 2)) for i in range(6)])
    return planes / np.linalg.norm(planes[:, :3], axis=1, keepdims=True)


def select(
    pos_m: np.ndarray,
    camera: Camera,
    width: int,
    height: int,
    max_bodies: int = MAX_BODIES,
    max_detailed: int = MAX_DETAILED_BODIES,
) -> DrawList:
    """Cull twins at ``pos_m (N, 2) float64`` and split the visible ones into bodies and markers
    for a ``width`` x ``height`` picture."""
    count = len(pos_m)
    centres = np.empty((count, 4))  # target-relative homogeneous body centres
    centres[:, :2] = pos_m - (camera.x, camera.y)
    centres[:, 2] = BODY_CENTRE_M
    centres[:, 3] = 1.0
    # (N, 4) @ (4, 6): signed distance to each plane; (N, 4) @ (4,): depth ahead of the eye
    distance = centres @ frustum_planes(camera.view_projection(width / height)).T
    depth = -(centres @ camera.view_matrix()[2])
    focal = camera.focal_px(height)
    marker_radius_m = MARKER_RADIUS_PX * np.maximum(depth, 0.0) / focal
    visible = (distance >= -np.maximum(BOUND_RADIUS_M, marker_radius_m)[:, None]).all(axis=1)
    visible &= depth > 0
    rows = np.flatnonzero(visible)
    tall = BODY_HEIGHT_M * focal >= BODY_MIN_HEIGHT_PX * depth[rows]
    near_rows = rows[tall]
    order = np.argsort(depth[near_rows], kind="stable")
    bodies = near_rows[order[:max_bodies]]
    markers = np.concatenate([rows[~tall], near_rows[order[max_bodies:]]])
    body_depth_m = depth[bodies]
    detailed = int(np.count_nonzero(BODY_HEIGHT_M * focal >= BODY_DETAIL_HEIGHT_PX * body_depth_m))
    return DrawList(bodies, markers, body_depth_m, min(detailed, max_detailed))
