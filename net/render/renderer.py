"""The crowd renderer: a perspective view of the ground and the crowd, straight into yuv420p.

moderngl on a standalone EGL context (NVIDIA on a GPU, Mesa llvmpipe on a CPU). A frame is:

1. cull and split the crowd on the CPU (``net.render.culling``): visible twins near enough to be
   a few pixels tall become skinned bodies (nearest first, capped; the tall ones at full detail,
   the others coarse), the others markers (capped too: an even, fixed sample of the crowd);
2. pose the bodies on the CPU (``net.render.animation_texture.body_matrices``: each body's clip
   blended at its phase, turned to its heading and placed, one ``(J, 3, 4)`` set a body) and
   upload them as one row a body of the skin texture, and the instance records (bodies: activity;
   markers: position, activity) into buffers allocated once (markers' grows by doubling);
3. clear to the ground colour and draw the sky backdrop and the grid lines (``net.render.ground``:
   only line and sky pixels cost anything), the bodies (the low-poly body mesh, one instanced
   draw per level of detail, ``net.render.body_mesh``, skinned in the vertex shader with the
   body's row of the skin texture, lit by one light, back faces culled), the markers and the
   town's places (``net.render.town``: culled on the CPU, near ones as lit boxes nearest first,
   far ones as points, one instanced draw each), with a depth test, every fragment written as Y
   and as (Y, U, V);
4. average chroma 2 x 2 into the half-size U and V planes on the GPU and read the three planes back
   into one ``(H * 3 / 2, W) uint8`` array: no colour conversion on the CPU;
5. ring and label the selected twin, if any, in that array (``net.render.highlight``).

The projection is flipped vertically so that the first row read back is the top of the picture.
GL objects are made once; ``render_planes`` reuses its output array.

On llvmpipe a marker costs about 1.3 us on one core whatever its size (set-up and binning; 73,000
markers, the overview of 100,000 twins, took 100 ms), hence their cap. llvmpipe starts one
rasterizer thread per core of the machine, not of the process: pinned to one core (the gateway,
``engine.app.serve.cores_for_the_gateway``), two threads took 170 ms for those markers, so
``llvmpipe_threads`` gives it the process's cores unless ``LP_NUM_THREADS`` is set.
"""

from __future__ import annotations

import dataclasses
import os

import av
import moderngl
import numpy as np

from synthtwin.kernels.clips import ClipLibrary
from synthtwin.kernels.smpl import BodyModel
from synthtwin.net.render import shaders
from synthtwin.net.render.animation_texture import bake, body_matrices
from synthtwin.net.render.body_mesh import BodyMesh, coarse
from synthtwin.net.render.camera import Camera
from synthtwin.net.render.colour import (
    GRID_RGB,
    GROUND_RGB,
    MARKER_DARKEN,
    PALETTE,
    PLACE_RGB,
    RGB_TO_YUV,
    SKY_RGB,
    YUV_OFFSET,
    rgb_to_yuv,
)
from synthtwin.net.render.crowd_view import CrowdView
from synthtwin.net.render.culling import (
    BODY_CENTRE_M,
    MARKER_RADIUS_PX,
    MAX_BODIES,
    MAX_DETAILED_BODIES,
    MAX_MARKERS,
    select,
)
from synthtwin.net.render.ground import GRID_SPACING_M, backdrop, grid_lines
from synthtwin.net.render.highlight import draw_selection
from synthtwin.net.render.picking import pick
from synthtwin.net.render.town import (
    MAX_BOXES,
    NUM_PLACE_KINDS,
    PLACE_SIZE_M,
    PlaceDrawList,
    TownView,
    box_mesh,
    select_places,
)

__all__ = ["CrowdRenderer", "llvmpipe_threads"]

LIGHT_DIRECTION = (0.4, -0.5, 0.75)
"""Towards the light (world axes, normalised at start): high in the south-east."""
AMBIENT = 0.35
BODY_RECORD = 1
"""float32s per body instance: activity (the pose is the body's row of the skin texture)."""
MARKER_RECORD = 3
"""float32s per marker instance: offset (2), activity."""
BOX_RECORD = 3
"""float32s per place box instance: footprint centre offset (2), kind."""
POINT_RECORD = 4
"""float32s per place point: footprint centre offset (2), kind, width (px)."""
LINE_CAPACITY = 8192
"""Grid line vertices a frame can draw (``net.render.ground`` bounds them far below this)."""
FLIP_Y = np.diag([1.0, -1.0, 1.0, 1.0])
"""Clip-space flip: GL's first row (bottom) becomes the picture's top."""


