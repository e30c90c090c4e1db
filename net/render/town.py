"""The town's places as the renderer draws them: a box a building, a flat square a park.

Each place (``engine.synth.town.Town``: homes, workplaces, schools, shops, restaurants, gyms,
parks) is an axis-aligned box of its kind's size (:data:`PLACE_SIZE_M`): a building stands just
north of its place's point (its door, where the twins of that place stand, ``DOOR_GAP_M`` in
front of it), so a twin at home or at work is seen beside the building rather than inside it; a
park is a flat square centred on its point, which the twins stand on.

Pattern: *view-frustum culling with distance-based LOD*, as for the crowd
(``net.render.culling``): each place is bounded by a sphere; places whose sphere lies outside a
frustum plane are dropped on the CPU; a visible place whose footprint would be at least
``BOX_MIN_PX`` wide is drawn as a box (nearest first, at most ``max_boxes``), every other one as
a square point of its footprint's projected width at its roof. On llvmpipe a point costs about
0.35 us whatever its size, so points are *density-capped*: at most ``max_points`` a frame, the
first visible ones in a fixed draw-priority order (landmark kinds, then a fixed shuffle of the
rest), an even sample of the places in view that does not flicker as the camera moves; a close
view, whose few places are mostly boxes, draws them all. The town is fixed, so its bounds are
computed once (:meth:`TownView.from_places`); a frame only projects them. Glossary: P places,
K place kinds, B boxes, Q points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthtwin.components.town import PlaceKind
from synthtwin.net.render.camera import Camera
from synthtwin.net.render.culling import frustum_planes

__all__ = [
    "BOX_MIN_PX",
    "DOOR_GAP_M",
    "MAX_BOXES",
    "MAX_POINTS",
    "MIN_POINT_PX",
    "NUM_PLACE_KINDS",
    "PLACE_SIZE_M",
    "PlaceDrawList",
    "TownView",
    "box_mesh",
    "select_places",
]

NUM_PLACE_KINDS = len(PlaceKind)
"""Place kind codes are below this (``components.activity.PlaceKind``)."""
PLACE_SIZE_M = np.array(
    [
        (6.0, 5.0, 6.0),     # home: a detached house, 12 m x 10 m, two storeys
        (12.0, 12.0, 30.0),  # workplace: an office block, 24 m square, eight storeys
        (30.0, 20.0, 12.0),  # school: 60 m x 40 m, three storeys
        (10.0, 8.0, 6.0),    # shop
        (8.0, 7.0, 5.0),     # restaurant
        (15.0, 12.0, 9.0),   # gym: a hall
        (50.0, 50.0, 0.05),  # park: a 100 m square of grass
    ],
    np.float64,
)  # fmt: skip
"""``(K, 3)``: half width (east), half depth (north) and height of each kind's box (m)."""
DOOR_GAP_M = 2.0
"""A building's south wall stands this far north of its place's point."""
BOX_MIN_PX = 8.0
"""Places whose footprint would be narrower on screen are drawn as points."""
MIN_POINT_PX = 1.0
"""A far place's point is at least this wide (pixels)."""
MAX_BOXES = 256
"""Default cap on boxes per frame (nearest first); the rest of the visible places are points."""
MAX_POINTS = 1024
"""Default cap on points per frame: the first visible ones in draw-priority order."""
FIRST_KINDS = (PlaceKind.PARK, PlaceKind.SCHOOL, PlaceKind.GYM)
"""Kinds drawn first when points are capped: few and large, landmarks of the overview."""
PRIORITY_SEED = 0
"""Seed of the fixed draw-priority order of the other places."""


