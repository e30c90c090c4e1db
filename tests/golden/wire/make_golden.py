"""Golden vectors of the wire format: ``<name>.bin`` payloads with ``<name>.json`` expectations.

Run from the repository root: ``.venv/bin/python -m tests.golden.wire.make_golden``. Deterministic:
``tests/test_wire.py`` rebuilds every case in memory and checks the files still match.

Each ``.json`` names a payload ``file`` and a ``decoder``: a kind (that kind's ``decode``), ``any``
(``decode_any``), ``crowd_state`` (a fresh ``CrowdDecoder`` applies the payloads in ``apply``,
then ``file``) or ``crowd_merge`` (a fresh ``net.wire.clone.Replica`` applies them as PUB crowd
messages; the values are its merged crowd, ``merge_cells``). A valid case holds ``payload``, the
msgpack value in JSON form, and ``values``, the decoded message; an invalid case holds the exact
``error`` ``{"code", "message"}``. JSON form: an array map's ``data`` becomes a nested list of
numbers, any other bin ``{"$bin": "<hex>"}``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

from synthtwin.components.town import PlaceKind
from synthtwin.net.wire import (
    clone,
    crowd,
    decode_any,
    event,
    meta,
    pose,
    reply,
    request,
    shape,
    topics,
    vitals,
)
from synthtwin.net.wire.arrays import ARRAY_KEYS
from synthtwin.net.wire.envelope import pack_envelope

__all__ = ["HERE", "Case", "build_cases", "dumps", "to_json", "write_cases"]

HERE = Path(__file__).resolve().parent
CELL = (3, -2)
ACTIVITY_NAMES = (
    "sleep",
    "personal_care",
    "eat",
    "eat_out",
    "household",
    "work",
    "school",
    "shopping",
    "caring",
    "tv",
    "leisure",
    "socialize",
    "exercise_gym",
    "exercise_park",
    "travel",
)


@dataclasses.dataclass(frozen=True)
class Case:
    """One golden case: ``payload`` is written to ``file`` unless None (the case reuses a file)."""

    name: str
    file: str
    payload: bytes | None
    doc: dict[str, Any]


def to_json(value: Any) -> Any:
    """JSON form of a decoded msgpack value or of a decoded message (dataclasses, numpy)."""
    if dataclasses.is_dataclass(value):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, np.ndarray) and value.dtype.names:
        return {name: value[name].tolist() for name in value.dtype.names}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return {"$bin": value.hex()}
    if isinstance(value, dict):
        if value.keys() == ARRAY_KEYS and isinstance(value["data"], bytes):
            arr = np.frombuffer(value["data"], value["dtype"]).reshape(value["shape"])
            return {"dtype": value["dtype"], "shape": value["shape"], "data": arr.tolist()}
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


# --- valid messages ------------------------------------------------------------------------------


def _crowd_payloads() -> tuple[bytes, bytes]:
    """A keyframe of five twins of cell (3, -2) and a delta three updates later.

    Twin 31 stands at the edge of the position range (code -32767, 32767 on both axes); 12's
    offsets are not multiples of the 5 cm quantum.
    """
    centre = topics.cell_centre_m(CELL)  # (7000, -3000)
    ids = np.array([1002, 7, 12, 31, 40], dtype=np.uint32)
    offsets = np.array(
        [[80.0, -40.0], [0.0, 0.0], [12.34, -56.78], [-1638.35, 1638.35], [100.0, 3.21]]
    )
    heading = np.array([-0.5, 0.0, math.pi / 2, math.pi, 4.8])
    speed = np.array([30.0, 0.0, 1.4, 1.3, 13.9])
    activity = np.array([5, 0, 14, 14, 14], dtype=np.uint8)
    clip = np.array([0, 0, 1, 1, 2], dtype=np.uint8)
    phase = np.array([1.0, 0.0, 0.25, 0.5, 0.75])
    blend = np.array([0.0, 1.0, 1.0, 0.5, 1.0])
    encoder = crowd.CrowdEncoder(CELL, keyframe_every=30)
    args = (heading, speed, activity, clip, phase, blend)
    key = encoder.encode(3600, 500, 120.0, ids, centre + offsets, *args)
    # Three updates (0.1 s) later: 7 idles (phase only: skipped), 12 walked 14 cm north at its
    # 1.4 m/s (where dead reckoning puts it: skipped), 31 left the cell, 40 parked (activity work,
    # speed 0), 55 arrived, 1002 went 3 m along its heading at 30 m/s (dead-reckoned at the
    # record's clamped 25.5 m/s, 0.45 m short: more than DEAD_RECKONING_M, so in the delta).
    heading_1002 = [math.cos(heading[0]), math.sin(heading[0])]
    moved = offsets + [[3.0 * c for c in heading_1002], [0, 0], [0, 0.14], [0, 0], [0, 0]]
    speed[4], activity[4], phase[1] = 0.0, 5, 0.1
    keep = np.array([0, 1, 2, 4])
    arrive = (np.uint32(55), [-10.0, 20.0], 2.0, 1.2, 14, 1, 0.4, 1.0)
    ids2 = np.append(ids[keep], arrive[0])
    pos2 = np.vstack([moved[keep], arrive[1]]) + centre
    rest = [np.append(a[keep], v) for a, v in zip(args, arrive[2:], strict=True)]
    delta = encoder.encode(3603, 503, 120.1, ids2, pos2, *rest)
    return key, delta


MERGE_FILES = (
    "crowd_merge_east_keyframe",
    "crowd_merge_west_keyframe",
    "crowd_merge_west_arrived",
    "crowd_merge_east_left",
    "crowd_merge_east_back",
)
"""The crowd streams of the merge case, in the order published."""


def _merge_payloads() -> dict[str, tuple[str, bytes]]:
    """Two neighbouring cells, (3, -2) west and (4, -2) east of the border x = 8000 m, where twin
    7 steps west over the border and back while the west cell does not speak again.

    After the last message both cells hold 7: the west cell from seq 602 (sampled at 130.2 s),
    the east cell from its keyframe (sampled at 130.0 s, at seq 600) and still at seq 604, where
    7 is back at its keyframe record and so in no delta. The east cell's message is newer: 7 is
    there (client rule 6), although its sample time is older.
    """
    west, east = (CELL[0], CELL[1]), (CELL[0] + 1, CELL[1])
    encoders = {cell: crowd.CrowdEncoder(cell, keyframe_every=30) for cell in (west, east)}
    standing, walker = (8010.0, -3000.0, 0.0), 1.4

    def publish(cell, seq: int, twins: dict[int, tuple[float, float, float]]) -> bytes:
        ids = np.array(sorted(twins), np.uint32)
        rows = np.array([twins[i] for i in sorted(twins)]).reshape(-1, 3)
        n = len(ids)
        moving = (rows[:, 2] > 0).astype(np.uint8)
        t_s = 130.0 + (seq - 600) / 10
        return encoders[cell].encode(
            3900 + seq - 600, seq, t_s, ids, rows[:, :2], np.zeros(n), rows[:, 2], moving * 14,
            moving, np.full(n, (seq - 600) / 10), np.ones(n),
        )  # fmt: skip

    payloads = [
        publish(east, 600, {7: standing, 8: (9000.0, -3000.0, walker)}),
        publish(west, 601, {1: (7000.0, -3000.0, 0.0)}),
        publish(west, 602, {1: (7000.0, -3000.0, 0.0), 7: (7995.0, -3000.0, 0.0)}),
        publish(east, 603, {8: (9000.1, -3000.0, walker)}),
        publish(east, 604, {7: standing, 8: (9000.2, -3000.0, walker)}),
    ]
    return {name: ("crowd", data) for name, data in zip(MERGE_FILES, payloads, strict=True)}


def merged_crowd(payloads: list[bytes]) -> clone.Crowd:
    """The crowd of a fresh replica after ``payloads``, applied as PUB crowd messages."""
    replica = clone.Replica()
    for data in payloads:
        replica.receive([b"crowd", data])
    return replica.crowd()


def _pose_message() -> pose.PoseMessage:
    """Twin 12 at rest (identity joints), twin 40 with each joint turned a little."""
    joints = np.arange(24)
    angle = np.radians(7.5 * (joints - 11))
    axis = np.stack([np.cos(joints), np.sin(joints), np.full(24, 0.5)], axis=1)
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    turned = np.concatenate([np.cos(angle / 2)[:, None], np.sin(angle / 2)[:, None] * axis], 1)
    quat = np.stack([np.tile([1.0, 0.0, 0.0, 0.0], (24, 1)), turned]).astype(np.float32)
    root = np.array([[7012.34, -3056.78, 0.95], [7100.0, -2996.79, 0.9]])
    return pose.PoseMessage(3603, 504, 120.1, np.array([12, 40], np.uint32), quat, root)


def _shape_message() -> shape.ShapeMessage:
    """Twin 12, female, a tall and slim build; twin 40, male, the model's mean build."""
    betas = np.zeros((2, 10), np.float32)
    betas[0] = [1.25, -0.75, 0.5, -0.25, 0.125, 0.0, -1.5, 2.0, 0.0625, -0.0625]
    return shape.ShapeMessage(3603, 508, 120.1, np.array([12, 40], np.uint32),
                              np.array([0, 1], np.uint8), betas)  # fmt: skip


