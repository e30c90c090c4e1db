"""Schedule: phase then declaration order, declarations checked when built, column access checked
in the tests, divisors from the config, and the tick-order table of the docs."""

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from synthtwin.components.activity import Activity
from synthtwin.components.schema import Column
from synthtwin.components.town import Town
from synthtwin.engine.access import AccessCheckedWorld, AccessError
from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.app.tick_order import ARCHITECTURE, splice, tick_order_table
from synthtwin.engine.backend import Backend
from synthtwin.engine.checkpoint import save_checkpoint
from synthtwin.engine.clock import SimClock
from synthtwin.engine.schedule import Phase, Schedule, ScheduleError, System, Tick
from synthtwin.engine.world import World

ROOT = Path(__file__).resolve().parents[1]
TICK = Tick(0, 1.0, 0.0, 0.0, 0, 0, 0)


class Declared(System):
    """A system that runs ``body(world)`` each tick."""

    def __init__(self, world: World, body=None) -> None:
        super().__init__()
        self.world = world
        self.body = body

    def run(self, tick: Tick) -> None:
        if self.body is not None:
            self.body(self.world)


def declared(name: str, phase: Phase, reads=(), reads_previous=(), writes=()) -> type[Declared]:
    """A ``Declared`` system class called ``name`` with these declarations."""
    columns = {"reads": reads, "reads_previous": reads_previous, "writes": writes}
    return type(name, (Declared,), {"phase": phase, **columns})


@pytest.fixture
def world():
    columns = {name: Column(name, "float32") for name in ("a", "b", "c")}
    w = World(columns, SimClock(datetime(2026, 3, 2)), 0, Backend("cpu", np))
    w.spawn({}, 4)
    yield w
    w.close()


def test_systems_run_by_phase_then_in_declaration_order(world):
    log = []
    late = declared("Late", Phase.HEALTH)(world, lambda w: log.append("late"))
    walk = declared("Walk", Phase.BEHAVIOR)(world, lambda w: log.append("walk"))
    talk = declared("Talk", Phase.BEHAVIOR)(world, lambda w: log.append("talk"))
    schedule = Schedule(world, [late, walk, talk])
    assert [s.name for s in schedule.systems] == ["Walk", "Talk", "Late"]
    schedule.run(TICK)
    assert log == ["walk", "talk", "late"]


