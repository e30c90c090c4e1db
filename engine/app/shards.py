"""The shard coordinator: one world on N Ray actors (``engine.app.shard.Shard``), one per region
of the town, ticked in lockstep.

Lockstep: ``ShardCluster.step(ticks)`` sends every shard the twins that entered its region and
``ticks`` ticks to run, and waits for all of them (the barrier): one world clock, every shard on
the same tick after every step. A twin that crosses a region edge goes on ticking on its old
shard until the barrier, so it moves at most ``cluster.barrier_ticks`` ticks late (its state is
the same either way: no system couples two twins; only the cell it is published under lags).
Handoffs are exchanged at the barrier, sorted by twin id, bit for bit (``World.take_twins``).
Each shard counts its overruns (ticks longer than one tick period).

Checkpoints: ``checkpoint()`` has every shard write its file for the same tick, then writes the
manifest (``ShardManifest``) atomically: the manifest names a consistent world or the one before.
A shard actor that dies is restarted by Ray (``max_restarts``): its constructor reloads the
folder's manifest; the coordinator then rolls every other shard back to the same tick and
records the gap (``Gap``: ticks lost) instead of running on with a world torn in time.

Ray (https://docs.ray.io, Actors, Fault tolerance): a local cluster is started small unless
``cluster.ray_address`` names one to join (docs/deployment.md).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import ray
from ray.exceptions import GetTimeoutError, RayActorError

from synthtwin.engine.app.shard import (
    KEEP_CHECKPOINTS,
    MANIFEST,
    Shard,
    ShardManifest,
    ShardSpec,
    StepReport,
)
from synthtwin.engine.config import ClusterConfig, Config
from synthtwin.engine.regions import RegionMap
from synthtwin.engine.world import Twins
from synthtwin.net.wire.topics import cell_of

__all__ = ["ClusterError", "Gap", "ShardCluster", "connect_ray"]

log = logging.getLogger(__name__)

STEP_TIMEOUT_S = 600.0
"""A barrier that takes longer than this fails the run (a shard hung, a node lost)."""
RESTART_TIMEOUT_S = 120.0
"""How long a restarted shard may take to answer again."""


class ClusterError(RuntimeError):
    """The shards cannot be started or kept running; the message says what to do."""


@dataclass(frozen=True)
class Gap:
    """A shard died and the world went back to the last checkpoint.

    Attributes:
        shard: the shard that died.
        at_tick: the tick the world had reached.
        resumed_tick: the checkpoint's tick the world went on from.
    """

    shard: int
    at_tick: int
    resumed_tick: int

    @property
    def lost_ticks(self) -> int:
        return self.at_tick - self.resumed_tick


@dataclass
class HandoffStats:
    """Twins moved between shards and the wall time it took (taking out, putting in, routing)."""

    twins: int = 0
    seconds: float = 0.0
    barriers: int = 0


def connect_ray(cluster: ClusterConfig) -> bool:
    """Join ``cluster.ray_address`` or start a small local Ray; whether this call started it
    (the caller then shuts it down). An already initialised Ray is used as it is."""
    if ray.is_initialized():
        return False
    try:
        if cluster.ray_address:
            ray.init(address=cluster.ray_address, log_to_driver=False)
        else:
            ray.init(
                num_cpus=cluster.cpus or os.cpu_count(), include_dashboard=False,
                log_to_driver=False, object_store_memory=cluster.object_store_mb << 20,
            )  # fmt: skip
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = cluster.ray_address or "a local cluster"
        raise ClusterError(
            f"cannot start Ray ({where}): {err}; fix: check the address ray start printed"
        ) from None
    return True


class ShardCluster:
    """N shard actors in lockstep; see the module docstring.

    Args:
        config: the world (``sim``) and the cluster (``cluster.shards`` actors).
        checkpoints: the folder for per-shard files and the manifest; None: no checkpoints (a
            killed shard then restarts the world from its start).
        resume: a manifest to continue from (any shard count).
        vitals_every_s: shards sample vitals this often (``twin simulate``).
        serve: each shard serves today's endpoints (``endpoints()``), for the front (``twin
            serve --shards``): free loopback ports on a local cluster, ``shard_port_base`` on
            its node's address on a joined one.

    Raises:
        ClusterError: Ray cannot start, or a shard fails while being built (its message).
    """

    def __init__(
        self,
        config: Config,
        checkpoints: Path | None = None,
        resume: Path | None = None,
        vitals_every_s: float | None = None,
        serve: bool = False,
    ) -> None:
        self.config = config
        self.count = config.cluster.shards
        self.checkpoints = checkpoints
        if checkpoints is not None and resume is None:
            _retire_manifest(checkpoints)  # a new world: Ray restarts must not load an old one
        self.gaps: list[Gap] = []
        self.handoffs = HandoffStats()
        self.overruns = [0] * self.count
        self.late_barriers = 0
        self._started_ray = connect_ray(config.cluster)
        threads = _threads_per_shard(config.cluster, self.count)
        actor = ray.remote(Shard).options(
            max_restarts=config.cluster.actor_restarts, num_cpus=0, scheduling_strategy="SPREAD"
        )
        specs = [
            ShardSpec(config, k, self.count, checkpoints, resume, vitals_every_s, at, threads)
            for k, at in enumerate(_serving_endpoints(config.cluster, self.count, serve))
        ]
        self._inbox = [None] * self.count
        # shard 0 first: a world that cannot be split (or read) fails once, before N builds
        self.actors = [actor.remote(specs[0])]
        try:
            self.regions = RegionMap.from_dict(self._built(self.actors[0].region.remote()))
            self.actors += [actor.remote(spec) for spec in specs[1:]]
            self.tick = self._built(*[a.tick.remote() for a in self.actors])
            self.step(0)  # a redistributing resume hands twins over before the first tick
            self.settle()
        except BaseException:
            self.close()
            raise

    def _built(self, *refs: ray.ObjectRef) -> Any:
        """The first answer of shards being built; a shard that failed to build is a
        ClusterError with its reason."""
        try:
            return self._gather(list(refs))[0]
        except RayActorError as err:
            reason = str(err).strip().splitlines()[-1] if str(err).strip() else repr(err)
            raise ClusterError(f"a shard could not be built: {reason}") from None

    # -- lockstep ------------------------------------------------------------------------------

    def step(self, ticks: int) -> list[StepReport]:
        """Every shard runs ``ticks`` ticks, then hands over its emigrants (one barrier).

        Returns:
            the shards' reports, by shard; after a shard died, those of the step run again from
            the last checkpoint's tick (``gaps`` says so). A shard that died and was restarted
            between two steps (it answers from its checkpoint's tick) counts as one that died.
        """
        refs = [a.step.remote(ticks, self._inbox[k]) for k, a in enumerate(self.actors)]
        try:
            reports = self._gather(refs)
        except RayActorError as err:
            self._recover(self._dead_shard(err))
            return self.step(ticks) if ticks else []
        ticks_now = {r.tick for r in reports}
        if len(ticks_now) != 1:
            late = [k for k, r in enumerate(reports) if r.tick != self.tick + ticks]
            if len(late) != 1:
                raise ClusterError(
                    f"shards out of lockstep after a barrier: ticks {sorted(ticks_now)}"
                )
            self._recover(late[0], restarted=True)  # its step ran on its reloaded world
            return self.step(ticks) if ticks else []
        self.tick = ticks_now.pop()
        self._route(reports)
        self.overruns = [r.overruns for r in reports]
        return reports

    def run(self, ticks: int, on_step: Callable[[list[StepReport]], None] | None = None) -> None:
        """Run ``ticks`` more ticks in steps of ``cluster.barrier_ticks`` (``on_step`` after
        each), checkpointing every ``cluster.checkpoint_every_ticks`` when there is a folder. A
        shard's death goes back to the last checkpoint and runs on to the same end tick."""
        settings = self.config.cluster
        target = self.tick + ticks
        while self.tick < target:
            next_save = (
                self.tick // settings.checkpoint_every_ticks + 1
            ) * settings.checkpoint_every_ticks
            reports = self.step(
                min(settings.barrier_ticks, target - self.tick, next_save - self.tick)
            )
            if on_step is not None:
                on_step(reports)
            if self.checkpoints is not None and self.tick % settings.checkpoint_every_ticks == 0:
                self.checkpoint()

    def run_realtime(
        self, stop: threading.Event, between: Callable[[], None] | None = None
    ) -> None:
        """Step at ``sim.tick_hz`` wall rate (a barrier every ``cluster.barrier_ticks`` ticks)
        until ``stop`` is set, checkpointing as ``run`` does, and calling ``between()`` (the
        host's work: keeping the gateway) after each barrier; a late barrier starts the next at
        once (counted in ``late_barriers``), never catching up with a burst."""
        barrier = self.config.cluster.barrier_ticks
        period_s = barrier / self.config.sim.tick_hz
        due = time.monotonic()
        while not stop.is_set():
            self.run(barrier)
            if between is not None:
                between()
            due += period_s
            wait = due - time.monotonic()
            if wait > 0:
                stop.wait(wait)
            else:
                self.late_barriers += 1
                due = time.monotonic()

    def endpoints(self) -> list[dict[str, str]]:
        """Each serving shard's endpoints (``Shard.endpoints``), by shard."""
        return self._gather([a.endpoints.remote() for a in self.actors])

    def _route(self, reports: list[StepReport]) -> None:
        """Each shard's next inbox: the emigrants whose cell its region holds, by id."""
        moving = Twins.joined([r.emigrants for r in reports])
        started = time.perf_counter()
        if len(moving):
            owner = self.regions.shard_of_cells(cell_of(moving.columns["position_m"]))
            self._inbox = [moving.subset(owner == k) for k in range(self.count)]
        else:
            self._inbox = [None] * self.count
        self.handoffs.twins += len(moving)
        self.handoffs.barriers += 1
        self.handoffs.seconds += (
            time.perf_counter() - started + max((r.handoff_s for r in reports), default=0.0)
        )

    def _gather(self, refs: list) -> list:
        try:
            return ray.get(refs, timeout=STEP_TIMEOUT_S)
        except GetTimeoutError:
            raise ClusterError(
                f"a shard did not answer within {STEP_TIMEOUT_S:.0f} s; fix: check the Ray "
                "cluster (ray status) and the shard's log"
            ) from None

    def _recover(self, dead: int, restarted: bool = False) -> None:
        """Shard ``dead`` died: wait for Ray's restart (which reloaded the last manifest), roll
        every shard back to that tick (``restarted``: it too, it has stepped since), record the
        gap."""
        if restarted:
            self._gather([self.actors[dead].load.remote()])
        deadline = time.monotonic() + RESTART_TIMEOUT_S
        while True:
            try:
                resumed = ray.get(self.actors[dead].tick.remote(), timeout=RESTART_TIMEOUT_S)
            except RayActorError as again:
                if time.monotonic() > deadline:
                    raise ClusterError(
                        f"shard {dead} died and was not restarted: {again}; fix: raise "
                        "cluster.actor_restarts or check the node"
                    ) from None
                time.sleep(0.2)
            else:
                break
        others = [a.load.remote() for k, a in enumerate(self.actors) if k != dead]
        self._gather(others)
        self.gaps.append(Gap(dead, self.tick, resumed))
        log.warning(
            "shard %d died at tick %d and was restarted; the world went back to its checkpoint "
            "at tick %d: %d ticks lost", dead, self.tick, resumed, self.tick - resumed,
        )  # fmt: skip
        self.tick = resumed
        self._inbox = [None] * self.count
        self.step(0)
        self.settle()

    def _dead_shard(self, err: RayActorError) -> int:
        """Which actor ``err`` is about (by actor id)."""
        actor_id = getattr(err, "actor_id", None)
        for k, actor in enumerate(self.actors):
            if actor_id is not None and actor._actor_id.hex() == actor_id:
                return k
        for k, actor in enumerate(self.actors):  # ask each: the dead one raises
            try:
                ray.get(actor.pid.remote(), timeout=1.0)
            except (RayActorError, GetTimeoutError):
                return k
        return 0

    # -- checkpoints ---------------------------------------------------------------------------

    def checkpoint(self) -> ShardManifest:
        """Every shard's file for the current tick, then the manifest; older ticks beyond
        ``KEEP_CHECKPOINTS`` are removed. The twins in transit are put into their shards first
        (no shard's file holds them while they are in the coordinator's inboxes).

        Raises:
            ClusterError: no checkpoint folder was given.
            CheckpointError: a file could not be written (the previous manifest stands).
        """
        if self.checkpoints is None:
            raise ClusterError("no checkpoint folder: start the cluster with one")
        self.settle()
        files = self._gather([a.save.remote(self.checkpoints) for a in self.actors])
        manifest = ShardManifest(self.tick, self.regions, tuple(files))
        manifest.write(self.checkpoints)
        _prune(self.checkpoints, KEEP_CHECKPOINTS)
        return manifest

    # -- queries -------------------------------------------------------------------------------

    def settle(self) -> None:
        """Put the twins in transit into their shards now (a barrier without ticks)."""
        while any(t is not None and len(t) for t in self._inbox):
            self.step(0)

    def ids(self) -> list[np.ndarray]:
        """Each shard's twin ids (twins in transit settled first)."""
        self.settle()
        return self._gather([a.ids.remote() for a in self.actors])

    def twins(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        """Every column of ``ids`` (in that order), from whichever shard holds each."""
        ids = np.asarray(ids, dtype=np.uint32)
        held = self.ids()
        parts = []
        for k, mine in enumerate(held):
            pick = ids[np.isin(ids, mine)]
            if pick.size:
                parts.append(ray.get(self.actors[k].twins.remote(pick)))
        merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        order = np.argsort(merged["twin_id"])
        back = order[np.searchsorted(merged["twin_id"][order], ids)]
        return {k: v[back] for k, v in merged.items()}

    def population(self) -> pa.Table:
        """The population table of every twin, by id."""
        self.settle()
        table = pa.concat_tables(self._gather([a.population.remote() for a in self.actors]))
        return table.take(pa.compute.sort_indices(table, [("twin_id", "ascending")]))

    def close(self) -> None:
        """Stop the shard actors (and the local Ray this cluster started)."""
        for actor in getattr(self, "actors", []):
            ray.kill(actor, no_restart=True)
        self.actors = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False

    def __enter__(self) -> ShardCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _threads_per_shard(cluster: ClusterConfig, count: int) -> int | None:
    """On a local cluster, the machine's cores shared among the shards (at least one each);
    on a joined one, numba's default on each node."""
    if cluster.ray_address:
        return None
    return max(1, (cluster.cpus or os.cpu_count() or 1) // count)


def _serving_endpoints(
    cluster: ClusterConfig, count: int, serve: bool
) -> list[tuple[str, str, str] | None]:
    """Each shard's (PUB, ROUTER, health PUB) endpoints, fixed for the run (a restarted shard
    binds them again): free loopback ports here, or ``shard_port_base`` ports on every node of a
    joined cluster (``*``: the node's addresses; docs/deployment.md)."""
    if not serve:
        return [None] * count
    if cluster.ray_address:
        base = cluster.shard_port_base
        return [tuple(f"tcp://*:{base + 3 * k + i}" for i in range(3)) for k in range(count)]
    return [tuple(f"tcp://127.0.0.1:{_free_port()}" for _ in range(3)) for _ in range(count)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _retire_manifest(folder: Path) -> None:
    """Move a manifest left by an earlier world aside (``manifest.json.old``)."""
    path = folder / MANIFEST
    if path.is_file():
        os.replace(path, folder / f"{MANIFEST}.old")


def _prune(folder: Path, keep: int) -> None:
    """Remove ``tick-*`` folders but the newest ``keep``."""
    ticks = sorted((int(p.name[5:]), p) for p in folder.glob("tick-*") if p.name[5:].isdigit())
    for _, path in ticks[:-keep]:
        shutil.rmtree(path, ignore_errors=True)
