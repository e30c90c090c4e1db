"""A client that follows every cell from the start of a live world mirrors it tick after tick,
also through spawns and despawns (rows swapped: ``CellMembers``, ``RowState``) and at time
scale 60: every twin once, its activity, and its record dead-reckoned to the tick within
``DEAD_RECKONING_M`` (protocol 6.1, publisher rule 2, subscriber rule 5); a late joiner (the
snapshot, then the same stream) holds the very same records."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import zmq

from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.config import load_config
from synthtwin.net.publisher import Publisher
from synthtwin.net.wire.clone import merge_cells
from synthtwin.net.wire.crowd import DEAD_RECKONING_M, CrowdDecoder, CrowdState
from tests.loopback import loopback

TICK_HZ = 10.0
"""Crowd turns every tick (``crowd_hz`` = ``tick_hz``): each cell is checked at each tick."""
RUSH = datetime(2026, 3, 2, 7, 45)
QUIET_S = 0.05
WAIT_S = 5.0


Client = tuple[CrowdDecoder, dict]
"""A decoder and the state of each cell it applied, by cell."""


def _apply(client: Client, payload: bytes) -> None:
    state: CrowdState = client[0].apply(payload)
    client[1][state.cell] = state


def _drain(sub: zmq.Socket, clients: list[Client]) -> None:
    """Apply every crowd message that arrived to each client (until the SUB has been quiet
    ``QUIET_S``)."""
    while sub.poll(int(QUIET_S * 1000)):
        topic, payload = sub.recv_multipart()
        if topic.endswith(b"/crowd"):  # cell vitals share the prefix
            for client in clients:
                _apply(client, payload)


def test_a_client_from_the_start_mirrors_the_world_through_spawns_and_despawns() -> None:
    config = load_config(None, twins=300, tick_hz=TICK_HZ, time_scale=60.0, start=RUSH)
    context = zmq.Context()
    xpub = context.socket(zmq.XPUB)
    xpub.bind(loopback())
    publisher = Publisher(xpub, TICK_HZ, 30, TICK_HZ, 1.0, 1.0)
    sub = context.socket(zmq.SUB)
    sub.connect(xpub.getsockopt_string(zmq.LAST_ENDPOINT))
    sub.subscribe(b"cell/")
    assert xpub.poll(int(WAIT_S * 1000)) and xpub.recv() == b"\x01cell/"
    sim = build_simulation(config, replicator=publisher)
    clients: list[Client] = [(CrowdDecoder(), {})]
    rng = np.random.default_rng(5)
    worst_m, moving = 0.0, 0
    try:
        for tick in range(40):
            if tick % 5 == 4:  # despawn rows anywhere (swap-removes), spawn new twins
                sim.despawn(rng.choice(sim.world.ids, 7, replace=False))
                sim.spawn(3, seed=tick)
            if tick == 12:  # a late joiner: the snapshot now, then the stream
                clients.append((CrowdDecoder(), {}))
                for payload in publisher.snapshot(None):
                    _apply(clients[-1], payload)
            sim.loop.step()
            _drain(sub, clients)
            world = sim.world
            order = np.argsort(world.ids)
            crowd = merge_cells(clients[0][1].values())
            if len(clients) > 1:
                late = merge_cells(clients[1][1].values())
                for name in ("ids", "pos_m", "heading_rad", "speed_mps", "sample_t_s"):
                    np.testing.assert_array_equal(getattr(late, name), getattr(crowd, name))
            np.testing.assert_array_equal(crowd.ids, world.ids[order])
            np.testing.assert_array_equal(crowd.activity, world["activity"][order])
            at_tick = crowd.position_at(publisher.t_s)
            miss_m = np.linalg.norm(at_tick - world["position_m"][order], axis=1)
            worst_m = max(worst_m, float(miss_m.max()))
            moving += int((world["speed_mps"] > 0).sum())
        assert worst_m <= DEAD_RECKONING_M + 1e-6
        assert moving > 1000, "the rush hour moves twins (else nothing was dead-reckoned)"
    finally:
        sim.close()
        sub.close(linger=0)
        xpub.close(linger=0)
        context.term()
