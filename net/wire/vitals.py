"""``vitals``: the vital signs and daily totals of one twin or of many (a cell's twins).

Each field is an unsigned fixed-point code: ``value = offset + code * quantum``. Writers clamp
values to ``[lo, hi]`` first (documented saturation: a heart rate of 240 bpm travels as 220), so
the error is at most ``quantum / 2`` inside the range.

============= ======= ======== ======== ======== ==========================================
field         dtype   quantum  offset   lo..hi   meaning
============= ======= ======== ======== ======== ==========================================
ids           ``<u4`` -        -        -        twin ids, strictly ascending
hr_bpm        ``|u1`` 1        0        30..220  heart rate, 1/min
sbp_mmhg      ``|u1`` 1        0        60..250  systolic blood pressure, mmHg
dbp_mmhg      ``|u1`` 1        0        30..150  diastolic blood pressure, mmHg
rr_brpm       ``|u1`` 0.25     0        4..60    respiration rate, 1/min
spo2_pct      ``|u1`` 0.125    70       70..100  oxygen saturation, %
core_temp_c   ``|u1`` 0.05     34       34..42   core body temperature, degC
glucose_mgdl  ``<u2`` 0.1      0        30..600  plasma glucose, mg/dL
steps         ``<u4`` 1        0        0..1e5   steps today
energy_kcal   ``<u2`` 0.2      0        0..1e4   energy spent today, kcal
mets          ``|u1`` 0.1      0        0..20    intensity now, MET
activity      ``|u1`` 1        0        0..15    activity code (not clamped: >= 16 is an error)
============= ======= ======== ======== ======== ==========================================

Bytes per twin: 20. Every array has one row per id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from synthtwin.net.wire.arrays import check_ascending, check_rows, pack_array, read_array
from synthtwin.net.wire.each import EachField, pack_each
from synthtwin.net.wire.envelope import Envelope, pack_envelope, unpack_envelope
from synthtwin.net.wire.errors import BAD_VALUE, WireError

__all__ = [
    "ACTIVITY_LIMIT",
    "BYTES_PER_TWIN",
    "KIND",
    "VITAL_FIELDS",
    "VitalField",
    "VitalsMessage",
    "decode",
    "encode",
    "encode_each",
    "from_envelope",
]

KIND = "vitals"
ACTIVITY_LIMIT = 16
BYTES_PER_TWIN = 20


class VitalField(NamedTuple):
    """One fixed-point vital: ``value = offset + code * quantum``, clamped to ``[lo, hi]``."""

    name: str
    dtype: str
    quantum: float
    offset: float
    lo: float
    hi: float


VITAL_FIELDS = (
    VitalField("hr_bpm", "|u1", 1.0, 0.0, 30.0, 220.0),
    VitalField("sbp_mmhg", "|u1", 1.0, 0.0, 60.0, 250.0),
    VitalField("dbp_mmhg", "|u1", 1.0, 0.0, 30.0, 150.0),
    VitalField("rr_brpm", "|u1", 0.25, 0.0, 4.0, 60.0),
    VitalField("spo2_pct", "|u1", 0.125, 70.0, 70.0, 100.0),
    VitalField("core_temp_c", "|u1", 0.05, 34.0, 34.0, 42.0),
    VitalField("glucose_mgdl", "<u2", 0.1, 0.0, 30.0, 600.0),
    VitalField("steps", "<u4", 1.0, 0.0, 0.0, 100_000.0),
    VitalField("energy_kcal", "<u2", 0.2, 0.0, 0.0, 10_000.0),
    VitalField("mets", "|u1", 0.1, 0.0, 0.0, 20.0),
)


@dataclass(frozen=True)
class VitalsMessage:
    """Vitals of n twins (one per topic ``twin/<id>/vitals``, or a cell's).

    Attributes:
        tick, seq, t_s: envelope (simulation tick, publisher sequence number, sim time in s).
        ids: (n,) uint32 ascending.
        hr_bpm, sbp_mmhg, dbp_mmhg, rr_brpm, spo2_pct, core_temp_c, glucose_mgdl, steps,
            energy_kcal, mets: (n,) float32 in the units of their names (table above).
        activity: (n,) uint8 activity code, < 16.
    """

    tick: int
    seq: int
    t_s: float
    ids: np.ndarray
    hr_bpm: np.ndarray
    sbp_mmhg: np.ndarray
    dbp_mmhg: np.ndarray
    rr_brpm: np.ndarray
    spo2_pct: np.ndarray
    core_temp_c: np.ndarray
    glucose_mgdl: np.ndarray
    steps: np.ndarray
    energy_kcal: np.ndarray
    mets: np.ndarray
    activity: np.ndarray


def _field_table(attribute: str) -> np.ndarray:
    """``(F, 1) float64`` one attribute of every field of ``VITAL_FIELDS``."""
    return np.array([getattr(spec, attribute) for spec in VITAL_FIELDS])[:, None]


_LO, _HI, _OFFSET, _QUANTUM = (_field_table(a) for a in ("lo", "hi", "offset", "quantum"))


def _codes(msg: VitalsMessage) -> np.ndarray:
    """``(F, n) float64`` every field's codes (``VITAL_FIELDS`` order), values clamped to their
    ranges, all fields at once."""
    values = np.array([getattr(msg, spec.name) for spec in VITAL_FIELDS], dtype=np.float64)
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        name = VITAL_FIELDS[int(np.argmin(finite))].name
        raise ValueError(f"vitals field {name} holds a non-finite value")
    return np.rint((np.clip(values, _LO, _HI) - _OFFSET) / _QUANTUM)


def encode(msg: VitalsMessage) -> bytes:
    """The payload of ``msg`` (values clamped to their ranges).

    Raises:
        ValueError: ids not strictly ascending, a NaN or infinite vital, or an activity >= 16.
    """
    check_ascending(np.asarray(msg.ids), "body.ids")
    codes = _quantized(msg)
    return pack_envelope(KIND, msg.tick, msg.seq, msg.t_s, _body(codes, slice(None)))


def encode_each(msg: VitalsMessage) -> list[bytes]:
    """One payload per twin of ``msg`` (each twin's own topic ``twin/<id>/vitals``), twin ``i``
    with seq ``msg.seq + i``: byte for byte ``encode`` of each twin's message, with the values
    of all of them quantized at once.

    Raises:
        ValueError: as ``encode``.
    """
    fields = [EachField(name, dtype, [1], values.tobytes(), values.itemsize)
              for name, (values, dtype) in _quantized(msg).items()]  # fmt: skip
    return pack_each(KIND, msg.tick, msg.seq, msg.t_s, fields, len(msg.ids))


def _quantized(msg: VitalsMessage) -> dict[str, tuple[np.ndarray, str]]:
    """Each field's ``(n,)`` codes and dtype (ids and activity as they are)."""
    activity = np.asarray(msg.activity)
    if activity.size and activity.max() >= ACTIVITY_LIMIT:
        raise ValueError(f"activity codes must be < {ACTIVITY_LIMIT}")
    codes = {"ids": (np.asarray(msg.ids, dtype="<u4"), "<u4")}
    for spec, values in zip(VITAL_FIELDS, _codes(msg), strict=True):
        codes[spec.name] = (values.astype(spec.dtype), spec.dtype)
    codes["activity"] = (activity.astype(np.uint8), "|u1")
    return codes


def _body(codes: dict[str, tuple[np.ndarray, str]], rows: slice) -> dict:
    """The body of the twins ``rows`` of ``codes`` (from ``_quantized``)."""
    return {name: pack_array(values[rows], dtype) for name, (values, dtype) in codes.items()}


def _read_activity(body: dict, rows: int) -> np.ndarray:
    activity = read_array(body, "activity", "body", "|u1")
    check_rows(activity, "body.activity", rows)
    if rows and activity.max() >= ACTIVITY_LIMIT:
        bad = int(activity[activity >= ACTIVITY_LIMIT][0])
        raise WireError(
            BAD_VALUE, f"field 'body.activity' holds {bad}, expected < {ACTIVITY_LIMIT}"
        )
    return activity


def from_envelope(env: Envelope) -> VitalsMessage:
    """The vitals message in a decoded envelope (see ``decode``)."""
    ids = read_array(env.body, "ids", "body", "<u4")
    check_ascending(ids, "body.ids")
    values = {}
    for spec in VITAL_FIELDS:
        codes = read_array(env.body, spec.name, "body", spec.dtype)
        check_rows(codes, f"body.{spec.name}", len(ids))
        values[spec.name] = (spec.offset + codes * spec.quantum).astype(np.float32)
    activity = _read_activity(env.body, len(ids))
    return VitalsMessage(env.tick, env.seq, env.t_s, ids, activity=activity, **values)


def decode(data: bytes) -> VitalsMessage:
    """Decode and check a vitals payload (fields checked in table order).

    Raises:
        WireError: any envelope error, or missing_field, wrong_type, length_mismatch or bad_value
            (ids not strictly ascending, an activity >= 16).
    """
    return from_envelope(unpack_envelope(data, KIND))
