"""The compiled pose sampler (``kernels.numba.poses``) against the numpy formulation of its math
(``kernels.animation.sample_clip`` and ``blend_poses``), twin for twin."""

from __future__ import annotations

import numpy as np
import pytest

from synthtwin.engine.synth.motion import synth_library
from synthtwin.kernels.animation import blend_poses, sample_clip
from synthtwin.kernels.numba.poses import pack_frames, sample_poses

RNG = np.random.default_rng(11)


def _unit(shape: tuple[int, ...]) -> np.ndarray:
    quats = RNG.normal(size=(*shape, 4))
    return (quats / np.linalg.norm(quats, axis=-1, keepdims=True)).astype(np.float32)


def numpy_poses(quats: list[np.ndarray], clip, previous, phase, blend) -> np.ndarray:
    """``(N, J, 4)`` by the numpy formulation (``ClipLibrary.poses`` before the kernel): each
    clip present sampled at once, then the fading twins blended."""

    def sample(codes: np.ndarray, phases: np.ndarray) -> np.ndarray:
        out = np.empty((len(codes), quats[0].shape[1], 4), dtype=np.float32)
        for code in np.unique(codes):
            rows = codes == code
            out[rows] = sample_clip(quats[code], phases[rows])
        return out

    current = sample(clip, phase)
    fading = blend < 1.0
    if fading.any():
        before = sample(previous[fading], phase[fading])
        current[fading] = blend_poses(before, current[fading], blend[fading])
    return current


def _same_rotation(a: np.ndarray, b: np.ndarray, atol: float) -> None:
    """Equal up to the sign of each quaternion."""
    sign = np.where(np.sum(a * b, axis=-1, keepdims=True) < 0, -1.0, 1.0)
    np.testing.assert_allclose(a, sign * b, atol=atol)


def test_random_clips_and_states_match_the_numpy_formulation():
    quats = [_unit((frames, 24)) for frames in (1, 2, 7, 30)]
    n = 400
    clip = RNG.integers(0, 4, n).astype(np.uint8)
    previous = RNG.integers(0, 4, n).astype(np.uint8)
    phase = RNG.uniform(-1.5, 2.5, n).astype(np.float32)
    blend = np.where(RNG.random(n) < 0.5, 1.0, RNG.uniform(0, 1, n)).astype(np.float32)
    blend[:8] = 0.0
    ours = sample_poses(*pack_frames(quats), clip, previous, phase, blend)
    assert ours.shape == (n, 24, 4) and ours.dtype == np.float32
    _same_rotation(ours, numpy_poses(quats, clip, previous, phase, blend), atol=2e-6)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=-1), 1.0, atol=1e-6)


@pytest.mark.parametrize("frame", [0, 3, 6])
def test_a_phase_on_a_frame_gives_that_frame(frame):
    quats = [_unit((7, 24))]
    one = np.zeros(1, dtype=np.uint8)
    ours = sample_poses(*pack_frames(quats), one, one, np.array([frame / 7]), np.ones(1))
    _same_rotation(ours[0], quats[0][frame], atol=1e-6)


def test_a_blend_of_zero_is_the_previous_clip_and_nobody_is_no_pose():
    quats = [_unit((5, 24)), _unit((9, 24))]
    frames = pack_frames(quats)
    ours = sample_poses(*frames, np.array([1]), np.array([0]), np.array([0.4]), np.zeros(1))
    _same_rotation(ours[0], sample_clip(quats[0], np.array([0.4]))[0], atol=1e-6)
    empty = np.zeros(0, dtype=np.uint8)
    assert sample_poses(*frames, empty, empty, np.zeros(0), np.zeros(0)).shape == (0, 24, 4)


def test_the_library_samples_its_clips_with_the_kernel():
    library = synth_library()
    n = 64
    clip = RNG.integers(0, len(library.clips), n).astype(np.uint8)
    previous = RNG.integers(0, len(library.clips), n).astype(np.uint8)
    phase = RNG.random(n).astype(np.float32)
    blend = RNG.uniform(0, 1.2, n).clip(0, 1).astype(np.float32)
    expected = numpy_poses(library.quats, clip, previous, phase, blend)
    _same_rotation(library.poses(clip, previous, phase, blend), expected, atol=2e-6)
    heights = library.root_height_m(clip, phase)
    for i in range(n):
        trans = library.clips[clip[i]].trans
        assert heights[i] == np.float32(trans[min(int(phase[i] * len(trans)), len(trans) - 1), 1])
