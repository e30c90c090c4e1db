"""The Clone state machine without sockets (``net.wire.clone``): the merge rule for a twin that two
cells hold, joining (roster, snapshot, the floors R and S), per-cell stale messages, a lost
keyframe's recovery, rejected messages and the selection's topics."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest

from synthtwin.net.wire import event, meta, reply, topics, vitals
from synthtwin.net.wire.clone import Replica, join_calls, merge_cells, topics_of
from synthtwin.net.wire.crowd import CrowdEncoder, CrowdState, dead_reckon
from synthtwin.net.wire.dealer import RequestError
from synthtwin.net.wire.reply import Reply, ReplyError

TICK_HZ = 10.0
WEST, EAST = (0, 0), (1, 0)
"""Two neighbouring cells; their border is x = 2000 m."""
WALK_MPS = 1.4
STAND, WALK = 0, 1
TABLES = {"epoch": "2026-03-02T00:00:00", "activities": ["sleep", "travel"], "clips": ["stand"]}


class Stream:
    """One cell's crowd stream, published with the seq the test gives (seq is global)."""

    def __init__(self, cell: tuple[int, int]) -> None:
        self.cell = cell
        self.encoder = CrowdEncoder(cell, keyframe_every=100)

    def publish(self, seq: int, twins: dict[int, tuple[float, float, float]]) -> list[bytes]:
        """``[topic, payload]`` of the cell's ``twins`` (id -> x m, y m, speed m/s) at ``seq``;
        phase grows with time, as a walking clip's does, which alone changes no delta."""
        ids = np.array(sorted(twins), np.uint32)
        rows = np.array([twins[i] for i in sorted(twins)], np.float64).reshape(-1, 3)
        n = len(ids)
        moving = (rows[:, 2] > 0).astype(np.uint8)
        payload = self.encoder.encode(
            seq, seq, seq / TICK_HZ, ids, rows[:, :2], np.zeros(n), rows[:, 2], moving, moving,
            np.full(n, (seq / 7) % 1), np.ones(n),
        )  # fmt: skip
        assert payload is not None
        return [topics.topic_for("crowd", cell=self.cell), payload]


def joined(seq: int = 0, crowd: list[bytes] | None = None, ids=(1, 7, 8)) -> Replica:
    """A replica joined with a roster of ``ids`` and a snapshot of ``crowd``, both at ``seq``."""
    replica = Replica()
    roster = Reply(seq, seq, seq / TICK_HZ, 1, True, {**TABLES, "ids": np.array(ids, np.uint32)})
    snapshot = Reply(seq, seq, seq / TICK_HZ, 2, True, {"crowd": crowd or []})
    replica.join(roster, snapshot)
    return replica


def x_of(replica: Replica, twin: int) -> float:
    crowd = replica.crowd()
    (row,) = crowd.rows(np.array([twin]))
    assert row >= 0, f"twin {twin} is not in the crowd"
    return float(crowd.pos_m[row, 0])


# -- the merge rule ------------------------------------------------------------------------------


def cell_state(cell: tuple[int, int], seq: int, ids: list[int], x_m: float) -> CrowdState:
    """A decoded cell whose twins all stand at (x_m, 0), sampled at its message's time."""
    n = len(ids)
    zeros = np.zeros(n, np.float32)
    return CrowdState(
        cell, seq, seq, seq / TICK_HZ, np.array(ids, np.uint32), np.tile([x_m, 0.0], (n, 1)),
        zeros, zeros, np.zeros(n, np.uint8), np.zeros(n, np.uint8), zeros, zeros,
        np.full(n, seq / TICK_HZ),
    )  # fmt: skip


def test_a_twin_held_by_two_cells_comes_from_the_fresher_one():
    old = cell_state(WEST, seq=10, ids=[1, 2], x_m=1.0)
    new = cell_state(EAST, seq=12, ids=[2, 3], x_m=2.0)
    for states in ([old, new], [new, old]):
        crowd = merge_cells(states)
        assert crowd.ids.tolist() == [1, 2, 3]
        assert crowd.pos_m[:, 0].tolist() == [1.0, 2.0, 2.0]
    assert merge_cells([]).ids.dtype == np.uint32
    assert len(merge_cells([old])) == 2
    assert merge_cells([]).rows(np.array([1])).tolist() == [-1]