def _vitals_message(ids: list[int], rows: list[list[float]], seq: int) -> vitals.VitalsMessage:
    cols = np.array(rows, dtype=np.float64).T
    names = [f.name for f in vitals.VITAL_FIELDS]
    values = dict(zip(names, cols[:-1], strict=True))
    activity = cols[-1].astype(np.uint8)
    return vitals.VitalsMessage(
        3603, seq, 120.1, np.array(ids, np.uint32), activity=activity, **values
    )


def _valid_payloads() -> dict[str, tuple[str, bytes]]:
    """name -> (decoder, payload) of every valid case."""
    key, delta = _crowd_payloads()
    twin_row = [72.4, 118.6, 76.2, 14.1, 97.6, 36.84, 92.37, 4321, 812.3, 3.5, 14]
    cell_rows = [
        [54.0, 104.0, 66.0, 11.8, 96.9, 36.4, 84.0, 0, 310.2, 0.95, 0],
        twin_row,
        [240.0, 262.0, 151.0, 70.0, 65.0, 43.1, 650.0, 123456, 12000.0, 25.0, 5],
    ]
    example = event.EventMessage(
        3603, 506, 120.1, "example", None, {"text": "hi", "values": np.array([1.5, -2.0], "<f4")}
    )
    table = meta.MetaMessage(
        3603,
        507,
        120.1,
        "2026-03-02T00:00:00",
        ACTIVITY_NAMES,
        ("idle", "walk", "drive"),
        np.array([55], np.uint32),
        np.array([31], np.uint32),
    )
    return {
        "crowd_keyframe": ("crowd", key),
        "crowd_delta": ("crowd", delta),
        "pose": ("pose", pose.encode(_pose_message())),
        "shape": ("shape", shape.encode(_shape_message())),
        "vitals_twin": ("vitals", vitals.encode(_vitals_message([12], [twin_row], 505))),
        "vitals_cell": ("vitals", vitals.encode(_vitals_message([7, 12, 40], cell_rows, 505))),
        "event_activity": (
            "event",
            event.encode(event.activity_event(3603, 502, 120.1, 40, 14, 5)),
        ),
        "event_example": ("event", event.encode(example)),
        "meta": ("meta", meta.encode(table)),
        "request_snapshot": (
            "request",
            request.encode(request.Request(1, "snapshot", {"cells": [[3, -2], [4, -2]]})),
        ),
        "request_despawn": (
            "request",
            request.encode(request.Request(2, "despawn", {"ids": np.array([31], np.uint32)})),
        ),
        "request_roster_no_args": (
            "request",
            pack_envelope("request", 0, 0, 0.0, {"id": 6, "op": "roster"}),
        ),
        "request_twin_token": (
            "request",
            request.encode(request.Request(4, "twin", {"id": 12}, token=EXAMPLE_TOKEN)),
        ),
        **_auth_replies(),
        "reply_snapshot": (
            "reply",
            reply.encode(reply.Reply(3603, 503, 120.1, 1, True, result={"crowd": [key, delta]})),
        ),
        "reply_town": (
            "reply",
            reply.encode(
                reply.Reply(
                    3603,
                    503,
                    120.1,
                    3,
                    True,
                    result={
                        "kinds": [kind.name.lower() for kind in PlaceKind],
                        "kind": np.array([0, 0, 1, 6], np.uint8),
                        "xy_m": np.array(
                            [[-1250.5, 310.25], [88.0, -4020.75], [12.5, 7.0], [-300.0, -300.0]],
                            np.float32,
                        ),
                        "radius_m": 12000.0,
                    },
                )
            ),
        ),
        "reply_unknown_twin": (
            "reply",
            reply.encode(
                reply.Reply(
                    3603,
                    507,
                    120.1,
                    2,
                    False,
                    error=reply.ReplyError(reply.UNKNOWN_TWIN, "twin 99 does not exist"),
                )
            ),
        ),
        "reply_bad_request": (
            "reply",
            reply.encode(
                reply.Reply(
                    3603,
                    507,
                    120.1,
                    None,
                    False,
                    error=reply.ReplyError(reply.BAD_REQUEST, "missing field 'body.op'"),
                )
            ),
        ),
        **_merge_payloads(),
    }


