"""``crowd``: the animation state of the twins in one spatial cell, as keyframes and deltas.

Pattern: Clone (ZeroMQ guide, chapter 5) with keyframes. Per cell, a ``CrowdEncoder`` publishes a
keyframe (every twin of the cell) every ``keyframe_every`` updates and, in between, deltas against
the LAST KEYFRAME, never against the last delta: any one delta plus its keyframe is the whole state,
so a lost delta costs nothing and a late joiner needs only the keyframe and the latest delta. A
keyframe is the message whose ``base`` equals its own ``seq``; a delta names its keyframe's seq.

Body (one record per twin, struct of arrays; R = popcount(changed) + len(ids)):

========= ======= ======== ===================================================================
field     dtype   shape    meaning
========= ======= ======== ===================================================================
cell      int[2]  -        ``[ix, iy]``, the cell (``net.wire.topics``)
base      int     -        seq of the keyframe this message is against; == seq for a keyframe
changed   ``|u1`` (B,)     delta: bit i (LSB first) set if base twin i changed; keyframe: empty
ids       ``<u4`` (A,)     twins not in the base, ascending; a keyframe's base is empty: all twins
gone      ``<u4`` (G,)     delta: base twins that left the cell, ascending; keyframe: empty
pos       ``<i2`` (R, 2)   x, y offset from the cell centre, cm (+-327.67 m)
heading   ``<u2`` (R,)     heading * 65536 / 2 pi, 0 = east, counter-clockwise
speed     ``|u1`` (R,)     ground speed, 0.1 m/s (0..25.5 m/s, clamped)
activity  ``|u1`` (R,)     activity code, < 16
clip      ``|u1`` (R,)     animation clip code (``meta.clips``)
phase     ``|u1`` (R,)     clip phase * 255
blend     ``|u1`` (R,)     blend weight * 255
========= ======= ======== ===================================================================

Records come first for the changed base twins (in the base's id order), then for ``ids``. A twin
is in a delta when it is new, or when any field but ``phase`` differs from its keyframe record
after quantization: twins at rest are skipped, and clients advance phase from the clip's own
rate. Bytes per twin: 15 in a keyframe; 11 in a delta plus 1 bit per base twin; 4 per gone twin.

Error bounds (quantization): position 0.005 m per axis; heading pi / 65536 rad (0.0027 deg);
speed 0.05 m/s below the 25.5 m/s clamp; phase and blend 1 / 510.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from net.wire.arrays import check_ascending, check_rows, pack_array, read_array
from net.wire.envelope import Envelope, pack_envelope, unpack_envelope
from net.wire.errors import (
    BAD_VALUE,
    LENGTH_MISMATCH,
    UNKNOWN_BASE,
    WRONG_TYPE,
    WireError,
)
from net.wire.fields import read_int, read_list
from net.wire.topics import cell_centre_m

__all__ = [
    "ACTIVITY_LIMIT",
    "DELTA_BYTES_PER_TWIN",
    "HEADING_CODES",
    "KEYFRAME_BYTES_PER_TWIN",
    "KIND",
    "POS_LIMIT_M",
    "POS_QUANTUM_M",
    "RECORD_DTYPE",
    "SPEED_QUANTUM_MPS",
    "UNIT_CODES",
    "CrowdDecoder",
    "CrowdEncoder",
    "CrowdMessage",
    "CrowdState",
    "decode",
    "encode",
    "from_envelope",
    "quantize",
]

KIND = "crowd"
POS_QUANTUM_M = 0.01
POS_LIMIT_CM = 32767
POS_LIMIT_M = POS_LIMIT_CM * POS_QUANTUM_M
HEADING_CODES = 65536
SPEED_QUANTUM_MPS = 0.1
UNIT_CODES = 255
"""Phase and blend, 0..1, travel as ``round(value * UNIT_CODES)``."""
ACTIVITY_LIMIT = 16
KEYFRAME_BYTES_PER_TWIN = 15
DELTA_BYTES_PER_TWIN = 11

RECORD_DTYPE = np.dtype(
    [
        ("pos", "<i2", (2,)),
        ("heading", "<u2"),
        ("speed", "u1"),
        ("activity", "u1"),
        ("clip", "u1"),
        ("phase", "u1"),
        ("blend", "u1"),
    ]
)
"""One twin's quantized record, 11 bytes: the wire fields after ``ids``, as one row."""