def random_cells(rng: np.random.Generator, id_scale: int) -> list[CrowdState]:
    """Twelve cells of overlapping random twins (ids times ``id_scale``), shuffled seqs, two of
    them equal (the tie rule); each twin's x is its cell's index."""
    seqs = rng.permutation(np.arange(100, 112))
    seqs[5] = seqs[3]
    return [
        cell_state((k, 0), int(seq), sorted(rng.choice(400, 60, replace=False) * id_scale), k)
        for k, seq in enumerate(seqs)
    ]


@pytest.mark.parametrize("id_scale", [1, 100_000])  # dense ids: by scatter; sparse: by sort
def test_the_merge_keeps_each_twin_of_its_newest_cell_listed_first_among_equals(id_scale):
    rng = np.random.default_rng(id_scale)
    for _ in range(5):
        states = random_cells(rng, id_scale)
        want: dict[int, tuple[int, int]] = {}  # id: (seq, index of the winning state)
        for k, state in enumerate(states):
            for twin in state.ids.tolist():
                if twin not in want or state.seq > want[twin][0]:
                    want[twin] = (state.seq, k)
        crowd = merge_cells(states)
        assert crowd.ids.tolist() == sorted(want)
        assert crowd.pos_m[:, 0].tolist() == [float(want[t][1]) for t in sorted(want)]
        assert crowd.ids.dtype == np.uint32 and crowd.pos_m.shape == (len(want), 2)


def test_position_at_moves_the_moving_twins_as_dead_reckoning_and_no_other():
    rng = np.random.default_rng(9)
    state = cell_state(EAST, seq=40, ids=list(range(200)), x_m=3000.0)
    speed = np.where(rng.random(200) < 0.3, rng.uniform(0.5, 3.0, 200), 0.0).astype(np.float32)
    heading = rng.uniform(0.0, 2 * np.pi, 200).astype(np.float32)
    sample_t_s = rng.uniform(0.0, 1.0, 200)
    state = dataclasses.replace(state, speed_mps=speed, heading_rad=heading, sample_t_s=sample_t_s)
    crowd = merge_cells([state])
    for t_s in (0.5, 2.0):  # some records newer than 0.5 s: they stay
        want = dead_reckon(crowd.pos_m, heading, speed, sample_t_s, t_s)
        np.testing.assert_array_equal(crowd.position_at(t_s), want)
    moved = np.any(crowd.position_at(2.0) != crowd.pos_m, axis=1)
    assert moved.tolist() == (speed > 0).tolist()


def test_a_twin_crossing_a_border_is_in_one_place_while_the_old_cell_has_not_spoken():
    """Cells publish at their own turns: the new cell may speak first; until the old one lets the
    twin go, the replica holds it twice and shows it where the newer message put it."""
    west, east = Stream(WEST), Stream(EAST)
    replica = Replica()
    replica.receive(west.publish(1, {7: (1990.0, 1000.0, WALK_MPS)}))
    replica.receive(east.publish(2, {8: (3000.0, 1000.0, 0.0)}))
    replica.receive(east.publish(3, {7: (2004.0, 1000.0, WALK_MPS), 8: (3000.0, 1000.0, 0.0)}))
    assert x_of(replica, 7) == pytest.approx(2004.0)
    assert replica.crowd().ids.tolist() == [7, 8]
    assert replica.crowd().rows(np.array([8, 1, 7])).tolist() == [1, -1, 0]
    replica.receive(west.publish(4, {}))  # the west cell lets it go
    assert x_of(replica, 7) == pytest.approx(2004.0)


def test_the_merge_rule_is_by_cell_seq_not_by_sample_time():
    """A twin back in a cell where its record equals the cell's keyframe is in no delta: its
    sample time is the keyframe's, older than the record the cell it visited holds. The newer
    message (the east cell's) says where it is; its sample time would say the west cell."""
    west, east = Stream(WEST), Stream(EAST)
    replica = Replica()
    standing = (2010.0, 1000.0, 0.0)
    replica.receive(east.publish(1, {7: standing, 8: (3000.0, 1000.0, WALK_MPS)}))
    replica.receive(west.publish(2, {1: (1000.0, 1000.0, 0.0)}))
    # 7 steps over the border and stops: the west cell has it, the east cell lets it go
    (west_state,) = replica.receive(
        west.publish(3, {1: (1000.0, 1000.0, 0.0), 7: (1995.0, 1000.0, 0.0)})
    )
    replica.receive(east.publish(4, {8: (3001.0, 1000.0, WALK_MPS)}))
    assert x_of(replica, 7) == pytest.approx(1995.0)
    # 7 steps back to where it stood; the east cell speaks first (8 walks on), the west has not
    (east_state,) = replica.receive(east.publish(5, {7: standing, 8: (3002.0, 1000.0, WALK_MPS)}))
    west_t_s, east_t_s = (s.sample_t_s[s.ids.tolist().index(7)] for s in (west_state, east_state))
    assert east_t_s < west_t_s  # the latest sample would pick the west cell
    assert x_of(replica, 7) == pytest.approx(2010.0)
    crowd = replica.crowd()
    assert crowd.sample_t_s[crowd.ids.tolist().index(7)] == east_t_s


