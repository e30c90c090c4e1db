"""The crowd renderer (``net.render``): real EGL renders (Mesa llvmpipe here) checked by pixels,
the orbit camera's math, culling, picking and the town's places."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from synthtwin.components.pose import CLIPS
from synthtwin.engine.synth.body_model import synth_body
from synthtwin.engine.synth.motion import synth_library
from synthtwin.net.render import Camera, CrowdRenderer, CrowdView, rgb_to_yuv
from synthtwin.net.render import renderer as renderer_module
from synthtwin.net.render.animation_texture import bake, body_matrices
from synthtwin.net.render.body_mesh import BodyMesh, _signed_volume, coarse
from synthtwin.net.render.colour import GROUND_RGB, PALETTE, PLACE_RGB, SKY_RGB
from synthtwin.net.render.culling import (
    BODY_CENTRE_M,
    BODY_DETAIL_HEIGHT_PX,
    BODY_HEIGHT_M,
    marker_priority,
    select,
)
from synthtwin.net.render.flight import FLIGHT_S, FOLLOW_DISTANCE_M, Flight
from synthtwin.net.render.highlight import MIN_RADIUS_PX, RING_RGB, RING_WIDTH_PX, _ring
from synthtwin.net.render.town import (
    BOX_MIN_PX,
    DOOR_GAP_M,
    FIRST_KINDS,
    MIN_POINT_PX,
    NUM_PLACE_KINDS,
    PLACE_SIZE_M,
    TownView,
    select_places,
)

WIDTH, HEIGHT = 640, 360
ASPECT = WIDTH / HEIGHT
WALK = CLIPS.index("walk")
STAND = CLIPS.index("stand")
YELLOW = 1  # activity code whose palette colour is far from the ground's and the sky's


@pytest.fixture(scope="module")
def renderer():
    made = CrowdRenderer(synth_library(), synth_body(lod=1), WIDTH, HEIGHT)
    yield made
    made.release()


def crowd_of(pos_m, heading_rad=0.0, clip=WALK, phase=0.25, activity=YELLOW) -> CrowdView:
    pos = np.asarray(pos_m, np.float64).reshape(-1, 2)
    count = len(pos)

    def column(value):
        return np.broadcast_to(np.asarray(value), (count,))

    return CrowdView(
        np.arange(100, 100 + count), pos, column(heading_rad), column(activity), column(clip),
        column(phase),
    )  # fmt: skip


def planes(renderer: CrowdRenderer, crowd: CrowdView, camera: Camera):
    """``(Y (H, W), U (H/2, W/2), V (H/2, W/2))`` int arrays of a render."""
    return planes_of(renderer.render_planes(crowd, camera))


def planes_of(frame: np.ndarray):
    """``(Y, U, V)`` int arrays of a ``render_planes`` result."""
    frame = frame.astype(np.int32)
    h, w = HEIGHT, WIDTH
    u = frame[h : h + h // 4].reshape(h // 2, w // 2)
    v = frame[h + h // 4 :].reshape(h // 2, w // 2)
    return frame[:h], u, v


def body_mask(renderer: CrowdRenderer, crowd: CrowdView, camera: Camera) -> np.ndarray:
    """``(H/2, W/2) bool``: chroma pixels far from both the ground's and the sky's colour."""
    _, u, v = planes(renderer, crowd, camera)
    mask = np.ones(u.shape, bool)
    for rgb in (GROUND_RGB, SKY_RGB):
        _, u0, v0 = rgb_to_yuv(np.array(rgb))
        mask &= np.abs(u - u0) + np.abs(v - v0) > 24
    return mask


def extent(mask: np.ndarray) -> tuple[int, int]:
    """``(height, width)`` in pixels of the mask's bounding box."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


# -- pictures --------------------------------------------------------------------------------


def test_ground_colour_round_trips_through_yuv(renderer):
    y, u, v = planes(renderer, CrowdView.empty(), Camera(distance_m=30.0, pitch_deg=90.0))
    want = np.rint(rgb_to_yuv(np.array(GROUND_RGB)))
    for plane, code in zip((y, u, v), want, strict=True):
        values, counts = np.unique(plane, return_counts=True)
        assert abs(values[np.argmax(counts)] - code) <= 1
        assert counts.max() > 0.8 * plane.size  # grid lines cover little of the ground


