"""``crowd``: the animation state of the twins in one spatial cell, as keyframes and deltas.

Pattern: Clone (ZeroMQ guide, chapter 5) with keyframes. Per cell, a ``CrowdEncoder`` publishes a
keyframe (every twin of the cell) every ``keyframe_every`` updates and, in between, deltas against
the LAST KEYFRAME, never against the last delta: any one delta plus its keyframe is the whole state,
so a lost delta costs nothing and a late joiner needs only the keyframe and the latest delta. A
keyframe is the message whose ``base`` equals its own ``seq``; a delta names its keyframe's seq.

Body (protocol 1.1; R = popcount(changed) + A records):

========= ======= ============================================================================
field     type    meaning
========= ======= ============================================================================
cell      int[2]  ``[ix, iy]``, the cell (``net.wire.topics``)
base      int     seq of the keyframe this message is against; == seq for a keyframe
changed   bin     delta: bit i (LSB first) set if base twin i changed (ceil(K / 8) bytes);
                  absent when empty (a keyframe)
ids       bin     ``<u4`` (A,): twins not in the base, ascending (a keyframe: all twins); absent
                  when empty
gone      bin     ``<u4`` (G,): base twins that left the cell, ascending; absent when empty
rec       bin     the R records, 11 R bytes: seven columns one after the other (``REC_COLUMNS``)
========= ======= ============================================================================

Columns of ``rec`` (R rows each): ``pos`` ``<i2`` (R, 2), x, y offset from the cell centre, 5 cm
(+-1638.35 m); ``heading`` ``<u2``, heading * 65536 / 2 pi, 0 = east, counter-clockwise;
``speed`` ``|u1``, 0.1 m/s (0..25.5 m/s, clamped); ``activity`` ``|u1`` < 16; ``clip`` ``|u1``
(``meta.clips``); ``phase`` and ``blend`` ``|u1``, value * 255. Version 1.0 sent each column and
each id list as an array map (about 290 bytes more a message); 1.1 sends raw bins, since their
dtypes and shapes are fixed by the protocol.

Records come first for the changed base twins (in the base's id order), then for ``ids``. A twin
is in a delta when it is new, when any field but ``phase`` and ``pos`` differs from its keyframe
record after quantization, or when its position is more than ``DEAD_RECKONING_M`` from its
keyframe record dead-reckoned to the delta's ``t`` (``dead_reckon``): twins at rest and twins
going straight at a steady speed are skipped; clients advance phase from the clip's own rate and
position along heading at speed (protocol 6.1, subscriber rule 5). Bytes per twin: 15 in a
keyframe; 11 in a delta plus 1 bit per base twin; 4 per gone twin.

Error bounds (quantization): position 0.025 m per axis; heading pi / 65536 rad (0.0027 deg);
speed 0.05 m/s below the 25.5 m/s clamp; phase and blend 1 / 510. Dead reckoning: a record
extrapolated to the ``t`` of any later message of its cell is within ``DEAD_RECKONING_M`` of the
twin's true position then.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import msgpack
import numpy as np

from synthtwin.net.wire.arrays import check_ascending
from synthtwin.net.wire.envelope import PROTOCOL_VERSION, Envelope, unpack_envelope
from synthtwin.net.wire.errors import (
    BAD_VALUE,
    LENGTH_MISMATCH,
    UNKNOWN_BASE,
    WRONG_TYPE,
    WireError,
    type_name,
)
from synthtwin.net.wire.fields import read_int, read_list, require
from synthtwin.net.wire.topics import cell_centre_m

__all__ = [
    "ACTIVITY_LIMIT",
    "DEAD_RECKONING_M",
    "DELTA_BYTES_PER_TWIN",
    "HEADING_CODES",
    "KEYFRAME_BYTES_PER_TWIN",
    "KIND",
    "POS_CODES_PER_M",
    "POS_LIMIT_M",
    "POS_QUANTUM_M",
    "RECORD_DTYPE",
    "REC_COLUMNS",
    "SPEED_QUANTUM_MPS",
    "UNIT_CODES",
    "CrowdDecoder",
    "CrowdEncoder",
    "CrowdMessage",
    "CrowdState",
    "dead_reckon",
    "decode",
    "encode",
    "from_envelope",
    "quantize",
]

KIND = "crowd"
POS_QUANTUM_M = 0.05
POS_CODES_PER_M = 20
"""Positions travel as ``round(offset_m * POS_CODES_PER_M)``, i.e. in units of ``POS_QUANTUM_M``."""
POS_LIMIT_CODE = 32767
POS_LIMIT_M = POS_LIMIT_CODE / POS_CODES_PER_M
"""1638.35 m: the farthest a twin may be from its cell's centre on either axis."""
HEADING_CODES = 65536
SPEED_QUANTUM_MPS = 0.1
UNIT_CODES = 255
"""Phase and blend, 0..1, travel as ``round(value * UNIT_CODES)``."""
ACTIVITY_LIMIT = 16
DEAD_RECKONING_M = 0.25
"""Default tolerance, m: a keyframe twin stays out of deltas while its keyframe record, moved on
at its speed and heading (``dead_reckon``), is within this distance of where it is. 0.25 m holds
a straight walk's speed quantization (0.05 m/s) over the 3 s between keyframes at time scale 1."""
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

