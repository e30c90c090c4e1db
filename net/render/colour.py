"""The video's colours: the activity palette, the scene's fixed colours, and RGB to BT.601 YUV.

The renderer shades in RGB and converts each fragment to YUV in the shader (:data:`RGB_TO_YUV`),
so the framebuffers already hold the ``yuv420p`` planes; :func:`rgb_to_yuv` is the same map on the
CPU, for tests and for anyone who needs a colour's code values.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "GRID_RGB",
    "GROUND_RGB",
    "MARKER_DARKEN",
    "PALETTE",
    "PLACE_RGB",
    "RGB_TO_YUV",
    "SKY_RGB",
    "YUV_OFFSET",
    "rgb_to_yuv",
]

GROUND_RGB = (0.16, 0.20, 0.16)
"""RGB in [0, 1] of the ground between grid lines."""
GRID_RGB = ((0.26, 0.31, 0.26), (0.36, 0.42, 0.36), (0.46, 0.52, 0.46))
"""RGB of the grid lines of each level (``net.render.ground.GRID_SPACING_M``)."""
SKY_RGB = (0.55, 0.66, 0.78)
"""RGB above the horizon."""
MARKER_DARKEN = 0.6
"""A far twin's marker rim is its activity colour times this."""

PALETTE = np.array(
    [
        (0.35, 0.45, 0.95), (0.95, 0.85, 0.30), (0.95, 0.55, 0.20), (0.60, 0.80, 0.95),
        (0.85, 0.30, 0.30), (0.55, 0.95, 0.55), (0.95, 0.45, 0.80), (0.70, 0.55, 0.95),
        (0.30, 0.85, 0.80), (0.95, 0.95, 0.95), (0.20, 0.95, 0.35), (1.00, 0.65, 0.55),
        (0.62, 0.38, 0.16), (0.80, 0.95, 0.30), (0.45, 0.30, 0.75), (0.95, 0.25, 0.55),
    ],
    np.float32,
)  # fmt: skip
"""``(16, 3) float32``: RGB in [0, 1] of each of the 16 activity codes (``tv``, 9, is white and
``exercise_gym``, 12, brown: far apart, where a grey gym once looked like the white TV)."""

PLACE_RGB = np.array(
    [
        (0.80, 0.72, 0.58),  # home: sand
        (0.56, 0.64, 0.78),  # workplace: steel blue
        (0.92, 0.62, 0.22),  # school: orange
        (0.82, 0.45, 0.68),  # shop: pink
        (0.80, 0.30, 0.26),  # restaurant: brick red
        (0.58, 0.46, 0.84),  # gym: violet
        (0.30, 0.64, 0.28),  # park: grass green
    ],
    np.float32,
)  # fmt: skip
"""``(K, 3) float32``: RGB in [0, 1] of each place kind (``components.activity.PlaceKind``),
muted against the twins' activity colours; a legend's swatches."""

RGB_TO_YUV = np.array(
    [[0.257, 0.504, 0.098], [-0.148, -0.291, 0.439], [0.439, -0.368, -0.071]], np.float64
)
"""``(3, 3)``: BT.601 limited range, ``(Y, U, V) = RGB_TO_YUV @ (255 RGB) + YUV_OFFSET``."""
YUV_OFFSET = np.array([16.0, 128.0, 128.0])
"""``(3,)`` code values added after :data:`RGB_TO_YUV`."""


def rgb_to_yuv(rgb: np.ndarray) -> np.ndarray:
    """BT.601 limited-range (Y, U, V) in 0..255 of RGB in [0, 1], shape ``(..., 3)`` float64."""
    return np.asarray(rgb, np.float64) * 255 @ RGB_TO_YUV.T + YUV_OFFSET