def test_sky_above_the_horizon(renderer):
    y, _, _ = planes(renderer, CrowdView.empty(), Camera(distance_m=10.0, pitch_deg=10.0))
    assert abs(np.median(y[:10]) - rgb_to_yuv(np.array(SKY_RGB))[0]) <= 1


def test_walking_twin_from_the_side_is_a_human_silhouette(renderer):
    camera = Camera(distance_m=6.0, pitch_deg=10.0)  # looking north; the twin walks east
    mask = body_mask(renderer, crowd_of([[0.0, 0.0]], heading_rad=0.0), camera)
    tall, wide = extent(mask)
    assert tall > 1.8 * wide
    depth = camera.distance_m  # roughly: the twin stands at the target
    expected_px = 1.69 * camera.focal_px(HEIGHT / 2) / depth  # chroma rows are half size
    assert 0.7 * expected_px < tall < 1.3 * expected_px


def test_phases_give_different_pictures(renderer):
    camera = Camera(distance_m=6.0, pitch_deg=10.0)
    first = body_mask(renderer, crowd_of([[0.0, 0.0]], phase=0.0), camera)
    half = body_mask(renderer, crowd_of([[0.0, 0.0]], phase=0.5), camera)
    assert (first != half).sum() > 0.1 * first.sum()


def test_heading_turns_the_body(renderer):
    """From above, a standing body's shoulders lie across its heading."""
    camera = Camera(distance_m=4.0, pitch_deg=90.0)  # north is up in the picture
    east = extent(body_mask(renderer, crowd_of([[0.0, 0.0]], 0.0, STAND), camera))
    north = extent(body_mask(renderer, crowd_of([[0.0, 0.0]], math.pi / 2, STAND), camera))
    assert east[0] > 1.3 * east[1]  # facing east: shoulders run north-south
    assert north[1] > 1.3 * north[0]


def test_overview_of_a_thousand_twins_shows_markers(renderer):
    rng = np.random.default_rng(3)
    crowd = crowd_of(rng.normal(0.0, 800.0, (1000, 2)), clip=STAND)
    camera = Camera.framing(crowd.pos_m, ASPECT)
    drawn = select(crowd.pos_m, camera, WIDTH, HEIGHT)
    assert len(drawn.bodies) == 0 and len(drawn.markers) == 1000
    assert body_mask(renderer, crowd, camera).sum() > 500


def test_markers_beyond_the_cap_are_a_fixed_sample_by_twin_id(renderer):
    rng = np.random.default_rng(4)
    crowd = crowd_of(rng.normal(0.0, 800.0, (1000, 2)), clip=STAND)
    camera = Camera.framing(crowd.pos_m, ASPECT)
    everyone = select(crowd.pos_m, camera, WIDTH, HEIGHT, ids=crowd.ids).markers
    capped = select(crowd.pos_m, camera, WIDTH, HEIGHT, ids=crowd.ids, max_markers=300).markers
    assert len(everyone) == 1000 and len(capped) == 300
    assert np.isin(capped, everyone).all() and (np.diff(capped) > 0).all()
    kept = marker_priority(crowd.ids[capped])
    assert kept.max() < np.delete(marker_priority(crowd.ids), capped).min()
    moved = Camera.framing(crowd.pos_m[1:], ASPECT)  # another view of the same twins but one
    again = select(crowd.pos_m[1:], moved, WIDTH, HEIGHT, ids=crowd.ids[1:], max_markers=300)
    assert len(np.intersect1d(crowd.ids[1:][again.markers], crowd.ids[capped])) >= 299
    assert len(np.unique(marker_priority(np.arange(2**16)))) == 2**16  # a bijection
    few = CrowdRenderer(synth_library(), synth_body(lod=1), WIDTH, HEIGHT, max_markers=300)
    try:
        drawn = body_mask(few, crowd, camera).sum()
    finally:
        few.release()
    assert 0 < drawn < body_mask(renderer, crowd, camera).sum()


def test_llvmpipe_gets_the_cores_of_the_process_unless_told():
    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from synthtwin.net.render.renderer import llvmpipe_threads; print(llvmpipe_threads())"
    )
    env = {k: v for k, v in os.environ.items() if k != "LP_NUM_THREADS"}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
    assert run.stdout.decode().split() == ["1"], run.stderr.decode()
    told = subprocess.run(
        [sys.executable, "-c", code], env={**env, "LP_NUM_THREADS": "3"}, capture_output=True,
        timeout=60,
    )  # fmt: skip
    assert told.stdout.decode().split() == ["3"], told.stderr.decode()


