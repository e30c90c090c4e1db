"""The viewer's camera: an orbit camera around a target point on the ground, and its projection.

Pattern: *orbit camera* (as in Blender's or three.js's OrbitControls): the eye sits on a sphere of
radius ``distance_m`` around a target on the ground, at an azimuth ``yaw_deg`` and an elevation
``pitch_deg``; dragging pans the target, orbiting turns the sphere, zooming changes its radius.

World frame: metres, x east, y north, z up, ground at z = 0. ``yaw_deg`` 0 looks north (east is
to the right of the picture), increasing counter-clockwise (90 looks west); ``pitch_deg`` 90 looks
straight down, 10 skims the ground. Picture coordinates ``(u, v)`` run over [0, 1] from the
top-left corner. Matrices are float64 and relative to the target, so a town kilometres wide keeps
centimetre precision when the GPU takes them as float32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MAX_DISTANCE_M",
    "MAX_PITCH_DEG",
    "MIN_DISTANCE_M",
    "MIN_PITCH_DEG",
    "Camera",
    "Projection",
    "Ray",
]

MIN_PITCH_DEG = 10.0
MAX_PITCH_DEG = 90.0
MIN_DISTANCE_M = 2.0
MAX_DISTANCE_M = 20_000.0
MIN_FOV_DEG = 5.0
MAX_FOV_DEG = 120.0
NEAR_PER_DISTANCE = 0.01
"""The near plane sits at this fraction of the distance to the target (and at least ``NEAR_M``)."""
NEAR_M = 0.05
FAR_PER_DISTANCE = 100.0
"""The far plane sits at this multiple of the distance to the target (and at least ``FAR_M``)."""
FAR_M = 2_000.0
FRAMING_PITCH_DEG = 60.0
FRAMING_FILL = 0.9
""":meth:`Camera.framing` fits the crowd's bounding box in this share of the picture."""
FRAMING_MARGIN_M = 5.0
"""Ground added around the crowd's bounding box when framing it."""
FRAMING_ITERATIONS = 12


@dataclass(frozen=True)
class Projection:
    """Points seen by a camera.

    Attributes:
        uv: ``(N, 2) float64`` picture coordinates, [0, 1] from the top-left inside the frame
            (meaningless where ``depth_m <= 0``).
        depth_m: ``(N,) float64`` distance in front of the eye along the view axis; <= 0 behind.
    """

    uv: np.ndarray
    depth_m: np.ndarray


@dataclass(frozen=True)
class Ray:
    """A ray from the eye: ``origin_m (3,) float64`` (world, m), ``direction (3,) float64``."""

    origin_m: np.ndarray
    direction: np.ndarray


def _finite(name: str, value: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number}")
    return number


def _within(name: str, value: float, low: float, high: float) -> float:
    number = _finite(name, value)
    if not low <= number <= high:
        raise ValueError(f"{name} must be in [{low:g}, {high:g}], got {number:g}")
    return number


