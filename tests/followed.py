"""A small simulation whose publisher is on a loopback XPUB, and the SUB sockets of clients that
follow its twins by id (the ``followed`` fixture of ``tests/conftest.py``)."""

from __future__ import annotations

import zmq

from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.config import load_config
from synthtwin.net.publisher import Publisher
from synthtwin.net.wire import topics
from tests.conftest import MONDAY
from tests.loopback import loopback

WAIT_S = 5.0
TICK_HZ = 4.0
"""Ticks a (wall) second: the shape's repeat every ``vitals_hz`` = 1 is every 4th tick."""


class Followed:
    """A small simulation whose publisher is on a loopback XPUB, and SUB sockets of clients."""

    def __init__(self) -> None:
        self.context = zmq.Context()
        xpub = self.context.socket(zmq.XPUB)
        xpub.bind(loopback())
        self.endpoint = xpub.getsockopt_string(zmq.LAST_ENDPOINT)
        self.publisher = Publisher(xpub, TICK_HZ, 30, 1.0, 1.0, 1.0)
        config = load_config(None, twins=6, seed=5, tick_hz=TICK_HZ, time_scale=60.0, start=MONDAY)
        try:
            self.sim = build_simulation(config, replicator=self.publisher)
        except BaseException:
            xpub.close(linger=0)
            self.context.term()
            raise
        self.subs: list[zmq.Socket] = []

    def follow(self, twin: int, marker: bytes) -> zmq.Socket:
        """A new client's SUB of ``twin/<id>/``, in effect once the publisher has read the
        client's next subscription, ``marker`` (a topic nobody else subscribed to: the XPUB
        passes on only a topic's first subscription, and a pipe's arrive in order)."""
        sub = self.context.socket(zmq.SUB)
        sub.connect(self.endpoint)
        sub.subscribe(topics.twin_prefix(twin))
        sub.subscribe(marker)
        self.subs.append(sub)
        assert self.publisher.socket.poll(int(WAIT_S * 1000)), "no subscription arrived"
        while self.publisher.socket.poll(int(WAIT_S * 1000)):
            message = self.publisher.socket.recv()
            self.publisher.pose_follows.apply(message)
            if message[1:] == marker:
                return sub
        raise AssertionError(f"the subscription {marker!r} never arrived")

    def tick(self) -> None:
        self.sim.loop.run_ticks(1)

    def close(self) -> None:
        for sub in self.subs:
            sub.close(linger=0)
        self.publisher.socket.close(linger=0)
        self.context.term()
        self.sim.close()


def receive_all(sub: zmq.Socket, timeout_s: float = 0.5) -> list[tuple[bytes, bytes]]:
    """Every message the SUB holds within ``timeout_s`` of the last, ``(topic, payload)``."""
    got = []
    while sub.poll(int(timeout_s * 1000)):
        topic, payload = sub.recv_multipart()
        got.append((topic, payload))
    return got