@dataclass(frozen=True)
class TownView:
    """P places as the renderer sees them, in draw-priority order (:meth:`from_places`).

    Attributes:
        index: ``(P,) int64`` each place's index in the input (the ``town`` reply's order).
        kind: ``(P,) uint8`` PlaceKind code of each place.
        centre_m: ``(P, 2) float64`` the centre of each place's footprint (x east, y north).
        bound_centre_m: ``(4, P) float64`` homogeneous centres of the bounding spheres (a column
            a place, for one ``(6, 4) @ (4, P)`` product a frame).
        bound_radius_m: ``(P,) float64`` their radii.
        width_m: ``(P,) float64`` the footprint's larger side.
    """

    index: np.ndarray
    kind: np.ndarray
    centre_m: np.ndarray
    bound_centre_m: np.ndarray
    bound_radius_m: np.ndarray
    width_m: np.ndarray

    def __len__(self) -> int:
        return len(self.kind)

    @classmethod
    def from_places(cls, kind: np.ndarray, xy_m: np.ndarray) -> TownView:
        """The town of places of kind ``kind (P,)`` (codes < ``NUM_PLACE_KINDS``) at ``xy_m (P, 2)``
        (m); raises ValueError on bad shapes, codes or positions.

        Draw priority: parks, schools and gyms (few and large) first, then every other place in
        a fixed pseudo-random order, so that the first points of any region are an even sample
        of it (``MAX_POINTS``)."""
        kind = np.asarray(kind)
        xy = np.asarray(xy_m, np.float64)
        count = len(kind)
        if kind.shape != (count,) or xy.shape != (count, 2):
            raise ValueError(f"kind must be (P,) and xy_m (P, 2), got {kind.shape} and {xy.shape}")
        if kind.dtype.kind not in "ui" or (
            count and (kind.min() < 0 or kind.max() >= NUM_PLACE_KINDS)
        ):
            raise ValueError(f"place kind codes must be integers in [0, {NUM_PLACE_KINDS})")
        if not np.isfinite(xy).all():
            raise ValueError("xy_m must be finite")
        shuffled = np.random.default_rng(PRIORITY_SEED).permutation(count)
        first = np.isin(kind[shuffled], FIRST_KINDS)
        index = np.concatenate([shuffled[first], shuffled[~first]])
        kind, xy = kind[index].astype(np.uint8), xy[index]
        size = PLACE_SIZE_M[kind]  # (P, 3)
        centre = xy.copy()
        building = kind != PlaceKind.PARK
        centre[building, 1] += size[building, 1] + DOOR_GAP_M
        bound = np.empty((4, count))
        bound[:2] = centre.T
        bound[2] = size[:, 2] / 2
        bound[3] = 1.0
        radius = np.linalg.norm(size * (1.0, 1.0, 0.5), axis=1)
        return cls(index, kind, centre, bound, radius, 2 * size[:, :2].max(axis=1))

    @classmethod
    def empty(cls) -> TownView:
        """No places."""
        return cls.from_places(np.zeros(0, np.uint8), np.zeros((0, 2)))


@dataclass(frozen=True)
class PlaceDrawList:
    """Places a frame draws (rows of the ``TownView``).

    Attributes:
        boxes: ``(B,) int64`` places drawn as boxes, nearest first.
        points: ``(Q,) int64`` places drawn as points, in draw-priority order.
        point_px: ``(Q,) float32`` each point's width (pixels).
    """

    boxes: np.ndarray
    points: np.ndarray
    point_px: np.ndarray


def select_places(
    town: TownView,
    camera: Camera,
    width: int,
    height: int,
    max_boxes: int = MAX_BOXES,
    max_points: int = MAX_POINTS,
) -> PlaceDrawList:
    """Cull the town's places and split the visible ones into boxes and points for a ``width`` x
    ``height`` picture."""
    # The target offset folded into the planes and the depth row, so that they take the
    # absolute bounding centres as they are: (6, 4) @ (4, P) and (4,) @ (4, P).
    to_target = np.eye(4)
    to_target[:2, 3] = -camera.x, -camera.y
    planes = frustum_planes(camera.view_projection(width / height)) @ to_target
    depth_row = -(camera.view_matrix()[2] @ to_target)
    outside = (planes @ town.bound_centre_m).min(axis=0) < -town.bound_radius_m
    rows = np.flatnonzero(~outside)
    depth = np.maximum(depth_row @ town.bound_centre_m, 1e-6)[rows]
    width_px = town.width_m[rows] * (camera.focal_px(height) / depth)
    wide = width_px >= BOX_MIN_PX
    wide_rows, wide_px = rows[wide], width_px[wide]
    nearest = np.argsort(depth[wide], kind="stable")
    box_rows, spill = wide_rows[nearest[:max_boxes]], nearest[max_boxes:]
    narrow = ~wide
    points = np.concatenate([wide_rows[spill], rows[narrow][:max_points]])[:max_points]
    point_px = np.concatenate([wide_px[spill], width_px[narrow][:max_points]])[:max_points]
    point_px = np.clip(point_px, MIN_POINT_PX, BOX_MIN_PX).astype(np.float32)
    return PlaceDrawList(box_rows, points, point_px)


def box_mesh() -> tuple[np.ndarray, np.ndarray]:
    """The unit box every place is drawn from: x and y in [-1, 1], z in [0, 1], no floor.

    Returns:
        ``(20, 6) float32`` vertex records (position, outward unit normal; four a face, so each
        face is flat-shaded) and ``(10, 3) uint32`` triangles, counter-clockwise from outside.
    """
    faces = [
        ((0, 0, 1), [(-1, -1, 1), (1, -1, 1), (1, 1, 1), (-1, 1, 1)]),  # roof
        ((0, -1, 0), [(-1, -1, 0), (1, -1, 0), (1, -1, 1), (-1, -1, 1)]),  # south
        ((1, 0, 0), [(1, -1, 0), (1, 1, 0), (1, 1, 1), (1, -1, 1)]),  # east
        ((0, 1, 0), [(1, 1, 0), (-1, 1, 0), (-1, 1, 1), (1, 1, 1)]),  # north
        ((-1, 0, 0), [(-1, 1, 0), (-1, -1, 0), (-1, -1, 1), (-1, 1, 1)]),  # west
    ]
    records = np.array(
        [(*corner, *normal) for normal, corners in faces for corner in corners], np.float32
    )
    quads = np.arange(len(faces))[:, None] * 4
    triangles = np.concatenate([quads + (0, 1, 2), quads + (0, 2, 3)]).astype(np.uint32)
    return records, triangles