EXAMPLE_TOKEN = "st_0a1b2c3d_" + "A" * 43
"""A token of the right form (``net.auth``); no server holds it."""


def _auth_replies() -> dict[str, tuple[str, bytes]]:
    """The error replies of access control and rate limiting (protocol section 6.7)."""
    errors = {
        "reply_unauthorized": reply.ReplyError(
            reply.UNAUTHORIZED, "a token is required: see `twin token create`"
        ),
        "reply_forbidden": reply.ReplyError(
            reply.FORBIDDEN, "this needs the analyst role; the token has viewer"
        ),
        "reply_rate_limited": reply.ReplyError(
            reply.RATE_LIMITED, "more than 200 requests a second; retry in 15 ms", 15
        ),
    }
    return {
        name: ("reply", reply.encode(reply.Reply(3603, 507, 120.1, 5, False, error=error)))
        for name, error in errors.items()
    }


def _nested(levels: int) -> Any:
    """A value of ``levels`` nested arrays around a nil."""
    value = None
    for _ in range(levels):
        value = [value]
    return value


# --- invalid payloads ----------------------------------------------------------------------------


def _edit(payload: bytes, change) -> bytes:
    """``payload`` unpacked, changed in place by ``change(envelope_map)``, packed again."""
    env = msgpack.unpackb(payload, raw=False)
    change(env)
    return msgpack.packb(env, use_bin_type=True)