def llvmpipe_threads() -> str:
    """Set ``LP_NUM_THREADS`` (Mesa llvmpipe's rasterizer threads, read when a context is made) to
    the number of cores this process may run on, unless it is set; returns its value. No effect on
    a GPU."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return os.environ.setdefault("LP_NUM_THREADS", str(cores or 1))


class CrowdRenderer:
    """Renders crowds as ``yuv420p`` frames of ``width`` x ``height`` pixels (both even).

    Args:
        library: the clips to animate with.
        body: the crowd's body model; the synthesized low-poly body is drawn at two levels of
            detail (``synthtwin.net.render.body_mesh.coarse``), other models at one.
        width, height: the frame size.
        max_bodies: at most this many skinned bodies a frame (nearest first).
        max_markers: at most this many markers a frame (``net.render.culling.select``).
    """

    def __init__(
        self,
        library: ClipLibrary,
        body: BodyModel,
        width: int = 1280,
        height: int = 720,
        max_bodies: int = MAX_BODIES,
        max_markers: int = MAX_MARKERS,
    ) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"width and height must be positive and even, got {width}x{height}")
        self.width, self.height, self.max_bodies = width, height, max_bodies
        self.max_markers = max_markers
        meshes = (BodyMesh.from_body(body), coarse(body) or BodyMesh.from_body(body))
        self.animation = bake(library, body)
        joints = self.animation.matrices.shape[1]
        llvmpipe_threads()
        self.ctx = moderngl.create_standalone_context(backend="egl")
        try:
            self._make_gl_objects(meshes, joints, max_bodies)
        except BaseException:  # a shader that does not compile, say: free the context
            self.ctx.release()
            raise
        self.town = TownView.empty()
        self._places: tuple[tuple[float, ...], PlaceDrawList] | None = None  # camera's fields
        self.point_instances: moderngl.Buffer | None = None
        self.point_vao: moderngl.VertexArray | None = None
        self._box_records = np.empty((MAX_BOXES, BOX_RECORD), np.float32)
        self._point_records = np.empty((0, POINT_RECORD), np.float32)
        self._planes = np.empty((height * 3 // 2, width), np.uint8)

    def _make_gl_objects(
        self, meshes: tuple[BodyMesh, BodyMesh], joints: int, max_bodies: int
    ) -> None:
        """Targets, programs, buffers and vertex arrays, once, on ``self.ctx``."""
        self.ctx.enable(moderngl.PROGRAM_POINT_SIZE)
        self.ctx.front_face = "cw"  # the mesh's counter-clockwise faces, after FLIP_Y
        self._make_targets()
        self._make_programs()
        self._set_constants()
        ctx = self.ctx
        self.skin = ctx.texture((joints * 3, max(max_bodies, 1)), 4, dtype="f4")
        self.skin.filter = (moderngl.NEAREST, moderngl.NEAREST)
        triangle = ctx.buffer(np.array([-1, -1, 3, -1, -1, 3], np.float32))
        self.body_instances = [
            ctx.buffer(reserve=max(max_bodies, 1) * BODY_RECORD * 4) for _ in meshes
        ]
        self.lines = ctx.buffer(reserve=LINE_CAPACITY * 3 * 4)
        self.sky = ctx.buffer(reserve=4 * 3 * 4)
        self._marker_capacity = 0
        self.marker_instances: moderngl.Buffer | None = None
        self.marker_vao: moderngl.VertexArray | None = None
        self.line_vao = ctx.vertex_array(self.line, [(self.lines, "3f", "in_line")])
        self.sky_vao = ctx.vertex_array(self.flat, [(self.sky, "3f", "in_corner")])
        self.chroma_vao = ctx.vertex_array(self.chroma, [(triangle, "2f", "in_corner")])
        self.body_vaos = [
            ctx.vertex_array(
                self.body,
                [
                    (ctx.buffer(mesh.vertex_records), "3f 3f 4f 4f",
                     "in_position", "in_normal", "in_joints", "in_weights"),
                    (instances, "1f/i", "in_activity"),
                ],
                index_buffer=ctx.buffer(mesh.faces),
                index_element_size=4,
            )
            for mesh, instances in zip(meshes, self.body_instances, strict=True)
        ]  # fmt: skip
        """The body's vertex arrays: full detail, then coarse."""
        self._reserve_markers(1024)
        box_vertices, box_faces = box_mesh()
        self.box_instances = ctx.buffer(reserve=MAX_BOXES * BOX_RECORD * 4)
        self.box_vao = ctx.vertex_array(
            self.place_box,
            [
                (ctx.buffer(box_vertices), "3f 3f", "in_position", "in_normal"),
                (self.box_instances, "3f/i", "in_place"),
            ],
            index_buffer=ctx.buffer(box_faces),
            index_element_size=4,
        )

    def _make_targets(self) -> None:
        ctx, w, h = self.ctx, self.width, self.height
        self.y_full = ctx.texture((w, h), 1, dtype="f1")
        self.yuv_full = ctx.texture((w, h), 4, dtype="f1")
        self.yuv_full.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.scene = ctx.framebuffer(
            color_attachments=[self.y_full, self.yuv_full],
            depth_attachment=ctx.depth_renderbuffer((w, h)),
        )
        self.chroma_target = ctx.framebuffer(
            color_attachments=[ctx.texture((w // 2, h // 2), 1, dtype="f1") for _ in range(2)]
        )

    def _make_programs(self) -> None:
        ctx = self.ctx
        self.line = ctx.program(
            vertex_shader=shaders.LINE_VERTEX.replace("{levels}", str(len(GRID_SPACING_M))),
            fragment_shader=shaders.LINE_FRAGMENT,
        )
        self.flat = ctx.program(
            vertex_shader=shaders.FLAT_VERTEX, fragment_shader=shaders.FLAT_FRAGMENT
        )
        self.body = ctx.program(
            vertex_shader=shaders.BODY_VERTEX,
            fragment_shader=shaders.BODY_FRAGMENT,
        )
        self.marker = ctx.program(
            vertex_shader=shaders.MARKER_VERTEX, fragment_shader=shaders.MARKER_FRAGMENT
        )
        self.chroma = ctx.program(
            vertex_shader=shaders.CHROMA_VERTEX, fragment_shader=shaders.CHROMA_FRAGMENT
        )
        kinds = str(NUM_PLACE_KINDS)
        self.place_box = ctx.program(
            vertex_shader=shaders.PLACE_BOX_VERTEX.replace("{kinds}", kinds),
            fragment_shader=shaders.BODY_FRAGMENT,
        )
        self.place_point = ctx.program(
            vertex_shader=shaders.PLACE_POINT_VERTEX.replace("{kinds}", kinds),
            fragment_shader=shaders.PLACE_POINT_FRAGMENT,
        )

    def _set_constants(self) -> None:
        to_yuv = RGB_TO_YUV.T.astype(np.float32).tobytes()  # column-major for GLSL's mat3
        offset = YUV_OFFSET.astype(np.float32).tobytes()
        palette = PALETTE.astype(np.float32).tobytes()
        for program in (self.body, self.marker, self.place_box, self.place_point):
            program["rgb_to_yuv"].write(to_yuv)
            program["yuv_offset"].write(offset)
        place_rgb = PLACE_RGB.astype(np.float32).tobytes()
        place_size = PLACE_SIZE_M.astype(np.float32).tobytes()
        for program in (self.place_box, self.place_point):
            program["place_rgb"].write(place_rgb)
            program["place_size"].write(place_size)
        for program in (self.body, self.marker):
            program["palette"].write(palette)
        self.line["ground_yuv"].write(_yuv_bytes(GROUND_RGB))
        self.line["line_yuv"].write(_yuv_bytes(GRID_RGB))
        self.flat["colour_yuv"].write(_yuv_bytes(SKY_RGB))
        light = np.asarray(LIGHT_DIRECTION, np.float64)
        light = light / np.linalg.norm(light)
        for program in (self.body, self.place_box):
            program["light_dir"].value = tuple(light)
            program["ambient"].value = AMBIENT
        self.place_point["roof_shade"].value = AMBIENT + (1 - AMBIENT) * max(light[2], 0.0)
        self.marker["rim_darken"].value = MARKER_DARKEN
        self.marker["radius_px"].value = MARKER_RADIUS_PX
        self.marker["centre_m"].value = BODY_CENTRE_M
        self.chroma["full_size_px"].value = (float(self.width), float(self.height))
        self._ground_yuv = tuple(float(c) for c in rgb_to_yuv(np.array(GROUND_RGB)) / 255)

    def _reserve_markers(self, count: int) -> None:
        """Grow the marker instance buffer (by doubling) to hold ``count`` markers."""
        if count <= self._marker_capacity:
            return
        capacity = max(self._marker_capacity, 1024)
        while capacity < count:
            capacity *= 2
        if self.marker_vao is not None:
            self.marker_vao.release()
            self.marker_instances.release()
        self._marker_capacity = capacity
        self.marker_instances = self.ctx.buffer(reserve=capacity * MARKER_RECORD * 4)
        self.marker_vao = self.ctx.vertex_array(
            self.marker, [(self.marker_instances, "3f", "in_marker")]
        )

    def set_town(self, kind: np.ndarray, xy_m: np.ndarray) -> None:
        """Draw the town's places from now on: kind codes ``(P,)`` (``PlaceKind``, as the
        ``town`` request's ``kind``) at positions ``(P, 2)`` (m, its ``xy_m``); raises
        ValueError on bad input and keeps the previous town."""
        town = TownView.from_places(kind, xy_m)
        if self.point_vao is not None:
            self.point_vao.release()
            self.point_instances.release()
        self.point_instances = self.ctx.buffer(reserve=max(len(town), 1) * POINT_RECORD * 4)
        self.point_vao = self.ctx.vertex_array(
            self.place_point, [(self.point_instances, "4f", "in_point")]
        )
        self._point_records = np.empty((len(town), POINT_RECORD), np.float32)
        self.town = town
        self._places = None

    def render_planes(
        self, crowd: CrowdView, camera: Camera, selected: int | None = None
    ) -> np.ndarray:
        """``(height * 3 / 2, width) uint8``: the Y, U and V planes of the view, top row first,
        with twin ``selected`` ringed and labelled when the crowd holds it.

        The array is reused by the next call: copy it to keep it.
        """
        drawn = select(
            crowd.pos_m, camera, self.width, self.height, self.max_bodies, MAX_DETAILED_BODIES,
            crowd.ids, self.max_markers,
        )  # fmt: skip
        view_projection = FLIP_Y @ camera.view_projection(self.width / self.height)
        matrix = view_projection.T.astype(np.float32).tobytes()  # column-major
        levels = (slice(0, drawn.detailed), slice(drawn.detailed, len(drawn.bodies)))
        self._upload(crowd, camera, drawn.bodies, levels, drawn.markers)
        self.scene.use()
        self.scene.clear(*self._ground_yuv, 1.0, depth=1.0)
        self.ctx.enable(moderngl.DEPTH_TEST)
        self._draw_ground(camera, matrix)
        if len(drawn.bodies):
            self.body["view_projection"].write(matrix)
            self.skin.use(0)
            self.body["skin"].value = 0
            self.ctx.enable(moderngl.CULL_FACE)
            for vao, level in zip(self.body_vaos, levels, strict=True):
                if level.stop > level.start:
                    self.body["first_body"].value = level.start
                    vao.render(moderngl.TRIANGLES, instances=level.stop - level.start)
            self.ctx.disable(moderngl.CULL_FACE)
        if len(drawn.markers):
            self.marker["view_projection"].write(matrix)
            self.marker_vao.render(moderngl.POINTS, vertices=len(drawn.markers))
        if len(self.town):
            self._draw_town(camera, matrix)
        self.ctx.disable(moderngl.DEPTH_TEST)
        self.chroma_target.use()
        self.yuv_full.use(0)
        self.chroma["yuv"].value = 0
        self.chroma_vao.render(moderngl.TRIANGLES)
        h, quarter = self.height, self.height // 4
        planes = self._planes
        self.scene.read_into(planes[:h], components=1, attachment=0, alignment=1)
        self.chroma_target.read_into(
            planes[h : h + quarter], components=1, attachment=0, alignment=1
        )
        self.chroma_target.read_into(planes[h + quarter :], components=1, attachment=1, alignment=1)
        at = None if selected is None else crowd.position_of(selected)
        if at is not None:
            draw_selection(planes, camera, at, selected)
        return planes

    def _draw_ground(self, camera: Camera, matrix: bytes) -> None:
        """The sky backdrop and the grid lines (the ground is the clear colour)."""
        self.sky.write(backdrop(camera))
        self.flat["view_projection"].write(matrix)
        self.sky_vao.render(moderngl.TRIANGLE_STRIP)
        lines = grid_lines(camera, self.height)
        count = min(len(lines.vertices), LINE_CAPACITY)
        if count:
            self.lines.write(lines.vertices[:count])
            self.line["view_projection"].write(matrix)
            self.line["eye_m"].value = tuple(camera.eye_offset_m()[:2])
            self.line["reach_m"].write(lines.reach_m.tobytes())
            self.line_vao.render(moderngl.LINES, vertices=count)

    def _places_seen_by(self, camera: Camera) -> PlaceDrawList:
        """``select_places`` of the town for ``camera``, kept while the camera and the town
        stay (the town is fixed and a viewer's camera mostly still: 2 ms a frame saved on the
        47,000 places of a town of 100,000 twins)."""
        key = dataclasses.astuple(camera)
        if self._places is None or self._places[0] != key:
            self._places = (key, select_places(self.town, camera, self.width, self.height))
        return self._places[1]

    def _draw_town(self, camera: Camera, matrix: bytes) -> None:
        """The places: boxes (nearest first, back faces culled), then points."""
        places = self._places_seen_by(camera)
        centre = self.town.centre_m
        if count := len(places.boxes):
            records = self._box_records[:count]
            records[:, 0] = centre[places.boxes, 0] - camera.x
            records[:, 1] = centre[places.boxes, 1] - camera.y
            records[:, 2] = self.town.kind[places.boxes]
            self.box_instances.write(records)
            self.place_box["view_projection"].write(matrix)
            self.ctx.enable(moderngl.CULL_FACE)
            self.box_vao.render(moderngl.TRIANGLES, instances=count)
            self.ctx.disable(moderngl.CULL_FACE)
        if count := len(places.points):
            records = self._point_records[:count]
            records[:, 0] = centre[places.points, 0] - camera.x
            records[:, 1] = centre[places.points, 1] - camera.y
            records[:, 2] = self.town.kind[places.points]
            records[:, 3] = places.point_px
            self.point_instances.write(records)
            self.place_point["view_projection"].write(matrix)
            self.point_vao.render(moderngl.POINTS, vertices=count)

    def _upload(
        self,
        crowd: CrowdView,
        camera: Camera,
        bodies: np.ndarray,
        levels: tuple[slice, ...],
        markers: np.ndarray,
    ) -> None:
        """The bodies' skin rows and the instance records of the drawn twins (``levels``: the
        bodies each body level draws), target-relative (float64 first, then float32)."""
        if len(bodies):
            offset_m = crowd.pos_m[bodies] - (camera.x, camera.y)
            matrices = body_matrices(
                self.animation, crowd.clip[bodies], crowd.phase[bodies],
                crowd.heading_rad[bodies], offset_m,
            )  # fmt: skip
            self.skin.write(matrices, viewport=(0, 0, self.skin.width, len(bodies)))
            activity = crowd.activity[bodies].astype(np.float32)
            for instances, level in zip(self.body_instances, levels, strict=True):
                if level.stop > level.start:
                    instances.write(activity[level])
        if len(markers):
            self._reserve_markers(len(markers))
            records = np.empty((len(markers), MARKER_RECORD), np.float32)
            records[:, 0] = crowd.pos_m[markers, 0] - camera.x
            records[:, 1] = crowd.pos_m[markers, 1] - camera.y
            records[:, 2] = crowd.activity[markers]
            self.marker_instances.write(records)

    def render(
        self, crowd: CrowdView, camera: Camera, selected: int | None = None
    ) -> av.VideoFrame:
        """The view as an ``av.VideoFrame`` in ``yuv420p`` (``selected``: as ``render_planes``)."""
        planes = self.render_planes(crowd, camera, selected)
        return av.VideoFrame.from_ndarray(planes, format="yuv420p")

    def pick(self, crowd: CrowdView, camera: Camera, u: float, v: float) -> int | None:
        """The id of the twin under ``(u, v)`` (top-left origin, [0, 1]) of this renderer's
        frame, or None (``net.render.picking``)."""
        return pick(crowd, camera, u, v, self.width, self.height)

    def release(self) -> None:
        """Free the GL objects and the context."""
        self.ctx.release()


def _yuv_bytes(rgb: object) -> bytes:
    """float32 ``(Y, U, V) / 255`` of RGB colours ``(..., 3)`` in [0, 1], for a uniform."""
    return (rgb_to_yuv(np.asarray(rgb, np.float64)) / 255).astype(np.float32).tobytes()
