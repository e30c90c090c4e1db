"""Schedule: systems ordered by pipeline phase, each declaring what it reads and writes.

A tick runs the phases in a fixed order, each with one purpose (as flecs' pipeline phases):

    INPUT        commands and sensor observations in
    BEHAVIOR     what each twin does next
    LOCOMOTION   where each twin is
    ANIMATION    pose from motion clips
    KINEMATICS   forward kinematics
    SKINNING     meshes, only for twins a viewer needs
    PHYSIOLOGY   vitals integrated over the tick
    HEALTH       daily aggregates and alerts
    REPLICATION  what changed, encoded for subscribers

Within a phase, systems run in registration order. Order comes from phases, never from one system
calling another. A system may run at a divisor of the tick rate (``every`` ticks); it then runs on
the last tick of each window and integrates over the simulated seconds the window covered (which
stays right when the time scale changes inside it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import ClassVar

import esper

from synthtwin.engine.timings import RollingTimings

__all__ = ["Phase", "System", "Tick"]


class Phase(IntEnum):
    INPUT = 0
    BEHAVIOR = 1
    LOCOMOTION = 2
    ANIMATION = 3
    KINEMATICS = 4
    SKINNING = 5
    PHYSIOLOGY = 6
    HEALTH = 7
    REPLICATION = 8


@dataclass(frozen=True)
class Tick:
    """What every system is told about the current tick.

    Attributes:
        index: tick number since the world began (0-based).
        dt_s: simulated seconds this tick covers.
        t_s: simulated seconds since the clock's start, at the tick's start.
        hour_of_day: local hour in [0, 24) at the tick's start.
        weekday: 0 = Monday ... 6 = Sunday, at the tick's start.
        day_index: whole days since the start date, at the tick's start.
    """

    index: int
    dt_s: float
    t_s: float
    hour_of_day: float
    weekday: int
    day_index: int


class System(esper.Processor):
    """One behaviour of the world: a thin driver that hands columns to kernels.

    Subclasses set ``phase``, ``reads`` and ``writes`` (column names) and implement ``run``.
    ``process`` (called by esper in priority order) applies the tick divisor and records timings.
    """

    phase: ClassVar[Phase]
    reads: ClassVar[tuple[str, ...]] = ()
    writes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, every: int = 1) -> None:
        if every < 1:
            raise ValueError(f"every = {every}: a system runs every 1 or more ticks")
        self.every = every
        self.timings: RollingTimings | None = None
        self._window_start_s: float | None = None

    @property
    def name(self) -> str:
        return type(self).__name__

    def process(self, tick: Tick) -> None:
        if self._window_start_s is None:
            self._window_start_s = tick.t_s
        if (tick.index + 1) % self.every:
            return
        window_s = tick.t_s + tick.dt_s - self._window_start_s
        window = replace(tick, t_s=self._window_start_s, dt_s=window_s)
        self._window_start_s = None
        started = time.perf_counter()
        self.run(window)
        if self.timings is not None:
            self.timings.record(self.name, time.perf_counter() - started)

    def run(self, tick: Tick) -> None:
        raise NotImplementedError

    def warmup(self) -> None:
        """Compile or load this system's kernels before the first tick, so that tick is on time."""

    def state_dict(self) -> dict:
        """Non-column state to checkpoint (plain data or numpy arrays); most systems have none."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned."""
