"""Joint rotations of a few twins from their animation state, in one compiled pass.

The math is ``kernels.animation``'s, twin by twin: each twin's clip is sampled at its phase
(``sample_clip``: the two nearest frames of the loop, slerped) and, while it cross-fades, so is
the clip it leaves, the two slerped by ``clip_blend`` (``blend_poses``). The numpy formulation
costs ~20 array passes per clip present, a fixed ~0.1-0.2 ms whatever the count, which the
publisher paid every tick for the handful of twins followed by id; here the cost is a few
microseconds plus ~0.2 us a twin (``bench/test_pose_sampling_bench.py``). The arithmetic is in
float64, the result float32, within 4e-7 of the numpy formulation's float32 arithmetic
(measured over 200,000 random states; ``tests/test_pose_sampling.py`` allows 2e-6).

Layout: every clip's frames in one ``(F, J, 4) float32`` array, clip ``c`` at rows
``start[c] : start[c] + count[c]`` (``pack_frames``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["pack_frames", "sample_poses"]


def pack_frames(quats: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each clip's ``(T_c, J, 4)`` frames in one array: ``(F, J, 4) float32`` frames, ``(C,)
    int64`` first row and ``(C,) int64`` frame count of each clip."""
    count = np.array([len(q) for q in quats], dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    return np.concatenate(quats).astype(np.float32), start, count


@njit(cache=True, nogil=True)
def _sinc(x: float) -> float:
    """``sin(x) / x``, 1 at 0."""
    return 1.0 if x == 0.0 else math.sin(x) / x


@njit(cache=True, nogil=True)
def _slerp(q0: np.ndarray, q1: np.ndarray, t: float, out: np.ndarray) -> None:
    """``out (4,)`` = slerp of unit quaternions ``q0``, ``q1`` ``(4,)`` by ``t`` along the
    shorter arc (``kernels.animation.slerp``: the same chord form of the arc angle and sinc
    weights, so equal inputs need no special case)."""
    sign = 1.0 if q0[0] * q1[0] + q0[1] * q1[1] + q0[2] * q1[2] + q0[3] * q1[3] >= 0.0 else -1.0
    chord = 0.0
    across = 0.0
    for k in range(4):
        b = sign * q1[k]
        chord += (b - q0[k]) ** 2
        across += (b + q0[k]) ** 2
    omega = 2.0 * math.atan2(math.sqrt(chord), math.sqrt(across))
    w0 = (1.0 - t) * _sinc((1.0 - t) * omega) / _sinc(omega)
    w1 = t * _sinc(t * omega) / _sinc(omega)
    for k in range(4):
        out[k] = w0 * q0[k] + w1 * sign * q1[k]


@njit(cache=True, nogil=True)
def _sample(frames: np.ndarray, start: int, count: int, phase: float, out: np.ndarray) -> None:
    """``out (J, 4)``: the clip of ``count`` frames from row ``start`` at ``phase`` (taken
    modulo 1; frame ``k`` at ``k / count``, the loop closing on frame 0)."""
    position = (phase % 1.0) * count
    first = min(int(math.floor(position)), count - 1)
    weight = position - first
    after = (first + 1) % count
    for j in range(frames.shape[1]):
        _slerp(frames[start + first, j], frames[start + after, j], weight, out[j])


@njit(cache=True, nogil=True)
def sample_poses(
    frames: np.ndarray,
    start: np.ndarray,
    count: np.ndarray,
    clip: np.ndarray,
    previous: np.ndarray,
    phase: np.ndarray,
    blend: np.ndarray,
) -> np.ndarray:
    """``(N, J, 4) float32`` joint rotations (w, x, y, z) of N twins.

    Args:
        frames, start, count: the clips (``pack_frames``).
        clip, previous: ``(N,)`` unsigned clip codes now and being faded out, below C.
        phase: ``(N,)`` position in the loop, 0..1. blend: ``(N,)`` weight of ``clip``; below 1
            the pose is slerped from ``previous``'s at the same phase.

    Raises:
        ValueError: a clip code of ``clip`` or ``previous`` not below C.
    """
    joints = frames.shape[1]
    out = np.empty((len(clip), joints, 4), dtype=np.float32)
    now = np.empty((joints, 4))
    before = np.empty((joints, 4))
    mixed = np.empty(4)
    for i in range(len(clip)):
        c = clip[i]
        p = previous[i]
        if c >= start.size or p >= start.size:
            raise ValueError("clip codes must be below the library's clip count")
        _sample(frames, start[c], count[c], phase[i], now)
        if blend[i] < 1.0:
            _sample(frames, start[p], count[p], phase[i], before)
            for j in range(joints):
                _slerp(before[j], now[j], blend[i], mixed)
                now[j] = mixed
        out[i] = now
    return out