# -- joining and applying ------------------------------------------------------------------------


def test_join_applies_the_snapshot_and_drops_what_it_already_holds():
    west = Stream(WEST)
    key = west.publish(10, {1: (1000.0, 1000.0, 0.0)})
    delta = west.publish(12, {1: (1000.0, 1001.0, WALK_MPS)})
    replica = joined(12, [key[1], delta[1]])
    assert replica.tables.activities == ("sleep", "travel")
    assert replica.roster.tolist() == [1, 7, 8]
    assert replica.crowd().pos_m[0].tolist() == pytest.approx([1000.0, 1001.0])
    assert replica.receive(delta) == [] and replica.receive(key) == []  # seq <= S
    later = west.publish(13, {1: (1000.0, 1002.0, WALK_MPS)})
    (state,) = replica.receive(later)
    assert state.seq == 13 and replica.applied == (13, 13, 1.3)
    assert replica.receive(later) == []  # stale for its cell
    assert replica.rejected == 0


def test_join_yields_each_cell_once_as_the_snapshot_left_it():
    """The keyframe's state on the way is not an update: twin 9 left before the snapshot."""
    west = Stream(WEST)
    key = west.publish(10, {1: (1000.0, 1000.0, 0.0), 9: (1100.0, 1000.0, 0.0)})
    delta = west.publish(12, {1: (1000.0, 1001.0, WALK_MPS)})
    replica = Replica()
    roster = Reply(12, 12, 1.2, 1, True, {**TABLES, "ids": np.array([1], np.uint32)})
    (state,) = replica.join(roster, Reply(12, 12, 1.2, 2, True, {"crowd": [key[1], delta[1]]}))
    assert (state.seq, state.ids.tolist()) == (12, [1])


def test_join_calls_and_topics():
    assert join_calls(None) == [("roster", {}), ("snapshot", {})]
    assert join_calls([(3, -2)]) == [("roster", {}), ("snapshot", {"cells": [[3, -2]]})]
    assert topics_of(None, [4], events=True) == [b"cell/", b"twin/4/", b"event/", b"meta"]
    assert topics_of([(0, -1)], events=False) == [b"cell/0/-1/", b"meta"]


def test_an_error_reply_to_the_join_raises_its_code():
    bad = Reply(1, 1, 0.1, 1, False, error=ReplyError("internal", "disk full"))
    ok = Reply(1, 1, 0.1, 2, True, {"crowd": []})
    with pytest.raises(RequestError) as caught:
        Replica().join(bad, ok)
    assert (caught.value.code, caught.value.message) == ("internal", "disk full")


def test_a_lost_keyframe_asks_for_a_snapshot_of_its_cell():
    west, east = Stream(WEST), Stream(EAST)
    replica = Replica()
    west.publish(1, {1: (1000.0, 1000.0, 0.0)})  # lost
    east.publish(2, {8: (3000.0, 1000.0, 0.0)})  # lost
    assert replica.recovery() is None
    assert replica.receive(west.publish(3, {1: (1000.0, 1001.0, WALK_MPS)})) == []
    assert replica.receive(east.publish(4, {8: (3000.0, 1001.0, WALK_MPS)})) == []
    op, args = replica.recovery()
    assert (op, args) == ("snapshot", {"cells": [[0, 0], [1, 0]]})
    assert replica.recovery() is None  # asked once
    crowd = [p for s in (west, east) for p in s.encoder.snapshot()]
    states = replica.recover(Reply(4, 4, 0.4, 9, True, {"crowd": crowd}))
    assert [(s.cell, s.seq) for s in states] == [(WEST, 3), (EAST, 4)]  # after the snapshot
    assert replica.crowd().ids.tolist() == [1, 8]
    assert replica.rejected == 0


