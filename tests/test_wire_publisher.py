"""The publisher keeps the protocol's own rules on a live stream (issue #10).

A scripted world (twins placed and moved by the test) is published on a real XPUB socket on
127.0.0.1 and read by a real SUB socket; every wait is bounded. Checked after every tick:

- section 5: the cells' published states hold each twin in exactly one cell, and so does a
  snapshot, while twins cross cell borders;
- sections 7 and 9.3: the roster's cell of each twin is the snapshot's, at the same seq;
- section 7: a cell that empties and fills again starts its stream anew with a keyframe, so a
  late joiner never meets a delta against a keyframe it could not have (``unknown_base``);
- section 6.1: still cells publish a keyframe every ``keyframe_every`` turns;
- section 6.5: ``meta`` goes out between ticks (a paused server) too;
- section 7: ``roster`` without ``args``, and the ``twin`` reply's ``betas``;
- sections 6.7 and 10: argument errors in the templates, with msgpack family names.
"""

from __future__ import annotations

import time
from datetime import datetime

import msgpack
import numpy as np
import pytest
import zmq

from synthtwin.engine.app.simulation import SCHEMA, build_simulation
from synthtwin.engine.backend import select_backend
from synthtwin.engine.clock import SimClock
from synthtwin.engine.config import SecurityConfig, load_config
from synthtwin.engine.schedule import Tick
from synthtwin.engine.world import World
from synthtwin.net import publisher as publisher_module
from synthtwin.net.publisher import TWINS_PER_TICK, CellMembers, Publisher
from synthtwin.net.requests import Controls, RequestHandler
from synthtwin.net.wire import CrowdDecoder, crowd, event, meta, reply, topics
from synthtwin.net.wire.each import EachField, pack_each
from synthtwin.net.wire.envelope import pack_envelope
from tests.conftest import MONDAY
from tests.loopback import loopback

TICK_HZ = 30.0
CROWD_HZ = 10.0
"""A cell's turn comes every third tick."""
KEYFRAME_EVERY = 4
WAIT_S = 5.0
BORDER_M = topics.CELL_SIZE_M
"""The border between cells (0, 0) and (1, 0), x in metres."""


class Live:
    """A scripted world, its publisher on a loopback XPUB and a SUB that reads everything."""

    def __init__(self, positions_m: np.ndarray) -> None:
        self.world = World(SCHEMA, SimClock(datetime(2026, 3, 2)), 0, select_backend("cpu"), 64)
        self.world.spawn({"position_m": np.asarray(positions_m, float)}, len(positions_m))
        self.context = zmq.Context()
        xpub = self.context.socket(zmq.XPUB)
        xpub.bind(loopback())
        self.publisher = Publisher(xpub, TICK_HZ, KEYFRAME_EVERY, CROWD_HZ, 1.0, 1.0)
        self.sub = self.context.socket(zmq.SUB)
        self.sub.connect(xpub.getsockopt_string(zmq.LAST_ENDPOINT))
        self.subscribe(b"cell/")
        self.subscribe(b"meta")
        self.tick = 0

    def subscribe(self, topic: bytes) -> None:
        """Subscribe the SUB to ``topic`` and wait until the XPUB has it (it is read here, so
        that nothing published after is dropped for want of it)."""
        self.sub.subscribe(topic)
        xpub = self.publisher.socket
        assert xpub.poll(int(WAIT_S * 1000)), "the subscription never reached the publisher"
        assert xpub.recv() == b"\x01" + topic

    def step(self, moves_m: dict[int, tuple[float, float]] | None = None) -> list[bytes]:
        """Move twins by ``moves_m`` (id -> (dx, dy), m; moving twins get a speed), publish one
        tick, and return the crowd payloads it published, in order."""
        speed = np.zeros(self.world.n)
        for twin, (dx, dy) in (moves_m or {}).items():
            row = int(self.world.rows_of([twin])[0])
            self.world["position_m"][row] += (dx, dy)
            speed[row] = 1.4
        self.world["speed_mps"] = speed.astype(self.world["speed_mps"].dtype)
        seq = self.publisher.seq
        self.publisher.replicate(self.world, Tick(self.tick, 1 / TICK_HZ, self.tick / TICK_HZ,
                                                  0.0, 0, 0, 0))  # fmt: skip
        self.tick += 1
        return [p for t, p in self.receive(self.publisher.seq - seq) if t.endswith(b"/crowd")]

    def receive(self, count: int) -> list[tuple[bytes, bytes]]:
        """The next ``count`` messages of the SUB, in order."""
        frames = []
        for _ in range(count):
            assert self.sub.poll(int(WAIT_S * 1000)), "a published message did not arrive"
            topic, payload = self.sub.recv_multipart()
            frames.append((topic, payload))
        return frames

    def close(self) -> None:
        self.sub.close(linger=0)
        self.publisher.socket.close(linger=0)
        self.context.term()
        self.world.close()


