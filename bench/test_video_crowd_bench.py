"""The video view's per-frame work at 100,000 twins (issue #14), each beside the way it replaced.

Groups (one frame's step each; the gateway does every one of them each frame, on one core):

- ``merge-100000``: ``net.wire.clone.merge_cells`` of 64 cells holding 100,000 twins (a
  hundred in two cells at once), by an id-indexed scatter (``scatter``) against its peer, the
  lexsort it replaced (``sort``, still its path for sparse ids);
- ``positions-100000``: ``Crowd.position_at`` (the feed's dead reckoning, every frame) of
  100,000 twins of whom ``MOVING_SHARE`` move, computing the moving ones only (``moving``)
  against its peer, ``net.wire.crowd.dead_reckon`` of all (``all``);
- ``overview-100000``: ``CrowdRenderer.render_planes`` of the default overview
  (``Camera.framing``) of 100,000 twins spread over a town (about 73,000 visible markers) with
  markers capped (``capped``, ``culling.MAX_MARKERS``) against its peer drawing all of them
  (``all_markers``). The renderer's llvmpipe threads follow the process's cores
  (``renderer.llvmpipe_threads``; run under ``taskset -c 1`` to see the gateway's case).

Measured loaded (2-core CPU shared with other work, Mesa llvmpipe 22.3, under ``taskset -c 1``,
median of 10): merge 3.3 ms against 7.0 ms; positions 1.3 ms against 2.8 ms; overview 21 ms
against 97 ms (about 172 ms before llvmpipe's threads were set to the process's one core).

Run: ``pytest bench/test_video_crowd_bench.py --benchmark-enable``. With benchmarks disabled
(the project default) every benchmark runs once, as a smoke test.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from synthtwin.components.pose import CLIPS
from synthtwin.engine.synth.body_model import synth_body
from synthtwin.engine.synth.motion import synth_library
from synthtwin.net.render import Camera, CrowdRenderer, CrowdView
from synthtwin.net.render.culling import select
from synthtwin.net.wire.clone import Crowd, _pick_by_sort, merge_cells
from synthtwin.net.wire.crowd import CrowdState, dead_reckon

TWINS = 100_000
CELLS = 64
SHARED = 100
"""Twins that two cells hold at once (crossing a border)."""
WIDTH, HEIGHT = 1280, 720
TOWN_SD_M = 8000.0
SEED = 2026
MOVING_SHARE = 0.2
"""Twins with a speed (the others stand: at home, at work, at school)."""
ROUNDS = 10


def _cells() -> list[CrowdState]:
    rng = np.random.default_rng(SEED)
    parts = np.array_split(rng.permutation(TWINS).astype(np.uint32), CELLS)
    parts[1] = np.concatenate([parts[1], parts[0][:SHARED]])
    states = []
    for k, ids in enumerate(parts):
        ids, n = np.sort(ids), len(ids)
        f32 = rng.uniform(0.0, 1.0, (4, n)).astype(np.float32)
        activity = rng.integers(0, 16, n).astype(np.uint8)
        clip = rng.integers(0, len(CLIPS), n).astype(np.uint8)
        states.append(
            CrowdState(
                (k, 0), 1, k + 1, 1.0, ids, rng.normal(0.0, TOWN_SD_M, (n, 2)), f32[0], f32[1],
                activity, clip, f32[2], f32[3], np.ones(n),
            )
        )  # fmt: skip
    return states


def _merge_by_sort(states: list[CrowdState]) -> Crowd:
    """The peer: ``merge_cells`` as it was, the rows it keeps found by a lexsort."""
    pick = _pick_by_sort(states)
    names = [f.name for f in dataclasses.fields(Crowd)]
    return Crowd(*(np.concatenate([getattr(s, f) for s in states])[pick] for f in names))


@pytest.mark.parametrize("side", ["scatter", "sort"])
def test_merge_cells(benchmark, side) -> None:
    benchmark.group = f"merge-{TWINS}"
    states = _cells()
    run = merge_cells if side == "scatter" else _merge_by_sort
    benchmark.pedantic(run, args=(states,), rounds=ROUNDS, warmup_rounds=1)
    assert len(merge_cells(states)) == TWINS
    for got, want in zip(
        dataclasses.astuple(merge_cells(states)),
        dataclasses.astuple(_merge_by_sort(states)),
        strict=True,
    ):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("side", ["moving", "all"])
def test_positions(benchmark, side) -> None:
    benchmark.group = f"positions-{TWINS}"
    crowd = merge_cells(_cells())
    rng = np.random.default_rng(SEED)
    speed = np.where(rng.random(TWINS) < MOVING_SHARE, crowd.speed_mps, 0.0).astype(np.float32)
    crowd = dataclasses.replace(crowd, speed_mps=speed)
    args = (crowd.pos_m, crowd.heading_rad, speed, crowd.sample_t_s, 3.0)
    run = (lambda: crowd.position_at(3.0)) if side == "moving" else (lambda: dead_reckon(*args))
    benchmark.pedantic(run, rounds=ROUNDS, warmup_rounds=1)
    np.testing.assert_array_equal(crowd.position_at(3.0), dead_reckon(*args))


@pytest.fixture(scope="module")
def overview() -> tuple[CrowdView, Camera]:
    rng = np.random.default_rng(SEED)
    pos = rng.normal(0.0, TOWN_SD_M, (TWINS, 2))
    crowd = CrowdView(
        np.arange(TWINS), pos, rng.uniform(0.0, 2 * np.pi, TWINS), rng.integers(0, 16, TWINS),
        rng.integers(0, len(CLIPS), TWINS), rng.uniform(0.0, 1.0, TWINS),
    )  # fmt: skip
    return crowd, Camera.framing(pos, WIDTH / HEIGHT)


@pytest.mark.parametrize("side", ["capped", "all_markers"])
def test_overview_render(benchmark, overview, side) -> None:
    benchmark.group = f"overview-{TWINS}"
    crowd, camera = overview
    cap = {} if side == "capped" else {"max_markers": TWINS}
    renderer = CrowdRenderer(synth_library(), synth_body(lod=1), WIDTH, HEIGHT, **cap)
    try:
        renderer.render_planes(crowd, camera)  # shaders compiled, buffers sized
        benchmark.pedantic(
            renderer.render_planes, args=(crowd, camera), rounds=ROUNDS, warmup_rounds=1
        )
        drawn = select(crowd.pos_m, camera, WIDTH, HEIGHT, ids=crowd.ids, **cap)
        benchmark.extra_info["markers"] = len(drawn.markers)
    finally:
        renderer.release()
