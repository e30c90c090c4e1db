"""FrontStream (net/front_stream.py): two shards' crowd streams, written by the real encoder,
merged into one publisher's stream that the reference client (net/wire/clone.py) applies: one
seq growing by one, a twin handed off between shards never announced removed, a despawned one
removed after the grace, foreign cells and orphan deltas dropped, snapshot and roster exact."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from synthtwin.engine.config import load_config
from synthtwin.engine.regions import RegionMap
from synthtwin.net.front_requests import FrontRequests
from synthtwin.net.front_stream import FrontStream, unpack
from synthtwin.net.requests import OP_ROLES
from synthtwin.net.wire import meta, reply, request, topics
from synthtwin.net.wire.clone import Replica
from synthtwin.net.wire.crowd import CrowdEncoder
from synthtwin.net.wire.envelope import unpack_envelope
from synthtwin.net.wire.reply import Reply

LEFT, RIGHT = (0, 0), (1, 0)
"""Cells of shard 0 (``ix < 1``) and of shard 1."""
REGIONS = RegionMap(edges=(1,), bounds=(0, 1, 0, 0))
EPOCH = "2026-03-02T00:00:00"


class Shard:
    """One shard's publisher of crowd messages: its own seq, an encoder per cell."""

    def __init__(self) -> None:
        self.seq = 0
        self.encoders: dict[tuple[int, int], CrowdEncoder] = {}

    def crowd(self, cell: tuple[int, int], ids: list[int], tick: int) -> tuple[bytes, bytes]:
        """The cell's message holding ``ids`` (standing apart near its centre)."""
        encoder = self.encoders.setdefault(cell, CrowdEncoder(cell))
        n = len(ids)
        pos = topics.cell_centre_m(cell) + np.array([[3.0 * twin, 0.0] for twin in ids]).reshape(
            n, 2
        )
        zeros = np.zeros(n)
        self.seq += 1
        payload = encoder.encode(
            tick, self.seq, tick / 30, np.array(ids, np.uint32), pos, zeros, zeros,
            np.zeros(n, np.uint8), np.zeros(n, np.uint8), zeros, np.ones(n),
        )  # fmt: skip
        assert payload is not None
        return topics.topic_for("crowd", cell=cell), payload

    def meta(self, tick: int) -> tuple[bytes, bytes]:
        self.seq += 1
        none = np.zeros(0, np.uint32)
        message = meta.MetaMessage(
            tick, self.seq, tick / 30, EPOCH, ("sleep",), ("stand",), none, none
        )
        return topics.META_TOPIC, meta.encode(message)


class Client:
    """The reference client applying everything the front publishes, checking its seqs."""

    def __init__(self) -> None:
        self.replica = Replica()
        self.seqs: list[int] = []
        self.removed: list[list[int]] = []
        self.added: list[list[int]] = []

    def apply(self, published: list[tuple[bytes, bytes]]) -> None:
        for topic, payload in published:
            env = unpack_envelope(payload)
            self.seqs.append(env.seq)
            if env.kind == meta.KIND:
                message = meta.from_envelope(env)
                self.added += [message.added.tolist()] if message.added.size else []
                self.removed += [message.removed.tolist()] if message.removed.size else []
            self.replica.receive([topic, payload])
        assert self.replica.rejected == 0


def feed(front: FrontStream, shard: int, message: tuple[bytes, bytes]) -> list:
    topic, payload = message
    return front.receive(shard, topic, unpack(payload))


def test_a_handoff_between_shards_keeps_the_twin_and_one_seq():
    front, client = FrontStream(REGIONS, removal_grace_s=0.0), Client()
    shards = [Shard(), Shard()]
    assert feed(front, 0, shards[0].meta(0)) == []  # the shards' own meta is not forwarded
    client.apply(feed(front, 0, shards[0].crowd(LEFT, [1, 2], 1)))
    client.apply(feed(front, 1, shards[1].crowd(RIGHT, [3], 1)))
    assert client.added == [[1, 2], [3]]
    # twin 2 crosses: gone from shard 0's cell first; shard 0 still places it in shard 1's cell
    # (ignored: not its region); shard 1 takes it a tick later
    client.apply(feed(front, 0, shards[0].crowd(LEFT, [1], 2)))
    assert feed(front, 0, shards[0].crowd(RIGHT, [2], 2)) == []
    client.apply(feed(front, 1, shards[1].crowd(RIGHT, [2, 3], 3)))
    client.apply(front.due())
    assert client.removed == [] and client.added == [[1, 2], [3]]
    assert client.seqs == list(range(1, len(client.seqs) + 1))  # one publisher: +1 a message
    np.testing.assert_array_equal(client.replica.crowd().ids, [1, 2, 3])
    np.testing.assert_array_equal(client.replica.roster, [1, 2, 3])
    ids, cells = front.roster()
    assert ids.tolist() == [1, 2, 3] and cells.tolist() == [list(LEFT), list(RIGHT), list(RIGHT)]
    assert (front.owner_of(2), front.owner_of(1), front.owner_of(9)) == (1, 0, None)
    assert front.foreign_cells == 1
    # a despawn: gone from its cell, removed once the grace has passed
    client.apply(feed(front, 1, shards[1].crowd(RIGHT, [2], 4)))
    client.apply(front.due())
    assert client.removed == [[3]]
    np.testing.assert_array_equal(client.replica.roster, [1, 2])


