"""Joint rotations of N twins from their animation state: the compiled sampler that
``ClipLibrary.poses`` runs (``kernels.numba.poses``) beside the numpy formulation it replaced
(``kernels.animation``: each clip present sampled by array passes, then the cross-fades;
``tests.test_pose_sampling.numpy_poses``).

N = 8 is what the publisher samples a tick for the twins followed by id (``TWINS_PER_TICK``);
N = 1,000 is a skinning batch. The synthesized clip library, twins spread over every clip with a
fifth of them cross-fading.

Run: ``.venv/bin/python -m pytest bench/test_pose_sampling_bench.py --benchmark-enable``.
"""

from __future__ import annotations

import numpy as np
import pytest

from synthtwin.engine.synth.motion import synth_library
from synthtwin.kernels.clips import ClipLibrary
from tests.test_pose_sampling import numpy_poses


@pytest.fixture(scope="module")
def library() -> ClipLibrary:
    return synth_library()


@pytest.mark.parametrize("twins", [8, 1000])
@pytest.mark.parametrize("side", ["numba", "numpy"])
def test_sampling_poses(benchmark, library, side, twins):
    benchmark.group = f"pose-sampling-{twins}"
    rng = np.random.default_rng(3)
    clip = rng.integers(0, len(library.clips), twins).astype(np.uint8)
    previous = rng.integers(0, len(library.clips), twins).astype(np.uint8)
    phase = rng.random(twins).astype(np.float32)
    blend = np.where(rng.random(twins) < 0.2, rng.random(twins), 1.0).astype(np.float32)
    sample = library.poses if side == "numba" else lambda *s: numpy_poses(library.quats, *s)
    poses = benchmark(sample, clip, previous, phase, blend)
    assert poses.shape == (twins, 24, 4)