@dataclass
class Camera:
    """An orbit camera: target ``x``, ``y`` (m, on the ground), ``distance_m`` from it to the eye,
    ``yaw_deg``, ``pitch_deg`` and the vertical field of view ``fov_deg``.

    Construction validates every field (finite, pitch in [10, 90], distance in [2 m, 20 km], field
    of view in [5, 120] degrees) and raises ValueError; :meth:`orbit` and :meth:`zoom` clamp.
    """

    x: float = 0.0
    y: float = 0.0
    distance_m: float = 60.0
    yaw_deg: float = 0.0
    pitch_deg: float = FRAMING_PITCH_DEG
    fov_deg: float = 45.0

    def __post_init__(self) -> None:
        self.x = _finite("x", self.x)
        self.y = _finite("y", self.y)
        self.distance_m = _within("distance_m", self.distance_m, MIN_DISTANCE_M, MAX_DISTANCE_M)
        self.yaw_deg = _finite("yaw_deg", self.yaw_deg)
        self.pitch_deg = _within("pitch_deg", self.pitch_deg, MIN_PITCH_DEG, MAX_PITCH_DEG)
        self.fov_deg = _within("fov_deg", self.fov_deg, MIN_FOV_DEG, MAX_FOV_DEG)

    # -- geometry -----------------------------------------------------------------------------

    @property
    def target_m(self) -> np.ndarray:
        """``(3,) float64``: the target on the ground."""
        return np.array([self.x, self.y, 0.0])

    @property
    def near_m(self) -> float:
        return max(NEAR_M, NEAR_PER_DISTANCE * self.distance_m)

    @property
    def far_m(self) -> float:
        return max(FAR_M, FAR_PER_DISTANCE * self.distance_m)

    def basis(self) -> np.ndarray:
        """``(3, 3) float64``: rows right, up and back (opposite the view) of the eye, in world
        axes."""
        yaw, pitch = math.radians(self.yaw_deg), math.radians(self.pitch_deg)
        right = np.array([math.cos(yaw), math.sin(yaw), 0.0])
        ahead = np.array([-math.sin(yaw), math.cos(yaw), 0.0])  # the view's heading on the ground
        back = -(ahead * math.cos(pitch)) + np.array([0.0, 0.0, math.sin(pitch)])
        up = np.cross(back, right)
        return np.stack([right, up, back])

    def eye_offset_m(self) -> np.ndarray:
        """``(3,) float64``: the eye relative to the target."""
        return self.basis()[2] * self.distance_m

    def view_matrix(self) -> np.ndarray:
        """``(4, 4) float64``: target-relative world point to eye coordinates (GL, -z ahead)."""
        basis = self.basis()
        view = np.eye(4)
        view[:3, :3] = basis
        view[:3, 3] = -basis @ self.eye_offset_m()
        return view

    def projection_matrix(self, aspect: float) -> np.ndarray:
        """``(4, 4) float64``: GL perspective of the vertical ``fov_deg`` for width / height
        ``aspect``, depth from ``near_m`` to ``far_m`` onto [-1, 1]."""
        aspect = _finite("aspect", aspect)
        if aspect <= 0:
            raise ValueError(f"aspect must be positive, got {aspect}")
        focal = 1.0 / math.tan(math.radians(self.fov_deg) / 2)
        near, far = self.near_m, self.far_m
        return np.array(
            [
                [focal / aspect, 0.0, 0.0, 0.0],
                [0.0, focal, 0.0, 0.0],
                [0.0, 0.0, (far + near) / (near - far), 2 * far * near / (near - far)],
                [0.0, 0.0, -1.0, 0.0],
            ]
        )

    def view_projection(self, aspect: float) -> np.ndarray:
        """``(4, 4) float64``: target-relative world point to clip coordinates."""
        # (4, 4) @ (4, 4)
        return self.projection_matrix(aspect) @ self.view_matrix()

    def focal_px(self, height_px: float) -> float:
        """Pixels per unit of ``lateral / depth``: an object ``h`` m tall at depth ``d`` m is
        ``h * focal_px / d`` pixels tall."""
        return height_px / (2 * math.tan(math.radians(self.fov_deg) / 2))

    def project(self, points_m: np.ndarray, aspect: float) -> Projection:
        """Where world points ``(N, 3)`` (m) fall in the picture of width / height ``aspect``."""
        points = np.asarray(points_m, np.float64).reshape(-1, 3) - self.target_m
        homogeneous = np.concatenate([points, np.ones((len(points), 1))], axis=1)
        # (N, 4) @ (4, 4).T -> (N, 4) clip coordinates; w is the depth ahead of the eye
        clip = homogeneous @ self.view_projection(aspect).T
        depth = clip[:, 3]
        safe = np.where(np.abs(depth) > 1e-12, depth, 1e-12)
        uv = np.stack([(clip[:, 0] / safe + 1) / 2, (1 - clip[:, 1] / safe) / 2], axis=1)
        return Projection(uv=uv, depth_m=depth)

    def ray(self, u: float, v: float, aspect: float) -> Ray:
        """The ray from the eye through picture point ``(u, v)`` (top-left origin, [0, 1])."""
        u, v, aspect = _finite("u", u), _finite("v", v), _finite("aspect", aspect)
        tan_half = math.tan(math.radians(self.fov_deg) / 2)
        eye_direction = np.array([(2 * u - 1) * tan_half * aspect, (1 - 2 * v) * tan_half, -1.0])
        # (3,) @ (3, 3): eye axes back to world axes (the basis is orthonormal)
        direction = eye_direction @ self.basis()
        return Ray(
            origin_m=self.target_m + self.eye_offset_m(),
            direction=direction / np.linalg.norm(direction),
        )

    # -- control ------------------------------------------------------------------------------

    def pan_pixels(self, dx_px: float, dy_px: float, height_px: float) -> None:
        """Drag the ground by ``(dx_px, dy_px)`` pixels (right, down) in a picture ``height_px``
        tall: the ground point under the cursor at the target stays under it.

        Metres per pixel at the target are ``2 distance tan(fov / 2) / height``; along the view's
        heading a pixel covers ``1 / sin(pitch)`` times that of ground (foreshortening).
        """
        dx, dy = _finite("dx_px", dx_px), _finite("dy_px", dy_px)
        height = _finite("height_px", height_px)
        if height <= 0:
            raise ValueError(f"height_px must be positive, got {height}")
        metres_per_px = 2 * self.distance_m * math.tan(math.radians(self.fov_deg) / 2) / height
        yaw = math.radians(self.yaw_deg)
        ahead_m = dy * metres_per_px / math.sin(math.radians(self.pitch_deg))
        right_m = -dx * metres_per_px
        self.x += right_m * math.cos(yaw) - ahead_m * math.sin(yaw)
        self.y += right_m * math.sin(yaw) + ahead_m * math.cos(yaw)

    def orbit(self, dyaw_deg: float, dpitch_deg: float) -> None:
        """Turn around the target: yaw wraps to [-180, 180), pitch clamps to [10, 90]."""
        dyaw, dpitch = _finite("dyaw_deg", dyaw_deg), _finite("dpitch_deg", dpitch_deg)
        self.yaw_deg = (self.yaw_deg + dyaw + 180.0) % 360.0 - 180.0
        self.pitch_deg = min(max(self.pitch_deg + dpitch, MIN_PITCH_DEG), MAX_PITCH_DEG)

    def zoom(self, factor: float) -> None:
        """Magnify by ``factor`` (> 0; 2 halves the distance), clamped to [2 m, 20 km]."""
        factor = _finite("factor", factor)
        if factor <= 0:
            raise ValueError(f"zoom factor must be positive, got {factor}")
        self.distance_m = min(max(self.distance_m / factor, MIN_DISTANCE_M), MAX_DISTANCE_M)

    @classmethod
    def framing(
        cls, pos_m: np.ndarray, aspect: float, pitch_deg: float = FRAMING_PITCH_DEG
    ) -> Camera:
        """A camera looking north at ``pitch_deg`` whose picture holds every twin ``(N, 2)`` (m)
        with a margin; an empty crowd gets the default camera over the origin."""
        pos = np.asarray(pos_m, np.float64).reshape(-1, 2)
        if not np.isfinite(pos).all():
            raise ValueError("pos_m must be finite")
        aspect = _finite("aspect", aspect)
        if aspect <= 0:
            raise ValueError(f"aspect must be positive, got {aspect}")
        if not len(pos):
            return cls(pitch_deg=pitch_deg)
        low, high = pos.min(axis=0) - FRAMING_MARGIN_M, pos.max(axis=0) + FRAMING_MARGIN_M
        centre = (low + high) / 2
        tan_half = math.tan(math.radians(cls.fov_deg) / 2)
        half_height_m = max((high[1] - low[1]) / 2, (high[0] - low[0]) / 2 / aspect)
        camera = cls(
            x=centre[0],
            y=centre[1],
            distance_m=float(min(max(half_height_m / tan_half, MIN_DISTANCE_M), MAX_DISTANCE_M)),
            pitch_deg=pitch_deg,
        )
        corners = np.array(
            [[low[0], low[1], 0], [high[0], low[1], 0], [low[0], high[1], 0], [high[0], high[1], 0]]
        )
        for _ in range(FRAMING_ITERATIONS):  # the fit is near-linear in the distance: converge
            seen = camera.project(corners, aspect)
            spread = float(np.abs(seen.uv - 0.5).max()) * 2 / FRAMING_FILL
            if (seen.depth_m <= camera.near_m).any():
                spread = 2.0
            camera.distance_m = min(max(camera.distance_m * spread, MIN_DISTANCE_M), MAX_DISTANCE_M)
        return camera
