"""Schedule: systems ordered by pipeline phase, each declaring the columns it reads and writes.

A tick runs the phases in a fixed order, each with one purpose (as flecs' pipeline phases):

    INPUT        commands in: spawn, despawn, time scale, pause; queries answered
    BEHAVIOR     what each twin does next
    LOCOMOTION   where each twin is
    ANIMATION    pose from motion clips
    SKINNING     meshes, only for twins a viewer needs
    PHYSIOLOGY   vitals integrated over the tick
    HEALTH       daily aggregates; a day is closed into the daily record at its last tick
    REPLICATION  what changed, encoded for subscribers

Within a phase, systems run in declaration order (the order ``Schedule`` is given). Order comes
from phases, never from one system calling another.

Each system declares its columns (as Bevy's ``Query<&T>`` / ``Query<&mut T>``, flecs' ``[in]`` /
``[out]``): ``writes``, the columns it owns; ``reads``, columns as this tick left them before it
runs; ``reads_previous``, columns as the last tick left them (their writer runs later in the tick).
Building a ``Schedule`` checks the declarations and raises ``ScheduleError`` naming the systems
and the columns when:

1. a column has two writers (every column has one owner);
2. a column in ``reads`` is written later in the tick (declare it in ``reads_previous``); a column
   no system writes is an input fixed at spawn (``age_y``, ``home_place``) that anyone may read;
3. a column in ``reads_previous`` is written earlier in the tick, or by no system;
4. a system names a column twice (its writes are readable by it), or names no column of the world.

Spawning and despawning are structural changes (whole rows come and go), not column writes.

With ``check_access`` (the tests turn it on, ``tests/conftest.py``) every system's ``world``
becomes an ``AccessCheckedWorld`` (``engine.access``) limited to the columns it declares, so an
undeclared read or write raises; production systems get the World itself.

A system may run at a divisor of the tick rate (``every`` ticks, from ``[sim.every]``); it then
runs on the last tick of each window and integrates over the simulated seconds the window covered
(which stays right when the time scale changes inside it). A window also ends at the tick that
reaches midnight, so no window spans two days, and the window's tick carries the time, hour,
weekday and day of its first tick. An open window is part of the system's checkpointed state.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from enum import IntEnum
from typing import ClassVar

from synthtwin.engine.access import AccessCheckedWorld
from synthtwin.engine.timings import RollingTimings
from synthtwin.engine.world import World

__all__ = ["Phase", "Schedule", "ScheduleError", "System", "Tick"]


class Phase(IntEnum):
    INPUT = 0
    BEHAVIOR = 1
    LOCOMOTION = 2
    ANIMATION = 3
    SKINNING = 4
    PHYSIOLOGY = 5
    HEALTH = 6
    REPLICATION = 7


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
        end_day_index: whole days since the start date at the tick's end; above ``day_index``
            when the tick reaches midnight.
    """

    index: int
    dt_s: float
    t_s: float
    hour_of_day: float
    weekday: int
    day_index: int
    end_day_index: int


class System:
    """One behaviour of the world: a thin driver that hands columns to kernels.

    Subclasses set ``phase``, ``reads``, ``reads_previous`` and ``writes`` (column names; see the
    module docstring), keep their world in ``self.world`` and implement ``run``. ``process``
    (called by the schedule in order) applies the tick divisor and records timings.
    """

    phase: ClassVar[Phase]
    reads: ClassVar[tuple[str, ...]] = ()
    reads_previous: ClassVar[tuple[str, ...]] = ()
    writes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, every: int = 1) -> None:
        if every < 1:
            raise ValueError(f"every = {every}: a system runs every 1 or more ticks")
        self.every = every
        self.timings: RollingTimings | None = None
        self._window: Tick | None = None
        """The first tick of the window not run yet (``every`` > 1 only)."""

    @property
    def name(self) -> str:
        return type(self).__name__

    def process(self, tick: Tick) -> None:
        """Run on ``tick``, or on the window it closes (the module docstring), timed."""
        if self.every > 1:
            first = self._window or tick
            if (tick.index + 1) % self.every and tick.end_day_index == tick.day_index:
                self._window = first
                return
            self._window = None
            if first is not tick:
                tick = replace(first, index=tick.index, end_day_index=tick.end_day_index,
                               dt_s=tick.t_s + tick.dt_s - first.t_s)  # fmt: skip
        started = time.perf_counter()
        self.run(tick)
        if self.timings is not None:
            self.timings.record(self.name, time.perf_counter() - started)

    def run(self, tick: Tick) -> None:
        raise NotImplementedError

    def warmup(self) -> None:
        """Compile or load this system's kernels before the first tick, so that tick is on time."""

    def state_dict(self) -> dict:
        """Non-column state to checkpoint (plain data or numpy arrays): the open window, and what
        a subclass adds (calling this first)."""
        return {} if self._window is None else {"window": asdict(self._window)}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned."""
        window = state.get("window")
        self._window = None if window is None else Tick(**window)


class ScheduleError(ValueError):
    """The systems' declarations break a rule of the schedule; the message names who and what."""


