"""The video renderer's frame cost: a 720p frame rendered and read back as yuv420p planes.

Groups (one frame each, EGL; Mesa llvmpipe on the development machines):

- ``render-overview-1000``: the default overview (``Camera.framing``) of 1,000 twins spread over
  a town, all far enough to be markers;
- ``render-closeup-100``: 100 walking twins within 15 m of a tilted camera 30 m away, all drawn
  as skinned bodies (all at the coarse level of detail: none is 144 pixels tall).

``yuv_direct_selected`` is ``yuv_direct`` with the twin nearest the camera's target ringed and
labelled (``net.render.highlight``, numpy on the read-back planes). Measured loaded (two runs of
20): close-up 27.3-30.1 ms against 27.3-28.0 without, overview 12.0-14.0 against 8.7-9.2; the
ring and label alone 1-2 ms a frame at any distance (the ring was a distance test over its whole
square: 2.5 ms at 40 m, 9 ms at 10 m, 90 ms at 3 m before it was drawn row by row).

``yuv_direct_with_town`` is ``yuv_direct`` with the town of those twins drawn too (8,162 places
of ``engine.synth.town.build_town``; ``extra_info`` counts its boxes and points).

In each group ``yuv_direct`` is ``CrowdRenderer.render_planes`` (YUV written by the shaders,
chroma averaged on the GPU, three planes read back) and ``rgb_then_reformat`` is its peer, the
usual pipeline: the same scene, a full-size RGB read-back and libav's rgb24 -> yuv420p
conversion (``av.VideoFrame.reformat``). The peer's scene is the renderer's own pass (its
full-size colour attachment read as three channels), so only the read-back and the conversion
differ. ``extra_info`` holds the bodies (and of them the full-detail ones) and markers drawn.

Measured (median of 20, 2-core CPU shared with other work, Mesa llvmpipe 22.3, LLVM 15):
overview 2.8 ms, close-up 7.2 ms (36.3 ms before the bodies were posed on the CPU, back faces
culled and mid-distance bodies drawn with the coarse mesh). With the town (same runs, two runs
of 20): overview 3.4-3.6 ms (+0.5-0.7 ms: 30 boxes, 1,024 points), close-up 7.6 ms (+0.3-0.5
ms: 2 boxes). Views the groups do not cover cost more: 400 m away over the centre (117 large
boxes) about +1.5-2.5 ms, low over the centre (256 boxes, 1,024 points) about +2.5 ms.

Run: ``pytest bench/test_render_bench.py --benchmark-enable``. With benchmarks disabled (the
project default) every benchmark runs once, as a smoke test.
"""

from __future__ import annotations

import av
import numpy as np
import pytest

from synthtwin.components.pose import CLIPS
from synthtwin.components.town import Town
from synthtwin.engine.synth.body_model import synth_body
from synthtwin.engine.synth.motion import synth_library
from synthtwin.engine.synth.town import build_town
from synthtwin.net.render import Camera, CrowdRenderer, CrowdView
from synthtwin.net.render.culling import select
from synthtwin.net.render.town import select_places

WIDTH, HEIGHT = 1280, 720
SEED = 2026
TOWN_SD_M = 800.0
CLOSE_UP_HALF_M = 15.0
HOUSEHOLDS = 400
"""About the households of 1,000 synthesized twins: the town then has 8,162 places."""
ROUNDS = 20


def _crowd(pos_m: np.ndarray, rng: np.random.Generator, clip: np.ndarray) -> CrowdView:
    count = len(pos_m)
    return CrowdView(
        ids=np.arange(count),
        pos_m=pos_m,
        heading_rad=rng.uniform(0.0, 2 * np.pi, count),
        activity=rng.integers(0, 16, count),
        clip=clip,
        phase=rng.uniform(0.0, 1.0, count),
    )


def _overview() -> tuple[CrowdView, Camera]:
    rng = np.random.default_rng(SEED)
    crowd = _crowd(rng.normal(0.0, TOWN_SD_M, (1000, 2)), rng, rng.integers(0, len(CLIPS), 1000))
    return crowd, Camera.framing(crowd.pos_m, WIDTH / HEIGHT)


