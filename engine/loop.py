"""Loop: the fixed-tick driver ("Fix Your Timestep", Glenn Fiedler 2004).

Simulation time advances only in equal ticks of ``dt_s = time_scale / tick_hz`` simulated seconds.
In realtime mode an accumulator collects wall time and runs as many ticks as it holds; catch-up is
bounded to ``max_catchup_ticks`` back to back, the rest of the backlog is dropped, and both a tick
that overran its wall budget and every dropped tick are counted. Headless mode runs the same ticks
back to back as fast as the machine allows: the same code path, without sleeping. While paused, the
schedule's INPUT phase still runs once a period, so commands (``resume``) arrive.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from synthtwin.engine.schedule import Schedule, Tick
from synthtwin.engine.timings import RollingTimings, TimingSummary
from synthtwin.engine.world import World

__all__ = ["Loop", "LoopStats"]


@dataclass(frozen=True)
class LoopStats:
    """Counters of a running loop.

    Attributes:
        ticks: ticks run since the world began.
        overruns: ticks whose processing took longer than one tick period of wall time.
        dropped_ticks: ticks of backlog discarded by the catch-up bound.
        tick_hz: configured rate; measured_hz: ticks per wall second over the last window.
        timings: per-system and whole-tick durations (p50, p99) in ms.
    """

    ticks: int
    overruns: int
    dropped_ticks: int
    tick_hz: float
    measured_hz: float
    timings: dict[str, TimingSummary]


class Loop:
    """Runs a World's schedule at a fixed tick.

    Args:
        world: the world to advance.
        schedule: its systems.
        tick_hz: ticks per wall-clock second in realtime mode.
        time_scale: simulated seconds per wall second (settable while running).
        max_catchup_ticks: most ticks run back to back after a stall.
    """

    def __init__(
        self,
        world: World,
        schedule: Schedule,
        tick_hz: float,
        time_scale: float,
        max_catchup_ticks: int = 5,
    ) -> None:
        self.world = world
        self.schedule = schedule
        self.tick_hz = tick_hz
        self.time_scale = time_scale
        self.max_catchup_ticks = max_catchup_ticks
        self.paused = False
        self.overruns = 0
        self.dropped_ticks = 0
        self.timings = RollingTimings()
        self._tick_walls: deque[float] = deque(maxlen=256)
        for system in schedule.systems:
            system.timings = self.timings

    @property
    def period_s(self) -> float:
        """Wall seconds per tick."""
        return 1.0 / self.tick_hz

    @property
    def dt_s(self) -> float:
        """Simulated seconds per tick."""
        return self.time_scale / self.tick_hz

    def step(self) -> None:
        """Run one tick: commands first; then, unless they paused the loop, every other system
        on a tick of the (maybe new) ``dt_s``, and advance the clock by it."""
        started = time.perf_counter()
        self.schedule.run_input(self._tick(self.dt_s))
        if self.paused:
            return
        tick = self._tick(self.dt_s)
        self.schedule.run_update(tick)
        self.world.clock.advance(tick.dt_s)
        self.world.tick += 1
        ended = time.perf_counter()
        self.timings.record("tick", ended - started)
        self._tick_walls.append(ended)
        if ended - started > self.period_s:
            self.overruns += 1

    def _tick(self, dt_s: float) -> Tick:
        """The tick that starts now and covers ``dt_s`` simulated seconds."""
        clock = self.world.clock
        end_day = clock.day_index_at(clock.elapsed_s + dt_s)
        return Tick(
            self.world.tick, dt_s, clock.elapsed_s, clock.hour_of_day, clock.weekday,
            clock.day_index, end_day,
        )  # fmt: skip

    def run_ticks(self, count: int, on_tick: Callable[[], None] | None = None) -> None:
        """Headless: run ``count`` ticks back to back; ``on_tick`` runs after each."""
        for _ in range(count):
            self.step()
            if on_tick is not None:
                on_tick()

    def run_realtime(
        self, stop: threading.Event, before_tick: Callable[[], None] | None = None
    ) -> None:
        """Realtime: tick at ``tick_hz`` wall rate until ``stop`` is set.

        ``before_tick`` runs before every tick and once a period while paused: the host's work
        between ticks (checkpoints, watching the gateway). Commands are the schedule's INPUT
        phase, inside the tick; while paused that phase alone runs once a period
        (``Schedule.idle``), so ``resume`` still arrives. While paused, wall time passes without
        ticks and nothing is counted as dropped.
        """
        accumulator = 0.0
        last = time.perf_counter()
        while not stop.is_set():
            now = time.perf_counter()
            accumulator += now - last
            last = now
            if self.paused:
                self.schedule.idle(self._tick(0.0))
                if before_tick is not None:
                    before_tick()
                self._tick_walls.clear()
                accumulator = 0.0
                stop.wait(self.period_s)
                continue
            accumulator = self._bound_backlog(accumulator)
            while accumulator >= self.period_s and not self.paused and not stop.is_set():
                if before_tick is not None:
                    before_tick()
                self.step()
                accumulator -= self.period_s
            stop.wait(max(0.0, self.period_s - accumulator))

    def _bound_backlog(self, accumulator: float) -> float:
        budget = self.max_catchup_ticks * self.period_s
        if accumulator <= budget:
            return accumulator
        dropped = int((accumulator - budget) / self.period_s)
        self.dropped_ticks += dropped
        return accumulator - dropped * self.period_s

    def stats(self) -> LoopStats:
        walls = list(self._tick_walls)
        measured = (len(walls) - 1) / (walls[-1] - walls[0]) if len(walls) > 1 else 0.0
        return LoopStats(
            self.world.tick,
            self.overruns,
            self.dropped_ticks,
            self.tick_hz,
            measured,
            self.timings.summary(),
        )