def test_twins_behind_the_camera_or_outside_the_view_are_not_drawn(renderer):
    camera = Camera(distance_m=20.0, pitch_deg=30.0)  # eye south of the target, looking north
    hidden = crowd_of([[0.0, -40.0], [0.0, -2000.0], [500.0, 10.0], [-500.0, 10.0]])
    drawn = select(hidden.pos_m, camera, WIDTH, HEIGHT)
    assert len(drawn.bodies) == 0 and len(drawn.markers) == 0
    empty = planes(renderer, CrowdView.empty(), camera)
    for got, want in zip(planes(renderer, hidden, camera), empty, strict=True):
        np.testing.assert_array_equal(got, want)


def test_near_twins_are_bodies_nearest_first_and_capped():
    camera = Camera(distance_m=20.0, pitch_deg=30.0)
    pos = np.column_stack([np.zeros(50), np.linspace(-5.0, 40.0, 50)])
    drawn = select(pos, camera, WIDTH, HEIGHT, max_bodies=10)
    assert len(drawn.bodies) == 10
    assert np.all(np.diff(drawn.body_depth_m) >= 0)
    assert len(drawn.markers) == 40


def test_near_bodies_get_full_detail_nearest_first_and_capped():
    camera = Camera(distance_m=20.0, pitch_deg=30.0)
    pos = np.column_stack([np.zeros(50), np.linspace(-5.0, 40.0, 50)])
    size = (4 * WIDTH, 4 * HEIGHT)  # bodies within ~22 m are tall enough for full detail
    drawn = select(pos, camera, *size, max_bodies=50, max_detailed=100)
    tall_px = BODY_HEIGHT_M * camera.focal_px(size[1]) / drawn.body_depth_m
    assert 0 < drawn.detailed < len(drawn.bodies)
    assert (tall_px[: drawn.detailed] >= BODY_DETAIL_HEIGHT_PX).all()
    assert (tall_px[drawn.detailed :] < BODY_DETAIL_HEIGHT_PX).all()
    assert select(pos, camera, *size, max_bodies=50, max_detailed=2).detailed == 2


def test_coarse_body_is_a_closed_outward_mesh_of_the_same_body():
    body = synth_body(lod=1)
    full, thin = BodyMesh.from_body(body), coarse(body)
    assert len(thin.faces) == 504 and len(thin.faces) < 0.3 * len(full.faces)
    # closed: every edge is shared by exactly two faces, once each way
    edges = np.concatenate([thin.faces[:, [0, 1]], thin.faces[:, [1, 2]], thin.faces[:, [2, 0]]])
    forward = {tuple(e) for e in edges.tolist()}
    assert len(forward) == len(edges) and all((b, a) in forward for a, b in forward)
    volume = [_signed_volume(m.positions.astype(np.float64), m.faces) for m in (full, thin)]
    assert 0.75 * volume[0] < volume[1] < volume[0]  # outward, and most of the body
    assert thin.height_m == pytest.approx(full.height_m)
    np.testing.assert_allclose(thin.weights.sum(axis=1), 1.0, atol=1e-6)


def test_coarse_and_full_bodies_draw_the_same_silhouette(renderer, monkeypatch):
    camera = Camera(distance_m=6.0, pitch_deg=10.0)
    crowd = crowd_of([[0.0, 0.0]])
    full = body_mask(renderer, crowd, camera)
    monkeypatch.setattr(renderer_module, "MAX_DETAILED_BODIES", 0)
    thin = body_mask(renderer, crowd, camera)
    assert (full & thin).sum() > 0.85 * (full | thin).sum()


def test_body_matrices_turn_and_place_the_posed_body():
    """A body facing north at (3, 4): its rest vertices go where the posed SMPL vertices go,
    turned (SMPL forward +z -> north, left +x -> west, up +y -> up) and moved."""
    texture = bake(synth_library(), synth_body(lod=1))
    clip, phase = np.array([WALK]), np.array([0.3])
    posed = texture.sample(clip, phase)[0]  # (J, 3, 4)
    placed = body_matrices(texture, clip, phase, np.array([math.pi / 2]), np.array([[3.0, 4.0]]))
    point = np.array([0.1, 1.0, 0.2, 1.0])
    x, y, z = (posed @ point).T  # (J, 3, 4) @ (4,) -> (J, 3) SMPL, then (3, J)
    np.testing.assert_allclose(placed[0] @ point, np.stack([3 - x, 4 + z, y], -1), atol=1e-5)


