"""The wire format: golden vectors (valid, invalid, truncated), round trips within the documented
quantization bounds, Clone keyframe/delta semantics, topics, and robustness to garbage."""

from __future__ import annotations

import contextlib
import json
import math

import msgpack
import numpy as np
import pytest
import zmq

from synthtwin.net.wire import (
    CrowdDecoder,
    CrowdEncoder,
    EventMessage,
    MetaMessage,
    Reply,
    ReplyError,
    Request,
    WireError,
    crowd,
    decode_any,
    event,
    fields,
    meta,
    pose,
    reply,
    request,
    shape,
    topics,
    vitals,
)
from synthtwin.net.wire.envelope import KINDS, pack_envelope
from tests.golden.wire.make_golden import HERE, assert_current, build_cases, merged_crowd, to_json

GOLDEN = HERE
CASES = sorted(p.name for p in GOLDEN.glob("*.json"))
DECODERS = {m.KIND: m.decode for m in (crowd, pose, vitals, event, meta, request, reply, shape)}
CELL = (-4, 7)


# --- golden files ---------------------------------------------------------------------------------


def _run(doc: dict):
    """Decode the case's file the way its ``decoder`` says; returns the decoded value."""
    data = (GOLDEN / doc["file"]).read_bytes()
    if doc["decoder"] == "crowd_state":
        dec = CrowdDecoder()
        for name in doc["apply"]:
            dec.apply((GOLDEN / name).read_bytes())
        return dec.apply(data)
    if doc["decoder"] == "crowd_merge":
        return merged_crowd([(GOLDEN / name).read_bytes() for name in [*doc["apply"], doc["file"]]])
    if doc["decoder"] == "any":
        return decode_any(data)
    return DECODERS[doc["decoder"]](data)


def test_golden_files_are_current():
    """make_golden.py rebuilds exactly the files on disk (and nothing is left over)."""
    assert_current(GOLDEN, build_cases())


@pytest.mark.parametrize("name", [c for c in CASES if not c.startswith("invalid_")])
def test_golden_valid(name):
    doc = json.loads((GOLDEN / name).read_text())
    if "payload" in doc:
        raw = msgpack.unpackb((GOLDEN / doc["file"]).read_bytes(), raw=False)
        assert to_json(raw) == doc["payload"]
    assert to_json(_run(doc)) == doc["values"]


@pytest.mark.parametrize("name", [c for c in CASES if c.startswith("invalid_")])
def test_golden_invalid(name):
    doc = json.loads((GOLDEN / name).read_text())
    with pytest.raises(WireError) as caught:
        _run(doc)
    assert (caught.value.code, caught.value.message) == (
        doc["error"]["code"],
        doc["error"]["message"],
    )


def test_every_truncation_and_corruption_raises_only_wire_error():
    """Every prefix of every valid payload, and single-byte corruptions, fail cleanly."""
    rng = np.random.default_rng(0)
    payloads = [c.payload for c in build_cases() if c.payload and not c.name.startswith("invalid")]
    for data in payloads:
        for end in range(len(data)):
            with pytest.raises(WireError):
                decode_any(data[:end])
        for _ in range(40):
            bad = bytearray(data)
            bad[rng.integers(len(bad))] = rng.integers(256)
            with contextlib.suppress(WireError):
                decode_any(bytes(bad))


# --- crowd ---------------------------------------------------------------------------------------