REC_COLUMNS = tuple(
    (name, RECORD_DTYPE[name].base.str, RECORD_DTYPE[name].shape) for name in RECORD_DTYPE.names
)
"""(name, dtype string, trailing shape) of each column of ``rec``, in order."""
_REC_SLICES = tuple(
    (RECORD_DTYPE.fields[name][1], RECORD_DTYPE.fields[name][1] + RECORD_DTYPE[name].itemsize)
    for name in RECORD_DTYPE.names
)
"""(first, end) byte of each column within one 11-byte record."""
_NO_IDS = np.zeros(0, dtype=np.uint32)
_NO_BITS = np.zeros(0, dtype=np.uint8)
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
        pos: (R, 2) int16, offset from the cell centre, in ``POS_QUANTUM_M`` (5 cm) units.
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

    def position_at(self, t_s: float) -> np.ndarray:
        """(N, 2) float64 map positions at sim time ``t_s``, m: each record dead-reckoned from
        its ``sample_t_s`` (within ``DEAD_RECKONING_M`` of the twin at the ``t`` of any message
        of the cell since its record)."""
        return dead_reckon(self.pos_m, self.heading_rad, self.speed_mps, self.sample_t_s, t_s)


# --- quantization -------------------------------------------------------------------------------

_CODES_PER_UNIT = np.array(
    [POS_CODES_PER_M, POS_CODES_PER_M, HEADING_CODES / (2 * np.pi), 10.0, UNIT_CODES, UNIT_CODES]
)[:, None]
"""Codes per unit of the rows of ``_quantize``'s scratch: x, y (m), heading (rad), speed (m/s, so
10 = 1 / ``SPEED_QUANTUM_MPS``), phase, blend."""
_U1_MAX = 255
"""Speed, phase and blend codes are clamped to 0..255 (speed: 25.5 m/s)."""


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
    centre = cell_centre_m(cell)
    return _quantize(centre, cell, pos_m, heading_rad, speed_mps, activity, clip, phase, blend)


