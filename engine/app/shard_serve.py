"""``twin serve --shards N``: the world on N Ray shards behind one front.

Each shard (``engine.app.shard``) serves today's PUB and ROUTER on its own ports; the front
(``net.front``) binds ``[serve]``'s endpoints and gives clients one server. The coordinator
(``engine.app.shards.ShardCluster``) ticks the shards in lockstep at ``sim.tick_hz``, a barrier
every ``cluster.barrier_ticks`` ticks, and checkpoints them (per-shard files and a manifest) into
``<checkpoint>.shards/`` every ``cluster.checkpoint_every_ticks`` ticks and at shutdown.

The gateway process (REST, WebRTC video, ``/ws``; ``engine.app.gateway_host``) is the one ``twin
serve`` starts, a client of the front's PUB and ROUTER (and, with access control, its health PUB)
as it is of a single server's, kept running the same way (checked after each barrier).

Not yet: the health record (``[history]``) is not kept; run ``twin serve`` without ``--shards``
for it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from synthtwin.engine.app.gateway_host import GatewayWatch, http_gateway
from synthtwin.engine.app.serve import chat_settings, exposure_warnings
from synthtwin.engine.app.shard import ShardManifest
from synthtwin.engine.app.shards import ShardCluster
from synthtwin.engine.config import Config
from synthtwin.net.front import Front, ShardEndpoints, run_front
from synthtwin.net.gateway import Gateway

__all__ = ["ShardServing", "shard_checkpoints"]


def shard_checkpoints(config: Config) -> Path:
    """The folder of the shards' checkpoints: ``<serve.checkpoint>.shards``."""
    return config.serve.checkpoint.with_suffix(".shards")


class ShardServing:
    """The shards, their front, its gateway and the stop flag; ``run`` ticks until ``stop``.

    Attributes:
        http: the gateway process (its ``url``), bound here and served while ``run`` runs; None
            when ``serve.http_enabled`` is off.

    Args:
        resume: a shard manifest to continue from (any shard count).

    Raises:
        ConfigError: binding beyond loopback without protection (as ``twin serve``).
        ClusterError, CheckpointError, FrontError: nothing is left running then.
    """

    def __init__(self, config: Config, resume: Path | None = None) -> None:
        self.config = config
        self.warnings = exposure_warnings(config)
        self.stop = threading.Event()
        self.saved: ShardManifest | None = None
        self.cluster = ShardCluster(config, shard_checkpoints(config), resume, serve=True)
        self.front: Front | None = None
        self.http: Gateway | None = None
        try:
            shards = [
                ShardEndpoints(e["pub"], e["router"], e.get("health"))
                for e in self.cluster.endpoints()
            ]
            self.front = run_front(shards, self.cluster.regions, config)
            if config.serve.http_enabled:
                self.http = http_gateway(
                    config, self.front.endpoints, self.front.access_control,
                    chat_settings(config.chat),
                )  # fmt: skip
        except BaseException:
            self._close()
            raise

    def run(self) -> None:
        """Tick in real time until ``stop``; then checkpoint (``saved``) and close."""
        watch = None
        try:
            if self.http is not None:
                self.http.start()  # the shards are Ray processes: no cores to keep apart here
                watch = GatewayWatch(self.http)
            self.cluster.run_realtime(self.stop, between=watch.check if watch else None)
            self.saved = self.cluster.checkpoint()
        finally:
            self._close()

    def _close(self) -> None:
        """Stop the gateway (REST calls in flight answered by the front meanwhile), the front
        and the shards."""
        try:
            if self.http is not None:
                self.http.stop()
        finally:
            if self.front is not None:
                self.front.close()
            self.cluster.close()