def _crowd(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """n random twins of CELL (inputs of ``CrowdEncoder.encode``)."""
    centre = topics.cell_centre_m(CELL)
    return {
        "ids": rng.choice(100_000, n, replace=False).astype(np.uint32),
        "pos_m": centre + rng.uniform(-1600, 1600, (n, 2)),
        "heading_rad": rng.uniform(-10, 10, n),
        "speed_mps": rng.uniform(0, 25, n),
        "activity": rng.integers(0, 16, n).astype(np.uint8),
        "clip": rng.integers(0, 256, n).astype(np.uint8),
        "phase": rng.uniform(0, 1, n),
        "blend": rng.uniform(0, 1, n),
    }


def _check_state(state, twins: dict[str, np.ndarray], fresh: np.ndarray | None = None) -> None:
    """``state`` matches ``twins`` within the crowd quantization bounds (phase where ``fresh``);
    positions of records this message carried within the quantum, the others dead-reckoned to its
    ``t`` within ``DEAD_RECKONING_M``."""
    order = np.argsort(twins["ids"])
    want = {k: v[order] for k, v in twins.items()}
    np.testing.assert_array_equal(state.ids, want["ids"])
    carried = state.sample_t_s == state.t_s
    assert np.abs(state.pos_m - want["pos_m"])[carried].max() <= crowd.POS_QUANTUM_M / 2 + 1e-9
    miss_m = np.linalg.norm(state.position_at(state.t_s) - want["pos_m"], axis=1)
    assert miss_m.max() <= crowd.DEAD_RECKONING_M + 1e-9
    turn = np.angle(np.exp(1j * (state.heading_rad - want["heading_rad"])))
    assert np.abs(turn).max() <= np.pi / crowd.HEADING_CODES + 1e-6
    assert np.abs(state.speed_mps - want["speed_mps"]).max() <= crowd.SPEED_QUANTUM_MPS / 2 + 1e-6
    np.testing.assert_array_equal(state.activity, want["activity"])
    np.testing.assert_array_equal(state.clip, want["clip"])
    assert np.abs(state.blend - want["blend"]).max() <= 0.5 / crowd.UNIT_CODES + 1e-6
    fresh = np.ones(len(order), bool) if fresh is None else fresh[order]
    assert np.abs(state.phase - want["phase"])[fresh].max() <= 0.5 / crowd.UNIT_CODES + 1e-6


def test_crowd_keyframe_round_trip_within_bounds():
    twins = _crowd(2000, np.random.default_rng(1))
    data = CrowdEncoder(CELL).encode(10, 1, 0.5, **twins)
    state = CrowdDecoder().apply(data)
    _check_state(state, twins)
    assert state.cell == CELL and (state.tick, state.seq, state.t_s) == (10, 1, 0.5)
    np.testing.assert_array_equal(state.sample_t_s, 0.5)


def test_crowd_clamps_speed_phase_and_blend():
    twins = _crowd(3, np.random.default_rng(2))
    twins.update(speed_mps=np.array([-1.0, 40.0, 3.0]), phase=np.array([-0.5, 1.5, 1.0]))
    twins["blend"] = np.array([2.0, 0.0, -1.0])
    state = CrowdDecoder().apply(CrowdEncoder(CELL).encode(0, 1, 0.0, **twins))
    order = np.argsort(twins["ids"])
    np.testing.assert_allclose(state.speed_mps, np.array([0.0, 25.5, 3.0])[order], atol=1e-6)
    np.testing.assert_allclose(state.phase, np.array([0.0, 1.0, 1.0])[order])
    np.testing.assert_allclose(state.blend, np.array([1.0, 0.0, 0.0])[order])


def _step(twins: dict[str, np.ndarray], rng: np.random.Generator, t: int) -> dict[str, np.ndarray]:
    """Next update: a third of the twins move, one leaves, one arrives, every phase advances."""
    nxt = {k: v.copy() for k, v in twins.items()}
    movers = rng.random(len(nxt["ids"])) < 1 / 3
    nxt["pos_m"][movers] += rng.normal(0, 0.5, (movers.sum(), 2))
    nxt["phase"] = (nxt["phase"] + 0.03) % 1
    nxt["activity"][rng.integers(len(nxt["ids"]))] = rng.integers(16)
    leave = rng.integers(len(nxt["ids"]))
    nxt = {k: np.delete(v, leave, axis=0) for k, v in nxt.items()}
    newcomer = _crowd(1, rng)
    newcomer["ids"] = np.array([200_000 + t], np.uint32)
    return {k: np.concatenate([nxt[k], newcomer[k]]) for k in nxt}


def test_crowd_deltas_rebuild_the_state_against_the_last_keyframe():
    rng = np.random.default_rng(3)
    twins = _crowd(300, rng)
    encoder, full, lossy = CrowdEncoder(CELL, keyframe_every=10), CrowdDecoder(), CrowdDecoder()
    kinds = []
    for t in range(25):
        data = encoder.encode(t, 100 + t, t / 30, **twins)
        msg = crowd.decode(data)
        kinds.append(msg.is_keyframe)
        state = full.apply(data)
        if msg.is_keyframe or t % 3 == 0:  # the lossy client drops two deltas in three
            assert_same = lossy.apply(data)
            np.testing.assert_array_equal(assert_same.pos_m, state.pos_m)
        _check_state(state, twins, fresh=_fresh(state, twins, t / 30))
        twins = _step(twins, rng, t)
    assert [i for i, key in enumerate(kinds) if key] == [0, 10, 20]


def _fresh(state, twins, t_s: float) -> np.ndarray:
    """(N,) bool in ``twins`` order: the twin's record was sent at ``t_s`` (phase is current)."""
    at = np.searchsorted(state.ids, twins["ids"])
    return state.sample_t_s[at] == t_s


def test_crowd_at_rest_publishes_nothing_between_keyframes():
    twins = dict(_crowd(50, np.random.default_rng(4)), speed_mps=np.zeros(50))
    encoder = CrowdEncoder(CELL, keyframe_every=30)
    assert encoder.encode(0, 1, 0.0, **twins) is not None
    twins["phase"] = (twins["phase"] + 0.25) % 1
    assert encoder.encode(1, 2, 0.1, **twins) is None  # phase alone: at rest
    twins["pos_m"][7] += 0.3
    moved = encoder.encode(2, 3, 0.2, **twins)
    assert len(crowd.decode(moved).heading) == 1
    assert encoder.encode(3, 4, 0.3, **twins) is None  # same change as the last delta
    twins["pos_m"][7] -= 0.3
    back = crowd.decode(encoder.encode(4, 5, 0.4, **twins))  # back at its keyframe record
    assert len(back.heading) == 0
    assert encoder.encode(5, 6, 0.5, **twins) is None


def _walk(twins: dict[str, np.ndarray], dt_s: float) -> dict[str, np.ndarray]:
    """``twins`` moved on ``dt_s`` s straight along their headings at their speeds."""
    direction = np.stack([np.cos(twins["heading_rad"]), np.sin(twins["heading_rad"])], axis=1)
    step_m = (twins["speed_mps"] * dt_s)[:, None]
    return dict(twins, pos_m=twins["pos_m"] + step_m * direction)


def test_crowd_twins_going_straight_are_dead_reckoned_not_sent():
    """Walkers and drivers on straight lines at steady speeds stay out of deltas for the 3 s
    between keyframes; one that turns, or drifts off its line by more than DEAD_RECKONING_M, is
    in every later delta; clients put every twin within DEAD_RECKONING_M of where it is."""
    twins = dict(_crowd(200, np.random.default_rng(8)), speed_mps=np.full(200, 1.4))
    twins["speed_mps"][:50] = np.round(np.linspace(0.1, 25.0, 50), 1)  # on the speed quanta
    encoder, decoder = CrowdEncoder(CELL, keyframe_every=30), CrowdDecoder()
    decoder.apply(encoder.encode(0, 1, 0.0, **twins))
    later = _walk(twins, 2.9)
    assert encoder.encode(29, 2, 2.9, **later) is None  # nobody strayed: nothing to say
    later["heading_rad"][3] += 0.5  # turned
    later["pos_m"][4] += [0.2, 0.2]  # 0.28 m off its line
    later["pos_m"][5] += [0.1, 0.2]  # 0.22 m off: still dead-reckoned
    state = decoder.apply(encoder.encode(29, 3, 2.9, **later))
    order = np.argsort(twins["ids"])
    np.testing.assert_array_equal(state.sample_t_s[np.argsort(order)] == 2.9, np.isin(
        np.arange(200), [3, 4]))  # fmt: skip
    miss_m = np.linalg.norm(state.position_at(2.9) - later["pos_m"][order], axis=1)
    assert miss_m.max() <= crowd.DEAD_RECKONING_M


def test_golden_delta_twin_left_out_is_dead_reckoned_where_it_walked():
    """make_golden.py: twin 12 walked 14 cm north at 1.4 m/s in the 0.1 s after the keyframe, so
    the delta leaves it out; its keyframe record, dead-reckoned, is where it is, in the cell's
    state and in a client's merged crowd alike."""
    files = [(GOLDEN / f"crowd_{name}.bin").read_bytes() for name in ("keyframe", "delta")]
    decoder = CrowdDecoder()
    state = [decoder.apply(data) for data in files][-1]
    merged = merged_crowd(files)
    for held in (state, merged):
        row = int(np.searchsorted(held.ids, 12))
        assert held.sample_t_s[row] == 120.0  # the keyframe's record
        assert np.linalg.norm(held.position_at(120.1)[row] - [7012.34, -3056.64]) <= 0.05
        assert held.position_at(100.0)[row].tolist() == held.pos_m[row].tolist()  # not backwards


def test_crowd_without_dead_reckoning_sends_every_quantized_move():
    """dead_reckoning_m = 0: protocol 1.1's rule, for clients that do not dead-reckon."""
    twins = dict(_crowd(20, np.random.default_rng(9)), speed_mps=np.full(20, 1.4))
    encoder = CrowdEncoder(CELL, keyframe_every=30, dead_reckoning_m=0.0)
    encoder.encode(0, 1, 0.0, **twins)
    assert len(crowd.decode(encoder.encode(1, 2, 0.1, **_walk(twins, 0.1))).heading) == 20
    for bad in (-0.1, math.inf, math.nan):
        with pytest.raises(ValueError, match="dead_reckoning_m must be a distance >= 0"):
            CrowdEncoder(CELL, dead_reckoning_m=bad)


def test_crowd_snapshot_lets_a_late_joiner_catch_up():
    rng = np.random.default_rng(5)
    twins = _crowd(100, rng)
    encoder, early = CrowdEncoder(CELL, keyframe_every=8), CrowdDecoder()
    for t in range(13):
        data = encoder.encode(t, t + 1, t / 30, **twins)
        early.apply(data)
        twins = _step(twins, rng, t)
    late = CrowdDecoder()
    for data in encoder.snapshot():
        late_state = late.apply(data)
    assert [crowd.decode(d).is_keyframe for d in encoder.snapshot()] == [True, False]
    assert late.apply(encoder.snapshot()[0]).seq == late_state.seq  # stale: ignored
    data = encoder.encode(13, 14, 13 / 30, **twins)
    a, b = early.apply(data), late.apply(data)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_array_equal(a.pos_m, b.pos_m)
    np.testing.assert_array_equal(a.sample_t_s, b.sample_t_s)


def test_crowd_delta_after_a_missed_keyframe_is_unknown_base():
    twins = _crowd(20, np.random.default_rng(6))
    encoder, decoder = CrowdEncoder(CELL, keyframe_every=2), CrowdDecoder()
    decoder.apply(encoder.encode(0, 1, 0.0, **twins))
    twins["pos_m"] += 1.0
    decoder.apply(encoder.encode(1, 2, 0.1, **twins))
    encoder.encode(2, 3, 0.2, **twins)  # keyframe, lost
    twins["pos_m"] += 1.0
    with pytest.raises(WireError) as caught:
        decoder.apply(encoder.encode(3, 4, 0.3, **twins))
    assert caught.value.code == "unknown_base"
    assert caught.value.message == "cell [-4, 7]: delta needs keyframe seq 3, decoder has seq 1"


def test_crowd_seq_of_an_update_that_publishes_nothing_can_be_used_again():
    """The publisher hands a seq to each cell and advances it only when a message goes out."""
    twins = dict(_crowd(5, np.random.default_rng(8)), speed_mps=np.zeros(5))
    encoder = CrowdEncoder(CELL, keyframe_every=30)
    assert encoder.encode(0, 1, 0.0, **twins) is not None
    assert encoder.encode(1, 2, 0.1, **twins) is None
    assert encoder.encode(2, 2, 0.2, **twins) is None
    twins["activity"][0] = (twins["activity"][0] + 1) % 16
    assert encoder.encode(3, 2, 0.3, **twins) is not None


def test_crowd_encoder_rejects_bad_input():
    twins = _crowd(5, np.random.default_rng(7))
    encoder = CrowdEncoder(CELL)
    encoder.encode(0, 5, 0.0, **twins)
    with pytest.raises(ValueError, match="seq must grow"):
        encoder.encode(1, 5, 0.0, **twins)
    far = dict(twins, pos_m=twins["pos_m"].copy())
    far["pos_m"][3, 1] = topics.cell_centre_m(CELL)[1] - 1638.4  # code -32768
    with pytest.raises(ValueError, match=r"^a twin lies beyond 1638\.35 m of the centre of cell"):
        CrowdEncoder(CELL).encode(0, 1, 0.0, **far)
    short = {k: v[:4] for k, v in twins.items()}
    with pytest.raises(ValueError, match="got 5 ids for 4 positions"):
        CrowdEncoder(CELL).encode(0, 1, 0.0, **dict(short, ids=twins["ids"]))
    with pytest.raises(ValueError, match="activity"):
        CrowdEncoder(CELL).encode(0, 1, 0.0, **dict(twins, activity=np.full(5, 16, np.uint8)))
    nan = dict(twins, heading_rad=np.full(5, np.nan))
    with pytest.raises(ValueError, match="finite"):
        CrowdEncoder(CELL).encode(0, 1, 0.0, **nan)
    with pytest.raises(ValueError, match="unique"):
        CrowdEncoder(CELL).encode(0, 1, 0.0, **dict(twins, ids=np.zeros(5, np.uint32)))


def test_crowd_position_range_is_1638_35_m_in_5_cm_steps():
    """Offsets of +-1638.35 m travel as +-32767; 2.5 cm off the grid is the worst error."""
    centre = topics.cell_centre_m(CELL)
    edge = crowd.POS_LIMIT_M
    assert (crowd.POS_QUANTUM_M, edge, topics.CELL_SIZE_M) == (0.05, 1638.35, 2000.0)
    offsets = np.array([[edge, -edge], [-edge, edge], [0.024, -0.026], [1000.0, -999.975]])
    twins = _crowd(4, np.random.default_rng(14))
    twins["pos_m"] = centre + offsets
    data = CrowdEncoder(CELL).encode(0, 1, 0.0, **twins)
    msg = crowd.decode(data)
    want = [[32767, -32767], [-32767, 32767], [0, -1], [20000, -20000]]
    np.testing.assert_array_equal(msg.pos, np.array(want)[np.argsort(twins["ids"])])
    _check_state(CrowdDecoder().apply(data), twins)


def test_crowd_payload_is_the_generic_msgpack_encoding():
    """The hand-written msgpack of the crowd encoder equals pack_envelope of the body's bins."""
    rng = np.random.default_rng(15)
    cases = [(0, 0, (0, 0)), (1, 127, (-4, 7)), (300, 2**40, (-40_000, 200)), (20_000, 1, CELL)]
    for n, seq, cell in cases:
        twins = _crowd(n, rng)
        twins["pos_m"] += topics.cell_centre_m(cell) - topics.cell_centre_m(CELL)
        encoder = CrowdEncoder(cell)
        key = encoder.encode(2**33, seq, 1e9 / 3, **twins)
        twins["pos_m"][: n // 2] += 1.0
        delta = encoder.encode(0, seq + 1, 0, **twins) if n else None
        for data in (key, delta):
            if data is None:
                continue
            msg = crowd.decode(data)
            body = {"cell": list(msg.cell), "base": msg.base}
            for name in ("changed", "ids", "gone"):
                if getattr(msg, name).size:  # empty lists are left out
                    body[name] = getattr(msg, name).tobytes()
            body["rec"] = b"".join(getattr(msg, name).tobytes() for name, *_ in crowd.REC_COLUMNS)
            assert data == pack_envelope("crowd", msg.tick, msg.seq, msg.t_s, body), (n, seq)
            assert crowd.encode(msg) == data


def test_crowd_encoder_takes_ids_in_any_order_and_keeps_its_own_copy():
    rng = np.random.default_rng(16)
    twins = _crowd(40, rng)
    order = np.argsort(twins["ids"])
    ascending = {k: v[order] for k, v in twins.items()}
    a, b = CrowdEncoder(CELL, keyframe_every=5), CrowdEncoder(CELL, keyframe_every=5)
    for t in range(8):
        assert a.encode(t, t + 1, t / 30, **twins) == b.encode(t, t + 1, t / 30, **ascending)
        ascending["ids"][:] = 0  # the caller reuses its buffers: the encoder kept a copy
        twins = _step(twins, rng, t)
        order = np.argsort(twins["ids"])
        ascending = {k: v[order] for k, v in twins.items()}


def test_crowd_bytes_per_twin():
    """Keyframe 15 B a twin and a walking delta 11 B + 1 bit, plus a fixed overhead a message."""
    rng = np.random.default_rng(8)
    n = 1000
    twins = _crowd(n, rng)
    encoder = CrowdEncoder(CELL)
    key = encoder.encode(0, 1, 0.0, **twins)
    twins["pos_m"] += 0.05
    delta = encoder.encode(1, 2, 0.1, **twins)
    assert crowd.KEYFRAME_BYTES_PER_TWIN * n < len(key) <= crowd.KEYFRAME_BYTES_PER_TWIN * n + 450
    bitmask = (n + 7) // 8
    assert len(delta) - crowd.DELTA_BYTES_PER_TWIN * n - bitmask <= 450
    assert len(key) / n <= 16 and len(delta) < len(key)


# --- pose ----------------------------------------------------------------------------------------


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(...,) rotation angle between (..., 4) unit quaternions, degrees (well conditioned)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    w = (a * b).sum(-1)
    # vector part of conj(a) * b
    v = a[..., :1] * b[..., 1:] - b[..., :1] * a[..., 1:] - np.cross(a[..., 1:], b[..., 1:])
    return np.degrees(2 * np.arctan2(np.linalg.norm(v, axis=-1), np.abs(w)))


def test_pose_angular_error_is_within_the_bound():
    rng = np.random.default_rng(9)
    quat = rng.normal(size=(200_000, 4))
    quat = (quat / np.linalg.norm(quat, axis=1, keepdims=True)).astype(np.float32)
    worst = np.array([[0.5, 0.5, 0.5, 0.5], [1, 0, 0, 0], [0, 0, 0, -1]], np.float32)
    quat = np.vstack([quat, worst])
    err = _angle_deg(quat, pose.unpack_quaternions(pose.pack_quaternions(quat)))
    assert err.max() <= pose.MAX_ANGLE_ERROR_DEG
    assert err[-2] == 0.0 and err[-1] == 0.0  # the identity and unit axes are exact
    flipped = pose.pack_quaternions(-quat[:100])
    np.testing.assert_array_equal(flipped, pose.pack_quaternions(quat[:100]))


def test_pose_round_trip():
    rng = np.random.default_rng(10)
    m = 100
    quat = rng.normal(size=(m, 24, 4)).astype(np.float32)
    quat /= np.linalg.norm(quat, axis=-1, keepdims=True)
    root = rng.uniform(-20_000, 20_000, (m, 3))
    ids = np.sort(rng.choice(10**6, m, replace=False)).astype(np.uint32)
    data = pose.encode(pose.PoseMessage(1, 2, 3.0, ids, quat, root))
    got = pose.decode(data)
    np.testing.assert_array_equal(got.ids, ids)
    assert _angle_deg(quat, got.quat).max() <= pose.MAX_ANGLE_ERROR_DEG
    assert np.abs(got.root_m - root).max() <= pose.ROOT_QUANTUM_M / 2 + 1e-9
    assert got.quat.shape == (m, 24, 4) and got.quat.dtype == np.float32
    assert len(data) - m * (4 + 24 * 6 + 12) < 200


# --- vitals, event, meta, request, reply ----------------------------------------------------------


def _vitals(n: int, rng: np.random.Generator, spread: float = 0.0) -> vitals.VitalsMessage:
    values = {}
    for f in vitals.VITAL_FIELDS:
        pad = spread * (f.hi - f.lo)
        values[f.name] = rng.uniform(f.lo - pad, f.hi + pad, n)
    ids = np.arange(n, dtype=np.uint32) * 3
    return vitals.VitalsMessage(5, 6, 7.0, ids, activity=rng.integers(0, 16, n), **values)


def test_vitals_round_trip_within_half_a_quantum():
    msg = _vitals(1000, np.random.default_rng(11))
    data = vitals.encode(msg)
    got = vitals.decode(data)
    for f in vitals.VITAL_FIELDS:
        err = np.abs(getattr(got, f.name) - getattr(msg, f.name))
        assert err.max() <= f.quantum / 2 * (1 + 1e-4) + 1e-4, f.name
    np.testing.assert_array_equal(got.activity, msg.activity)
    assert len(data) - 1000 * vitals.BYTES_PER_TWIN < 600  # envelope and 12 array headers


def test_vitals_clamp_out_of_range_and_reject_nan():
    msg = _vitals(500, np.random.default_rng(12), spread=0.5)
    got = vitals.decode(vitals.encode(msg))
    for f in vitals.VITAL_FIELDS:
        clamped = np.clip(getattr(msg, f.name), f.lo, f.hi)
        assert np.abs(getattr(got, f.name) - clamped).max() <= f.quantum / 2 * (1 + 1e-4) + 1e-4
    bad = _vitals(2, np.random.default_rng(13))
    bad.hr_bpm[0] = np.nan
    with pytest.raises(ValueError, match="hr_bpm"):
        vitals.encode(bad)


def test_small_messages_round_trip_exactly():
    messages = [
        event.activity_event(1, 2, 3.5, 40, 14, 5),
        EventMessage(1, 3, 3.5, "example", None, {"x": [1, "a"], "v": np.arange(3, dtype="<i4")}),
        MetaMessage(
            1, 4, 3.5, "2026-03-02T00:00:00", ("sleep",), ("idle",), np.arange(3), np.arange(0)
        ),
        Request(9, "twin", {"id": 12}, tick=4, seq=5, t_s=6.0),
        Reply(1, 5, 3.5, 9, True, result={"ids": np.array([1, 2], np.uint32), "n": 2}),
        Reply(1, 5, 3.5, None, False, error=ReplyError("bad_request", "missing field 'body.op'")),
    ]
    for msg in messages:
        module = {EventMessage: event, MetaMessage: meta, Request: request, Reply: reply}[type(msg)]
        data = module.encode(msg)
        assert to_json(module.decode(data)) == to_json(msg)
        assert to_json(decode_any(data)) == to_json(msg)


def test_reply_needs_result_or_error():
    with pytest.raises(ValueError):
        reply.encode(Reply(0, 0, 0.0, 1, True))
    with pytest.raises(ValueError):
        reply.encode(Reply(0, 0, 0.0, 1, False))


def test_decoded_arrays_are_read_only_views():
    data = crowd.encode(crowd.decode((GOLDEN / "crowd_keyframe.bin").read_bytes()))
    msg = crowd.decode(data)
    for arr in (msg.ids, msg.pos, msg.heading, msg.phase):
        assert not arr.flags.writeable and not arr.flags.owndata


# --- topics --------------------------------------------------------------------------------------


def test_topics():
    assert topics.topic_for("crowd", cell=(3, -2)) == b"cell/3/-2/crowd"
    assert topics.topic_for("vitals", twin_id=42) == b"twin/42/vitals"
    assert topics.topic_for("vitals", cell=(0, 0)) == b"cell/0/0/vitals"
    assert topics.topic_for("pose", twin_id=7) == b"twin/7/pose"
    assert topics.topic_for("event", event_type="activity") == b"event/activity"
    assert topics.topic_for("meta") == topics.META_TOPIC == b"meta"
    assert not topics.topic_for("vitals", twin_id=42).startswith(topics.twin_prefix(4))
    assert topics.topic_for("pose", twin_id=42).startswith(topics.twin_prefix(42))
    assert topics.topic_for("crowd", cell=(3, -2)).startswith(topics.cell_prefix((3, -2)))
    for bad in [{"kind": "request"}, {"kind": "crowd"}, {"kind": "vitals"}]:
        with pytest.raises(ValueError):
            topics.topic_for(**bad)
    with pytest.raises(ValueError):
        topics.topic_for("pose", cell=(0, 0), twin_id=1)
    np.testing.assert_array_equal(
        topics.cell_of(np.array([[0.0, -0.01], [1999.99, 2000.0], [-5000.0, 80_000.0]])),
        [[0, -1], [0, 1], [-3, 40]],
    )
    np.testing.assert_array_equal(topics.cell_centre_m((-4, 7)), [-7000.0, 15000.0])


def test_pose_encode_rejects_bad_input():
    quat = np.tile(np.float32([1, 0, 0, 0]), (2, 24, 1))
    root = np.zeros((2, 3))
    with pytest.raises(ValueError, match="ascending"):
        pose.encode(pose.PoseMessage(0, 1, 0.0, np.array([5, 3], np.uint32), quat, root))
    quat[1, 3] = 0.0
    with pytest.raises(ValueError, match="non-zero"):
        pose.encode(pose.PoseMessage(0, 1, 0.0, np.array([3, 5], np.uint32), quat, root))


def test_two_frames_over_zeromq_with_prefix_filtering():
    """[topic, payload] over PUB/SUB: a twin prefix gets only that twin; decoded in place."""
    ctx = zmq.Context.instance()
    pub, sub = ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
    try:
        pub.bind("inproc://wire-test")
        sub.connect("inproc://wire-test")
        sub.setsockopt(zmq.SUBSCRIBE, topics.twin_prefix(4))
        payload = (GOLDEN / "vitals_twin.bin").read_bytes()
        for _ in range(200):  # until the subscription has reached the publisher
            pub.send_multipart([topics.topic_for("vitals", twin_id=42), payload])
            pub.send_multipart([topics.topic_for("vitals", twin_id=4), payload])
            if sub.poll(10):
                break
        topic, frame = sub.recv_multipart(copy=False)
        assert topic.bytes == b"twin/4/vitals"
        assert vitals.decode(frame.buffer).hr_bpm[0] == 72
    finally:
        pub.close(linger=0)
        sub.close(linger=0)


def test_encode_each_is_encode_of_each_twin_alone():
    """The publisher's batched encoders (one payload per twin, quantized at once) write the same
    bytes as encoding each twin's own message."""
    rng = np.random.default_rng(3)
    ids = np.array([40, 7, 12], np.uint32)
    columns = {spec.name: rng.uniform(spec.lo - 5, spec.hi + 5, 3).astype(np.float32)
               for spec in vitals.VITAL_FIELDS}  # fmt: skip
    many = vitals.VitalsMessage(9, 100, 1.5, ids, activity=np.array([1, 2, 15], np.uint8),
                                **columns)  # fmt: skip
    alone = [
        vitals.encode(vitals.VitalsMessage(
            9, 100 + i, 1.5, ids[i : i + 1], activity=many.activity[i : i + 1],
            **{name: values[i : i + 1] for name, values in columns.items()},
        ))
        for i in range(3)
    ]  # fmt: skip
    assert vitals.encode_each(many) == alone
    quat = rng.normal(size=(3, 24, 4)).astype(np.float32)
    root = rng.uniform(-3000, 3000, (3, 3))
    posed = pose.PoseMessage(9, 200, 1.5, ids, quat, root)
    assert pose.encode_each(posed) == [
        pose.encode(pose.PoseMessage(9, 200 + i, 1.5, ids[i : i + 1], quat[i : i + 1],
                                     root[i : i + 1]))
        for i in range(3)
    ]  # fmt: skip


def test_a_request_may_leave_out_args():
    """``roster``, ``stats``, ``pause``, ``resume`` and ``town`` take no arguments: a request
    without ``args`` decodes, with its id (so its reply is matched), to no arguments."""
    payload = pack_envelope("request", 0, 0, 0.0, {"id": 6, "op": "stats"})
    assert request.decode(payload) == request.Request(6, "stats", {})


@pytest.mark.parametrize(
    ("value", "family"),
    [(np.zeros(1, np.float32), "map"), (msgpack.ExtType(1, b"x"), "ext"), ((1, 2), "array")],
)
def test_an_argument_of_the_wrong_type_is_named_by_its_msgpack_family(value, family):
    """Section 10's template names the family: an array map (read as an array) is a map, an
    ext is an ext; never a Python repr."""
    with pytest.raises(WireError) as caught:
        fields.read_int({"count": value}, "count", "args")
    assert caught.value.message == f"field 'args.count' must be int, got {family}"


BY_HAND = sorted((HERE / "by_hand").glob("*.json"))
"""Vectors whose bytes were written by hand from docs/protocol.md's tables (section 11)."""


def test_there_is_a_vector_written_by_hand_for_every_kind():
    kinds = {json.loads(path.read_text())["kind"] for path in BY_HAND}
    assert kinds == set(KINDS)


@pytest.mark.parametrize("path", BY_HAND, ids=lambda path: path.stem)
def test_the_encoder_writes_exactly_the_bytes_written_by_hand(path):
    """Decoding the hand-written bytes gives the case's values, and encoding that message gives
    the same bytes, byte for byte: the reference encoder against the document, not itself."""
    case = json.loads(path.read_text())
    data = bytes.fromhex("".join(hex_bytes for hex_bytes, _note in case["bytes"]))
    module = {m.KIND: m for m in (crowd, pose, vitals, event, meta, request, reply, shape)}
    module = module[case["kind"]]
    message = module.decode(data)
    assert to_json(message) == case["values"]
    assert module.encode(message) == data


def test_a_staggered_encoder_keyframes_early_once_then_every_k_updates():
    """``stagger`` s: the second keyframe comes after K - s updates, then every K, so cells that
    start together (a server's first tick) do not keyframe in the same tick ever after."""
    rng = np.random.default_rng(21)
    twins = _crowd(6, rng)
    encoder = CrowdEncoder(CELL, keyframe_every=5, stagger=2)
    keyframes = []
    for update in range(14):
        twins = _step(twins, rng, update)
        data = encoder.encode(update, update + 1, update / 30, **twins)
        if data is not None and crowd.decode(data).is_keyframe:
            keyframes.append(update)
    assert keyframes == [0, 3, 8, 13]
    with pytest.raises(ValueError, match="stagger"):
        CrowdEncoder(CELL, keyframe_every=5, stagger=5)