def test_sampling_blends_the_two_nearest_frames():
    texture = bake(synth_library(), synth_body(lod=1))
    frames, row = int(texture.clip_frames[WALK]), int(texture.clip_row[WALK])
    at = texture.sample(np.array([WALK, WALK]), np.array([2.25 / frames, 1.0 - 0.5 / frames]))
    m = texture.matrices
    np.testing.assert_allclose(at[0], 0.75 * m[row + 2] + 0.25 * m[row + 3], atol=1e-6)
    np.testing.assert_allclose(at[1], 0.5 * m[row + frames - 1] + 0.5 * m[row], atol=1e-6)


def test_baked_matrices_skin_like_the_body_model():
    """The animation texture's matrices, applied by LBS, give the body model's own posed mesh
    (up to its pose correctives, a few millimetres), root offset included."""
    body = synth_body(lod=1)
    library = synth_library()
    texture = bake(library, body)
    clip = library.clips[WALK]
    frame = 5
    matrices = texture.matrices[texture.clip_row[WALK] + frame]  # (24, 3, 4)
    rest = np.column_stack([body.v_template, np.ones(body.num_vertices)])  # (V, 4)
    # (V, 24) x (24, 3, 4) x (V, 4) -> (V, 3)
    skinned = np.einsum("vj,jrc,vc->vr", body.weights, matrices, rest)
    pose = clip.poses[frame][None]
    want = body.forward(
        np.zeros((1, 10)), pose[:, 1:].reshape(1, -1), pose[:, 0], [[0.0, clip.trans[frame, 1], 0]]
    ).vertices[0]
    assert np.abs(skinned - want).max() < 0.01


def test_render_gives_a_yuv420p_video_frame(renderer):
    frame = renderer.render(crowd_of([[0.0, 0.0]]), Camera())
    assert (frame.format.name, frame.width, frame.height) == ("yuv420p", WIDTH, HEIGHT)


# -- picking ---------------------------------------------------------------------------------


def test_pick_finds_the_twin_at_its_projected_pixel(renderer):
    camera = Camera(distance_m=25.0, pitch_deg=40.0, yaw_deg=20.0)
    crowd = crowd_of([[-6.0, 0.0], [0.0, 3.0], [5.0, -4.0], [8.0, 8.0]])
    for twin, xy in zip(crowd.ids, crowd.pos_m, strict=True):
        for height_m in (0.1, BODY_CENTRE_M, 1.6):
            (u, v), = camera.project([[*xy, height_m]], ASPECT).uv  # fmt: skip
            assert renderer.pick(crowd, camera, u, v) == twin


def test_pick_on_empty_ground_is_none(renderer):
    camera = Camera(distance_m=25.0, pitch_deg=40.0)
    crowd = crowd_of([[-6.0, 0.0], [5.0, -4.0]])
    (u, v), = camera.project([[0.0, 6.0, 0.0]], ASPECT).uv  # fmt: skip
    assert renderer.pick(crowd, camera, u, v) is None
    assert renderer.pick(CrowdView.empty(), camera, 0.5, 0.5) is None


def test_pick_a_far_twin_by_its_marker(renderer):
    rng = np.random.default_rng(5)
    crowd = crowd_of(rng.uniform(-2000.0, 2000.0, (200, 2)))
    camera = Camera.framing(crowd.pos_m, ASPECT)
    far = int(np.argmax(np.linalg.norm(crowd.pos_m - crowd.pos_m.mean(axis=0), axis=1)))
    (u, v), = camera.project([[*crowd.pos_m[far], BODY_CENTRE_M]], ASPECT).uv  # fmt: skip
    assert renderer.pick(crowd, camera, u + 4 / WIDTH, v) == crowd.ids[far]


def test_pick_prefers_the_nearer_of_two_bodies_in_line(renderer):
    camera = Camera(distance_m=20.0, pitch_deg=20.0)  # looking north
    crowd = crowd_of([[0.0, 5.0], [0.0, 0.0]])
    (u, v), = camera.project([[0.0, 5.0, 0.1]], ASPECT).uv  # fmt: skip
    assert renderer.pick(crowd, camera, u, v) == crowd.ids[1]


# -- the camera ------------------------------------------------------------------------------


