"""Top-down crowd renderer for the WebRTC video view: moderngl on a standalone (EGL) context.

An orthographic view of the town (x east, y north, metres): a ground colour and one instanced
square per twin, coloured by activity from a fixed palette. ``render`` returns an ``av.VideoFrame``
in ``yuv420p`` produced directly: the palette is converted to BT.601 YUV once, and the scene is
drawn twice, Y into a full-size one-channel framebuffer and (U, V) into a half-size two-channel
one, so the read-back is already the three planes (no per-pixel conversion on the CPU).
GL objects are made once; the instance buffer grows by doubling when the crowd does.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import moderngl
import numpy as np

__all__ = ["Camera", "CrowdRenderer", "PALETTE"]

GROUND = (0.16, 0.20, 0.16)
PALETTE = np.array(
    [
        (0.35, 0.45, 0.95), (0.95, 0.85, 0.30), (0.95, 0.55, 0.20), (0.60, 0.80, 0.95),
        (0.85, 0.30, 0.30), (0.55, 0.95, 0.55), (0.95, 0.45, 0.80), (0.70, 0.55, 0.95),
        (0.30, 0.85, 0.80), (0.95, 0.95, 0.95), (0.20, 0.95, 0.35), (1.00, 0.65, 0.55),
        (0.65, 0.65, 0.65), (0.80, 0.95, 0.30), (0.45, 0.30, 0.75), (0.95, 0.25, 0.55),
    ],
    np.float32,
)  # fmt: skip
"""RGB in [0, 1] of each of the 16 activity codes."""

_VERTEX = """
#version 330
uniform vec2 centre;
uniform vec2 half_extent;
uniform float size;
in vec2 corner;
in vec2 pos;
in float activity;
out float v_activity;
void main() {
    vec2 world = pos + corner * size;
    gl_Position = vec4((world - centre) / half_extent, 0.0, 1.0);
    v_activity = activity;
}
"""
_FRAGMENT = """
#version 330
uniform vec3 palette[16];
in float v_activity;
out vec4 colour;
void main() {
    colour = vec4(palette[int(v_activity) & 15], 1.0);  // (Y, U, V) / 255
}
"""


@dataclass
class Camera:
    """Centre ``x``, ``y`` (m) and ``zoom`` (m per pixel) of the top-down view."""

    x: float = 0.0
    y: float = 0.0
    zoom: float = 2.0


class CrowdRenderer:
    """Renders crowds to ``yuv420p`` video frames of ``width`` x ``height`` (both even)."""

    def __init__(self, width: int = 1280, height: int = 720, marker_px: float = 3.0) -> None:
        if width % 2 or height % 2:
            raise ValueError("width and height must be even for yuv420p")
        self.width, self.height, self.marker_px = width, height, marker_px
        self.ctx = moderngl.create_standalone_context(backend="egl")
        self.fbo_y = self.ctx.simple_framebuffer((width, height), components=1)
        self.fbo_uv = self.ctx.simple_framebuffer((width // 2, height // 2), components=2)
        self.program = self.ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)
        self.program["palette"].write((rgb_to_yuv(PALETTE) / 255).astype(np.float32).tobytes())
        self._ground = rgb_to_yuv(np.array([GROUND], np.float32))[0] / 255
        corners = np.array([-1, -1, 1, -1, -1, 1, 1, 1], np.float32) * 0.5
        self.corners = self.ctx.buffer(corners.tobytes())
        self._capacity = 0
        self.instances: moderngl.Buffer | None = None
        self.vao: moderngl.VertexArray | None = None
        self._reserve(1024)
        self._yuv = np.empty((height * 3 // 2, width), np.uint8)
        self._uv = np.empty((height // 2, width // 2, 2), np.uint8)

    def _reserve(self, count: int) -> None:
        if count <= self._capacity:
            return
        while self._capacity < count:
            self._capacity = max(1024, self._capacity * 2)
        if self.vao is not None:
            self.vao.release()
            self.instances.release()
        self.instances = self.ctx.buffer(reserve=self._capacity * 12)
        self.vao = self.ctx.vertex_array(
            self.program,
            [(self.corners, "2f", "corner"), (self.instances, "2f 1f/i", "pos", "activity")],
        )

    def render_planes(
        self, positions: np.ndarray, activity: np.ndarray, camera: Camera
    ) -> np.ndarray:
        """``(height * 3 / 2, width) uint8``: the Y, U and V planes, top row north."""
        positions = np.asarray(positions, np.float64).reshape(-1, 2)
        count = positions.shape[0]
        self._reserve(count)
        # Relative to the camera in float64 first: float32 then keeps cm precision.
        data = np.empty((count, 3), np.float32)
        data[:, 0] = positions[:, 0] - camera.x
        data[:, 1] = positions[:, 1] - camera.y
        data[:, 2] = np.asarray(activity).reshape(-1)[:count]
        if count:
            self.instances.write(data.tobytes())
        self.program["centre"].value = (0.0, 0.0)
        # Flip y so that the first row read back (GL's bottom row) is the north edge.
        self.program["half_extent"].value = (
            self.width * camera.zoom / 2,
            -self.height * camera.zoom / 2,
        )
        self.program["size"].value = max(self.marker_px * camera.zoom, 0.3)
        h, w = self.height, self.width
        for fbo, clear in ((self.fbo_y, self._ground[:1]), (self.fbo_uv, self._ground[1:])):
            fbo.use()
            fbo.clear(*clear, *([0.0] * (3 - clear.size)))
            if count:
                self.vao.render(moderngl.TRIANGLE_STRIP, vertices=4, instances=count)
        self.fbo_y.read_into(self._yuv[:h], components=1, alignment=1)
        self.fbo_uv.read_into(self._uv, components=2, alignment=1)
        self._yuv[h : h + h // 4] = self._uv[..., 0].reshape(h // 4, w)
        self._yuv[h + h // 4 :] = self._uv[..., 1].reshape(h // 4, w)
        return self._yuv

    def render(self, positions: np.ndarray, activity: np.ndarray, camera: Camera) -> av.VideoFrame:
        """The view as an ``av.VideoFrame`` in ``yuv420p``."""
        planes = self.render_planes(positions, activity, camera)
        return av.VideoFrame.from_ndarray(planes, format="yuv420p")

    def release(self) -> None:
        """Free the GL objects and the context."""
        self.ctx.release()


def rgb_to_yuv(rgb: np.ndarray) -> np.ndarray:
    """BT.601 limited-range (Y, U, V) in 0..255 of RGB in [0, 1], shape ``(..., 3)``."""
    m = np.array(
        [[0.257, 0.504, 0.098], [-0.148, -0.291, 0.439], [0.439, -0.368, -0.071]], np.float64
    )
    return np.asarray(rgb, np.float64) * 255 @ m.T + np.array([16.0, 128.0, 128.0])
