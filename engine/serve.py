"""``twin serve``: the realtime simulation behind its ZeroMQ endpoints.

The composition root of serving: builds the simulation with a publisher as its replicator, hands
the request handler what it may control, runs the fixed-tick loop in real time until asked to stop
(SIGINT, SIGTERM or the ``stop`` event), writes checkpoints periodically and at shutdown, and
closes every socket.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from engine.app import Simulation, build_simulation
from engine.checkpoint import save_checkpoint
from engine.config import Config
from net.requests import Controls, RequestHandler
from net.server import ZmqServer

__all__ = ["Serving", "serve"]


class Serving:
    """A simulation with its server, ready to run (``run``) and to stop (``stop``)."""

    def __init__(self, config: Config, resume: Path | None = None) -> None:
        self.config = config
        self.stop = threading.Event()
        self.server = ZmqServer(config.serve, config.sim.tick_hz)
        try:
            self.sim: Simulation = build_simulation(config, resume, self.server.publisher)
        except BaseException:
            self.server.close()
            raise
        self.server.publisher.epoch_iso = self.sim.world.clock.start.isoformat()
        self.server.handler = RequestHandler(
            Controls(
                world=self.sim.world,
                loop=self.sim.loop,
                spawn=self.sim.spawn,
                despawn=self.sim.despawn,
                today=self.sim.health.summarize,
            ),
            self.server.publisher,
        )
        self._last_checkpoint = time.monotonic()

    def run(self) -> None:
        """Tick in real time until ``stop`` is set, then checkpoint and close."""
        try:
            self.sim.loop.run_realtime(self.stop, before_tick=self._between_ticks)
        finally:
            self.checkpoint()
            self.server.close()
            self.sim.close()

    def _between_ticks(self) -> None:
        self.server.poll()
        every = self.config.serve.checkpoint_every_s
        if every and time.monotonic() - self._last_checkpoint >= every:
            self.checkpoint()

    def checkpoint(self) -> None:
        save_checkpoint(self.sim.world, self.config.serve.checkpoint)
        self._last_checkpoint = time.monotonic()


def serve(
    config: Config, resume: Path | None = None, on_ready: Callable[[Serving], None] | None = None
) -> None:
    """Run ``twin serve`` in the calling (main) thread; SIGINT and SIGTERM stop it cleanly."""
    serving = Serving(config, resume)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: serving.stop.set())
    if on_ready is not None:
        on_ready(serving)
    serving.run()
