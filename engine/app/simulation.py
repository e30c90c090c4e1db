"""The composition root: builds a World with its town, population and systems from a Config.

This is the one module (with the CLI) that imports both the engine core and the systems: every
other module receives what it needs. ``build_simulation`` returns everything a front end drives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from synthtwin.components.behavior import ACTIVITY_STATE, PERSONALITY, SCHEDULE
from synthtwin.components.body import BODY
from synthtwin.components.health import DAY_AGGREGATES
from synthtwin.components.identity import IDENTITY
from synthtwin.components.locomotion import PLACES, TRANSFORM, TRIP
from synthtwin.components.mesh import Meshes
from synthtwin.components.physiology import EXERTION, PHYSIOLOGY_PARAMS, VITALS
from synthtwin.components.pose import ANIMATION
from synthtwin.components.scenario import SCENARIO_EFFECTS, Scenarios
from synthtwin.components.schema import columns_of
from synthtwin.components.town import Town
from synthtwin.engine.backend import select_backend
from synthtwin.engine.checkpoint import load_checkpoint
from synthtwin.engine.clock import SimClock
from synthtwin.engine.config import Config
from synthtwin.engine.loop import Loop
from synthtwin.engine.record_queue import RecordBatch
from synthtwin.engine.schedule import Schedule, System
from synthtwin.engine.synth.body_model import synth_body
from synthtwin.engine.synth.motion import synth_library
from synthtwin.engine.synth.populate import spawn_population
from synthtwin.engine.synth.population import Population, synthesize_population
from synthtwin.engine.synth.population_import import load_population
from synthtwin.engine.synth.town import build_town
from synthtwin.engine.world import World
from synthtwin.systems.animation import AnimationSystem
from synthtwin.systems.behavior import BehaviorSystem
from synthtwin.systems.commands import CommandSource, CommandSystem
from synthtwin.systems.health import HealthRecord, HealthSystem, day_summary
from synthtwin.systems.locomotion import LocomotionSystem
from synthtwin.systems.physiology import PhysiologySystem
from synthtwin.systems.recording import RecordingSystem
from synthtwin.systems.replication import ReplicationSystem, Replicator
from synthtwin.systems.scenario import ScenarioSystem
from synthtwin.systems.skinning import SkinningSystem

__all__ = ["SCHEMA", "Simulation", "build_simulation"]

SCHEMA = columns_of(
    IDENTITY,
    BODY,
    PERSONALITY,
    SCHEDULE,
    ACTIVITY_STATE,
    PLACES,
    TRANSFORM,
    TRIP,
    PHYSIOLOGY_PARAMS,
    EXERTION,
    VITALS,
    DAY_AGGREGATES,
    ANIMATION,
    SCENARIO_EFFECTS,
)
"""Every dense column of the world."""

MAX_SPAWN = 100_000
STREAM_POPULATION = 1
STREAM_TOWN = 2
STREAM_PLACES = 3


@dataclass
class Simulation:
    """A built world and what drives it."""

    config: Config
    world: World
    schedule: Schedule
    loop: Loop

    @property
    def record(self) -> HealthRecord:
        """The closed days (each closes at the end of its last tick)."""
        return self.world.resource(HealthRecord)

    def today(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """The daily record's columns of ``rows`` for the day the clock is in, so far."""
        return day_summary(self.world, rows, self.world.clock.date)

    def spawn(self, count: int, seed: int | None = None) -> np.ndarray:
        """Spawn ``count`` new synthetic twins now, in new households in existing homes.

        Args:
            seed: seed of the new people; None draws them from the world's generator.

        Returns:
            ``(count,) uint32`` their ids.
        """
        if not 1 <= count <= MAX_SPAWN:
            raise ValueError(f"spawn count {count} is out of range: expected 1..{MAX_SPAWN}")
        rng = self.world.rng if seed is None else np.random.default_rng([seed, STREAM_POPULATION])
        population = synthesize_population(count, rng)
        return spawn_population(self.world, population, rng, new_homes=False)

    def despawn(self, ids: np.ndarray | list[int]) -> None:
        """Remove twins by id; an unknown id raises ``UnknownTwinError`` and removes nothing."""
        self.world.despawn(ids)

    def close(self) -> None:
        self.world.close()