@pytest.fixture
def live():
    made: list[Live] = []

    def make(positions_m) -> Live:
        made.append(Live(positions_m))
        return made[-1]

    yield make
    for one in made:
        one.close()


def cells_holding(states: dict[tuple[int, int], crowd.CrowdState]) -> dict[int, list]:
    """Twin id -> the cells whose state holds it."""
    held: dict[int, list] = {}
    for cell, state in states.items():
        for twin in state.ids.tolist():
            held.setdefault(twin, []).append(cell)
    return held


def snapshot_states(publisher: Publisher) -> dict[tuple[int, int], crowd.CrowdState]:
    """What a late joiner holds after applying ``snapshot`` of every cell."""
    decoder, states = CrowdDecoder(), {}
    for payload in publisher.snapshot(None):
        state = decoder.apply(payload)
        states[state.cell] = state
    return states


def test_a_twin_crossing_a_border_is_in_exactly_one_cell_after_every_tick(live):
    """Twins walk back and forth across a border, each cell publishing at its own turn: the
    followed streams, the snapshot and the roster agree on one cell per twin, every tick."""
    near = BORDER_M - 3.0
    one = live([[near, 500.0], [near - 1, 900.0], [500.0, 500.0], [BORDER_M + 700, 300.0]])
    decoder, states = CrowdDecoder(), {}
    walks = {1: (0.9, 0.0), 2: (0.45, 0.0)}
    crossings = 0
    for tick in range(60):
        if tick == 30:
            walks = {1: (-0.9, 0.0), 2: (-0.45, 0.0)}
        before = one.publisher.roster()[1].copy()
        for payload in one.step(walks):
            state = decoder.apply(payload)
            states[state.cell] = state
        ids, cells = one.publisher.roster()
        crossings += int((cells != before).any(axis=1).sum()) if len(before) == len(ids) else 0
        held = cells_holding(states)
        assert sorted(held) == [1, 2, 3, 4], f"tick {tick}: {held}"
        assert all(len(c) == 1 for c in held.values()), f"tick {tick}: {held}"
        snapped = cells_holding(snapshot_states(one.publisher))
        assert snapped == held, f"tick {tick}"
        assert {int(i): [tuple(c)] for i, c in zip(ids, cells.tolist(), strict=True)} == held
    assert crossings == 4, "each walker crosses the border twice"


def test_a_late_joiner_follows_a_cell_that_empties_and_fills_again(live):
    """The only twin of cell (1, 0) leaves it and comes back; joiners at every tick take a
    snapshot and then follow the stream: no delta ever needs a keyframe they cannot hold."""
    one = live([[BORDER_M + 2.0, 500.0], [500.0, 500.0]])
    joiners: list[tuple[CrowdDecoder, int]] = []
    emptied = False
    for tick in range(40):
        decoder = CrowdDecoder()
        for payload in one.publisher.snapshot(None):
            decoder.apply(payload)
        joiners.append((decoder, one.publisher.seq))
        step = (-0.5, 0.0) if tick < 20 else (0.5, 0.0)
        for payload in one.step({1: step}):
            message = crowd.decode(payload)
            for joined, since in joiners:
                if message.seq > since:
                    joined.apply(payload)  # raises unknown_base if the stream broke its rule
        emptied = emptied or (1, 0) not in snapshot_states(one.publisher)
    assert emptied, "the cell emptied"
    assert (1, 0) in snapshot_states(one.publisher), "and filled again"