def test_a_read_whose_writer_runs_later_fails_the_build(world):
    reader = declared("Reader", Phase.BEHAVIOR, reads=("a",))(world)
    writer = declared("Writer", Phase.PHYSIOLOGY, writes=("a",))(world)
    message = (
        "Reader (BEHAVIOR) reads 'a', which Writer (PHYSIOLOGY) writes later in the tick: "
        "declare it in reads_previous to read the last tick's value"
    )
    with pytest.raises(ScheduleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Schedule(world, [reader, writer])
    same_phase = declared("Writer", Phase.BEHAVIOR, writes=("a",))(world)
    with pytest.raises(ScheduleError, match="writes later in the tick"):
        Schedule(world, [reader, same_phase])
    assert Schedule(world, [same_phase, reader]).systems == (same_phase, reader)


def test_a_previous_tick_read_needs_a_writer_later_in_the_tick(world):
    reader = declared("Reader", Phase.BEHAVIOR, reads_previous=("a",))(world)
    later = declared("Later", Phase.PHYSIOLOGY, writes=("a",))(world)
    earlier = declared("Earlier", Phase.INPUT, writes=("a",))(world)
    assert Schedule(world, [reader, later]).systems == (reader, later)
    with pytest.raises(ScheduleError, match="but Earlier .INPUT. writes it earlier in the tick"):
        Schedule(world, [reader, earlier])
    with pytest.raises(ScheduleError, match="no system writes it: it is fixed at spawn"):
        Schedule(world, [reader])


def test_a_column_no_system_writes_is_an_input_anyone_may_read(world):
    early = declared("Early", Phase.INPUT, reads=("c",))(world)
    late = declared("Late", Phase.REPLICATION, reads=("c",))(world)
    assert Schedule(world, [late, early]).systems == (early, late)


def test_two_writers_of_a_column_fail_the_build(world):
    one = declared("One", Phase.PHYSIOLOGY, writes=("a", "b"))(world)
    two = declared("Two", Phase.HEALTH, writes=("b",))(world)
    with pytest.raises(ScheduleError, match="'b' has two writers, One and Two: give it one owner"):
        Schedule(world, [one, two])


def test_a_column_named_twice_or_unknown_fails_the_build(world):
    twice = declared("Twice", Phase.HEALTH, reads=("a",), writes=("a",))(world)
    with pytest.raises(ScheduleError, match=r"Twice declares \['a'\] more than once"):
        Schedule(world, [twice])
    typo = declared("Typo", Phase.HEALTH, reads=("age",))(world)
    with pytest.raises(ScheduleError, match=r"Typo declares \['age'\], which are no columns"):
        Schedule(world, [typo])


def test_in_checked_mode_a_system_touches_only_the_columns_it_declares(world):
    system = declared("Mover", Phase.LOCOMOTION, reads=("b",), writes=("a",))(world)
    Schedule(world, [system], check_access=True)
    view = system.world
    assert isinstance(view, AccessCheckedWorld) and view.n == 4
    view["a"][:] = 2.0
    view["a"] = view["b"] + 1.0
    assert world["a"].tolist() == [1.0] * 4
    with pytest.raises(ValueError, match="read-only"):
        view["b"][:] = 1.0
    with pytest.raises(AccessError, match="Mover reads column 'c' without declaring it"):
        view["c"]
    with pytest.raises(AccessError, match="Mover writes column 'b' without declaring it"):
        view["b"] = np.zeros(4)
    assert view.columns.version == world.columns.version
    with pytest.raises(TypeError):
        view.columns["c"]  # the store itself is not reachable through the view


def test_production_systems_get_the_world_itself(world):
    system = declared("Mover", Phase.LOCOMOTION, writes=("a",))(world)
    Schedule(world, [system], check_access=False)
    assert system.world is world


def test_the_test_suite_runs_every_system_with_access_checks(make_simulation):
    sim = make_simulation(twins=5)
    assert all(isinstance(s.world, AccessCheckedWorld) for s in sim.schedule.systems)


def test_the_real_schedule_builds_in_phase_order():
    rows = [line.strip("| ").split(" | ") for line in tick_order_table().splitlines()[2:]]
    assert [(phase, name) for phase, name, *_ in rows] == [
        ("INPUT", "CommandSystem"), ("INPUT", "ScenarioSystem"), ("BEHAVIOR", "BehaviorSystem"),
        ("LOCOMOTION", "LocomotionSystem"), ("ANIMATION", "AnimationSystem"),
        ("SKINNING", "SkinningSystem"), ("PHYSIOLOGY", "PhysiologySystem"),
        ("HEALTH", "HealthSystem"), ("HEALTH", "RecordingSystem"),
        ("REPLICATION", "ReplicationSystem"),
    ]  # fmt: skip


def test_divisors_come_from_the_config(make_simulation):
    sim = make_simulation(twins=5, every={"behavior": 2, "physiology": 3})
    every = {system.name: system.every for system in sim.schedule.systems}
    assert every == {
        "ScenarioSystem": 1, "BehaviorSystem": 2, "LocomotionSystem": 1, "AnimationSystem": 1,
        "SkinningSystem": 1, "PhysiologySystem": 3, "HealthSystem": 1,
    }  # fmt: skip


def test_the_tick_order_table_of_the_docs_is_the_schedules():
    document = (ROOT / ARCHITECTURE).read_text()
    assert splice(document, tick_order_table()) == document, (
        f"{ARCHITECTURE} does not show the schedule's tick order: run "
        "`.venv/bin/python -m synthtwin.engine.app.tick_order` from the repository root"
    )


def test_a_divided_window_ends_at_midnight_so_days_close_whole(make_simulation):
    """Health and physiology every 7 ticks of 60 s (1440 ticks a day is no multiple of 7): each
    day still closes at midnight with every minute and step of that day, as every tick does."""
    every = {"health": 7, "physiology": 7}
    divided = make_simulation(twins=20, seed=3, every=every)
    whole = make_simulation(twins=20, seed=3)
    for sim in (divided, whole):
        sim.loop.run_ticks(2 * 1440)
    a, b = divided.record.to_table(), whole.record.to_table()
    assert a.num_rows == b.num_rows == 40, "both days closed"
    minutes = [c for c in a.column_names if c.startswith("min_")]
    total = sum(np.asarray(a[c]) for c in minutes)
    assert np.allclose(total, 1440.0)
    steps_a, steps_b = np.asarray(a["steps"]), np.asarray(b["steps"])
    assert np.all(steps_a > 1000)
    assert abs(steps_a.sum() / steps_b.sum() - 1) < 0.05


def test_a_window_open_at_a_checkpoint_resumes_where_it_stopped(make_simulation, tmp_path):
    first = make_simulation(twins=30, seed=4, every={"physiology": 4, "behavior": 3})
    first.loop.run_ticks(10)
    path = tmp_path / "world.ckpt"
    save_checkpoint(first.world, first.schedule, path)
    first.loop.run_ticks(30)
    resumed = build_simulation(first.config, resume=path)
    try:
        resumed.loop.run_ticks(30)
        for name in ("energy_kcal", "steps", "hr_bpm", "activity", "position_m"):
            assert np.array_equal(first.world[name], resumed.world[name]), name
    finally:
        resumed.close()


def test_with_behaviour_every_3_ticks_twins_that_arrived_stand_at_their_place(make_simulation):
    """A window's activities start at its first tick's time, before the tick locomotion runs on:
    a twin whose trip ended still stops at its place, speed 0, at the window's last tick."""
    sim = make_simulation(twins=100, seed=8, every={"behavior": 3})
    w, town, checked = sim.world, sim.world.resource(Town), []

    def still_at_their_place() -> None:
        idle = w["activity"] != Activity.TRAVEL
        assert (w["speed_mps"][idle] == 0).all()
        assert np.array_equal(w["position_m"][idle], town.xy_m[w["place"][idle]])
        checked.append(int((w["activity_start_s"][idle] >= w.clock.elapsed_s - 180).sum()))

    sim.loop.run_ticks(1440, on_tick=still_at_their_place)
    assert sum(checked) > 500, "many twins started an activity within a window"
