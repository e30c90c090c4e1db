"""The REST twin list's positions (``net.http_api._join_crowd``): each twin's last published
record dead-reckoned to the snapshot's sim time (protocol 6.1, subscriber rule 5)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthtwin.net.http_api import _join_crowd
from synthtwin.net.wire.crowd import SPEED_QUANTUM_MPS
from tests.test_clone import EAST, TICK_HZ, WALK_MPS, Stream, joined


def test_a_straight_traveller_is_placed_where_it_is_at_the_snapshots_time() -> None:
    """A cell whose twins all go straight publishes only its keyframes: the newest record is as
    old as the keyframe (here 3 s before the snapshot), and the list placed the walker there,
    metres behind."""
    keyframe = Stream(EAST).publish(10, {1: (2900.0, 1000.0, 0.0), 8: (3000.0, 1000.0, WALK_MPS)})
    replica = joined(40, [keyframe[1]])  # the snapshot at seq 40: 3 s after the keyframe
    snapshot_t = 40 / TICK_HZ
    codes, pos_m = _join_crowd(np.array([1, 4, 8]), replica.crowd(), snapshot_t)
    speed = round(WALK_MPS / SPEED_QUANTUM_MPS) * SPEED_QUANTUM_MPS  # as the record carries it
    assert pos_m[0].tolist() == pytest.approx([2900.0, 1000.0], abs=0.05)  # stands
    assert codes[1] == -1 and all(math.isnan(v) for v in pos_m[1])  # not on the stream
    assert pos_m[2].tolist() == pytest.approx([3000.0 + speed * 3.0, 1000.0], abs=0.05)
