"""``pose``: full joint rotations and root translations of a few selected twins.

Body (M twins, J joints; SMPL: J = 24):

===== ======= =========== ========================================================================
field dtype   shape       meaning
===== ======= =========== ========================================================================
ids   ``<u4`` (M,)        twin ids, strictly ascending
rot   ``<u2`` (M, J, 3)   joint rotations, smallest-three, three 16-bit words per joint (below)
root  ``<i4`` (M, 3)      SMPL root translation, mm, map frame (x east, y north, z up)
===== ======= =========== ========================================================================

Smallest-three: of a unit quaternion (w, x, y, z) the component of largest magnitude is dropped
(its sign made positive by negating the quaternion, which is the same rotation). Its index
(0 = w .. 3 = z) is split over bit 15 of word 0 (high bit) and bit 15 of word 1 (low bit); bit 15
of word 2 is 0. Bits 0..14 of word k hold the k-th remaining component, in w, x, y, z order, as
``code = round((c + S) * 16383 / S)`` (0..32766) with ``S = 1 / sqrt(2)``; a reader rebuilds
``c = (code - 16383) * S / 16383``, the dropped one as ``sqrt(max(0, 1 - a^2 - b^2 - c^2))``, and
normalizes. 0 is exact (so is the identity); component error <= e = S / 32766 = 2.16e-5; rotation
angle error <= 4 sqrt(3) e = 1.50e-4 rad = 0.0086 deg (``MAX_ANGLE_ERROR_DEG``; first order, worst
at q = (1/2, 1/2, 1/2, 1/2)); measured max 0.0080 deg over that case and 10^6 random rotations.

Bytes per twin: 4 + 6 J + 12 = 160 for SMPL (raw float32 rotations and position: 396).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthtwin.net.wire.arrays import check_ascending, check_rows, pack_array, read_array
from synthtwin.net.wire.each import EachField, pack_each
from synthtwin.net.wire.envelope import Envelope, pack_envelope, unpack_envelope

__all__ = [
    "COMPONENT_BITS",
    "KIND",
    "MAX_ANGLE_ERROR_DEG",
    "ROOT_QUANTUM_M",
    "PoseMessage",
    "decode",
    "encode",
    "encode_each",
    "from_envelope",
    "pack_quaternions",
    "unpack_quaternions",
]

KIND = "pose"
COMPONENT_BITS = 15
ROOT_QUANTUM_M = 0.001
MAX_ANGLE_ERROR_DEG = 0.0086
"""Bound on the rotation angle between a quaternion and its decoded copy (checked in tests)."""

_HALF = (1 << (COMPONENT_BITS - 1)) - 1  # 16383: code of 0, so the identity is exact
_S = 1.0 / np.sqrt(2.0)
_LOW = np.uint16((1 << COMPONENT_BITS) - 1)
_ROOT_LIMIT_MM = 2**31 - 1
# The three kept components for each dropped index, in w, x, y, z order.
_KEPT = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])


@dataclass(frozen=True)
class PoseMessage:
    """Poses of M twins with J joints each.

    Attributes:
        tick, seq, t_s: envelope (simulation tick, publisher sequence number, sim time in s).
        ids: (M,) uint32 ascending.
        quat: (M, J, 4) float32 unit quaternions (w, x, y, z), joint rotations relative to parent.
        root_m: (M, 3) float64 SMPL root translation, m, map frame (x east, y north, z up).
    """

    tick: int
    seq: int
    t_s: float
    ids: np.ndarray
    quat: np.ndarray
    root_m: np.ndarray


def pack_quaternions(quat: np.ndarray) -> np.ndarray:
    """Smallest-three words of quaternions.

    Args:
        quat: (..., 4) float (w, x, y, z), any finite non-zero norm (normalized here).

    Returns:
        (..., 3) uint16 words.

    Raises:
        ValueError: a zero or non-finite quaternion.
    """
    q = np.asarray(quat, dtype=np.float64).reshape(-1, 4)  # (n, 4)
    norm = np.sqrt(np.einsum("ij,ij->i", q, q))[:, None]
    if not (np.isfinite(norm).all() and (norm > 0).all()):
        raise ValueError("quaternions must be finite and non-zero")
    q = q / norm
    largest = np.abs(q).argmax(axis=1)
    each = np.arange(len(q))
    q *= np.where(q[each, largest] < 0, -1.0, 1.0)[:, None]  # the dropped component positive
    kept = q[each[:, None], _KEPT[largest]]
    codes = np.rint((np.clip(kept, -_S, _S) + _S) * (_HALF / _S)).astype(np.uint16)
    codes[:, 0] |= ((largest >> 1) << COMPONENT_BITS).astype(np.uint16)
    codes[:, 1] |= ((largest & 1) << COMPONENT_BITS).astype(np.uint16)
    return codes.reshape(*np.shape(quat)[:-1], 3)


def unpack_quaternions(words: np.ndarray) -> np.ndarray:
    """(..., 3) uint16 smallest-three words -> (..., 4) float32 unit quaternions (w, x, y, z)."""
    largest = ((words[..., 0] >> COMPONENT_BITS) << 1) | (words[..., 1] >> COMPONENT_BITS)
    kept = ((words & _LOW).astype(np.float64) - _HALF) * (_S / _HALF)
    dropped = np.sqrt(np.maximum(0.0, 1.0 - (kept * kept).sum(axis=-1)))
    q = np.empty((*words.shape[:-1], 4))
    np.put_along_axis(q, _KEPT[largest], kept, -1)
    np.put_along_axis(q, largest[..., None].astype(np.intp), dropped[..., None], -1)
    return (q / np.linalg.norm(q, axis=-1, keepdims=True)).astype(np.float32)


def encode(msg: PoseMessage) -> bytes:
    """The payload of ``msg``.

    Raises:
        ValueError: ids not strictly ascending, a zero or non-finite quaternion, or a root
            translation beyond the int32 millimetre range (+-2147 km) or not finite.
    """
    check_ascending(np.asarray(msg.ids), "body.ids")
    ids, rot, root_mm = _quantized(msg)
    return pack_envelope(KIND, msg.tick, msg.seq, msg.t_s, _body(ids, rot, root_mm))


def encode_each(msg: PoseMessage) -> list[bytes]:
    """One payload per twin of ``msg`` (each twin's own topic ``twin/<id>/pose``), twin ``i``
    with seq ``msg.seq + i``: byte for byte ``encode`` of each twin's message, with every
    quaternion packed at once.

    Raises:
        ValueError: as ``encode``.
    """
    ids, rot, root_mm = _quantized(msg)
    fields = [
        EachField("ids", "<u4", [1], ids.astype("<u4").tobytes(), 4),
        EachField("rot", "<u2", [1, *rot.shape[1:]], rot.astype("<u2").tobytes(), rot[0:1].nbytes),
        EachField("root", "<i4", [1, 3], root_mm.astype("<i4").tobytes(), 12),
    ]
    return pack_each(KIND, msg.tick, msg.seq, msg.t_s, fields, len(ids))


def _quantized(msg: PoseMessage) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(M,)`` ids, ``(M, J, 3)`` rotation words and ``(M, 3)`` root millimetres of ``msg``."""
    root_mm = np.rint(np.asarray(msg.root_m, dtype=np.float64) / ROOT_QUANTUM_M)
    if root_mm.size and not (np.abs(root_mm) <= _ROOT_LIMIT_MM).all():
        raise ValueError("root translation must be finite, within the int32 millimetre range")
    return np.asarray(msg.ids), pack_quaternions(msg.quat), root_mm


def _body(ids: np.ndarray, rot: np.ndarray, root_mm: np.ndarray) -> dict:
    return {
        "ids": pack_array(ids, "<u4"),
        "rot": pack_array(rot, "<u2"),
        "root": pack_array(root_mm, "<i4"),
    }


def from_envelope(env: Envelope) -> PoseMessage:
    """The pose message in a decoded envelope (see ``decode``)."""
    ids = read_array(env.body, "ids", "body", "<u4")
    check_ascending(ids, "body.ids")
    rot = read_array(env.body, "rot", "body", "<u2", (None, 3))
    check_rows(rot, "body.rot", len(ids))
    root = read_array(env.body, "root", "body", "<i4", (3,))
    check_rows(root, "body.root", len(ids))
    return PoseMessage(
        env.tick, env.seq, env.t_s, ids, unpack_quaternions(rot), root * ROOT_QUANTUM_M
    )


def decode(data: bytes) -> PoseMessage:
    """Decode and check a pose payload (fields checked in table order).

    Raises:
        WireError: any envelope error, or missing_field, wrong_type, length_mismatch or bad_value
            (ids not strictly ascending).
    """
    return from_envelope(unpack_envelope(data, KIND))