def test_a_still_cell_publishes_a_keyframe_every_keyframe_every_turns(live):
    """Nobody moves: every cell still sends a keyframe every ``KEYFRAME_EVERY`` turns (a turn
    every third tick), so a late joiner's keyframe is never older than that."""
    one = live([[500.0, 500.0], [BORDER_M + 500.0, 500.0], [BORDER_M + 600.0, 900.0]])
    period = round(TICK_HZ / CROWD_HZ)
    keyframes: dict[tuple[int, int], list[int]] = {}
    for _ in range(6 * KEYFRAME_EVERY * period):
        for payload in one.step():
            message = crowd.decode(payload)
            assert message.is_keyframe, "nothing changed: only keyframes"
            keyframes.setdefault(message.cell, []).append(message.tick)
        for state in snapshot_states(one.publisher).values():
            assert one.tick - 1 - state.tick <= KEYFRAME_EVERY * period
    assert sorted(keyframes) == [(0, 0), (1, 0)]
    for ticks in keyframes.values():  # the first out of turn (the twins were new), then at turns
        gaps = np.diff(ticks)
        assert gaps[0] <= KEYFRAME_EVERY * period
        assert set(gaps[1:].tolist()) == {KEYFRAME_EVERY * period}


def test_a_spawned_twin_is_in_the_roster_and_its_cell_after_the_same_tick(live):
    """Twins spawned and despawned between ticks: the tick's messages carry them in and out of
    their cells, so roster and snapshot agree from then on (and neither knew them before)."""
    one = live([[500.0, 500.0]])
    one.step()
    new = one.world.spawn({"position_m": np.array([[BORDER_M + 10.0, 10.0]])}, 1)
    assert new.tolist() not in one.publisher.roster()[0].tolist()
    one.step()
    assert cells_holding(snapshot_states(one.publisher)) == {1: [(0, 0)], 2: [(1, 0)]}
    assert one.publisher.roster()[1].tolist() == [[0, 0], [1, 0]]
    one.world.despawn(new)
    payloads = one.step()
    assert [crowd.decode(p).cell for p in payloads] == [(1, 0)]
    assert cells_holding(snapshot_states(one.publisher)) == {1: [(0, 0)]}
    assert one.publisher.roster()[0].tolist() == [1]


def test_activity_events_follow_twins_when_a_despawn_moves_rows(live, monkeypatch):
    """Rows shift on despawn (swap-remove): what was published is kept by row between roster
    changes and by id across them, so each activity change is reported once, for its twin."""
    one = live([[500.0, 500.0], [600.0, 500.0], [700.0, 500.0]])
    one.subscribe(b"event/")
    sent: list[tuple[bytes, bytes]] = []
    send = one.publisher._send
    monkeypatch.setattr(one.publisher, "_send", lambda *m: sent.append(m[:2]) or send(*m))
    one.step()
    one.world.despawn([1])  # the last row (twin 3) moves into row 0
    one.world["activity"][int(one.world.rows_of([3])[0])] = 5
    one.step()
    one.world["activity"][int(one.world.rows_of([2])[0])] = 3
    one.step()
    events = [event.decode(p) for t, p in sent if t.startswith(b"event/")]
    assert [(e.twin_id, e.data["old"], e.data["new"]) for e in events] == [(3, 0, 5), (2, 0, 3)]


def test_meta_goes_out_between_ticks_while_no_tick_runs(live, monkeypatch):
    """``heartbeat`` (called by the server between ticks, paused or not) sends ``meta`` once
    ``META_EVERY_S`` passed without one, and not before."""
    monkeypatch.setattr(publisher_module, "META_EVERY_S", 0.2)
    one = live([[500.0, 500.0]])
    one.step()  # its meta announces the twin
    seq = one.publisher.seq
    one.publisher.heartbeat()
    assert one.publisher.seq == seq, "a meta went out just now"
    deadline = time.monotonic() + WAIT_S
    while one.publisher.seq == seq and time.monotonic() < deadline:
        time.sleep(0.01)
        one.publisher.heartbeat()
    assert one.publisher.seq == seq + 1
    ((topic, payload),) = one.receive(1)
    assert topic == topics.META_TOPIC
    assert meta.decode(payload).seq == seq + 1