def _quantize(
    centre: np.ndarray,
    cell: tuple[int, int],
    pos_m: np.ndarray,
    heading_rad: np.ndarray,
    speed_mps: np.ndarray,
    activity: np.ndarray,
    clip: np.ndarray,
    phase: np.ndarray,
    blend: np.ndarray,
) -> np.ndarray:
    """``quantize`` with the cell's (2,) centre, m, given (a handful of numpy calls for any N)."""
    pos = np.asarray(pos_m, dtype=np.float64)
    n = len(pos)
    codes = np.empty((6, n))  # rows: x, y offset, heading, speed, phase, blend; then their codes
    np.subtract(pos.T, centre[:, None], out=codes[:2])
    codes[2], codes[3], codes[4], codes[5] = heading_rad, speed_mps, phase, blend
    if not np.isfinite(codes).all():
        raise ValueError("crowd positions, headings, speeds, phases and blends must be finite")
    codes *= _CODES_PER_UNIT
    np.rint(codes, out=codes)
    if n and np.abs(codes[:2]).max() > POS_LIMIT_CODE:
        raise ValueError(f"a twin lies beyond {POS_LIMIT_M:.2f} m of the centre of cell {cell}")
    activity = np.asarray(activity)
    if activity.size and activity.max() >= ACTIVITY_LIMIT:
        raise ValueError(f"activity codes must be < {ACTIVITY_LIMIT}")
    np.mod(codes[2], HEADING_CODES, out=codes[2])
    np.maximum(codes[3:], 0, out=codes[3:])  # two ufuncs: cheaper than np.clip for small N
    np.minimum(codes[3:], _U1_MAX, out=codes[3:])
    rec = np.empty(n, RECORD_DTYPE)
    rec["pos"] = codes[:2].T
    rec["heading"] = codes[2]
    rec["speed"] = codes[3]
    rec["activity"] = activity
    rec["clip"] = clip
    rec["phase"] = codes[4]
    rec["blend"] = codes[5]
    return rec


def dead_reckon(
    pos_m: np.ndarray,
    heading_rad: np.ndarray,
    speed_mps: np.ndarray,
    sample_t_s: np.ndarray | float,
    t_s: float,
) -> np.ndarray:
    """(N, 2) float64 positions at sim time ``t_s``, m: each record's ``pos_m`` (N, 2) moved on
    from its ``sample_t_s`` (N,) s along ``heading_rad`` (N,) at ``speed_mps`` (N,) (protocol 6.1,
    subscriber rule 5); never backwards (a record newer than ``t_s`` stays where it is)."""
    age_s = np.maximum(t_s - np.asarray(sample_t_s, np.float64), 0.0)
    step_m = np.asarray(speed_mps, np.float64) * age_s  # (N,)
    heading = np.asarray(heading_rad, np.float64)
    # (N, 2) = (N, 2) + (N, 1) * (N, 2) unit direction
    return pos_m + step_m[:, None] * np.stack([np.cos(heading), np.sin(heading)], axis=1)


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


_ROW_BYTES = RECORD_DTYPE.itemsize
_BUT_PHASE = np.full(_ROW_BYTES, 0xFF, np.uint8)
_BUT_PHASE[RECORD_DTYPE.fields["phase"][1]] = 0
"""Byte mask over one record: every byte but phase's."""
_BUT_PHASE_POS = _BUT_PHASE.copy()
_BUT_PHASE_POS[: RECORD_DTYPE["pos"].itemsize] = 0
"""Byte mask over one record: every byte but phase's and pos's (``pos`` comes first)."""


def _as_rows(rec: np.ndarray) -> np.ndarray:
    """(N, 11) uint8: contiguous (N,) records as bytes (a view). The encoder works on these."""
    return rec.view(np.uint8).reshape(-1, _ROW_BYTES)


def _differs(a: np.ndarray, b: np.ndarray, mask: np.ndarray = _BUT_PHASE) -> np.ndarray:
    """(N,) bool: (N, 11) uint8 record rows differ in a byte of ``mask`` (11,) (default: any
    field but phase, the at-rest rule)."""
    diff = np.bitwise_xor(a, b)
    diff &= mask
    return diff.any(axis=1)