_RECORD_FIELDS = tuple(
    (name, RECORD_DTYPE[name].base.str, RECORD_DTYPE[name].shape) for name in RECORD_DTYPE.names
)
"""(wire name, dtype string, trailing shape) of each record array, in body order."""
_NO_IDS = np.zeros(0, dtype=np.uint32)
_ROW = np.dtype(f"V{RECORD_DTYPE.itemsize}")  # a record as opaque bytes: fast to move around


@dataclass(frozen=True)
class CrowdMessage:
    """One crowd message as it travels (quantized codes; views over the payload once decoded).

    Attributes:
        tick, seq, t_s: envelope (simulation tick, publisher sequence number, sim time in s).
        cell: (ix, iy) cell index.
        base: seq of the base keyframe; ``seq`` itself for a keyframe.
        changed: (B,) uint8 bitmask over the base keyframe's twins, LSB first.
        ids: (A,) uint32 ascending, twins not in the base.
        gone: (G,) uint32 ascending, base twins no longer in the cell.
        pos: (R, 2) int16, offset from the cell centre, cm.
        heading: (R,) uint16, heading * 65536 / 2 pi. speed: (R,) uint8, 0.1 m/s.
        activity: (R,) uint8 < 16. clip: (R,) uint8. phase, blend: (R,) uint8, value * 255.

    The R records are those of the changed base twins (in base order), then those of ``ids``.
    """

    tick: int
    seq: int
    t_s: float
    cell: tuple[int, int]
    base: int
    changed: np.ndarray
    ids: np.ndarray
    gone: np.ndarray
    pos: np.ndarray
    heading: np.ndarray
    speed: np.ndarray
    activity: np.ndarray
    clip: np.ndarray
    phase: np.ndarray
    blend: np.ndarray

    @property
    def is_keyframe(self) -> bool:
        return self.base == self.seq


@dataclass(frozen=True)
class CrowdState:
    """The full, dequantized crowd of one cell, ids ascending.

    Attributes:
        cell: (ix, iy) cell index.
        tick, seq, t_s: envelope of the last message applied.
        ids: (N,) uint32 ascending.
        pos_m: (N, 2) float64, map position x east, y north, m.
        heading_rad: (N,) float32 in [0, 2 pi), 0 = east, counter-clockwise.
        speed_mps: (N,) float32, ground speed, m/s.
        activity: (N,) uint8 activity code.
        clip: (N,) uint8 animation clip code.
        phase: (N,) float32 clip phase in [0, 1] at ``sample_t_s``.
        blend: (N,) float32 blend weight in [0, 1].
        sample_t_s: (N,) float64, sim time of each twin's record (its keyframe's or delta's t), s.
    """

    cell: tuple[int, int]
    tick: int
    seq: int
    t_s: float
    ids: np.ndarray
    pos_m: np.ndarray
    heading_rad: np.ndarray
    speed_mps: np.ndarray
    activity: np.ndarray
    clip: np.ndarray
    phase: np.ndarray
    blend: np.ndarray
    sample_t_s: np.ndarray


# --- quantization -------------------------------------------------------------------------------


def _unit_codes(values: np.ndarray) -> np.ndarray:
    """(N,) float in [0, 1] (clamped) -> (N,) uint8 codes."""
    return np.rint(np.clip(values, 0.0, 1.0) * UNIT_CODES).astype(np.uint8)


