"""Loop and clock: fixed ticks, time scale, bounded catch-up, overruns, timings, commands, pause."""

import threading
import time
from datetime import datetime

import numpy as np
import pytest

from synthtwin.components.schema import Column
from synthtwin.engine.backend import Backend
from synthtwin.engine.clock import SimClock
from synthtwin.engine.loop import Loop
from synthtwin.engine.schedule import Phase, Schedule, System, Tick
from synthtwin.engine.timings import RollingTimings
from synthtwin.engine.world import World


class Recorder(System):
    phase = Phase.PHYSIOLOGY

    def __init__(self, log: list, tag: str, every: int = 1, sleep_s: float = 0.0) -> None:
        super().__init__(every)
        self.log, self.tag, self.sleep_s = log, tag, sleep_s

    @property
    def name(self) -> str:
        return self.tag

    def run(self, tick: Tick) -> None:
        self.log.append((self.tag, tick.index, tick.dt_s))
        if self.sleep_s:
            time.sleep(self.sleep_s)


class Commands(Recorder):
    """An INPUT-phase system, as the one that drains commands."""

    phase = Phase.INPUT


def make_loop(*systems: System, **settings) -> Loop:
    """A loop over a one-column world from Monday 23:00 that runs ``systems``."""
    w = World(
        {"x": Column("x", "float32")}, SimClock(datetime(2026, 3, 2, 23, 0)), 0, Backend("cpu", np)
    )
    return Loop(w, Schedule(w, systems), **settings)


def test_a_divisor_system_runs_every_nth_tick_over_the_window_it_covers():
    log: list = []
    loop = make_loop(Recorder(log, "slow", every=3), tick_hz=10, time_scale=2)
    w = loop.world
    loop.run_ticks(7)
    assert log == [("slow", 2, pytest.approx(0.6)), ("slow", 5, pytest.approx(0.6))]
    loop.time_scale = 10
    loop.run_ticks(2)
    assert log[-1] == ("slow", 8, pytest.approx(0.2 + 1.0 + 1.0))
    w.close()


def test_clock_advances_by_time_scale_over_tick_rate_and_keeps_the_calendar():
    loop = make_loop(tick_hz=1, time_scale=60)
    w = loop.world
    loop.run_ticks(90)
    assert w.clock.elapsed_s == 5400
    assert w.clock.day_index == 1 and w.clock.weekday == 1
    assert w.clock.hour_of_day == pytest.approx(0.5)
    w.close()


def test_realtime_keeps_the_tick_rate_and_counts_overruns():
    log: list = []
    loop = make_loop(Recorder(log, "slow", sleep_s=0.0), tick_hz=50, time_scale=1)
    w = loop.world
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    loop.run_realtime(stop)
    assert 20 <= w.tick <= 27
    assert loop.overruns == 0
    w.close()


def test_a_stall_is_bounded_by_max_catchup_and_dropped_ticks_are_counted():
    log: list = []
    stall = Recorder(log, "stall", sleep_s=0.0)
    loop = make_loop(stall, tick_hz=100, time_scale=1, max_catchup_ticks=3)
    w = loop.world
    stop = threading.Event()

    def stall_once() -> None:
        if w.tick == 5:
            time.sleep(0.3)

    threading.Timer(0.6, stop.set).start()
    loop.run_realtime(stop, before_tick=stall_once)
    stats = loop.stats()
    assert stats.dropped_ticks >= 20
    assert stats.overruns == 0
    assert stats.ticks < 60
    w.close()


def test_overrunning_ticks_are_counted_and_timings_report_p50_and_p99():
    log: list = []
    loop = make_loop(Recorder(log, "heavy", sleep_s=0.03), tick_hz=100, time_scale=1)
    w = loop.world
    loop.run_ticks(5)
    stats = loop.stats()
    assert stats.overruns == 5
    heavy = stats.timings["heavy"]
    assert heavy.count == 5 and 25 <= heavy.p50_ms <= heavy.p99_ms
    assert stats.timings["tick"].p50_ms >= heavy.p50_ms
    w.close()


def test_pause_stops_simulated_time():
    loop = make_loop(tick_hz=100, time_scale=1)
    w = loop.world
    loop.paused = True
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    loop.run_realtime(stop)
    assert w.tick == 0 and loop.dropped_ticks == 0
    w.close()


def test_commands_are_timed_inside_the_tick():
    log: list = []
    loop = make_loop(Commands(log, "commands", sleep_s=0.02), tick_hz=100, time_scale=1)
    loop.run_ticks(3)
    timings = loop.stats().timings
    assert timings["commands"].count == 3 and timings["commands"].p50_ms >= 15
    assert timings["tick"].p50_ms >= timings["commands"].p50_ms
    loop.world.close()


def test_a_paused_loop_still_takes_commands_and_a_resume_restarts_the_ticks():
    log: list = []

    class Resume(Commands):
        def run(self, tick: Tick) -> None:
            super().run(tick)
            if len(log) == 3:
                loop.paused = False

    loop = make_loop(Resume(log, "commands"), Recorder(log, "life"), tick_hz=100, time_scale=1)
    loop.paused = True
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    loop.run_realtime(stop)
    assert log[:3] == [("commands", 0, 0.0)] * 3
    assert ("life", 0, pytest.approx(0.01)) in log and loop.world.tick > 5
    loop.world.close()


def test_a_pause_or_time_scale_command_takes_effect_in_its_own_tick():
    log: list = []

    class Control(Commands):
        def run(self, tick: Tick) -> None:
            super().run(tick)
            if tick.index == 1:
                loop.time_scale = 10.0
            if tick.index == 3:
                loop.paused = True

    loop = make_loop(Control(log, "commands"), Recorder(log, "life"), tick_hz=100, time_scale=1)
    loop.run_ticks(5)
    life = [(index, dt) for tag, index, dt in log if tag == "life"]
    assert life == [(0, pytest.approx(0.01)), (1, pytest.approx(0.1)), (2, pytest.approx(0.1))]
    assert loop.world.tick == 3, "the tick whose command paused the world did not happen"
    assert loop.world.clock.elapsed_s == pytest.approx(0.21)
    loop.world.close()


@pytest.mark.parametrize("samples", [1, 2, 7, 1024, 3000])
def test_timing_summaries_are_numpy_s_percentiles_of_the_window(samples):
    durations = np.random.default_rng(samples).exponential(0.003, samples)
    timings = RollingTimings(window=1024)
    for seconds in durations:
        timings.record("tick", seconds)
    summary = timings.summary()["tick"]
    window_ms = durations[-1024:] * 1e3
    p50, p99 = np.percentile(window_ms, [50, 99])
    assert summary.count == samples and summary.max_ms == pytest.approx(window_ms.max())
    assert summary.p50_ms == pytest.approx(p50) and summary.p99_ms == pytest.approx(p99)
    assert summary.mean_ms == pytest.approx(window_ms.mean())