def test_pan_keeps_the_ground_under_the_cursor_from_above():
    camera = Camera(x=120.0, y=-40.0, distance_m=80.0, yaw_deg=35.0, pitch_deg=90.0)
    point = np.array([[131.0, -33.0, 0.0]])
    before = camera.project(point, ASPECT).uv[0]
    camera.pan_pixels(37.0, -21.0, HEIGHT)
    after = camera.project(point, ASPECT).uv[0]
    np.testing.assert_allclose((after - before) * (WIDTH, HEIGHT), (37.0, -21.0), atol=1e-6)


def test_pan_keeps_the_target_under_the_cursor_when_tilted():
    camera = Camera(x=0.0, y=0.0, distance_m=50.0, yaw_deg=-60.0, pitch_deg=45.0)
    point = np.array([[0.0, 0.0, 0.0]])
    camera.pan_pixels(2.0, 3.0, HEIGHT)
    after = camera.project(point, ASPECT).uv[0]
    np.testing.assert_allclose((after - 0.5) * (WIDTH, HEIGHT), (2.0, 3.0), atol=0.05)


def test_orbit_wraps_yaw_and_clamps_pitch():
    camera = Camera(yaw_deg=170.0, pitch_deg=60.0)
    camera.orbit(20.0, 50.0)
    assert camera.yaw_deg == pytest.approx(-170.0)
    assert camera.pitch_deg == 90.0
    camera.orbit(0.0, -200.0)
    assert camera.pitch_deg == 10.0


def test_zoom_magnifies_and_clamps():
    camera = Camera(distance_m=100.0)
    camera.zoom(2.0)
    assert camera.distance_m == 50.0
    camera.zoom(1e6)
    assert camera.distance_m == 2.0
    camera.zoom(1e-9)
    assert camera.distance_m == 20_000.0


def test_top_down_view_has_north_up_and_east_right():
    camera = Camera(distance_m=50.0, pitch_deg=90.0)
    uv = camera.project([[10.0, 0.0, 0.0], [0.0, 10.0, 0.0]], ASPECT).uv
    assert uv[0, 0] > 0.5 and uv[0, 1] == pytest.approx(0.5)
    assert uv[1, 1] < 0.5 and uv[1, 0] == pytest.approx(0.5)


def test_ray_through_a_projected_point_passes_through_it():
    camera = Camera(x=3.0, y=4.0, distance_m=40.0, yaw_deg=75.0, pitch_deg=35.0)
    point = np.array([9.0, -2.0, 1.0])
    (u, v), = camera.project(point[None], ASPECT).uv  # fmt: skip
    ray = camera.ray(u, v, ASPECT)
    to_point = point - ray.origin_m
    np.testing.assert_allclose(np.cross(ray.direction, to_point), 0.0, atol=1e-9)


def test_framing_holds_the_whole_crowd():
    rng = np.random.default_rng(9)
    pos = rng.normal((500.0, -300.0), (900.0, 400.0), (300, 2))
    camera = Camera.framing(pos, ASPECT)
    uv = camera.project(np.column_stack([pos, np.zeros(len(pos))]), ASPECT).uv
    assert (uv > 0).all() and (uv < 1).all()
    assert np.ptp(uv[:, 0]) > 0.5 or np.ptp(uv[:, 1]) > 0.5  # and fills the picture
    assert Camera.framing(np.zeros((0, 2)), ASPECT) == Camera()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x": float("nan")}, "x must be finite, got nan"),
        ({"y": "north"}, "y must be a number, got 'north'"),
        ({"distance_m": 0.5}, r"distance_m must be in \[2, 20000\], got 0.5"),
        ({"pitch_deg": 95.0}, r"pitch_deg must be in \[10, 90\], got 95"),
        ({"fov_deg": float("inf")}, "fov_deg must be finite, got inf"),
    ],
)
def test_bad_camera_values_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Camera(**kwargs)


def test_bad_control_values_raise():
    camera = Camera()
    with pytest.raises(ValueError, match="zoom factor must be positive, got 0"):
        camera.zoom(0.0)
    with pytest.raises(ValueError, match="dx_px must be finite, got nan"):
        camera.pan_pixels(float("nan"), 0.0, HEIGHT)
    with pytest.raises(ValueError, match="height_px must be positive, got 0"):
        camera.pan_pixels(1.0, 0.0, 0)
    with pytest.raises(ValueError, match="dyaw_deg must be finite, got inf"):
        camera.orbit(float("inf"), 0.0)
    assert camera == Camera()  # nothing changed