def quantize(
    cell: tuple[int, int],
    pos_m: np.ndarray,
    heading_rad: np.ndarray,
    speed_mps: np.ndarray,
    activity: np.ndarray,
    clip: np.ndarray,
    phase: np.ndarray,
    blend: np.ndarray,
) -> np.ndarray:
    """(N,) ``RECORD_DTYPE`` records of N twins of ``cell`` (arguments as ``CrowdEncoder.encode``).

    Raises:
        ValueError: a twin beyond ``POS_LIMIT_M`` of the cell centre, a non-finite value, or an
            activity >= 16.
    """
    if not all(np.isfinite(v).all() for v in (pos_m, heading_rad, speed_mps, phase, blend)):
        raise ValueError("crowd positions, headings, speeds, phases and blends must be finite")
    offset_cm = np.rint((np.asarray(pos_m, np.float64) - cell_centre_m(cell)) / POS_QUANTUM_M)
    if offset_cm.size and np.abs(offset_cm).max() > POS_LIMIT_CM:
        raise ValueError(f"a twin lies beyond {POS_LIMIT_M} m of the centre of cell {cell}")
    activity = np.asarray(activity)
    if activity.size and activity.max() >= ACTIVITY_LIMIT:
        raise ValueError(f"activity codes must be < {ACTIVITY_LIMIT}")
    turns = np.mod(np.asarray(heading_rad, np.float64), 2 * np.pi) / (2 * np.pi)
    rec = np.empty(len(offset_cm), RECORD_DTYPE)
    rec["pos"] = offset_cm
    rec["heading"] = np.rint(turns * HEADING_CODES).astype(np.int64) % HEADING_CODES
    rec["speed"] = np.rint(np.clip(speed_mps, 0.0, 255 * SPEED_QUANTUM_MPS) / SPEED_QUANTUM_MPS)
    rec["activity"] = activity
    rec["clip"] = clip
    rec["phase"] = _unit_codes(phase)
    rec["blend"] = _unit_codes(blend)
    return rec


def _message(
    envelope: tuple[int, int, float],
    cell: tuple[int, int],
    base: int,
    changed: np.ndarray,
    ids: np.ndarray,
    gone: np.ndarray,
    rec: np.ndarray,
) -> CrowdMessage:
    """The message of (R,) ``RECORD_DTYPE`` records ``rec``; ``envelope`` is (tick, seq, t_s)."""
    fields = {name: rec[name] for name in RECORD_DTYPE.names}
    return CrowdMessage(*envelope, cell, base, changed, ids, gone, **fields)


def _records_of(msg: CrowdMessage) -> np.ndarray:
    """(R,) ``RECORD_DTYPE``: the message's record arrays as rows (a copy)."""
    rec = np.empty(len(msg.heading), RECORD_DTYPE)
    for name in RECORD_DTYPE.names:
        rec[name] = getattr(msg, name)
    return rec