def _close_up() -> tuple[CrowdView, Camera]:
    rng = np.random.default_rng(SEED)
    pos = rng.uniform(-CLOSE_UP_HALF_M, CLOSE_UP_HALF_M, (100, 2))
    crowd = _crowd(pos, rng, np.full(100, CLIPS.index("walk")))
    return crowd, Camera(distance_m=30.0, pitch_deg=35.0)


SCENES = {"overview-1000": _overview, "closeup-100": _close_up}


def _town() -> Town:
    return build_town(np.random.default_rng(SEED), HOUSEHOLDS)


@pytest.fixture(scope="module")
def renderer():
    made = CrowdRenderer(synth_library(), synth_body(lod=1), WIDTH, HEIGHT)
    yield made
    made.release()


@pytest.fixture(scope="module")
def town_renderer():
    made = CrowdRenderer(synth_library(), synth_body(lod=1), WIDTH, HEIGHT)
    town = _town()
    made.set_town(town.kind, town.xy_m)
    yield made
    made.release()


def _rgb_then_reformat(renderer: CrowdRenderer, crowd: CrowdView, camera: Camera) -> av.VideoFrame:
    """The peer: draw the scene, read it back as full-size RGB, convert on the CPU."""
    renderer.render_planes(crowd, camera)
    rgb = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    renderer.scene.read_into(rgb, components=3, attachment=1, alignment=1)
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")


def _record(benchmark, renderer: CrowdRenderer, crowd: CrowdView, camera: Camera) -> None:
    drawn = select(crowd.pos_m, camera, WIDTH, HEIGHT, renderer.max_bodies)
    benchmark.extra_info["bodies"] = len(drawn.bodies)
    benchmark.extra_info["detailed"] = drawn.detailed
    benchmark.extra_info["markers"] = len(drawn.markers)


@pytest.mark.parametrize("scene", list(SCENES))
def test_yuv_direct(benchmark, renderer, scene) -> None:
    benchmark.group = f"render-{scene}"
    crowd, camera = SCENES[scene]()
    renderer.render_planes(crowd, camera)  # shaders compiled, buffers sized
    benchmark.pedantic(renderer.render_planes, args=(crowd, camera), rounds=ROUNDS, warmup_rounds=2)
    _record(benchmark, renderer, crowd, camera)


@pytest.mark.parametrize("scene", list(SCENES))
def test_yuv_direct_selected(benchmark, renderer, scene) -> None:
    """``yuv_direct`` with the twin nearest the camera's target ringed and labelled."""
    benchmark.group = f"render-{scene}"
    crowd, camera = SCENES[scene]()
    near = int(crowd.ids[np.argmin(np.hypot(*(crowd.pos_m - (camera.x, camera.y)).T))])
    args = (crowd, camera, near)
    renderer.render_planes(*args)
    benchmark.pedantic(renderer.render_planes, args=args, rounds=ROUNDS, warmup_rounds=2)
    _record(benchmark, renderer, crowd, camera)


@pytest.mark.parametrize("scene", list(SCENES))
def test_yuv_direct_with_town(benchmark, town_renderer, scene) -> None:
    benchmark.group = f"render-{scene}"
    crowd, camera = SCENES[scene]()
    town_renderer.render_planes(crowd, camera)
    benchmark.pedantic(
        town_renderer.render_planes, args=(crowd, camera), rounds=ROUNDS, warmup_rounds=2
    )
    _record(benchmark, town_renderer, crowd, camera)
    places = select_places(town_renderer.town, camera, WIDTH, HEIGHT)
    benchmark.extra_info["place_boxes"] = len(places.boxes)
    benchmark.extra_info["place_points"] = len(places.points)


@pytest.mark.parametrize("scene", list(SCENES))
def test_rgb_then_reformat(benchmark, renderer, scene) -> None:
    benchmark.group = f"render-{scene}"
    crowd, camera = SCENES[scene]()
    _rgb_then_reformat(renderer, crowd, camera)
    benchmark.pedantic(
        _rgb_then_reformat, args=(renderer, crowd, camera), rounds=ROUNDS, warmup_rounds=2
    )
    _record(benchmark, renderer, crowd, camera)
