"""Which twins a frame draws, and how: frustum culling and the level of detail, on the CPU.

Pattern: *view-frustum culling with distance-based LOD*. Each twin is bounded by a sphere around
its body's centre; twins whose sphere lies outside one of the six frustum planes (Gribb and
Hartmann's extraction from the view-projection matrix) are dropped before anything is uploaded.
A visible twin whose body would be at least ``BODY_MIN_HEIGHT_PX`` tall is drawn as a skinned
body, nearest first and at most ``max_bodies`` per frame (so a frame's cost is bounded); every
other visible twin is a marker, a disc a few pixels wide. Of the bodies, those at least
``BODY_DETAIL_HEIGHT_PX`` tall (at most ``max_detailed`` of them, the nearest) get the full
low-poly mesh, the others its coarse level (``net.render.body_mesh.coarse``).

Markers are *density-capped* as the town's points are (``net.render.town``): at most
``max_markers`` a frame, those first in a fixed draw-priority order of the twin ids
(``marker_priority``, an even sample of any crowd that does not flicker as the camera or the
crowd moves); a view with fewer draws them all. On llvmpipe a marker costs about 1.3 us on one
core whatever its size (``net.render.renderer``): the overview of 100,000 twins has about 73,000.
Glossary: N twins, B bodies, M markers.
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
    "MAX_MARKERS",
    "DrawList",
    "frustum_planes",
    "marker_priority",
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
MAX_MARKERS = 4096
"""Default cap on markers per frame (about 5 ms of llvmpipe on one core: with 8,192 the gateway
made 18.8-22.5 frames a second of the 100,000-twin overview on a loaded core)."""
PRIORITY_MIX = 0x9E3779B1
"""Knuth's multiplicative hash constant (2^32 / golden ratio, odd): ``marker_priority``."""
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


def marker_priority(ids: np.ndarray) -> np.ndarray:
    """``(K,) uint32``: the draw priority of twins ``ids`` (K,), lower first; a fixed bijection
    of the ids (``id * PRIORITY_MIX mod 2^32``) that spreads consecutive ids evenly."""
    return np.asarray(ids).astype(np.uint32) * np.uint32(PRIORITY_MIX)


def select(
    pos_m: np.ndarray,
    camera: Camera,
    width: int,
    height: int,
    max_bodies: int = MAX_BODIES,
    max_detailed: int = MAX_DETAILED_BODIES,
    ids: np.ndarray | None = None,
    max_markers: int = MAX_MARKERS,
) -> DrawList:
    """Cull twins at ``pos_m (N, 2) float64`` and split the visible ones into bodies and markers
    for a ``width`` x ``height`` picture; beyond ``max_markers`` markers, those first by
    ``marker_priority`` of their ``ids (N,)`` (None: the rows) are kept."""
    count = len(pos_m)
    centres = np.empty((count, 4))  # target-relative homogeneous body centres
    np.subtract(pos_m, (camera.x, camera.y), out=centres[:, :2])
    centres[:, 2:] = (BODY_CENTRE_M, 1.0)
    # (N, 4) @ (4, 6): signed distance to each plane; (N, 4) @ (4,): depth ahead of the eye
    distance = centres @ frustum_planes(camera.view_projection(width / height)).T
    depth = -(centres @ camera.view_matrix()[2])
    focal = camera.focal_px(height)
    marker_radius_m = MARKER_RADIUS_PX * np.maximum(depth, 0.0) / focal
    reach_m = -np.maximum(BOUND_RADIUS_M, marker_radius_m)
    visible = depth > 0
    for plane in distance.T:  # six passes over N: a third of an all() over the (N, 6) rows
        visible &= plane >= reach_m
    rows = np.flatnonzero(visible)
    tall = BODY_HEIGHT_M * focal >= BODY_MIN_HEIGHT_PX * depth[rows]
    near_rows = rows[tall]
    order = np.argsort(depth[near_rows], kind="stable")
    bodies = near_rows[order[:max_bodies]]
    markers = np.concatenate([rows[~tall], near_rows[order[max_bodies:]]])
    if len(markers) > max_markers:
        priority = marker_priority(markers if ids is None else np.asarray(ids)[markers])
        markers = markers[np.sort(np.argpartition(priority, max_markers)[:max_markers])]
    body_depth_m = depth[bodies]
    detailed = int(np.count_nonzero(BODY_HEIGHT_M * focal >= BODY_DETAIL_HEIGHT_PX * body_depth_m))
    return DrawList(bodies, markers, body_depth_m, min(detailed, max_detailed))