@pytest.fixture(scope="module")
def served():
    """A small simulation whose publisher has published nothing yet, and its request handler."""
    context = zmq.Context()
    xpub = context.socket(zmq.XPUB)
    xpub.bind(loopback())
    publisher = Publisher(xpub, 1.0, KEYFRAME_EVERY, 1.0, 1.0, 1.0)
    config = load_config(None, twins=5, seed=4, tick_hz=1.0, time_scale=60.0, start=MONDAY)
    sim = build_simulation(config, replicator=publisher)
    controls = Controls(sim.world, sim.loop, sim.spawn, sim.despawn, sim.today)
    yield sim, RequestHandler(controls, publisher, SecurityConfig().validate(), None)
    xpub.close(linger=0)
    context.term()
    sim.close()


def ask(handler: RequestHandler, body: dict) -> reply.Reply:
    return reply.decode(handler.handle(pack_envelope("request", 0, 0, 0.0, body)))


def test_the_twin_reply_carries_the_twins_betas_and_roster_needs_no_args(served):
    """The ``twin`` reply has the SMPL shape (section 7), and ``roster`` without ``args`` is
    answered with its id; the roster is the published one (the twins' tick has run)."""
    sim, handler = served
    assert ask(handler, {"id": 8, "op": "roster"}).result["ids"].size == 0, "nothing published"
    sim.loop.run_ticks(1)
    answer = ask(handler, {"id": 8, "op": "roster"})
    assert answer.id == 8 and answer.result["ids"].tolist() == sorted(sim.world.ids.tolist())
    twin = int(answer.result["ids"][0])
    details = ask(handler, {"id": 9, "op": "twin", "args": {"id": twin}})
    row = sim.world.rows_of([twin])[0]
    assert details.result["betas"] == pytest.approx(sim.world["betas"][row].tolist())


F4 = {"dtype": "<f4", "shape": [1], "data": b"\0\0\x80?"}


@pytest.mark.parametrize(
    ("op", "args", "message"),
    [
        ("twin", {"id": F4}, "field 'args.id' must be int, got map"),
        ("time_scale", {"scale": F4}, "field 'args.scale' must be float, got map"),
        ("spawn", {"count": msgpack.ExtType(1, b"x")}, "field 'args.count' must be int, got ext"),
        ("despawn", {"ids": F4}, "field 'args.ids' must be an array of <u4, got <f4"),
        ("despawn", {"ids": {"dtype": "<u4", "shape": [2, 1], "data": bytes(8)}},
         "field 'args.ids' must have shape [n], got [2, 1]"),
        ("despawn", {"ids": msgpack.ExtType(1, b"x")}, "field 'args.ids' must be array, got ext"),
    ],
)  # fmt: skip
def test_argument_errors_follow_the_templates_and_keep_the_id(served, op, args, message):
    """Section 10's templates with msgpack family names, never a Python repr; the reply keeps
    the request's id."""
    answer = ask(served[1], {"id": 11, "op": op, "args": args})
    assert (answer.id, answer.error.code, answer.error.message) == (11, "bad_request", message)


def _members_table(members: CellMembers, ids: np.ndarray) -> dict[tuple[int, int], list[int]]:
    """Each non-empty cell's ids, in the order ``members`` keeps them."""
    return {c: ids[r].tolist() for c, r in zip(members.cells, members.rows, strict=True) if r.size}


def test_cell_members_moved_twin_by_twin_equal_a_rebuild():
    """Rows moved between cells (new cells, emptied ones) group as a fresh rebuild would: ids
    ascending in each cell, every row's index pointing at its cell."""
    rng = np.random.default_rng(11)
    ids = rng.permutation(5_000).astype(np.uint32)[:400]  # rows not in id order (swap-removes)
    cells = rng.integers(-3, 3, (400, 2)).astype(np.int32)
    members = CellMembers()
    members.rebuild(1, ids, cells)
    for _ in range(20):
        rows = rng.choice(400, 15, replace=False)
        cells[rows] = rng.integers(-4, 4, (15, 2))
        members.move(ids, rows, cells[rows])
    fresh = CellMembers()
    fresh.rebuild(1, ids, cells)
    assert _members_table(members, ids) == _members_table(fresh, ids)
    for row in range(400):
        assert members.cells[members.row_cell[row]] == tuple(cells[row].tolist())
    assert members.cells_with(np.arange(400) < 10) == {tuple(c) for c in cells[:10].tolist()}
    assert members.of((99, 99)).size == 0


