"""The animation math of a crowd: rotations as unit quaternions, sampled and blended per joint.

Pure functions of numpy arrays, importing nothing from the project, vectorised over twins (no
Python loop per twin), so a Warp or numba kernel can replace any of them one for one. A client
turns each clip's axis-angle ``poses`` into quaternions once (:func:`axis_angle_to_quat`), then
every frame samples each twin's clip at its ``clip_phase`` (:func:`sample_clip`) and cross-fades
from the previous clip by ``clip_blend`` (:func:`blend_poses`). The server samples with
``kernels.numba.poses``, these two compiled twin by twin; here they stay the reference its tests
and benchmark hold it to, and the formulation a client's vector code follows.

Pattern: *keyframe sampling with spherical linear interpolation* (Shoemake 1985, "Animating
rotation with quaternion curves"): a looped clip is a ring of key rotations; a phase picks the two
nearest keys and slerps between them along the shorter arc.

Conventions: quaternions are ``(w, x, y, z)``, unit length; ``q`` and ``-q`` are the same rotation.
Axis-angle vectors are the rotation axis times the angle in radians (SMPL's ``poses``).
Glossary: N twins, J joints, T frames; ``...`` any leading shape.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "axis_angle_to_quat",
    "blend_poses",
    "quat_to_axis_angle",
    "sample_clip",
    "slerp",
]


def _float(array: np.ndarray) -> np.ndarray:
    """``array`` as floats: float32 and float64 kept, anything else float64."""
    array = np.asarray(array)
    return array if array.dtype in (np.float32, np.float64) else array.astype(np.float64)


def axis_angle_to_quat(axis_angle: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(..., 4)`` (w, x, y, z) of axis-angle vectors ``(..., 3)`` (radians).

    ``sin(a / 2) / a`` is written with ``np.sinc``, so the zero vector gives the identity exactly.
    """
    axis_angle = _float(axis_angle)
    angle = np.linalg.norm(axis_angle, axis=-1, keepdims=True)  # (..., 1) radians
    half_sinc = 0.5 * np.sinc(angle / (2 * np.pi))  # sin(angle / 2) / angle
    return np.concatenate([np.cos(angle / 2), axis_angle * half_sinc], axis=-1)


def quat_to_axis_angle(quats: np.ndarray) -> np.ndarray:
    """Axis-angle vectors ``(..., 3)`` (radians, angle in [0, pi]) of quaternions ``(..., 4)``.

    The quaternions are normalised first; ``q`` and ``-q`` give the same vector.
    """
    quats = _float(quats)
    quats = quats / np.linalg.norm(quats, axis=-1, keepdims=True)
    quats = np.where(quats[..., :1] < 0, -quats, quats)  # w >= 0: the angle is at most pi
    w, xyz = quats[..., :1], quats[..., 1:]
    sin_half = np.linalg.norm(xyz, axis=-1, keepdims=True)
    angle = 2 * np.arctan2(sin_half, w)  # (..., 1) radians
    # angle / sin(angle / 2), which tends to 2 / w as the angle goes to 0
    scale = np.divide(angle, sin_half, out=2 / np.maximum(w, 0.5), where=sin_half > 1e-7)
    return xyz * scale


def slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Spherical linear interpolation along the shorter arc: quaternions ``(..., 4)``.

    Args:
        q0: ``(..., 4)`` unit quaternions at ``t = 0``.
        q1: ``(..., 4)`` unit quaternions at ``t = 1``; negated where ``q0 . q1 < 0`` so the path
            is the shorter of the two arcs (the rotation angle never exceeds 180 degrees).
        t: ``(...)`` interpolation weights, broadcast against ``q0.shape[:-1]``, usually in [0, 1].

    Returns:
        ``(..., 4)``: ``q0`` exactly at ``t = 0``; ``q1`` or ``-q1`` (the same rotation) at
        ``t = 1``. The arc angle ``omega = 2 atan2(|q1 - q0|, |q1 + q0|)`` stays accurate for
        nearly equal quaternions, and the weights ``sin((1 - t) omega) / sin(omega)`` are written
        with ``np.sinc``, so equal inputs need no special case.
    """
    q0, q1 = _float(q0), _float(q1)
    t = np.asarray(t, dtype=np.result_type(q0, q1))[..., None]  # (..., 1)
    q1 = np.where(np.sum(q0 * q1, axis=-1, keepdims=True) < 0, -q1, q1)
    chord = np.linalg.norm(q1 - q0, axis=-1, keepdims=True)
    omega = 2 * np.arctan2(chord, np.linalg.norm(q1 + q0, axis=-1, keepdims=True))  # (..., 1)
    sinc_omega = np.sinc(omega / np.pi)  # sin(omega) / omega, >= 2 / pi as omega <= pi / 2
    w0 = (1 - t) * np.sinc((1 - t) * omega / np.pi) / sinc_omega
    w1 = t * np.sinc(t * omega / np.pi) / sinc_omega
    return w0 * q0 + w1 * q1


def sample_clip(quats: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Poses ``(N, J, 4)`` of a looped clip ``quats (T, J, 4)`` at phases ``phase (N,)``.

    Frame ``k`` sits at phase ``k / T`` and the loop closes (phase 1 is frame 0 again); a phase
    between frames slerps the two nearest. Phases are taken modulo 1.
    """
    num_frames = len(quats)
    position = np.mod(np.asarray(phase, dtype=np.float64), 1.0) * num_frames  # (N,) frames
    first = np.minimum(np.floor(position).astype(np.int64), num_frames - 1)  # (N,)
    weight = position - first  # (N,) in [0, 1)
    after = (first + 1) % num_frames
    return slerp(quats[first], quats[after], weight[:, None].astype(quats.dtype))


def blend_poses(previous: np.ndarray, current: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Cross-fade ``(N, J, 4)``: per-joint slerp from ``previous`` to ``current`` by ``weight``.

    ``previous``, ``current`` ``(N, J, 4)`` unit quaternions; ``weight (N,)`` in [0, 1] (the
    ``clip_blend`` column): 0 gives ``previous``, 1 gives ``current`` (up to the sign of ``q``).
    """
    return slerp(previous, current, np.asarray(weight)[:, None])