def test_meta_changes_the_roster_and_the_tables_after_r():
    replica = joined(5)
    added = np.array([9], np.uint32)
    removed = np.array([7], np.uint32)

    def meta_at(seq: int) -> list[bytes]:
        msg = meta.MetaMessage(seq, seq, seq / TICK_HZ, "2026-03-02T00:00:00", ("sleep",),
                               ("stand",), added, removed)  # fmt: skip
        return [topics.META_TOPIC, meta.encode(msg)]

    assert replica.receive(meta_at(5)) == []  # in the roster already
    assert len(replica.receive(meta_at(6))) == 1
    assert replica.roster.tolist() == [1, 8, 9] and replica.tables.activities == ("sleep",)


def vitals_frames(topic: bytes, seq: int, ids: list[int], hr_bpm: float) -> list[bytes]:
    n = len(ids)
    values = {spec.name: np.full(n, spec.lo) for spec in vitals.VITAL_FIELDS}
    values["hr_bpm"] = np.full(n, hr_bpm)
    msg = vitals.VitalsMessage(seq, seq, seq / TICK_HZ, np.array(ids, np.uint32),
                               activity=np.zeros(n, np.uint8), **values)  # fmt: skip
    return [topic, vitals.encode(msg)]


def test_vitals_come_from_the_newest_topic_and_cell_vitals_can_be_skipped():
    replica = Replica()
    replica.receive(vitals_frames(b"cell/0/0/vitals", 3, [1, 7], 60.0))
    replica.receive(vitals_frames(b"twin/7/vitals", 4, [7], 90.0))
    assert replica.vitals(7)["hr_bpm"] == 90.0 and replica.vitals(1)["hr_bpm"] == 60.0
    assert replica.vitals(2) is None
    crowd_only = Replica(cell_vitals=False)
    assert crowd_only.receive(vitals_frames(b"cell/0/0/vitals", 3, [1, 7], 60.0)) == []
    assert len(crowd_only.receive(vitals_frames(b"twin/7/vitals", 4, [7], 90.0))) == 1
    assert crowd_only.vitals(1) is None and crowd_only.rejected == 0


def test_events_are_kept_and_bad_messages_are_counted(caplog):
    replica = Replica()
    happened = event.activity_event(3, 3, 0.3, 7, 0, 14)
    replica.receive([b"event/activity", event.encode(happened)])
    assert replica.events == [happened]
    with caplog.at_level(logging.WARNING):
        assert replica.receive([b"cell/0/0/crowd", b"\xc1"]) == []
        assert replica.receive([b"meta"]) == []
        request = reply.encode(Reply(4, 4, 0.4, 1, True, {}))
        assert replica.receive([b"meta", request]) == []
    assert replica.rejected == 3
    assert "payload is not msgpack" in caplog.text and "expected 2 frames, got 1" in caplog.text
    assert "kind 'reply' is not published" in caplog.text


def test_the_crowd_is_the_same_object_until_a_cell_changes():
    west = Stream(WEST)
    replica = Replica()
    replica.receive(west.publish(1, {1: (1000.0, 1000.0, 0.0)}))
    first = replica.crowd()
    assert replica.crowd() is first
    replica.receive(west.publish(2, {1: (1000.0, 1001.0, WALK_MPS)}))
    assert replica.crowd() is not first


def test_a_clone_with_the_health_pub_follows_health_events_there():
    """event/chat and event/alert travel on the health PUB only under access control (protocol
    section 2.1): a client following ``event/`` subscribes to it on the health PUB too."""
    from synthtwin.net.wire.client import _Access, _Clone, _is_health

    for prefix in (b"event/", b"event/chat", b"event/alert", b"twin/4/", b"cell/0/0/"):
        assert _is_health(prefix), prefix
    for prefix in (b"event/activity", b"meta"):
        assert not _is_health(prefix), prefix
    access = _Access(None, None, "tcp://127.0.0.1:1", False)
    clone = _Clone("tcp://127.0.0.1:2", None, [(0, 0)], [7], True, False, access)
    assert clone._health_topics() == [b"twin/7/", b"event/"]  # cell vitals not asked for