@pytest.mark.parametrize("seq", [0, 126, 65534, 2**32 - 2])
def test_pack_each_is_pack_envelope_of_each_twin(seq):
    """The spliced per-twin payloads are ``pack_envelope``'s bytes, also where ``seq`` crosses a
    msgpack integer width (127 -> 128, 65535 -> 65536, 2^32 - 1 -> 2^32) within the batch."""
    ids = np.array([3, 9, 20], "<u4")
    rot = np.arange(3 * 2 * 3, dtype="<u2").reshape(3, 2, 3)
    fields = [EachField("ids", "<u4", [1], ids.tobytes(), 4),
              EachField("rot", "<u2", [1, 2, 3], rot.tobytes(), 12)]  # fmt: skip
    expected = [
        pack_envelope("pose", 7, seq + i, 2.25, {
            "ids": {"dtype": "<u4", "shape": [1], "data": ids[i : i + 1].tobytes()},
            "rot": {"dtype": "<u2", "shape": [1, 2, 3], "data": rot[i : i + 1].tobytes()},
        })
        for i in range(3)
    ]  # fmt: skip
    assert pack_each("pose", 7, seq, 2.25, fields, 3) == expected


@pytest.fixture
def follow_world():
    """``make(twins)``: a publisher (twin_period: 1 tick) on an unbound XPUB, and a world of
    ``twins``; both closed at the end."""
    context = zmq.Context()
    xpub = context.socket(zmq.XPUB)
    built = []

    def make(twins: int):
        publisher = Publisher(xpub, 1.0, KEYFRAME_EVERY, 1.0, 1.0, 1.0)
        built.append(build_simulation(load_config(None, twins=twins, seed=4, tick_hz=1.0,
                                                  start=MONDAY)))  # fmt: skip
        return publisher, built[-1].world

    yield make
    xpub.close(linger=0)
    context.term()
    for sim in built:
        sim.close()


def _follow(publisher: Publisher, twins: list[int]) -> None:
    for twin in twins:
        publisher.pose_follows.apply(b"\x01twin/%d/pose" % twin)


def _due_by_tick(publisher: Publisher, world: World, ticks: int) -> list[list[int]]:
    """The ids of the followed twins each of ``ticks`` ticks publishes."""
    ids = world.ids
    return [ids[publisher._followed_rows(world, publisher.pose_follows, tick)].tolist()
            for tick in range(ticks)]  # fmt: skip


def test_many_followed_twins_are_spread_over_more_ticks(follow_world):
    """Past ``TWINS_PER_TICK * twin_period`` twins followed by id, a tick publishes about
    ``TWINS_PER_TICK`` of them and each comes in turn; a few followed keep ``twin_hz``."""
    publisher, world = follow_world(20)
    ids = world.ids
    _follow(publisher, ids[:3].tolist())
    assert sorted(ids[publisher._followed_rows(world, publisher.pose_follows, 5)]) == (
        sorted(ids[:3].tolist())
    )
    _follow(publisher, ids[3:].tolist())
    period = -(-len(ids) // TWINS_PER_TICK)
    due = _due_by_tick(publisher, world, period)
    assert period > 1 and all(0 < len(twins) <= TWINS_PER_TICK for twins in due)
    assert sorted(twin for twins in due for twin in twins) == sorted(ids.tolist())


def test_followed_twins_whose_ids_share_a_turn_are_still_spread(follow_world):
    """Past ``TWINS_PER_TICK * twin_period`` followed, twins whose ids are all multiples of the
    period each get their own turn: no tick publishes more than ``TWINS_PER_TICK``."""
    publisher, world = follow_world(120)
    followed = [twin for twin in world.ids.tolist() if twin % 4 == 0]  # 30: a turn every 4 ticks
    _follow(publisher, followed)
    period = -(-len(followed) // TWINS_PER_TICK)
    assert period == 4
    due = _due_by_tick(publisher, world, period)
    assert all(len(twins) <= TWINS_PER_TICK for twins in due), [len(t) for t in due]
    assert sorted(twin for twins in due for twin in twins) == sorted(followed)
