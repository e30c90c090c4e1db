"""``twin serve --shards N``: the world on N Ray shards behind one front.

Each shard (``engine.app.shard``) serves today's PUB and ROUTER on its own ports; the front
(``net.front``) binds ``[serve]``'s endpoints and gives clients one server. The coordinator
(``engine.app.shards.ShardCluster``) ticks the shards in lockstep at ``sim.tick_hz``, a barrier
every ``cluster.barrier_ticks`` ticks, and checkpoints them (per-shard files and a manifest) into
``<checkpoint>.shards/`` every ``cluster.checkpoint_every_ticks`` ticks and at shutdown.

Not yet: the HTTP gateway (REST, video) is not started with ``--shards``, and the health record
(``[history]``) is not kept; run ``twin serve`` without ``--shards`` for those.
"""

from __future__ import annotations

import threading
from pathlib import Path

from synthtwin.engine.app.serve import _exposure_warnings
from synthtwin.engine.app.shard import ShardManifest
from synthtwin.engine.app.shards import ShardCluster
from synthtwin.engine.config import Config
from synthtwin.net.front import Front, ShardEndpoints, run_front

__all__ = ["ShardServing", "shard_checkpoints"]


def shard_checkpoints(config: Config) -> Path:
    """The folder of the shards' checkpoints: ``<serve.checkpoint>.shards``."""
    return config.serve.checkpoint.with_suffix(".shards")


class ShardServing:
    """The shards, their front, and the stop flag; ``run`` ticks until ``stop`` is set.

    Args:
        resume: a shard manifest to continue from (any shard count).

    Raises:
        ConfigError: binding beyond loopback without protection (as ``twin serve``).
        ClusterError, CheckpointError, FrontError: nothing is left running then.
    """

    def __init__(self, config: Config, resume: Path | None = None) -> None:
        self.config = config
        self.warnings = _exposure_warnings(config)
        self.stop = threading.Event()
        self.saved: ShardManifest | None = None
        self.cluster = ShardCluster(config, shard_checkpoints(config), resume, serve=True)
        try:
            shards = [ShardEndpoints(e["pub"], e["router"]) for e in self.cluster.endpoints()]
            self.front: Front = run_front(shards, self.cluster.regions, config)
        except BaseException:
            self.cluster.close()
            raise

    def run(self) -> None:
        """Tick in real time until ``stop``; then checkpoint (``saved``) and close."""
        try:
            self.cluster.run_realtime(self.stop)
            self.saved = self.cluster.checkpoint()
        finally:
            self.front.close()
            self.cluster.close()
