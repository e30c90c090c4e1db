"""Replication: hands the world, read-only, to whatever encodes it for subscribers.

The last phase of the tick. The encoder (a ``Replicator``, e.g. the ZeroMQ publisher of ``net``)
is injected by the composition root, so systems never import the network layer; it reads the
columns it needs and turns them into immutable bytes before the next tick can change them.
"""

from __future__ import annotations

from typing import Protocol

from synthtwin.components.physiology import VITAL_COLUMNS
from synthtwin.engine.schedule import Phase, System, Tick
from synthtwin.engine.world import World

__all__ = ["ReplicationSystem", "Replicator"]


class Replicator(Protocol):
    """Encodes what changed this tick and sends it; must not block the tick."""

    def replicate(self, world: World, tick: Tick) -> None: ...


class ReplicationSystem(System):
    """Calls the replicator once per tick (or every ``every`` ticks); the replicator reads the
    world through this system, so these are the columns it may read."""

    phase = Phase.REPLICATION
    reads = (
        "twin_id", "position_m", "heading_rad", "speed_mps", "activity",
        "clip", "previous_clip", "clip_phase", "clip_blend", *VITAL_COLUMNS, "sex", "betas",
    )  # fmt: skip

    def __init__(self, world: World, replicator: Replicator, every: int = 1) -> None:
        super().__init__(every)
        self.world = world
        self.replicator = replicator

    def run(self, tick: Tick) -> None:
        self.replicator.replicate(self.world, tick)