def _setter(path: str, value: Any):
    """A change setting ``env[a][b]...`` for ``path = "a.b"``; ``value=...`` deletes it."""

    def change(env: dict) -> None:
        *parents, last = path.split(".")
        for key in parents:
            env = env[key]
        if value is ...:
            del env[last]
        else:
            env[last] = value

    return change


def _u4(ids: list[int]) -> bytes:
    """A crowd id list: the bin of ``<u4`` ids."""
    return np.array(ids, "<u4").tobytes()


def _with_byte(data: bytes, at: int, value: int) -> bytes:
    """``data`` with byte ``at`` set to ``value``."""
    return data[:at] + bytes([value]) + data[at + 1 :]


def _one_more_record(delta: bytes, **lists: list[int]) -> bytes:
    """``delta`` with ``changed`` and/or ``ids`` replaced by ``lists`` and its last record
    repeated once at the end (so R = popcount(changed) + A still holds)."""
    msg = crowd.decode(delta)
    columns = {
        n: np.concatenate([getattr(msg, n), getattr(msg, n)[-1:]]) for n in crowd.RECORD_DTYPE.names
    }
    changed = np.array(lists.get("changed", msg.changed), np.uint8)
    ids = np.array(lists.get("ids", msg.ids), np.uint32)
    return crowd.encode(dataclasses.replace(msg, changed=changed, ids=ids, **columns))


def _array(dtype: str, values: list) -> dict:
    arr = np.array(values, dtype=dtype)
    return {"dtype": dtype, "shape": list(arr.shape), "data": arr.tobytes()}


