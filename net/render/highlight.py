"""The selected twin in the video: a ring around it and its label ("twin 42") above it.

Drawn into the frame's ``yuv420p`` planes after the GPU pass, so nothing in the scene hides it:
a screen-space ring around the body's middle (at least ``MIN_RADIUS_PX``, wider for a near body)
and a label from a 5 x 7 bitmap font (ASCII digits and the letters of "twin"), scaled 2x, on a dark
box. The work grows with the ring's length (a few thousand pixels), not its area.
"""

from __future__ import annotations

import numpy as np

from synthtwin.net.render.camera import Camera
from synthtwin.net.render.colour import rgb_to_yuv
from synthtwin.net.render.culling import BODY_HEIGHT_M

__all__ = ["MIN_RADIUS_PX", "RING_RGB", "draw_selection"]

RING_RGB = (1.0, 0.82, 0.0)
"""Gold: no activity colour is near it (``colour.PALETTE``)."""
TEXT_RGB = (1.0, 1.0, 1.0)
BOX_RGB = (0.05, 0.05, 0.08)
MIN_RADIUS_PX = 12.0
RING_WIDTH_PX = 3.0
RING_PER_BODY = 0.7
"""The ring's radius as a share of the body's height on screen, when that is above the minimum."""
SCALE = 2
"""Pixels per font dot."""
PAD_PX = 3
GAP_PX = 4
"""Between the ring's top and the label's box."""

_FONT = {
    "t": ["01000", "01000", "11100", "01000", "01000", "01001", "00110"],
    "w": ["00000", "00000", "10001", "10001", "10101", "10101", "01010"],
    "i": ["00100", "00000", "01100", "00100", "00100", "00100", "01110"],
    "n": ["00000", "00000", "10110", "11001", "10001", "10001", "10001"],
    " ": ["00000"] * 7,
    "0": ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
    "1": ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    "2": ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    "3": ["11111", "00010", "00100", "00010", "00001", "10001", "01110"],
    "4": ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
    "5": ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
    "6": ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
    "7": ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
    "8": ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
    "9": ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
}
"""5 x 7 dots of each character a label uses (1: ink)."""
_GLYPHS = {c: np.array([[d == "1" for d in row] for row in rows]) for c, rows in _FONT.items()}


def draw_selection(planes: np.ndarray, camera: Camera, pos_m: np.ndarray, twin_id: int) -> None:
    """Ring the twin standing at ``pos_m`` (x, y m) and label it, in place, on ``planes``
    (``(H * 3 / 2, W) uint8`` yuv420p: Y, then U and V at half size); nothing when it is behind
    the eye."""
    height = planes.shape[0] * 2 // 3
    width = planes.shape[1]
    ends = np.array([[pos_m[0], pos_m[1], 0.0], [pos_m[0], pos_m[1], BODY_HEIGHT_M]])
    seen = camera.project(ends, width / height)
    if (seen.depth_m <= camera.near_m).any():
        return
    foot, head = seen.uv * (width, height)
    centre = (foot + head) / 2
    radius = max(MIN_RADIUS_PX, RING_PER_BODY * float(np.hypot(*(foot - head))))
    y, u, v = _planes(planes, width, height)
    _ring(y, centre, radius, 1, rgb_to_yuv(RING_RGB)[0])
    for plane, value in zip((u, v), rgb_to_yuv(RING_RGB)[1:], strict=True):
        _ring(plane, centre / 2, radius / 2, 2, value)
    _label(y, u, v, f"twin {twin_id}", (centre[0], centre[1] - radius - GAP_PX))


def _planes(planes: np.ndarray, width: int, height: int) -> tuple[np.ndarray, ...]:
    """Views of the Y ``(H, W)``, U and V ``(H / 2, W / 2)`` planes."""
    quarter = height // 4
    chroma = (height // 2, width // 2)
    return (
        planes[:height],
        planes[height : height + quarter].reshape(chroma),
        planes[height + quarter : height + 2 * quarter].reshape(chroma),
    )


def _ring(plane: np.ndarray, centre: np.ndarray, radius: float, per_px: int, value: float) -> None:
    """Set the pixels of ``plane`` within half the ring's width of the circle to ``value``
    (``per_px``: frame pixels per pixel of this plane).

    Row by row the ring is at most two runs of pixels, found from the circle's equation, so the
    work grows with the ring's length, not with its area (a near body's ring spans the frame)."""
    half = RING_WIDTH_PX / 2 / per_px
    outer, inner = radius + half, max(radius - half, 0.0)
    rows, cols = plane.shape
    y0, y1 = _span(centre[1] - outer, centre[1] + outer, rows)
    if y0 >= y1:
        return
    dy2 = (np.arange(y0, y1) + 0.5 - centre[1]) ** 2
    far = np.sqrt(np.maximum(outer**2 - dy2, 0.0))  # |dx| from the centre: in the ring when
    near = np.sqrt(np.maximum(inner**2 - dy2, 0.0))  # near <= |dx| <= far
    low = np.concatenate([centre[0] - far, centre[0] + near]) - 0.5  # pixel x at dx = x + 0.5
    high = np.concatenate([centre[0] - near, centre[0] + far]) - 0.5
    first = np.clip(np.ceil(low), 0, cols).astype(np.int64)
    count = np.clip(np.floor(high) + 1, 0, cols).astype(np.int64) - first
    count = np.where(np.tile(dy2 <= outer**2, 2), np.maximum(count, 0), 0)
    runs = np.flatnonzero(count)
    if len(runs) == 0:
        return
    count, first = count[runs], first[runs]
    cols_at = np.arange(count.sum()) + np.repeat(first - (np.cumsum(count) - count), count)
    rows_at = np.repeat(y0 + runs % len(dy2), count)
    plane[rows_at, cols_at] = round(value)


def _label(
    y: np.ndarray, u: np.ndarray, v: np.ndarray, text: str, bottom_centre: tuple[float, float]
) -> None:
    """``text`` in the font, white on a dark box whose bottom edge is centred at the point."""
    ink = np.concatenate(
        [np.pad(_GLYPHS[c], ((0, 0), (0, 1))) for c in text if c in _GLYPHS], axis=1
    ).repeat(SCALE, axis=0).repeat(SCALE, axis=1)  # fmt: skip
    box = np.pad(ink, PAD_PX)
    top = round(bottom_centre[1]) - box.shape[0]
    left = round(bottom_centre[0]) - box.shape[1] // 2
    rows, cols = y.shape
    r0, r1 = _span(top, top + box.shape[0], rows)
    c0, c1 = _span(left, left + box.shape[1], cols)
    if r0 >= r1 or c0 >= c1:
        return
    shown = box[r0 - top : r1 - top, c0 - left : c1 - left]
    text_y, box_y = rgb_to_yuv(TEXT_RGB)[0], rgb_to_yuv(BOX_RGB)[0]
    y[r0:r1, c0:c1] = np.where(shown, round(text_y), round(box_y))
    for plane, value in zip((u, v), rgb_to_yuv(BOX_RGB)[1:], strict=True):
        plane[r0 // 2 : (r1 + 1) // 2, c0 // 2 : (c1 + 1) // 2] = round(value)


def _span(low: float, high: float, size: int) -> tuple[int, int]:
    """``[low, high)`` as whole pixels clipped to ``[0, size)``."""
    return max(0, int(np.floor(low))), min(size, int(np.ceil(high)))
