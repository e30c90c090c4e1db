"""One shard of a world run on several processes: the twins of one region of the town
(``engine.regions``), ticked by the same systems as the single-process world.

A ``Shard`` is plain Python (``engine.app.shards`` wraps it in a Ray actor). It builds the world
the way ``build_simulation`` does for one process, from the same seed, so every twin has the id
the unsharded world gives it, and keeps the twins whose cell is in its region; the town, the clip
library and the other resources are whole in every shard (a twin's home, workplace and trips may
lie in other regions). Between barriers it runs ticks; at a barrier it hands over the twins that
left its region (``World.take_twins``: every column of every component store, the per-day health
accumulators, the random-number counters and keys, the trip and the schedule, the sparse esper
components) and takes in those that entered it, sorted by id, bit for bit.

Randomness: physiology draws are counter-based per twin (``kernels.physiology.random_bits``, keyed
by ``variation_key`` and the tick counter ``noise_draws``, both columns that travel with the twin),
but behaviour draws its choice noise and activity durations from the world's one PCG64 stream
(``systems.behavior``), in row order over the twins choosing this tick. So which twin gets which
draw depends on who shares the shard: a run on N shards is deterministic for its seed and N, and
one shard equals the single-process world bit for bit, but 2 shards do not equal 1. Each shard of
N > 1 draws from its own stream, ``SeedSequence(seed, spawn_key=(SHARD_STREAM, N, k))`` (the
seed sequence's entropy stays the world seed, which the physiology keys mix in).

Checkpoints are per shard (``engine.checkpoint``, one file each) plus a manifest
(``ShardManifest``); a shard starts from the cluster's latest manifest if its folder has one (so
Ray's restart of a killed actor, which reruns the constructor, resumes there), else from the
``resume`` manifest, else fresh. A manifest of another shard count is redistributed by region.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numba
import numpy as np
import pyarrow as pa

from synthtwin.components.town import PlaceKind, Town
from synthtwin.engine.app.simulate import VitalsSampler, population_table
from synthtwin.engine.app.simulation import Simulation, build_simulation
from synthtwin.engine.checkpoint import CheckpointError, save_checkpoint
from synthtwin.engine.config import Config
from synthtwin.engine.journal import sync_folder
from synthtwin.engine.regions import RegionMap
from synthtwin.engine.world import Twins
from synthtwin.net.front import shard_security
from synthtwin.net.requests import Controls, RequestHandler
from synthtwin.net.server import ZmqServer
from synthtwin.net.wire.topics import cell_of
from synthtwin.systems.health import HealthRecord, HealthSystem
from synthtwin.systems.physiology import PhysiologySystem

__all__ = [
    "MANIFEST",
    "SHARD_STREAM",
    "Shard",
    "ShardManifest",
    "ShardSpec",
    "StepReport",
    "hand_over",
    "town_regions",
]

SHARD_STREAM = 11
"""Spawn key of the shards' random streams (the world's streams are 1..3)."""
MANIFEST = "manifest.json"
"""The cluster's latest consistent checkpoint, in its checkpoint folder."""
MANIFEST_FORMAT = 1
KEEP_CHECKPOINTS = 2
"""Checkpoint ticks kept in the folder (the manifest's and the one before)."""


def hand_over(sim: Simulation, ids: np.ndarray) -> Twins:
    """``ids`` taken out of ``sim``'s world whole, their vitals and then their day's health
    aggregates first brought up to the last tick (``engine.spread``: the spread passes leave up to
    ``physiology_window_s`` and ``health_window_s`` of it for later)."""
    rows = sim.world.rows_of(ids)
    for system in sim.schedule.systems:  # in tick order: physiology before health
        if isinstance(system, PhysiologySystem | HealthSystem):
            system.settle(rows)
    return sim.world.take_twins(ids)


def town_regions(town: Town, n: int) -> RegionMap:
    """The regions of ``n`` shards: stripes balanced by the town's homes (one household each,
    sized for the starting population, so a pure function of the seed), bounded by its places."""
    homes = cell_of(town.xy_m[town.of_kind(PlaceKind.HOME)])
    return RegionMap.balanced(homes, n, extent=cell_of(town.xy_m))