def test_bad_crowd_views_raise():
    with pytest.raises(ValueError, match="activity codes must be < 16"):
        crowd_of([[0.0, 0.0]], activity=16)
    with pytest.raises(ValueError, match="clip codes must be < 10"):
        crowd_of([[0.0, 0.0]], clip=10)
    with pytest.raises(ValueError, match="pos_m and heading_rad must be finite"):
        crowd_of([[0.0, np.inf]])
    with pytest.raises(ValueError, match=r"phase must have shape \(1,\), got \(2,\)"):
        CrowdView([1], [[0.0, 0.0]], [0.0], [0], [0], [0.0, 0.5])


# -- the town ----------------------------------------------------------------------------------

KINDS = np.arange(NUM_PLACE_KINDS, dtype=np.uint8)
ROW_M = np.stack([(KINDS - 3.0) * 100.0, np.zeros(NUM_PLACE_KINDS)], axis=1)
"""One place of each kind, 100 m apart on an east-west row."""


@pytest.fixture
def with_town(renderer):
    """The module's renderer, given a town by the test; back to no town afterwards."""
    yield renderer
    renderer.set_town(np.zeros(0, np.uint8), np.zeros((0, 2)))


def roof_yuv(kind: int) -> np.ndarray:
    """The code values of a lit roof of ``kind``: lambert with the normal straight up."""
    light = np.asarray(renderer_module.LIGHT_DIRECTION) / np.linalg.norm(
        renderer_module.LIGHT_DIRECTION
    )
    shade = renderer_module.AMBIENT + (1 - renderer_module.AMBIENT) * light[2]
    return rgb_to_yuv(PLACE_RGB[kind] * shade)