def _invalid_payloads(
    valid: dict[str, tuple[str, bytes]],
) -> list[tuple[str, str, bytes, str, str]]:
    """(name, decoder, payload, code, message) of every invalid case with its own payload."""
    key, delta, posed = valid["crowd_keyframe"][1], valid["crowd_delta"][1], valid["pose"][1]
    vit, evt, req = (
        valid["vitals_twin"][1],
        valid["event_activity"][1],
        valid["request_snapshot"][1],
    )
    rep, tab = valid["reply_snapshot"][1], valid["meta"][1]
    return [
        ("empty", "any", b"", "truncated", "payload is truncated"),
        ("not_msgpack", "any", b"\xc1", "not_msgpack", "payload is not msgpack"),
        ("truncated", "crowd", key[: len(key) // 2], "truncated", "payload is truncated"),
        ("trailing", "any", key + b"\0\0", "not_msgpack", "payload has 2 trailing bytes"),
        (
            "not_a_map",
            "any",
            msgpack.packb([1, 2, 3]),
            "not_a_map",
            "payload must be a map, got array",
        ),
        (
            "version",
            "any",
            _edit(evt, _setter("v", 2)),
            "bad_version",
            "protocol version 2 is not supported (expected 1)",
        ),
        (
            "unknown_kind",
            "any",
            _edit(evt, _setter("kind", "teleport")),
            "unknown_kind",
            "unknown kind 'teleport'",
        ),
        ("wrong_kind", "crowd", posed, "wrong_kind", "expected kind 'crowd', got 'pose'"),
        (
            "missing_seq",
            "any",
            _edit(evt, _setter("seq", ...)),
            "missing_field",
            "missing field 'seq'",
        ),
        (
            "tick_type",
            "any",
            _edit(evt, _setter("tick", "3603")),
            "wrong_type",
            "field 'tick' must be int, got str",
        ),
        (
            "negative_seq",
            "any",
            _edit(evt, _setter("seq", -1)),
            "bad_value",
            "field 'seq' holds -1, expected >= 0",
        ),
        (
            "body_type",
            "any",
            _edit(evt, _setter("body", [])),
            "wrong_type",
            "field 'body' must be map, got array",
        ),
        (
            "crowd_cell",
            "crowd",
            _edit(key, _setter("body.cell", [3])),
            "wrong_type",
            "field 'body.cell' must be an array of 2 int",
        ),
        (
            "crowd_base_after_seq",
            "crowd",
            _edit(delta, _setter("body.base", 600)),
            "bad_value",
            "field 'body.base' holds 600, expected <= seq 503",
        ),
        (
            "crowd_ids_order",
            "crowd",
            _edit(key, _setter("body.ids", _u4([7, 12, 40, 31, 1002]))),
            "bad_value",
            "field 'body.ids' must be strictly ascending",
        ),
        (
            "crowd_ids_short",
            "crowd",
            _edit(key, lambda e: e["body"].update(ids=e["body"]["ids"][:-1])),
            "length_mismatch",
            "field 'body.ids' holds 19 bytes, expected a multiple of 4",
        ),
        (
            "crowd_ids_type",
            "crowd",
            _edit(key, _setter("body.ids", _array("<u4", [7, 12, 31, 40, 1002]))),
            "wrong_type",
            "field 'body.ids' must be bin, got map",
        ),
        (
            "crowd_keyframe_gone",
            "crowd",
            _edit(key, _setter("body.gone", _u4([7]))),
            "bad_value",
            "a keyframe (base == seq) must have empty changed and gone",
        ),
        (
            "crowd_missing_rec",
            "crowd",
            _edit(key, _setter("body.rec", ...)),
            "missing_field",
            "missing field 'body.rec'",
        ),
        (
            "crowd_rec_type",
            "crowd",
            _edit(key, _setter("body.rec", "abc")),
            "wrong_type",
            "field 'body.rec' must be bin, got str",
        ),
        (
            "crowd_rec_length",
            "crowd",
            _edit(key, lambda e: e["body"].update(rec=e["body"]["rec"][:-1])),
            "length_mismatch",
            "field 'body.rec' holds 54 bytes, expected 55 for 5 records",
        ),
        (
            "crowd_activity",
            "crowd",
            _edit(key, lambda e: e["body"].update(rec=_with_byte(e["body"]["rec"], 7 * 5 + 2, 16))),
            "bad_value",
            "field 'body.rec' holds activity 16, expected < 16",
        ),
        (
            "pose_rot_shape",
            "pose",
            _edit(posed, lambda e: e["body"]["rot"].update(shape=[2, 36, 2])),
            "wrong_type",
            "field 'body.rot' must have shape [n, *, 3], got [2, 36, 2]",
        ),
        (
            "pose_root_rows",
            "pose",
            _edit(posed, _setter("body.root", _array("<i4", [[1, 2, 3]]))),
            "length_mismatch",
            "field 'body.root' has 1 rows, expected 2",
        ),
        (
            "shape_model",
            "shape",
            _edit(valid["shape"][1], _setter("body.model", _array("|u1", [0, 3]))),
            "bad_value",
            "field 'body.model' holds 3, expected < 3",
        ),
        (
            "shape_betas_rows",
            "shape",
            _edit(valid["shape"][1], _setter("body.betas", _array("<f4", [[0.5] * 10]))),
            "length_mismatch",
            "field 'body.betas' has 1 rows, expected 2",
        ),
        (
            "shape_betas_nan",
            "shape",
            _edit(valid["shape"][1], _setter("body.betas", _array("<f4", [[0.0], [np.nan]]))),
            "bad_value",
            "field 'body.betas' must be finite",
        ),
        (
            "vitals_missing_glucose",
            "vitals",
            _edit(vit, _setter("body.glucose_mgdl", ...)),
            "missing_field",
            "missing field 'body.glucose_mgdl'",
        ),
        (
            "vitals_hr_dtype",
            "vitals",
            _edit(vit, _setter("body.hr_bpm", _array("<u2", [72]))),
            "wrong_type",
            "field 'body.hr_bpm' must be an array of |u1, got <u2",
        ),
        (
            "event_type",
            "event",
            _edit(evt, _setter("body.type", "a/b")),
            "bad_value",
            "field 'body.type' must be non-empty and without '/'",
        ),
        (
            "event_twin",
            "event",
            _edit(evt, _setter("body.twin", "40")),
            "wrong_type",
            "field 'body.twin' must be int or nil, got str",
        ),
        (
            "meta_names",
            "meta",
            _edit(tab, _setter("body.activities", [1, 2])),
            "wrong_type",
            "field 'body.activities' must be an array of str",
        ),
        (
            "request_no_op",
            "request",
            _edit(req, _setter("body.op", ...)),
            "missing_field",
            "missing field 'body.op'",
        ),
        (
            "request_args",
            "request",
            _edit(req, _setter("body.args", [])),
            "wrong_type",
            "field 'body.args' must be map, got array",
        ),
        (
            "request_args_dtype",
            "request",
            _edit(
                req,
                _setter(
                    "body.args", {"ids": {"dtype": ">u4", "shape": [1], "data": b"\0\0\0\x1f"}}
                ),
            ),
            "wrong_type",
            "field 'body.args.ids' has unsupported dtype >u4",
        ),
        (
            "request_token_type",
            "request",
            _edit(req, _setter("body.token", 7)),
            "wrong_type",
            "field 'body.token' must be str, got int",
        ),
        (
            "request_too_deep",
            "request",
            _edit(req, _setter("body.args", {"cells": _nested(33)})),
            "too_large",
            "field 'body.args' nests deeper than 32 levels",
        ),
        (
            "request_shape_dims",
            "request",
            _edit(
                req, _setter("body.args", {"ids": {"dtype": "<u4", "shape": [0] * 33, "data": b""}})
            ),
            "too_large",
            "field 'body.args.ids.shape' must have at most 32 dimensions of at most 4294967295",
        ),
        (
            "request_long_dtype",
            "request",
            _edit(
                req, _setter("body.args", {"ids": {"dtype": "x" * 100, "shape": [1], "data": b""}})
            ),
            "wrong_type",
            f"field 'body.args.ids' has unsupported dtype {'x' * 61}...",
        ),
        (
            "reply_no_result",
            "reply",
            _edit(rep, _setter("body.result", ...)),
            "missing_field",
            "missing field 'body.result'",
        ),
        (
            "reply_error_code",
            "reply",
            _edit(valid["reply_unknown_twin"][1], _setter("body.error.code", 5)),
            "wrong_type",
            "field 'body.error.code' must be str, got int",
        ),
    ]


def _stateful_cases(valid: dict[str, tuple[str, bytes]]) -> list[Case]:
    """Cases for a ``CrowdDecoder`` fed several payloads: rebuilt state, stale input, errors."""
    key, delta = valid["crowd_keyframe"][1], valid["crowd_delta"][1]
    decoder = crowd.CrowdDecoder()
    decoder.apply(key)
    state = to_json(decoder.apply(delta))
    kd = ["crowd_keyframe.bin", "crowd_delta.bin"]
    bits = int(crowd.decode(delta).changed[0])  # 0b11000: base twins 40 and 1002 changed
    long_mask = _edit(delta, _setter("body.changed", bytes([bits, 0])))
    unknown_gone = _edit(delta, _setter("body.gone", _u4([32])))
    # one more record each (R = popcount + A): base twins 7, 12, 31, 40, 1002; 31 is gone
    padding = _one_more_record(delta, changed=[bits | 1 << 5])
    in_base = _one_more_record(delta, ids=[12, 55])
    changed_gone = _one_more_record(delta, changed=[bits | 1 << 2])
    other_base = _edit(delta, _setter("body.base", 499))

    def doc(file: str, apply: list[str], **rest: Any) -> dict[str, Any]:
        return {"file": file, "decoder": "crowd_state", "apply": apply, **rest}

    def error(code: str, message: str) -> dict[str, str]:
        return {"code": code, "message": message}

    merge = [f"{name}.bin" for name in MERGE_FILES]
    merged = to_json(merged_crowd([valid[name][1] for name in MERGE_FILES]))
    merge_doc = {"file": merge[-1], "decoder": "crowd_merge", "apply": merge[:-1], "values": merged}
    return [
        Case("crowd_merge", merge[-1], None, merge_doc),
        Case("crowd_state", "crowd_delta.bin", None, doc(kd[1], kd[:1], values=state)),
        Case("crowd_state_stale", "crowd_keyframe.bin", None, doc(kd[0], kd, values=state)),
        Case(
            "invalid_crowd_no_keyframe",
            "crowd_delta.bin",
            None,
            doc(
                kd[1],
                [],
                error=error(
                    "unknown_base", "cell [3, -2]: delta needs keyframe seq 500, decoder has none"
                ),
            ),
        ),
        Case(
            "invalid_crowd_changed_length",
            "invalid_crowd_changed_length.bin",
            long_mask,
            doc(
                "invalid_crowd_changed_length.bin",
                kd[:1],
                error=error(
                    "length_mismatch",
                    "field 'body.changed' has 2 bytes, expected 1 for a base of 5 twins",
                ),
            ),
        ),
        *(
            Case(name, f"{name}.bin", payload, doc(f"{name}.bin", kd[:1], error=error(*err)))
            for name, payload, err in (
                (
                    "invalid_crowd_changed_padding",
                    padding,
                    ("bad_value", "field 'body.changed' sets bits beyond the base's 5 twins"),
                ),
                (
                    "invalid_crowd_ids_in_base",
                    in_base,
                    ("bad_value", "field 'body.ids' holds 12, which is in the base keyframe"),
                ),
                (
                    "invalid_crowd_changed_and_gone",
                    changed_gone,
                    ("bad_value", "twin 31 is both changed and gone"),
                ),
                (
                    "invalid_crowd_other_keyframe",
                    other_base,
                    (
                        "unknown_base",
                        "cell [3, -2]: delta needs keyframe seq 499, decoder has seq 500",
                    ),
                ),
            )
        ),  # fmt: skip
        Case(
            "invalid_crowd_gone_unknown",
            "invalid_crowd_gone_unknown.bin",
            unknown_gone,
            doc(
                "invalid_crowd_gone_unknown.bin",
                kd[:1],
                error=error(
                    "bad_value", "field 'body.gone' holds 32, which is not in the base keyframe"
                ),
            ),
        ),
    ]


def _decoder(kind: str):
    modules = {m.KIND: m for m in (crowd, pose, vitals, event, meta, request, reply, shape)}
    return decode_any if kind == "any" else modules[kind].decode


Payloads = dict[str, tuple[str, bytes]]
"""Cases by name: the decoder's name and the payload."""


def valid_case(name: str, decoder: str, payload: bytes, decode: Callable[[bytes], Any]) -> Case:
    """A case that decodes: its payload as msgpack and its decoded values, both as JSON."""
    values = to_json(decode(payload))
    doc = {"file": f"{name}.bin", "decoder": decoder,
           "payload": to_json(msgpack.unpackb(payload, raw=False)), "values": values}  # fmt: skip
    return Case(name, f"{name}.bin", payload, doc)


def invalid_case(name: str, decoder: str, payload: bytes, code: str, message: str) -> Case:
    """A case its decoder refuses with ``code`` and ``message``."""
    error = {"code": code, "message": message}
    return Case(name, f"{name}.bin", payload, {"file": f"{name}.bin", "decoder": decoder,
                                              "error": error})  # fmt: skip


def decoded_cases(
    valid: Payloads, invalid: Payloads, decoder: Callable[[str], Callable[[bytes], Any]]
) -> list[Case]:
    """The cases of ``valid`` payloads and of ``invalid`` ones, whose errors (any error with a
    ``code``, and a ``message`` or its text) are what the decoder raises."""
    cases = [valid_case(n, d, payload, decoder(d)) for n, (d, payload) in valid.items()]
    for name, (kind, payload) in invalid.items():
        try:
            decoder(kind)(payload)
        except ValueError as err:
            message = getattr(err, "message", str(err))
            cases.append(invalid_case(name, kind, payload, err.code, message))
        else:
            raise AssertionError(f"{name} decodes")
    return cases


def build_cases() -> list[Case]:
    """Every golden case, in a fixed order."""
    valid = _valid_payloads()
    valid["event_t_int"] = ("any", _edit(valid["event_activity"][1], _setter("t", 120)))
    cases = decoded_cases(valid, {}, _decoder)
    for name, decoder, payload, code, message in _invalid_payloads(valid):
        cases.append(invalid_case(f"invalid_{name}", decoder, payload, code, message))
    return cases + _stateful_cases(valid)


def dumps(value: Any, indent: int = 0) -> str:
    """JSON text with every list of scalars on one line."""
    pad = " " * (indent + 1)
    if isinstance(value, list) and not any(isinstance(v, list | dict) for v in value):
        return json.dumps(value)
    if isinstance(value, list):
        inner = ",\n".join(pad + dumps(v, indent + 1) for v in value)
        return "[\n" + inner + "\n" + " " * indent + "]"
    if isinstance(value, dict) and value:
        inner = ",\n".join(
            f"{pad}{json.dumps(k)}: {dumps(v, indent + 1)}" for k, v in value.items()
        )
        return "{\n" + inner + "\n" + " " * indent + "}"
    return json.dumps(value)


def assert_current(directory: Path, cases: list[Case]) -> None:
    """``cases`` are exactly the files in ``directory`` (besides ``make_golden.py``), byte for
    byte: the generator was run after the last change and nothing is left over."""
    expected = {"make_golden.py"}
    for case in cases:
        if case.payload is not None:
            assert (directory / case.file).read_bytes() == case.payload, case.file
            expected.add(case.file)
        assert (directory / f"{case.name}.json").read_text() == dumps(case.doc) + "\n", case.name
        expected.add(f"{case.name}.json")
    assert {p.name for p in directory.iterdir() if p.is_file()} == expected


def write_cases(directory: Path = HERE, cases: list[Case] | None = None) -> None:
    """Write every case's ``.bin`` (when it has its own payload) and ``.json`` to ``directory``
    (``cases``: these; None: ``build_cases()``)."""
    for case in build_cases() if cases is None else cases:
        if case.payload is not None:
            (directory / case.file).write_bytes(case.payload)
        (directory / f"{case.name}.json").write_text(dumps(case.doc) + "\n")


if __name__ == "__main__":
    write_cases()