@dataclass(frozen=True)
class ShardManifest:
    """A cluster checkpoint: every shard's file, written at one tick.

    Attributes:
        tick: the world tick every file holds.
        regions: the region map the shards ran with.
        files: shard ``k``'s checkpoint file, relative to the manifest's folder.
    """

    tick: int
    regions: RegionMap
    files: tuple[str, ...]

    @property
    def shards(self) -> int:
        return len(self.files)

    def write(self, folder: Path) -> Path:
        """Atomically replace ``folder/manifest.json``; the path."""
        path = folder / MANIFEST
        tmp = folder / f".{MANIFEST}.tmp"
        body = {
            "format": MANIFEST_FORMAT,
            "tick": self.tick,
            "regions": self.regions.to_dict(),
            "files": list(self.files),
        }
        try:
            with open(tmp, "w") as f:
                json.dump(body, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            sync_folder(folder)
        except OSError as err:
            raise CheckpointError(f"cannot write manifest {path}: {err.strerror}") from None
        return path

    @classmethod
    def read(cls, path: Path) -> ShardManifest:
        """The manifest at ``path``.

        Raises:
            CheckpointError: missing, unreadable or malformed, or a shard file missing; one line.
        """
        try:
            body = json.loads(Path(path).read_text())
            if body.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format {body.get('format')!r}, expected {MANIFEST_FORMAT}")
            manifest = cls(
                int(body["tick"]), RegionMap.from_dict(body["regions"]), tuple(body["files"])
            )
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise CheckpointError(
                f"shard manifest {path}: cannot read it ({err}); fix: resume from another "
                "manifest, or start a new world without --resume"
            ) from None
        if manifest.shards != manifest.regions.n or manifest.tick < 0:
            raise CheckpointError(
                f"shard manifest {path}: {manifest.shards} files for {manifest.regions.n} regions"
            )
        for name in manifest.files:
            if Path(name).is_absolute() or ".." in Path(name).parts:
                raise CheckpointError(f"shard manifest {path}: file {name!r} leaves its folder")
            if not (Path(path).parent / name).is_file():
                raise CheckpointError(f"shard manifest {path}: shard file {name} is missing")
        return manifest


@dataclass(frozen=True)
class ShardSpec:
    """What a shard is: its config, its place among ``count`` shards, where checkpoints go.

    Attributes:
        checkpoints: the cluster's checkpoint folder (its ``manifest.json`` wins over
            ``resume``); None: no checkpoints.
        resume: a manifest to start from when ``checkpoints`` has none.
        vitals_every_s: sample every twin's vitals this often (simulated s), for headless runs.
        serve_at: serve today's endpoints on these (PUB, ROUTER, health PUB with access
            control), for a front (``net.front``), the same after a restart; None: headless.
        threads: numba threads of this shard's kernels (shards sharing a machine share its
            cores: more threads than cores make parallel kernels wait for each other); None:
            numba's default.
    """

    config: Config
    index: int
    count: int
    checkpoints: Path | None = None
    resume: Path | None = None
    vitals_every_s: float | None = None
    serve_at: tuple[str, str, str] | None = None
    threads: int | None = None


@dataclass
class StepReport:
    """What a shard did between two barriers.

    Attributes:
        tick: its world's tick after the step.
        twins: twins it holds after handing over ``emigrants``.
        emigrants: twins that left its region, for their new shards.
        days: closed days of its twins since the last report (``HealthRecord`` tables).
        vitals: vitals samples taken during the step (``twin simulate``'s table).
        overruns: ticks so far longer than one tick period of wall time.
        busy_s: wall seconds spent ticking in this step.
        handoff_s: wall seconds spent taking out and putting in twins.
        handed_in: twins taken in at the start of the step.
    """

    shard: int
    tick: int
    twins: int
    emigrants: Twins
    days: list[pa.Table] = field(default_factory=list)
    vitals: list[pa.Table] = field(default_factory=list)
    overruns: int = 0
    busy_s: float = 0.0
    handoff_s: float = 0.0
    handed_in: int = 0


class Shard:
    """The world of one region; see the module docstring.

    Raises:
        CheckpointError: a manifest or shard file cannot be read.
        RegionError: the town has fewer occupied cell columns than shards.
    """

    def __init__(self, spec: ShardSpec) -> None:
        self.spec = spec
        if spec.threads is not None:
            numba.set_num_threads(max(1, min(spec.threads, numba.config.NUMBA_NUM_THREADS)))
        self.sim: Simulation | None = None
        self.server: ZmqServer | None = None
        self.regions: RegionMap | None = None
        self._outbox: list[Twins] = []
        self._days_sent = 0
        self.restored_tick: int | None = None
        self.load()

    # -- building ------------------------------------------------------------------------------

    def load(self) -> None:
        """(Re)build the world: from the folder's manifest, else ``resume``, else fresh."""
        if self.sim is not None:
            self.sim.close()
            self.sim = None
        self._outbox = []
        spec = self.spec
        folder_manifest = spec.checkpoints / MANIFEST if spec.checkpoints is not None else None
        source = folder_manifest if folder_manifest and folder_manifest.is_file() else spec.resume
        if source is None:
            self._fresh()
        else:
            self._restore(Path(source))
        self._days_sent = len(self.sim.record.batches)
        self._sampler = (
            VitalsSampler(self.sim, spec.vitals_every_s) if spec.vitals_every_s else None
        )

    def _fresh(self) -> None:
        """The whole world of the seed, then only this region's twins."""
        self.sim = self._build()
        self.regions = town_regions(self.sim.world.resource(Town), self.spec.count)
        self._own_stream(self.sim.world.tick)
        self.sim.world.take_twins(self._foreign_ids())
        self.restored_tick = None

    def _restore(self, path: Path) -> None:
        """This shard's part of a cluster checkpoint, redistributed by region if the manifest
        has another shard count."""
        manifest = ShardManifest.read(path)
        folder, k, n = path.parent, self.spec.index, self.spec.count
        if manifest.shards == n:
            self.sim = self._build(folder / manifest.files[k])
            self.regions = manifest.regions
        else:
            self.sim = self._build(folder / manifest.files[k if k < manifest.shards else 0])
            self.regions = town_regions(self.sim.world.resource(Town), n)
            self._own_stream(manifest.tick)
            world = self.sim.world
            if k >= manifest.shards:  # a new shard: the base file's twins are shard 0's to load
                world.take_twins(world.ids.copy())
                self.sim.record.batches = []
            for j in range(k + n, manifest.shards, n):  # the files beyond n shards, round robin
                self._outbox.append(self._lift(folder / manifest.files[j]))
            self._outbox.append(hand_over(self.sim, self._foreign_ids()))
        self.restored_tick = manifest.tick

    def _build(self, resume: Path | None = None) -> Simulation:
        """The world as ``build_simulation`` builds it, behind this shard's server if it serves
        (built once: a reload keeps its endpoints)."""
        if self.spec.serve_at is None:
            return build_simulation(self.spec.config, resume)
        if self.server is None:
            self.server = _shard_server(self.spec.config, self.spec.serve_at)
        server = self.server
        sim = build_simulation(
            self.spec.config, resume, replicator=server.publisher, commands=server
        )
        server.publisher.epoch_iso = sim.world.clock.start.isoformat()
        controls = Controls(sim.world, sim.loop, sim.spawn, sim.despawn, sim.today)
        server.handler = RequestHandler(controls, server.publisher, server.security, server.tokens)
        return sim

    def _lift(self, path: Path) -> Twins:
        """Every twin of another shard file (and its closed days, into this shard's record)."""
        other = build_simulation(self.spec.config, resume=path)
        try:
            record = self.sim.record
            record.batches = sorted(
                record.batches + other.record.batches, key=lambda b: b["day"][0]
            )
            return hand_over(other, other.world.ids.copy())
        finally:
            other.close()

    def _own_stream(self, tick: int) -> None:
        """With more than one shard, the world's generator becomes this shard's own stream."""
        if self.spec.count == 1:
            return
        seed = self.spec.config.sim.seed
        key = (SHARD_STREAM, self.spec.count, self.spec.index, tick)
        sequence = np.random.SeedSequence(seed, spawn_key=key)
        self.sim.world.rng = np.random.Generator(np.random.PCG64(sequence))

    def _foreign_ids(self) -> np.ndarray:
        """Ids of the twins whose cell is outside this shard's region."""
        world = self.sim.world
        owner = self.regions.shard_of_cells(cell_of(world["position_m"]))
        return world.ids[owner != self.spec.index].copy()

    # -- running -------------------------------------------------------------------------------

    def step(self, ticks: int, incoming: Twins | None = None) -> StepReport:
        """Take in ``incoming``, run ``ticks`` ticks, hand over the twins that left the region.

        Args:
            ticks: 0 only exchanges twins (after a redistributing restore).
            incoming: twins whose cell is now in this region, ascending ids.
        """
        world = self.sim.world
        started = time.perf_counter()
        handed_in = 0
        if incoming is not None and len(incoming):
            world.put_twins(incoming)
            handed_in = len(incoming)
        put_s = time.perf_counter() - started
        vitals = []
        for _ in range(ticks):
            self.sim.loop.step()
            sample = self._sampler.maybe_sample() if self._sampler is not None else None
            if sample is not None:
                vitals.append(sample)
        busy_s = time.perf_counter() - started - put_s
        taken = time.perf_counter()
        emigrants = Twins.joined([*self._outbox, hand_over(self.sim, self._foreign_ids())])
        self._outbox = []
        handoff_s = put_s + time.perf_counter() - taken
        closed = self.sim.record.batches
        days = [HealthRecord([b]).to_table() for b in closed[self._days_sent :]]
        self._days_sent = len(closed)
        return StepReport(
            self.spec.index, world.tick, world.n, emigrants, days, vitals,
            self.sim.loop.overruns, busy_s, handoff_s, handed_in,
        )  # fmt: skip

    # -- checkpoints and results ---------------------------------------------------------------

    def save(self, folder: Path) -> str:
        """Write this shard's checkpoint for the current tick under ``folder``; its name
        relative to ``folder``."""
        tick, k, n = self.sim.world.tick, self.spec.index, self.spec.count
        name = f"tick-{tick}/shard-{k}-of-{n}.ckpt"
        save_checkpoint(self.sim.world, self.sim.schedule, folder / name)
        return name

    def tick(self) -> int:
        return self.sim.world.tick

    def ids(self) -> np.ndarray:
        """``(N,) uint32`` the ids of the twins this shard holds."""
        return self.sim.world.ids.copy()

    def twins(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        """Copies of every column's rows of ``ids`` (in that order)."""
        world = self.sim.world
        rows = world.rows_of(ids)
        return {k: world[k][rows].copy() for k in world.columns.schema if k != "entity"}

    def population(self) -> pa.Table:
        """``twin simulate``'s population table of this shard's twins."""
        return population_table(self.sim)

    def region(self) -> dict:
        """The region map (``RegionMap.to_dict``)."""
        return self.regions.to_dict()

    def pid(self) -> int:
        return os.getpid()

    def endpoints(self) -> dict[str, str]:
        """Where this shard serves (``pub``, ``router``, ``health`` with access control)."""
        if self.server is None:
            raise RuntimeError(f"shard {self.spec.index} does not serve (headless)")
        endpoints = self.server.endpoints
        if any("0.0.0.0" in e for e in endpoints.values()):  # bound on every address
            import ray

            node = ray.util.get_node_ip_address()
            endpoints = {k: e.replace("0.0.0.0", node) for k, e in endpoints.items()}
        return endpoints

    def close(self) -> None:
        if self.sim is not None:
            self.sim.close()
            self.sim = None
        if self.server is not None:
            self.server.close()
            self.server = None


def _shard_server(config: Config, endpoints: tuple[str, str, str]) -> ZmqServer:
    """Today's ZeroMQ server on ``endpoints`` (PUB, ROUTER, health PUB), with the security a
    shard behind a front runs with (``net.front.shard_security``)."""
    pub, router, health = endpoints
    serve = replace(config.serve, pub_endpoint=pub, router_endpoint=router, http_enabled=False)
    security = replace(shard_security(config.security), health_pub_endpoint=health)
    return ZmqServer(serve, config.sim.tick_hz, security, config.tokens_file)