class Schedule:
    """The systems of a world in run order, their declarations checked (module docstring).

    Args:
        world: the world the systems run on; declared columns must be its columns.
        systems: every system, in declaration order.
        check_access: give each system a view of the world limited to its declarations; None
            takes the class default, ``Schedule.check_access``.

    Raises:
        ScheduleError: a declaration breaks a rule.
    """

    check_access: ClassVar[bool] = False
    """Default of every new schedule: off, so the tick's hot path touches the World itself;
    ``tests/conftest.py`` turns it on for the whole test suite."""

    def __init__(
        self, world: World, systems: Sequence[System], check_access: bool | None = None
    ) -> None:
        ordered = sorted(enumerate(systems), key=lambda item: (item[1].phase, item[0]))
        self.systems: tuple[System, ...] = tuple(system for _, system in ordered)
        """Every system in run order: by phase, then by declaration."""
        _check(self.systems, set(world.columns.schema))
        self._input = tuple(s for s in self.systems if s.phase == Phase.INPUT)
        self._update = tuple(s for s in self.systems if s.phase != Phase.INPUT)
        if self.check_access if check_access is None else check_access:
            for system in self.systems:
                _limit_access(system, world)

    def run(self, tick: Tick) -> None:
        """One tick of every system, in order."""
        self.run_input(tick)
        self.run_update(tick)

    def run_input(self, tick: Tick) -> None:
        """The INPUT phase: commands, which may pause the loop or change its time scale."""
        for system in self._input:
            system.process(tick)

    def run_update(self, tick: Tick) -> None:
        """Every phase after INPUT, in order."""
        for system in self._update:
            system.process(tick)

    def idle(self, tick: Tick) -> None:
        """The INPUT phase alone, on every call: while the loop is paused, commands (``resume``)
        still arrive. ``tick`` covers no simulated time."""
        for system in self._input:
            system.run(tick)

    def table(self) -> str:
        """The tick order as a Markdown table: phase, system, divisor, declared columns."""
        lines = [
            "| phase | system | every | reads | reads previous tick | writes |",
            "|---|---|---|---|---|---|",
        ]
        for s in self.systems:
            cells = (s.phase.name, s.name, str(s.every), *map(_names, _declared(s)))
            lines.append(f"| {' | '.join(cells)} |")
        return "\n".join(lines) + "\n"


def _declared(system: System) -> tuple[tuple[str, ...], ...]:
    return system.reads, system.reads_previous, system.writes


def _names(columns: tuple[str, ...]) -> str:
    return ", ".join(f"`{name}`" for name in columns)


def _check(systems: tuple[System, ...], known: set[str]) -> None:
    """Raise ``ScheduleError`` on the first rule ``systems`` (in run order) break."""
    for system in systems:
        _check_own(system, known)
    writer = _owners(systems)
    place = {id(system): i for i, system in enumerate(systems)}
    for i, system in enumerate(systems):
        for column in system.reads:
            owner = writer.get(column)
            if owner is not None and place[id(owner)] > i:
                raise ScheduleError(
                    f"{system.name} ({system.phase.name}) reads {column!r}, which {owner.name} "
                    f"({owner.phase.name}) writes later in the tick: declare it in "
                    "reads_previous to read the last tick's value"
                )
        for column in system.reads_previous:
            owner = writer.get(column)
            if owner is None:
                raise ScheduleError(
                    f"{system.name} declares {column!r} in reads_previous, but no system writes "
                    "it: it is fixed at spawn, declare it in reads"
                )
            if place[id(owner)] < i:
                raise ScheduleError(
                    f"{system.name} ({system.phase.name}) declares {column!r} in reads_previous, "
                    f"but {owner.name} ({owner.phase.name}) writes it earlier in the tick: "
                    "declare it in reads"
                )


def _check_own(system: System, known: set[str]) -> None:
    """A system names each column once, and only columns of the world."""
    names = [name for columns in _declared(system) for name in columns]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ScheduleError(f"{system.name} declares {twice} more than once")
    unknown = sorted(set(names) - known)
    if unknown:
        raise ScheduleError(f"{system.name} declares {unknown}, which are no columns of the world")


def _owners(systems: tuple[System, ...]) -> dict[str, System]:
    """The one writer of each written column."""
    writer: dict[str, System] = {}
    for system in systems:
        for column in system.writes:
            if column in writer:
                raise ScheduleError(
                    f"{column!r} has two writers, {writer[column].name} and {system.name}: "
                    "give it one owner"
                )
            writer[column] = system
    return writer


def _limit_access(system: System, world: World) -> None:
    """Replace ``system.world`` (if it has one) by a view limited to its declarations."""
    if getattr(system, "world", None) is not None:
        readable = frozenset((*system.reads, *system.reads_previous))
        system.world = AccessCheckedWorld(world, system.name, readable, frozenset(system.writes))
