"""``shape``: the body of one twin or of many: which body model and its SMPL shape coefficients.

Body (M twins, B shape coefficients; this server: B = 10), on the topic ``twin/<id>/shape``:

===== ======= ======== ========================================================================
field dtype   shape    meaning
===== ======= ======== ========================================================================
ids   ``<u4`` (M,)     twin ids, strictly ascending
model ``|u1`` (M,)     body model: 0 female, 1 male, 2 neutral (``MODELS``); >= 3 is an error
betas ``<f4`` (M, B)   SMPL shape coefficients (protocol section 14): [0] stature, [1] girth as
                       z scores within the model's sex, [2:] proportions; finite
===== ======= ======== ========================================================================

The body is appearance, what a viewer draws, not health data: it travels on the main PUB. A twin's
shape does not change while a server runs; the server sends it when a twin becomes followed and
again every second while it is (protocol section 9, rule 5), so a second subscriber gets it too.

Bytes per twin: 4 + 1 + 4 B = 45 for B = 10.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthtwin.net.wire.arrays import check_ascending, check_rows, pack_array, read_array
from synthtwin.net.wire.envelope import Envelope, pack_envelope, unpack_envelope
from synthtwin.net.wire.errors import BAD_VALUE, WireError

__all__ = [
    "KIND",
    "MODELS",
    "Body",
    "ShapeMessage",
    "bodies",
    "decode",
    "encode",
    "encode_each",
    "from_envelope",
]

KIND = "shape"
MODELS = ("female", "male", "neutral")
"""Body model names; a model's code is its index (SMPL's three models, ``kernels.smpl.GENDERS``)."""


@dataclass(frozen=True)
class ShapeMessage:
    """The bodies of M twins.

    Attributes:
        tick, seq, t_s: envelope (simulation tick, publisher sequence number, sim time in s).
        ids: (M,) uint32 ascending.
        model: (M,) uint8 body model code, index into ``MODELS``.
        betas: (M, B) float32 SMPL shape coefficients.
    """

    tick: int
    seq: int
    t_s: float
    ids: np.ndarray
    model: np.ndarray
    betas: np.ndarray


@dataclass(frozen=True)
class Body:
    """One twin's body, as a client keeps it.

    Attributes:
        model: the body model's name, one of ``MODELS``.
        betas: (B,) float32 SMPL shape coefficients.
        seq: the sequence number of the message that carried it.
    """

    model: str
    betas: np.ndarray
    seq: int


def bodies(msg: ShapeMessage) -> dict[int, Body]:
    """Each twin of ``msg`` by id, with its own copy of its betas."""
    rows = zip(msg.ids.tolist(), msg.model.tolist(), msg.betas, strict=True)
    return {twin: Body(MODELS[code], betas.copy(), msg.seq) for twin, code, betas in rows}


def _checked(msg: ShapeMessage) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(M,)`` ids, ``(M,)`` model codes and ``(M, B)`` betas of ``msg``, or a ValueError."""
    ids, model = np.asarray(msg.ids), np.asarray(msg.model)
    betas = np.asarray(msg.betas, dtype=np.float32)
    check_ascending(ids, "body.ids")
    if betas.ndim != 2 or len(betas) != len(ids) or len(model) != len(ids):
        raise ValueError(f"betas must be (M, B) and model (M,) for {len(ids)} ids")
    if model.size and int(model.max()) >= len(MODELS):
        raise ValueError(f"model codes must be < {len(MODELS)}, got {int(model.max())}")
    if not np.isfinite(betas).all():
        raise ValueError("betas must be finite")
    return ids, model, betas


def encode(msg: ShapeMessage) -> bytes:
    """The payload of ``msg``.

    Raises:
        ValueError: ids not strictly ascending, rows that do not match, a model code >= 3 or a
            non-finite beta.
    """
    ids, model, betas = _checked(msg)
    return pack_envelope(KIND, msg.tick, msg.seq, msg.t_s, _body(ids, model, betas))


def encode_each(msg: ShapeMessage) -> list[bytes]:
    """One payload per twin of ``msg`` (each twin's own topic ``twin/<id>/shape``), twin ``i``
    with seq ``msg.seq + i``: byte for byte ``encode`` of each twin's message.

    Raises:
        ValueError: as ``encode``.
    """
    ids, model, betas = _checked(msg)
    return [
        pack_envelope(KIND, msg.tick, msg.seq + i, msg.t_s, _body(ids[i : i + 1],
                      model[i : i + 1], betas[i : i + 1]))
        for i in range(len(ids))
    ]  # fmt: skip


def _body(ids: np.ndarray, model: np.ndarray, betas: np.ndarray) -> dict:
    return {
        "ids": pack_array(ids, "<u4"),
        "model": pack_array(model, "|u1"),
        "betas": pack_array(betas, "<f4"),
    }


def from_envelope(env: Envelope) -> ShapeMessage:
    """The shape message in a decoded envelope (see ``decode``)."""
    ids = read_array(env.body, "ids", "body", "<u4")
    check_ascending(ids, "body.ids")
    model = read_array(env.body, "model", "body", "|u1")
    check_rows(model, "body.model", len(ids))
    if model.size and int(model.max()) >= len(MODELS):
        bad = int(model[model >= len(MODELS)][0])
        raise WireError(BAD_VALUE, f"field 'body.model' holds {bad}, expected < {len(MODELS)}")
    betas = read_array(env.body, "betas", "body", "<f4", (None,))
    check_rows(betas, "body.betas", len(ids))
    if not np.isfinite(betas).all():
        raise WireError(BAD_VALUE, "field 'body.betas' must be finite")
    return ShapeMessage(env.tick, env.seq, env.t_s, ids, model, betas)


def decode(data: bytes) -> ShapeMessage:
    """Decode and check a shape payload (fields checked in table order).

    Raises:
        WireError: any envelope error, or missing_field, wrong_type, length_mismatch or bad_value
            (ids not strictly ascending, a model code >= 3, a non-finite beta).
    """
    return from_envelope(unpack_envelope(data, KIND))
