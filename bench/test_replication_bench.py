"""The replication pass (``Publisher.replicate``) at 10k and 100k twins, side by side with its
full-pass peer (``bench.replication_peer``).

Groups ``replication-10k`` and ``replication-100k``: the same world (07:45 on a Monday, the
morning rush: about half the twins travel), stepped one tick before each timed round with the
replication system capturing the tick only; the round is one ``replicate`` of that tick. Sides:

- ``members``: the publisher (``CellMembers``: the rows of the due cells only, the cells of
  changed twins by a count) with dead reckoning (protocol 6.1);
- ``members-no-dr``: the same without dead reckoning (every quantized move in the deltas);
- ``full-pass``: the peer, every twin sorted by cell and every column gathered each tick,
  without dead reckoning (the publisher before ``CellMembers`` and dead reckoning).

``extra_info`` holds the crowd bytes published per twin per cell turn. Nothing is asserted:
timings gate nothing, and with benchmarks disabled (the project default) each side runs a few
rounds on a tenth of the 10k world as a smoke test (the 100k world is skipped).

Run: ``pytest bench/test_replication_bench.py --benchmark-enable``.
"""

from __future__ import annotations

from datetime import datetime

import pytest
import zmq

from bench.replication_peer import FullPassPublisher
from synthtwin.engine.app.simulation import Simulation, build_simulation
from synthtwin.engine.config import load_config
from synthtwin.engine.schedule import Tick
from synthtwin.engine.world import World
from synthtwin.net.publisher import Publisher
from synthtwin.net.wire import crowd
from tests.loopback import loopback

TICK_HZ = 30.0
CROWD_HZ = 10.0
RUSH = datetime(2026, 3, 2, 7, 45)
WARMUP_TICKS = 30
ROUNDS = 90
"""Timed ticks (3 s of the world at 30 Hz: a keyframe period of every cell)."""
SIDES = {
    "members": (Publisher, crowd.DEAD_RECKONING_M),
    "members-no-dr": (Publisher, 0.0),
    "full-pass": (FullPassPublisher, 0.0),
}


class Capture:
    """A replicator that keeps the world and tick it is handed and publishes nothing."""

    def __init__(self) -> None:
        self.world: World | None = None
        self.tick: Tick | None = None

    def replicate(self, world: World, tick: Tick) -> None:
        self.world, self.tick = world, tick


def _simulation(twins: int, capture: Capture) -> Simulation:
    config = load_config(None, twins=twins, tick_hz=TICK_HZ, time_scale=1, start=RUSH)
    sim = build_simulation(config, replicator=capture)
    sim.loop.run_ticks(WARMUP_TICKS)
    return sim


@pytest.mark.parametrize("twins", [10_000, 100_000])
@pytest.mark.parametrize("side", list(SIDES))
def test_replication_pass(benchmark, side, twins):
    if benchmark.disabled and twins > 10_000:
        pytest.skip("100k twins only with --benchmark-enable")
    rounds, twins = (3, twins // 10) if benchmark.disabled else (ROUNDS, twins)
    kind, dead_reckoning_m = SIDES[side]
    capture = Capture()
    sim = _simulation(twins, capture)
    context = zmq.Context()
    socket = context.socket(zmq.XPUB)
    socket.bind(loopback())
    publisher = kind(socket, TICK_HZ, 30, CROWD_HZ, 1.0, 10.0, dead_reckoning_m=dead_reckoning_m)
    crowd_bytes = []
    send = publisher._send

    def count(topic: bytes, payload: bytes, outbox=None) -> None:
        crowd_bytes.append(len(payload) if topic.endswith(b"/crowd") else 0)
        send(topic, payload, outbox)

    publisher._send = count
    try:
        publisher.replicate(capture.world, capture.tick)  # first tick: every stream's keyframe
        crowd_bytes.clear()
        benchmark.group = f"replication-{twins // 1000}k"
        benchmark.pedantic(
            lambda: publisher.replicate(capture.world, capture.tick),
            setup=sim.loop.step, rounds=rounds, iterations=1,
        )  # fmt: skip
        turns = twins * rounds * CROWD_HZ / TICK_HZ
        benchmark.extra_info["crowd_bytes_per_twin_per_turn"] = round(sum(crowd_bytes) / turns, 2)
    finally:
        socket.close(linger=0)
        context.term()
        sim.world.close()