def roof_pixels(camera: Camera, xy_m: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """``(P, 2) int`` chroma-plane (row, column) of each place's roof centre."""
    town = TownView.from_places(kind, xy_m)
    centres = town.centre_m[np.argsort(town.index)]
    roofs = np.concatenate([centres, PLACE_SIZE_M[kind, 2:]], axis=1)
    uv = camera.project(roofs, ASPECT).uv
    return np.stack([uv[:, 1] * HEIGHT / 2, uv[:, 0] * WIDTH / 2], axis=1).astype(int)


def test_each_place_kind_is_drawn_in_its_colour_where_it_projects(with_town):
    camera = Camera(distance_m=600.0, pitch_deg=90.0)
    drawn = select_places(TownView.from_places(KINDS, ROW_M), camera, WIDTH, HEIGHT)
    assert (len(drawn.boxes), len(drawn.points)) == (NUM_PLACE_KINDS, 0)
    with_town.set_town(KINDS, ROW_M)
    y, u, v = planes(with_town, CrowdView.empty(), camera)
    for kind, (row, column) in zip(KINDS, roof_pixels(camera, ROW_M, KINDS), strict=True):
        want = roof_yuv(kind)
        assert abs(u[row, column] - want[1]) <= 3 and abs(v[row, column] - want[2]) <= 3, kind
        assert abs(y[2 * row, 2 * column] - want[0]) <= 3, kind
    away = planes(with_town, CrowdView.empty(), Camera(x=5000.0, distance_m=600.0, pitch_deg=90.0))
    assert len(np.unique(away[1])) <= 2  # ground and grid lines only


def test_the_towns_places_follow_the_camera_moved_in_place_and_a_new_town(with_town):
    camera = Camera(x=5000.0, distance_m=600.0, pitch_deg=90.0)
    with_town.set_town(KINDS, ROW_M)
    assert len(np.unique(planes(with_town, CrowdView.empty(), camera)[1])) <= 2  # none in view
    camera.x = 0.0  # the same camera object, moved over the places: they are chosen again
    every = planes(with_town, CrowdView.empty(), camera)[1]
    roofs = roof_pixels(camera, ROW_M, KINDS)
    assert len(np.unique(every[roofs[:, 0], roofs[:, 1]])) == NUM_PLACE_KINDS
    with_town.set_town(KINDS[:2], ROW_M[:2])  # the same camera, a smaller town
    two = planes(with_town, CrowdView.empty(), camera)[1]
    assert len(np.unique(two[roofs[:, 0], roofs[:, 1]])) == 3  # two roofs and the ground


def test_far_places_are_points_of_their_roof_colour(with_town):
    camera = Camera(distance_m=20_000.0, pitch_deg=90.0)
    row_m = ROW_M * 10
    drawn = select_places(TownView.from_places(KINDS, row_m), camera, WIDTH, HEIGHT)
    assert (len(drawn.boxes), len(drawn.points)) == (0, NUM_PLACE_KINDS)
    with_town.set_town(KINDS, row_m)
    y = planes(with_town, CrowdView.empty(), camera)[0]
    for kind, (row, column) in zip(KINDS, 2 * roof_pixels(camera, row_m, KINDS), strict=True):
        near = y[row - 2 : row + 3, column - 2 : column + 3]
        assert np.abs(near - roof_yuv(kind)[0]).min() <= 3, kind


def test_a_building_stands_north_of_its_place_and_the_twin_there_in_front(with_town):
    camera = Camera(distance_m=40.0, pitch_deg=20.0)  # looking north
    home = np.array([[0.0, 0.0]])
    with_town.set_town(np.array([0]), home)
    twin = crowd_of(home, activity=YELLOW, clip=STAND)
    assert body_mask(with_town, twin, camera).sum() > 20  # not hidden inside the house
    y, u, v = planes(with_town, CrowdView.empty(), camera)
    north = DOOR_GAP_M + PLACE_SIZE_M[0, 1]
    wall = camera.project([[0.0, north, 3.0]], ASPECT).uv[0]  # the south wall's middle
    wall_row, wall_column = int(wall[1] * HEIGHT / 2), int(wall[0] * WIDTH / 2)
    _, u0, v0 = rgb_to_yuv(np.array(GROUND_RGB))
    assert abs(u[wall_row, wall_column] - u0) + abs(v[wall_row, wall_column] - v0) > 10
    assert with_town.pick(twin, camera, *wall) is None  # picking sees twins, not houses


def test_places_outside_the_view_are_culled_and_not_drawn(with_town):
    camera = Camera(distance_m=60.0, pitch_deg=30.0)  # eye south of the target, looking north
    hidden = np.array([[0.0, -300.0], [0.0, -5000.0], [2000.0, 50.0], [-2000.0, 50.0]])
    kinds = np.array([1, 1, 6, 2])
    drawn = select_places(TownView.from_places(kinds, hidden), camera, WIDTH, HEIGHT)
    assert len(drawn.boxes) == 0 and len(drawn.points) == 0
    empty = planes(with_town, CrowdView.empty(), camera)
    with_town.set_town(kinds, hidden)
    for got, want in zip(planes(with_town, CrowdView.empty(), camera), empty, strict=True):
        np.testing.assert_array_equal(got, want)


def test_boxes_are_nearest_first_and_capped_points_follow_the_priority_order():
    rng = np.random.default_rng(4)
    xy = rng.uniform(-3000.0, 3000.0, (4000, 2))
    town = TownView.from_places(rng.integers(0, NUM_PLACE_KINDS, 4000), xy)
    assert sorted(town.index.tolist()) == list(range(4000))
    landmark = np.isin(town.kind, FIRST_KINDS)
    assert not landmark[np.argmin(landmark) :].any()  # landmarks first
    camera = Camera(distance_m=1500.0, pitch_deg=35.0)
    drawn = select_places(town, camera, WIDTH, HEIGHT, max_boxes=10, max_points=300)
    assert len(drawn.boxes) == 10 and len(drawn.points) == 300
    bounds = town.bound_centre_m.T - (camera.x, camera.y, 0.0, 0.0)  # (P, 4) target-relative
    depth = -(bounds @ camera.view_matrix()[2])
    assert (np.diff(depth[drawn.boxes]) >= 0).all()  # nearest first
    everything = select_places(town, camera, WIDTH, HEIGHT, max_boxes=10, max_points=4000)
    np.testing.assert_array_equal(drawn.points, everything.points[:300])
    assert (drawn.point_px >= MIN_POINT_PX).all() and (drawn.point_px <= BOX_MIN_PX).all()


def test_bad_towns_raise_and_keep_the_previous_one(with_town):
    with_town.set_town(KINDS, ROW_M)
    with pytest.raises(ValueError, match=r"place kind codes must be integers in \[0, 7\)"):
        with_town.set_town(np.array([7]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"kind must be \(P,\) and xy_m \(P, 2\)"):
        with_town.set_town(np.array([0, 1]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="xy_m must be finite"):
        with_town.set_town(np.array([0]), np.array([[np.nan, 0.0]]))
    assert len(with_town.town) == NUM_PLACE_KINDS


# -- the selected twin: ring, label, Follow's flight --------------------------------------------


def gold(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``(H, W) bool``: pixels of the ring's gold (luma and the chroma of their 2 x 2 block)."""
    y0, u0, v0 = rgb_to_yuv(np.array(RING_RGB))
    chroma = (np.abs(u - u0) + np.abs(v - v0) < 12).repeat(2, axis=0).repeat(2, axis=1)
    return (np.abs(y - y0) < 12) & chroma


def test_the_selected_twin_is_ringed_and_labelled_and_no_other(renderer):
    crowd = crowd_of([[0.0, 0.0], [30.0, 0.0]])
    camera = Camera(distance_m=120.0, pitch_deg=60.0)
    plain = renderer.render_planes(crowd, camera).copy()
    assert not gold(*planes_of(plain)).any()
    ringed = renderer.render_planes(crowd, camera, selected=int(crowd.ids[0])).copy()
    mask = gold(*planes_of(ringed))
    u, v = camera.project(np.array([[0.0, 0.0, BODY_CENTRE_M]]), ASPECT).uv[0]
    rows, cols = np.nonzero(mask)
    centre = np.array([cols.mean(), rows.mean()])
    assert np.allclose(centre, (u * WIDTH, v * HEIGHT), atol=3), "the ring is off the twin"
    assert np.ptp(cols) >= 2 * MIN_RADIUS_PX - 2, "the ring is too small to see"
    other_u = camera.project(np.array([[30.0, 0.0, BODY_CENTRE_M]]), ASPECT).uv[0, 0] * WIDTH
    assert cols.max() < other_u - 5, "the other twin is ringed too"
    label = np.abs(ringed[:HEIGHT].astype(int) - plain[:HEIGHT]) > 0
    label[mask] = False
    above = label[: int(rows.min()), int(cols.min()) - 30 : int(cols.max()) + 30]
    assert above.sum() > 200, "no label above the ring"
    assert renderer.render_planes(crowd, camera, selected=999).tobytes() == plain.tobytes()


@pytest.mark.parametrize(
    ("centre", "radius", "per_px"),
    [
        ((40.3, 30.7), 12.2, 1),
        ((10.6, 50.1), 30.4, 2),
        ((45.2, 430.9), 400.3, 1),
        ((0.4, 5.2), 1.1, 1),
    ],
)
def test_ring_pixels_are_those_near_the_circle_even_cut_by_the_edges(centre, radius, per_px):
    plane = np.zeros((60, 90), np.uint8)
    _ring(plane, np.array(centre), radius, per_px, 200.0)
    yy, xx = np.mgrid[0:60, 0:90]
    distance = np.hypot(xx + 0.5 - centre[0], yy + 0.5 - centre[1])
    expected = np.abs(distance - radius) <= RING_WIDTH_PX / 2 / per_px
    assert expected.any()
    assert np.array_equal(plane == 200, expected)


def test_follow_flies_smoothly_to_the_twin_and_down_to_it():
    start = Camera(x=-500.0, y=200.0, distance_m=2000.0, yaw_deg=30.0)
    flight = Flight(start, started_s=10.0)
    twin = np.array([100.0, -50.0])
    steps = [flight.camera(start, 10.0 + FLIGHT_S * k / 60, twin) for k in range(61)]
    assert (steps[0].x, steps[0].y, steps[0].distance_m) == (-500.0, 200.0, 2000.0)
    assert math.isclose(steps[-1].x, 100.0) and math.isclose(steps[-1].y, -50.0)
    assert math.isclose(steps[-1].distance_m, FOLLOW_DISTANCE_M)
    xs = np.array([c.x for c in steps])
    assert (np.diff(xs) >= 0).all() and np.diff(xs).max() < 0.05 * 600, "a jump, not a flight"
    assert np.diff(xs)[0] < np.diff(xs)[30] > np.diff(xs)[-1], "no ease in and out"
    assert all(c.yaw_deg == 30.0 for c in steps), "the flight turned the viewer's orbit"
    assert not flight.done(10.0 + FLIGHT_S / 2) and flight.done(10.0 + FLIGHT_S + 1e-6)
    near = Flight(Camera(distance_m=10.0), 0.0).camera(Camera(distance_m=10.0), FLIGHT_S, twin)
    assert near.distance_m == 10.0, "a flight never backs away from a near twin"


def test_tv_and_gym_colours_are_far_apart():
    tv, gym = PALETTE[9], PALETTE[12]
    assert np.abs(tv - gym).max() > 0.5