def _take(rec: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``rec[index]`` of (N,) records, moved as opaque rows (fancy indexing by field is slow)."""
    return rec.view(_ROW)[index].view(RECORD_DTYPE)


def _concat(*parts: np.ndarray) -> np.ndarray:
    """Records of ``parts`` one after the other."""
    return np.concatenate([p.view(_ROW) for p in parts]).view(RECORD_DTYPE)


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) bool: records differ in any field but phase (the at-rest rule)."""
    return (
        (a["pos"] != b["pos"]).any(axis=1)
        | (a["heading"] != b["heading"])
        | (a["speed"] != b["speed"])
        | (a["activity"] != b["activity"])
        | (a["clip"] != b["clip"])
        | (a["blend"] != b["blend"])
    )


# --- encode / decode of one message --------------------------------------------------------------


def encode(msg: CrowdMessage) -> bytes:
    """The payload of ``msg``."""
    body = {
        "cell": [int(msg.cell[0]), int(msg.cell[1])],
        "base": int(msg.base),
        "changed": pack_array(msg.changed, "|u1"),
        "ids": pack_array(msg.ids, "<u4"),
        "gone": pack_array(msg.gone, "<u4"),
    }
    for name, dtype, _ in _RECORD_FIELDS:
        body[name] = pack_array(getattr(msg, name), dtype)
    return pack_envelope(KIND, msg.tick, msg.seq, msg.t_s, body)


def _read_cell(body: dict) -> tuple[int, int]:
    cell = read_list(body, "cell", "body")
    if len(cell) != 2 or not all(isinstance(c, int) and not isinstance(c, bool) for c in cell):
        raise WireError(WRONG_TYPE, "field 'body.cell' must be an array of 2 int")
    return cell[0], cell[1]


def _read_records(body: dict, rows: int) -> dict[str, np.ndarray]:
    """The record arrays (views), each of ``rows`` rows, checked in table order."""
    rec = {}
    for name, dtype, trailing in _RECORD_FIELDS:
        arr = read_array(body, name, "body", dtype, trailing)
        check_rows(arr, f"body.{name}", rows)
        if name == "activity" and rows and arr.max() >= ACTIVITY_LIMIT:
            bad = int(arr[arr >= ACTIVITY_LIMIT][0])
            raise WireError(
                BAD_VALUE, f"field 'body.activity' holds {bad}, expected < {ACTIVITY_LIMIT}"
            )
        rec[name] = arr
    return rec


def from_envelope(env: Envelope) -> CrowdMessage:
    """The crowd message in a decoded envelope (see ``decode``)."""
    body = env.body
    cell = _read_cell(body)
    base = read_int(body, "base", "body", minimum=0)
    if base > env.seq:
        raise WireError(BAD_VALUE, f"field 'body.base' holds {base}, expected <= seq {env.seq}")
    changed = read_array(body, "changed", "body", "|u1")
    ids = read_array(body, "ids", "body", "<u4")
    check_ascending(ids, "body.ids")
    gone = read_array(body, "gone", "body", "<u4")
    check_ascending(gone, "body.gone")
    if base == env.seq and (changed.size or gone.size):
        raise WireError(BAD_VALUE, "a keyframe (base == seq) must have empty changed and gone")
    rows = int(np.unpackbits(changed).sum()) + len(ids)
    records = _read_records(body, rows)
    return CrowdMessage(env.tick, env.seq, env.t_s, cell, base, changed, ids, gone, **records)


def decode(data: bytes) -> CrowdMessage:
    """Decode and check a crowd payload (fields checked in the order of the body table).

    Raises:
        WireError: any envelope error, or missing_field, wrong_type, length_mismatch (record
            arrays with other than R rows, a ``data`` of the wrong size) or bad_value (a base after
            seq, ids or gone not ascending, a keyframe with changed or gone, an activity >= 16).
    """
    return from_envelope(unpack_envelope(data, KIND))


# --- the stateful ends: publisher and subscriber ------------------------------------------------


@dataclass(frozen=True)
class _Keyframe:
    seq: int
    t_s: float
    ids: np.ndarray
    records: np.ndarray


class CrowdEncoder:
    """Publisher side of one cell's crowd stream: a keyframe every ``keyframe_every`` updates.

    ``encode`` returns None for a delta that would repeat the last published message (phase
    aside): at rest, a cell publishes nothing between keyframes. ``snapshot`` gives the messages a
    late joiner needs (Clone): the last keyframe and the last delta published after it.
    """

    def __init__(self, cell: tuple[int, int], keyframe_every: int = 30) -> None:
        if keyframe_every < 1:
            raise ValueError("keyframe_every must be >= 1")
        self.cell = (int(cell[0]), int(cell[1]))
        self.keyframe_every = keyframe_every
        self._key: _Keyframe | None = None
        self._updates_since_key = 0
        self._last_seq = -1
        self._last: tuple[CrowdMessage, np.ndarray] | None = None  # message and its records
        self._published: list[bytes] = []

    def snapshot(self) -> list[bytes]:
        """The payloads a late joiner applies: [keyframe] or [keyframe, latest delta]."""
        return list(self._published)

    def encode(
        self,
        tick: int,
        seq: int,
        t_s: float,
        ids: np.ndarray,
        pos_m: np.ndarray,
        heading_rad: np.ndarray,
        speed_mps: np.ndarray,
        activity: np.ndarray,
        clip: np.ndarray,
        phase: np.ndarray,
        blend: np.ndarray,
    ) -> bytes | None:
        """The payload for this update of the cell, or None when there is nothing to publish.

        Args:
            tick, seq, t_s: envelope; ``seq`` must grow from call to call.
            ids: (N,) uint32, unique, any order.
            pos_m: (N, 2) float, map position, m; within ``POS_LIMIT_M`` of the cell centre.
            heading_rad: (N,) float, rad, any value (wrapped into [0, 2 pi)).
            speed_mps: (N,) float, m/s. activity: (N,) uint8 < 16. clip: (N,) uint8.
            phase: (N,) float in [0, 1]. blend: (N,) float in [0, 1].
        """
        if seq <= self._last_seq:
            raise ValueError(f"seq must grow: got {seq} after {self._last_seq}")
        ids = np.asarray(ids, dtype=np.uint32)
        order = np.argsort(ids, kind="stable")
        if ids.size > 1 and (np.diff(ids[order]) == 0).any():
            raise ValueError("ids must be unique")
        rec = quantize(self.cell, pos_m, heading_rad, speed_mps, activity, clip, phase, blend)
        self._last_seq = seq
        if self._key is None or self._updates_since_key + 1 >= self.keyframe_every:
            return self._keyframe(tick, seq, t_s, ids[order], _take(rec, order))
        self._updates_since_key += 1
        return self._delta(tick, seq, t_s, ids[order], _take(rec, order))

    def _keyframe(self, tick: int, seq: int, t_s: float, ids: np.ndarray, rec: np.ndarray) -> bytes:
        self._key = _Keyframe(seq, t_s, ids, rec)
        self._updates_since_key = 0
        msg = _message((tick, seq, t_s), self.cell, seq, np.zeros(0, np.uint8), ids, _NO_IDS, rec)
        self._last = (msg, rec)
        self._published = [encode(msg)]
        return self._published[0]

    def _delta(self, tick: int, seq: int, t_s: float, ids: np.ndarray, rec: np.ndarray):
        key = self._key
        at = np.minimum(np.searchsorted(key.ids, ids), max(len(key.ids) - 1, 0))
        in_key = _member(key.ids, ids)
        kept = _take(rec, in_key)
        differs = _differs(kept, _take(key.records, at[in_key]))
        changed = np.zeros(len(key.ids), bool)
        changed[at[in_key][differs]] = True
        present = np.zeros(len(key.ids), bool)
        present[at[in_key]] = True
        records = _concat(_take(kept, differs), _take(rec, ~in_key))
        msg = _message(
            (tick, seq, t_s),
            self.cell,
            key.seq,
            np.packbits(changed, bitorder="little"),
            ids[~in_key],
            key.ids[~present],
            records,
        )
        if self._repeats_last(msg, records):
            return None
        self._last = (msg, records)
        self._published = [self._published[0], encode(msg)]
        return self._published[1]

    def _repeats_last(self, msg: CrowdMessage, rec: np.ndarray) -> bool:
        """Whether ``msg`` (records ``rec``) repeats the last message, phase aside.

        A keyframe counts as an empty delta.
        """
        last, last_rec = self._last
        if last.is_keyframe:
            return not (msg.ids.size or msg.gone.size or rec.size)
        return (
            np.array_equal(msg.changed, last.changed)
            and np.array_equal(msg.ids, last.ids)
            and np.array_equal(msg.gone, last.gone)
            and len(rec) == len(last_rec)
            and not _differs(rec, last_rec).any()
        )


@dataclass
class _Cell:
    """What a decoder holds for one cell: its keyframe and the state after the last message."""

    key: _Keyframe
    state: CrowdState


def _dequantize(msg: CrowdMessage, ids: np.ndarray, rec: np.ndarray, t: np.ndarray) -> CrowdState:
    """The state after ``msg``: records ``rec`` (N,) of ``ids`` (N,) sampled at ``t`` (N,) s."""
    return CrowdState(
        cell=msg.cell,
        tick=msg.tick,
        seq=msg.seq,
        t_s=msg.t_s,
        ids=ids,
        pos_m=cell_centre_m(msg.cell) + rec["pos"] * POS_QUANTUM_M,
        heading_rad=(rec["heading"] * (2 * np.pi / HEADING_CODES)).astype(np.float32),
        speed_mps=(rec["speed"] * SPEED_QUANTUM_MPS).astype(np.float32),
        activity=rec["activity"].copy(),
        clip=rec["clip"].copy(),
        phase=(rec["phase"] / np.float32(UNIT_CODES)).astype(np.float32),
        blend=(rec["blend"] / np.float32(UNIT_CODES)).astype(np.float32),
        sample_t_s=t,
    )


def _changed_mask(msg: CrowdMessage, n_base: int) -> np.ndarray:
    """(n_base,) bool from the bitmask; checks its length and that padding bits are clear."""
    need = (n_base + 7) // 8
    if len(msg.changed) != need:
        raise WireError(
            LENGTH_MISMATCH,
            f"field 'body.changed' has {len(msg.changed)} bytes, expected {need} "
            f"for a base of {n_base} twins",
        )
    bits = np.unpackbits(msg.changed, bitorder="little").astype(bool)
    if bits[n_base:].any():
        raise WireError(
            BAD_VALUE, f"field 'body.changed' sets bits beyond the base's {n_base} twins"
        )
    return bits[:n_base]


def _member(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """(n,) bool: which of ``ids`` (n,) are in the ascending ``sorted_ids`` (k,)."""
    if not len(sorted_ids):
        return np.zeros(len(ids), bool)
    at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return sorted_ids[at] == ids


def _check_membership(msg: CrowdMessage, key: _Keyframe, changed: np.ndarray) -> np.ndarray:
    """(K,) bool: base twins that are gone; checks ids and gone against the base."""
    in_base = _member(key.ids, msg.ids)
    if in_base.any():
        twin = int(msg.ids[in_base][0])
        raise WireError(BAD_VALUE, f"field 'body.ids' holds {twin}, which is in the base keyframe")
    known = _member(key.ids, msg.gone)
    if not known.all():
        twin = int(msg.gone[~known][0])
        raise WireError(
            BAD_VALUE, f"field 'body.gone' holds {twin}, which is not in the base keyframe"
        )
    gone = _member(msg.gone, key.ids)
    if (gone & changed).any():
        twin = int(key.ids[gone & changed][0])
        raise WireError(BAD_VALUE, f"twin {twin} is both changed and gone")
    return gone


class CrowdDecoder:
    """Subscriber side: rebuilds each cell's full crowd from its keyframe and latest delta.

    Messages with a seq at or below the last one applied for their cell are stale and ignored
    (this is the Clone rule "apply only updates after the snapshot"). A delta whose keyframe the
    decoder does not hold raises ``unknown_base``: wait for the next keyframe or ask for a snapshot.
    """

    def __init__(self) -> None:
        self._cells: dict[tuple[int, int], _Cell] = {}

    def apply(self, data: bytes) -> CrowdState:
        """Apply one crowd payload; returns the full state of its cell.

        Raises:
            WireError: any ``decode`` error; unknown_base; length_mismatch (a bitmask not of
                ceil(K / 8) bytes for a base of K twins); bad_value (bits set past K, ids in the
                base, gone ids not in it, a twin both changed and gone).
        """
        msg = decode(data)
        held = self._cells.get(msg.cell)
        if held is not None and msg.seq <= held.state.seq:
            return held.state
        if msg.is_keyframe:
            key = _Keyframe(msg.seq, msg.t_s, msg.ids, _records_of(msg))
            t = np.full(len(msg.ids), msg.t_s)
            state = _dequantize(msg, msg.ids, key.records, t)
        elif held is None or held.key.seq != msg.base:
            has = f"seq {held.key.seq}" if held is not None else "none"
            raise WireError(
                UNKNOWN_BASE,
                f"cell [{msg.cell[0]}, {msg.cell[1]}]: delta needs keyframe seq {msg.base}, "
                f"decoder has {has}",
            )
        else:
            key = held.key
            state = self._rebuild(msg, key)
        self._cells[msg.cell] = _Cell(key, state)
        return state

    @staticmethod
    def _rebuild(msg: CrowdMessage, key: _Keyframe) -> CrowdState:
        changed = _changed_mask(msg, len(key.ids))
        gone = _check_membership(msg, key, changed)
        n_changed = int(changed.sum())
        rows = _records_of(msg)
        rec = key.records.copy()
        rec.view(_ROW)[changed] = rows[:n_changed].view(_ROW)
        t = np.full(len(key.ids), key.t_s)
        t[changed] = msg.t_s
        keep = ~gone
        ids = np.concatenate([key.ids[keep], msg.ids])
        order = np.argsort(ids, kind="stable")
        rec = _take(_concat(_take(rec, keep), rows[n_changed:]), order)
        t = np.concatenate([t[keep], np.full(len(msg.ids), msg.t_s)])[order]
        return _dequantize(msg, ids[order], rec, t)