def _record_motion(centre: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dequantized (K, 2) float64 position, m, and (K, 2) velocity, m/s, of (K, 11) record rows:
    what a client dead-reckons from."""
    rec = rows.view(RECORD_DTYPE)[:, 0]
    pos_m = centre + rec["pos"] * POS_QUANTUM_M
    heading = rec["heading"] * (2 * np.pi / HEADING_CODES)
    speed = rec["speed"] * SPEED_QUANTUM_MPS
    # (K, 2) = (K, 1) * (K, 2) unit direction
    return pos_m, speed[:, None] * np.stack([np.cos(heading), np.sin(heading)], axis=1)


# --- encode / decode of one message --------------------------------------------------------------
#
# ``_pack`` writes the msgpack bytes itself: keys and map headers are constant and packed once,
# here, so that per message only the envelope numbers, the cell, bin headers and data are written.
# The bytes are exactly those of ``pack_envelope`` (``tests/test_wire.py`` checks it).

_ENVELOPE_HEAD = b"\x86" + b"".join(
    msgpack.packb(v) for v in ("v", PROTOCOL_VERSION, "kind", KIND, "tick")
)
_SEQ, _T, _BODY, _CELL, _BASE, _REC = (
    msgpack.packb(key) for key in ("seq", "t", "body", "cell", "base", "rec")
)
_LISTS = (("changed", msgpack.packb("changed")), ("ids", msgpack.packb("ids")),
          ("gone", msgpack.packb("gone")))  # fmt: skip
"""The optional bins of the body, in body order, with their packed keys."""
_SMALL_INTS = tuple(msgpack.packb(i) for i in range(128))
_BIN8_HEADS = tuple(bytes((0xC4, size)) for size in range(256))
_F64 = struct.Struct(">Bd")


def _pack_int(value: int) -> bytes:
    return _SMALL_INTS[value] if 0 <= value < 128 else msgpack.packb(value)


def _pack_bin_head(size: int) -> bytes:
    if size < 0x100:
        return _BIN8_HEADS[size]
    if size < 0x10000:
        return b"\xc5" + size.to_bytes(2, "big")
    return b"\xc6" + size.to_bytes(4, "big")


def _rec_bytes(rows: np.ndarray) -> bytes:
    """``rec`` of (R, 11) uint8 record rows: each column's bytes for every row, column after
    column (the transpose of the rows' layout)."""
    return b"".join(rows[:, lo:hi].tobytes() for lo, hi in _REC_SLICES)


def _pack(
    envelope: tuple[int, int, float],
    cell: tuple[int, int],
    base: int,
    lists: tuple[np.ndarray, np.ndarray, np.ndarray],
    rows: np.ndarray,
) -> bytes:
    """The payload of a crowd message: ``envelope`` (tick, seq, t_s); ``lists`` the changed
    bitmask ``(B,) uint8``, ``ids`` and ``gone`` ``(A,)``, ``(G,) <u4``, each left out when
    empty; ``rows`` the (R, 11) uint8 records."""
    tick, seq, t_s = envelope
    present = [
        (key, arr.tobytes()) for (_, key), arr in zip(_LISTS, lists, strict=True) if arr.size
    ]
    rec = _rec_bytes(rows)
    parts = [
        _ENVELOPE_HEAD,
        _pack_int(int(tick)),
        _SEQ,
        _pack_int(int(seq)),
        _T,
        _F64.pack(0xCB, float(t_s)),
        _BODY,
        bytes([0x80 | 3 + len(present)]),
        _CELL,
        b"\x92" + _pack_int(int(cell[0])) + _pack_int(int(cell[1])),
        _BASE,
        _pack_int(int(base)),
    ]
    for key, data in present:
        parts += (key, _pack_bin_head(len(data)), data)
    parts += (_REC, _pack_bin_head(len(rec)), rec)
    return b"".join(parts)


def encode(msg: CrowdMessage) -> bytes:
    """The payload of ``msg``."""
    lists = (np.asarray(msg.changed, "u1"), np.asarray(msg.ids, "<u4"), np.asarray(msg.gone, "<u4"))
    return _pack(
        (msg.tick, msg.seq, msg.t_s), msg.cell, msg.base, lists, _as_rows(_records_of(msg))
    )


def _read_cell(body: dict) -> tuple[int, int]:
    cell = read_list(body, "cell", "body")
    if len(cell) != 2 or not all(isinstance(c, int) and not isinstance(c, bool) for c in cell):
        raise WireError(WRONG_TYPE, "field 'body.cell' must be an array of 2 int")
    return cell[0], cell[1]


def _read_bin(body: dict, key: str, required: bool = False) -> bytes:
    """The bin ``body[key]``; absent: empty (unless ``required``)."""
    if key not in body and not required:
        return b""
    value = require(body, key, "body")
    if not isinstance(value, bytes):
        raise WireError(WRONG_TYPE, f"field 'body.{key}' must be bin, got {type_name(value)}")
    return value


def _read_ids(body: dict, key: str) -> np.ndarray:
    """``(n,) <u4`` ascending, from the optional bin ``body[key]`` (a view)."""
    data = _read_bin(body, key)
    if len(data) % 4:
        raise WireError(
            LENGTH_MISMATCH, f"field 'body.{key}' holds {len(data)} bytes, expected a multiple of 4"
        )
    ids = np.frombuffer(data, "<u4")
    check_ascending(ids, f"body.{key}")
    return ids


def _read_rec(body: dict, rows: int) -> dict[str, np.ndarray]:
    """The columns of ``rec`` (views), each of ``rows`` rows; activities < 16."""
    data = _read_bin(body, "rec", required=True)
    if len(data) != RECORD_DTYPE.itemsize * rows:
        raise WireError(
            LENGTH_MISMATCH,
            f"field 'body.rec' holds {len(data)} bytes, expected "
            f"{RECORD_DTYPE.itemsize * rows} for {rows} records",
        )
    columns, offset = {}, 0
    for name, dtype, trailing in REC_COLUMNS:
        count = rows * math.prod(trailing)
        columns[name] = np.frombuffer(data, dtype, count, offset).reshape((rows, *trailing))
        offset += count * np.dtype(dtype).itemsize
    activity = columns["activity"]
    if rows and activity.max() >= ACTIVITY_LIMIT:
        bad = int(activity[activity >= ACTIVITY_LIMIT][0])
        raise WireError(
            BAD_VALUE, f"field 'body.rec' holds activity {bad}, expected < {ACTIVITY_LIMIT}"
        )
    return columns


def from_envelope(env: Envelope) -> CrowdMessage:
    """The crowd message in a decoded envelope (see ``decode``)."""
    body = env.body
    cell = _read_cell(body)
    base = read_int(body, "base", "body", minimum=0)
    if base > env.seq:
        raise WireError(BAD_VALUE, f"field 'body.base' holds {base}, expected <= seq {env.seq}")
    changed = np.frombuffer(_read_bin(body, "changed"), np.uint8)
    ids = _read_ids(body, "ids")
    gone = _read_ids(body, "gone")
    if base == env.seq and (changed.size or gone.size):
        raise WireError(BAD_VALUE, "a keyframe (base == seq) must have empty changed and gone")
    rows = int(np.unpackbits(changed).sum()) + len(ids)
    records = _read_rec(body, rows)
    return CrowdMessage(env.tick, env.seq, env.t_s, cell, base, changed, ids, gone, **records)


def decode(data: bytes) -> CrowdMessage:
    """Decode and check a crowd payload (fields checked in the order of the body table).

    Raises:
        WireError: any envelope error, or missing_field, wrong_type, length_mismatch (``ids`` or
            ``gone`` not whole ``<u4``s, a ``rec`` of other than 11 R bytes) or bad_value (a base
            after seq, ids or gone not ascending, a keyframe with changed or gone, an activity
            >= 16).
    """
    return from_envelope(unpack_envelope(data, KIND))


# --- the stateful ends: publisher and subscriber ------------------------------------------------


@dataclass(frozen=True)
class _EncoderKey:
    """The encoder's last keyframe: ``seq``, ``t_s``, ``ids`` (K,), record ``rows`` (K, 11)
    uint8, and their dequantized ``pos_m`` and velocity ``vel_mps`` (K, 2) float64 (what
    clients dead-reckon from; None when dead reckoning is off)."""

    seq: int
    t_s: float
    ids: np.ndarray
    rows: np.ndarray
    pos_m: np.ndarray | None
    vel_mps: np.ndarray | None


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

    def __init__(
        self, cell: tuple[int, int], keyframe_every: int = 30, stagger: int = 0,
        dead_reckoning_m: float = DEAD_RECKONING_M,
    ) -> None:  # fmt: skip
        """``stagger``: updates by which the second keyframe comes early (0..keyframe_every - 1),
        so that cells whose streams start together do not keyframe together ever after.
        ``dead_reckoning_m``: a keyframe twin whose dead-reckoned keyframe record stays within
        this many metres of it is left out of deltas; 0: any change of its quantized position
        puts it in (protocol 1.1's rule, for clients that do not dead-reckon)."""
        if keyframe_every < 1:
            raise ValueError("keyframe_every must be >= 1")
        if not 0 <= stagger < keyframe_every:
            raise ValueError("stagger must be in 0..keyframe_every - 1")
        if not 0 <= dead_reckoning_m < math.inf:
            raise ValueError("dead_reckoning_m must be a distance >= 0, m")
        self.cell = (int(cell[0]), int(cell[1]))
        self.keyframe_every = keyframe_every
        self.dead_reckoning_m = dead_reckoning_m
        self._centre = cell_centre_m(self.cell)
        self._key: _EncoderKey | None = None
        self._updates_since_key = 0
        self._stagger = stagger
        self._last_seq = -1
        # the last message published: (changed, ids, gone, rows); changed is None for a keyframe
        self._last: tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._published: list[bytes] = []

    def snapshot(self) -> list[bytes]:
        """The payloads a late joiner applies: [keyframe] or [keyframe, latest delta]."""
        return list(self._published)

    @property
    def keyframe_due(self) -> bool:
        """Whether the next ``encode`` publishes a keyframe (the first, or ``keyframe_every``
        updates after the last)."""
        return self._key is None or self._updates_since_key + 1 >= self.keyframe_every

    def skip(self) -> None:
        """Count an update with nothing to publish (the cell's turn came and nothing changed),
        so that a cell at rest still publishes a keyframe every ``keyframe_every`` updates."""
        self._updates_since_key += 1

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
            ids: (N,) uint32, unique, any order (ascending is cheapest).
            pos_m: (N, 2) float, map position, m; within ``POS_LIMIT_M`` of the cell centre.
            heading_rad: (N,) float, rad, any value (wrapped into [0, 2 pi)).
            speed_mps: (N,) float, m/s. activity: (N,) uint8 < 16. clip: (N,) uint8.
            phase: (N,) float in [0, 1]. blend: (N,) float in [0, 1].
        """
        if seq <= self._last_seq:
            raise ValueError(f"seq must grow: got {seq} after {self._last_seq}")
        ids = np.array(ids, dtype="<u4")  # a copy: the keyframe keeps it
        order = None
        if len(ids) > 1 and not (ids[1:] > ids[:-1]).all():
            order = ids.argsort(kind="stable")
            ids = ids[order]
            if not (ids[1:] > ids[:-1]).all():
                raise ValueError("ids must be unique")
        rec = _quantize(
            self._centre, self.cell, pos_m, heading_rad, speed_mps, activity, clip, phase, blend
        )
        if len(rec) != len(ids):
            raise ValueError(f"got {len(ids)} ids for {len(rec)} positions")
        rows = _as_rows(rec) if order is None else _as_rows(rec)[order]
        if self.keyframe_due:
            payload = self._keyframe((tick, seq, t_s), ids, rows)
        else:
            self._updates_since_key += 1
            pos_m = np.asarray(pos_m, np.float64)
            envelope = (tick, seq, t_s)
            payload = self._delta(envelope, ids, rows, pos_m if order is None else pos_m[order])
        if payload is not None:  # a seq is used only by what is published
            self._last_seq = seq
        return payload

    def _keyframe(
        self, envelope: tuple[int, int, float], ids: np.ndarray, rows: np.ndarray
    ) -> bytes:
        seq = envelope[1]
        motion = _record_motion(self._centre, rows) if self.dead_reckoning_m else (None, None)
        self._key = _EncoderKey(seq, envelope[2], ids, rows, *motion)
        self._updates_since_key, self._stagger = self._stagger, 0
        self._last = (None, ids, _NO_IDS, rows)
        payload = _pack(envelope, self.cell, seq, (_NO_BITS, ids, _NO_IDS), rows)
        self._published = [payload]
        return payload

    def _delta(
        self, envelope: tuple[int, int, float], ids: np.ndarray, rows: np.ndarray,
        pos_m: np.ndarray,
    ):  # fmt: skip
        """The delta of twins ``ids`` (N,) ascending, with records ``rows`` (N, 11) and true
        positions ``pos_m`` (N, 2) m, or None."""
        key = self._key
        key_seq, key_ids = key.seq, key.ids
        k = len(key_ids)
        if not k:
            bits, new_ids, gone = _NO_BITS, ids, _NO_IDS
        else:
            at = key_ids.searchsorted(ids)
            np.minimum(at, k - 1, out=at)
            in_key = key_ids[at] == ids  # (N,) twin is in the keyframe, at row ``at``
            moved = self._changed_since_key(at, rows, pos_m, envelope[2])
            moved &= in_key
            changed = np.zeros(k, bool)
            changed[at[moved]] = True
            bits = np.packbits(changed, bitorder="little")
            kept = int(np.count_nonzero(in_key))
            if kept == len(ids):
                new_ids, rows = _NO_IDS, rows[moved]
            else:
                new = ~in_key
                new_ids = ids[new]
                rows = rows[np.concatenate((moved.nonzero()[0], new.nonzero()[0]))]
            if kept == k:
                gone = _NO_IDS
            else:
                present = np.zeros(k, bool)
                present[at[in_key]] = True
                gone = key_ids[~present]
        if self._repeats_last(bits, new_ids, gone, rows):
            return None
        self._last = (bits, new_ids, gone, rows)
        payload = _pack(envelope, self.cell, key_seq, (bits, new_ids, gone), rows)
        self._published = [self._published[0], payload]
        return payload

    def _changed_since_key(
        self, at: np.ndarray, rows: np.ndarray, pos_m: np.ndarray, t_s: float
    ) -> np.ndarray:
        """(N,) bool: which twins, at keyframe rows ``at`` (N,), differ from their keyframe
        record: in a field but phase (and but pos, when dead-reckoning), or (dead-reckoning) by
        more than ``dead_reckoning_m`` from it moved on to ``t_s``."""
        key = self._key
        if not self.dead_reckoning_m:
            return _differs(rows, key.rows[at])
        changed = _differs(rows, key.rows[at], _BUT_PHASE_POS)
        # (N, 2) m: where the twin is against where a client puts it
        miss = pos_m - key.pos_m[at] - key.vel_mps[at] * (t_s - key.t_s)
        changed |= np.einsum("ij,ij->i", miss, miss) > self.dead_reckoning_m**2
        return changed

    def _repeats_last(
        self, bits: np.ndarray, ids: np.ndarray, gone: np.ndarray, rows: np.ndarray
    ) -> bool:
        """Whether a delta repeats the last message, phase aside; a keyframe is an empty delta."""
        last_bits, last_ids, last_gone, last_rows = self._last
        if last_bits is None:
            return not (ids.size or gone.size or rows.size)
        return (
            bits.tobytes() == last_bits.tobytes()
            and ids.tobytes() == last_ids.tobytes()
            and gone.tobytes() == last_gone.tobytes()
            and len(rows) == len(last_rows)
            and not _differs(rows, last_rows).any()
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
        return self.apply_message(decode(data))

    def apply_message(self, msg: CrowdMessage) -> CrowdState:
        """``apply`` of a message already decoded (``from_envelope``), with the same errors but
        those of ``decode``."""
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