def build_simulation(
    config: Config,
    resume: Path | None = None,
    replicator: Replicator | None = None,
    commands: CommandSource | None = None,
    record: Callable[[RecordBatch], object] | None = None,
) -> Simulation:
    """A world ready to tick: population spawned, or restored from ``resume``; with
    ``commands``, every tick starts by applying what came from it; with a ``replicator``, every
    tick ends by handing the world to it; with ``record``, the health record's rows go to it
    (``systems.recording``, ``engine.app.record.Recorder.sink``)."""
    sim = config.sim
    start = sim.start or datetime.now().replace(microsecond=0)
    capacity = max(1024, sim.twins)
    world = World(SCHEMA, SimClock(start), sim.seed, select_backend(sim.device), capacity)
    try:
        schedule = _populate(world, config, resume, replicator, commands, record)
    except BaseException:
        world.close()
        raise
    loop = Loop(world, schedule, sim.tick_hz, sim.time_scale, sim.max_catchup_ticks)
    return Simulation(config, world, schedule, loop)


def _populate(
    world: World,
    config: Config,
    resume: Path | None,
    replicator: Replicator | None,
    commands: CommandSource | None,
    record: Callable[[RecordBatch], object] | None = None,
) -> Schedule:
    """Resources, schedule and twins (spawned, or restored from ``resume``) of a new world."""
    sim = config.sim
    population = None if resume else _population(config)
    world.insert_resource(_town(config, population))
    world.insert_resource(HealthRecord())
    world.insert_resource(Scenarios())
    world.insert_resource(synth_library())
    world.insert_resource(Meshes())
    schedule = Schedule(world, _systems(world, config, replicator, commands, record))
    if resume:
        load_checkpoint(world, schedule, resume)
    else:
        rng = np.random.default_rng([sim.seed, STREAM_PLACES])
        spawn_population(world, population, rng, new_homes=True)
    for system in schedule.systems:
        system.warmup()
    return schedule


def _systems(
    world: World,
    config: Config,
    replicator: Replicator | None,
    commands: CommandSource | None,
    record: Callable[[RecordBatch], object] | None = None,
) -> list[System]:
    """Every system of the world, in declaration order, at its configured divisor."""
    every = config.sim.every
    systems: list[System] = []
    if commands is not None:
        systems.append(CommandSystem(commands, every.commands))
    systems += [
        ScenarioSystem(world, record),
        BehaviorSystem(world, every.behavior),
        LocomotionSystem(world, every.locomotion),
        AnimationSystem(world, every.animation),
        SkinningSystem(world, synth_body, every.skinning),
        PhysiologySystem(world, every.physiology, config.sim.physiology_window_s),
        HealthSystem(world, every.health, config.sim.health_window_s),
    ]
    if record is not None:
        systems.append(RecordingSystem(world, record, config.history.minute_s))
    if replicator is not None:
        systems.append(ReplicationSystem(world, replicator, every.replication))
    return systems


def _population(config: Config) -> Population:
    sim = config.sim
    rng = np.random.default_rng([sim.seed, STREAM_POPULATION])
    if sim.population_file is not None:
        return load_population(sim.population_file, rng)
    return synthesize_population(sim.twins, rng)


def _town(config: Config, population: Population | None) -> Town:
    """The town's homes are sized for the starting population (or the configured count)."""
    sim = config.sim
    seed = sim.town_seed if sim.town_seed is not None else sim.seed
    rng = np.random.default_rng([seed, STREAM_TOWN])
    households = (
        sim.twins if population is None else len(np.unique(population.columns["household_id"]))
    )
    return build_town(rng, households)