def test_a_late_joiner_from_the_fronts_snapshot_matches_its_roster():
    front = FrontStream(REGIONS)
    shards = [Shard(), Shard()]
    feed(front, 0, shards[0].meta(0))
    feed(front, 0, shards[0].crowd(LEFT, [1, 2, 4], 1))
    feed(front, 1, shards[1].crowd(RIGHT, [3], 1))
    feed(front, 0, shards[0].crowd(LEFT, [1, 4], 2))  # a delta after the keyframe
    payloads = front.snapshot(None)
    assert len(payloads) == 3  # LEFT's keyframe and delta, RIGHT's keyframe
    ids, cells = front.roster()
    roster = {"protocol": 1, "epoch": EPOCH, "activities": ["sleep"], "clips": ["stand"],
              "ids": ids, "cells": cells}  # fmt: skip
    late = Replica()
    late.join(
        Reply(2, front.seq, 0.0, 1, True, roster),
        Reply(2, front.seq, 0.0, 2, True, {"crowd": payloads}),
    )
    held = late.crowd().ids
    np.testing.assert_array_equal(held, [1, 3, 4])
    assert set(held.tolist()) <= set(ids.tolist())  # 2 left: announced until its grace ends
    assert front.snapshot([RIGHT, (5, 5)]) == payloads[2:]


def test_deltas_without_their_keyframe_are_dropped():
    front = FrontStream(REGIONS)
    shard = Shard()
    shard.crowd(LEFT, [1, 2], 1)  # a keyframe the front never received
    assert feed(front, 0, shard.crowd(LEFT, [1], 2)) == []
    assert front.dropped_deltas == 1 and front.snapshot(None) == []


def test_a_restarted_shard_ends_its_streams():
    """A live client holds none of a restarted shard's twins once the front ends its cells'
    streams (a delta emptying each), and holds the new shard's twins from its keyframes."""
    front, client = FrontStream(REGIONS, removal_grace_s=0.0), Client()
    shard = Shard()
    client.apply(feed(front, 1, shard.crowd(RIGHT, [3, 5], 1)))
    client.apply(feed(front, 1, shard.crowd(RIGHT, [3, 5, 6], 2)))  # a delta adds twin 6
    client.apply(front.forget_shard(1))
    assert client.replica.crowd().ids.size == 0  # no ghost of the old shard's cell
    assert front.snapshot(None) == []
    client.apply(front.due())
    assert client.removed == [[3, 5, 6]] and front.roster()[0].size == 0
    client.apply(feed(front, 1, Shard().crowd(RIGHT, [5], 1)))  # the new shard's seq 1
    np.testing.assert_array_equal(client.replica.crowd().ids, [5])
    assert client.seqs == list(range(1, len(client.seqs) + 1))


def test_the_front_uses_only_public_names_of_other_modules():
    """The front's modules import no private name (``_x``) from another module, nor reach one
    as ``module._x``: what they share with ``net.requests`` and ``net.wire`` is public there."""
    root = Path(__file__).resolve().parents[1] / "net"
    for path in sorted(root.glob("front*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from {node.module}"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                private = node.attr.startswith("_") and not node.attr.startswith("__")
                owner = node.value.id
                assert not private or owner == "self", f"{path.name} reads {owner}.{node.attr}"


def test_a_handoff_whose_new_cell_reaches_the_front_first():
    """The shards' sockets are read one after the other, so the new shard's message can be
    published before the old shard's ``gone``: for those messages the twin is in two cells
    (protocol 8 rule 6 shows it once, in the newer), never announced twice nor removed, and the
    roster and requests follow its newer cell."""
    front, client = FrontStream(REGIONS, removal_grace_s=0.0), Client()
    shards = [Shard(), Shard()]
    client.apply(feed(front, 0, shards[0].crowd(LEFT, [1, 2], 1)))
    client.apply(feed(front, 1, shards[1].crowd(RIGHT, [3], 1)))
    client.apply(feed(front, 1, shards[1].crowd(RIGHT, [2, 3], 3)))  # before shard 0's tick 2
    np.testing.assert_array_equal(client.replica.crowd().ids, [1, 2, 3])
    assert front.owner_of(2) == 1 and front.roster()[1].tolist()[1] == list(RIGHT)
    client.apply(feed(front, 0, shards[0].crowd(LEFT, [1], 2)))
    client.apply(front.due())
    assert client.removed == [] and client.added == [[1, 2], [3]]
    np.testing.assert_array_equal(client.replica.crowd().ids, [1, 2, 3])
    ids, cells = front.roster()
    assert ids.tolist() == [1, 2, 3] and cells.tolist() == [list(LEFT), list(RIGHT), list(RIGHT)]
    assert front.owner_of(2) == 1


def test_every_op_of_the_server_is_routed_by_the_front():
    """Each op of ``OP_ROLES`` is answered by the front or sent to a shard: a new op must be
    given its shards explicitly (an unrouted op is refused, never sent to shard 0 unasked)."""
    security = load_config(None).security
    requests = FrontRequests(FrontStream(REGIONS), ["tcp://a", "tcp://b"], security, None, 1.0)
    for op in OP_ROLES:
        payload = request.encode(request.Request(1, op, {}))
        calls = requests.handle([b"peer"], payload, set())
        answers = [reply.decode(payload) for _, payload in requests.replies()]
        assert calls or answers, op
        assert all("not routed" not in a.error.message for a in answers if not a.ok), op
    payload = request.encode(request.Request(2, "no_such_op", {}))
    assert requests.handle([b"peer"], payload, set()) == []
    assert reply.decode(requests.replies()[0][1]).error.code == "unknown_op"
