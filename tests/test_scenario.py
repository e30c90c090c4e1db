"""Scenarios over the ROUTER (``scenario`` op): start, list, stop; operator only; arguments
checked with the protocol's templates; kept in checkpoints and replayed from the journal after
a kill -9 (a real ``twin serve`` on 127.0.0.1). The alert rules they drive:
``tests/test_scenario_alerts.py``."""

from __future__ import annotations

import time
from datetime import date, datetime

import duckdb
import numpy as np
import pytest
import zmq

from synthtwin.components.scenario import SCENARIO_EFFECTS, Scenario, Scenarios
from synthtwin.engine.app.cli import main
from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.checkpoint import save_checkpoint
from synthtwin.engine.config import load_config
from synthtwin.net.auth import Role, TokenStore
from synthtwin.net.publisher import Publisher
from synthtwin.net.wire.dealer import RequestClient
from synthtwin.systems.scenario import effect, strength
from tests.conftest import MONDAY
from tests.test_durability import FIRST_CHECKPOINT_S, kill_hard, start_serve, wait_for
from tests.test_request_limits import ask, error_of, make_handler

DAY_S = 86_400.0


@pytest.fixture(scope="module")
def world():
    """12 twins, one tick a simulated minute, published, as
    ``tests.test_request_limits.make_handler`` takes them."""
    context = zmq.Context()
    xpub = context.socket(zmq.XPUB)
    xpub.bind("inproc://scenarios")
    publisher = Publisher(xpub, 1.0, 30, 1.0, 1.0, 1.0)
    config = load_config(None, twins=12, seed=4, tick_hz=1.0, time_scale=60.0, start=MONDAY)
    sim = build_simulation(config, replicator=publisher)
    sim.loop.run_ticks(2)
    yield sim, publisher
    xpub.close(linger=0)
    context.term()
    sim.close()


def test_a_fever_rises_within_hours_and_a_drug_fades_after_its_end():
    fever = Scenario(1, 0, "illness", 0.0, 2 * DAY_S, {"severity": "moderate"})
    how = effect(fever)
    assert how.temp_c == 1.5 and how.hr_bpm == pytest.approx(8.5 * 1.5)
    assert strength(fever, how, -1.0) == 0.0
    assert strength(fever, how, 2 * 3600.0) == pytest.approx(1 - np.exp(-1))
    assert strength(fever, how, DAY_S) == pytest.approx(1.0, abs=1e-5)
    assert strength(fever, how, 2 * DAY_S + 12 * 3600.0) == pytest.approx(np.exp(-1), rel=1e-6)
    drug = Scenario(2, 0, "medication", 0.0, 30 * DAY_S, {"drug": "antihypertensive",
                                                          "classes": 2})  # fmt: skip
    assert (effect(drug).sbp_mmhg, effect(drug).dbp_mmhg) == (-18.2, -11.0)


def test_scenarios_start_list_and_stop_and_change_the_twin(world):
    sim, _ = world
    handler = make_handler(world)
    twin = int(sim.world.ids[3])
    started = ask(handler, "scenario", action="start", twin=twin, kind="illness", days=2.0,
                  severity="severe")  # fmt: skip
    assert started.ok, started.error
    scenario = started.result["scenario"]
    assert (scenario["twin"], scenario["kind"], scenario["state"]) == (twin, "illness", "active")
    assert scenario["args"] == {"severity": "severe"}
    later = ask(handler, "scenario", action="start", twin=twin, kind="short_night", days=3,
                hours=5, start="2026-03-10T22:00:00")  # fmt: skip
    assert later.result["scenario"]["state"] == "planned"
    assert later.result["scenario"]["end"] == "2026-03-13T22:00:00"
    sim.loop.run_ticks(2)  # the fever rises from its start on
    row = sim.world.row_of(twin)
    assert sim.world["scenario_temp_c"][row] > 0 and sim.world["scenario_spo2_pct"][row] > 0
    listed = ask(handler, "scenario", action="list", twin=twin).result["scenarios"]
    assert [s["id"] for s in listed] == [scenario["id"], later.result["scenario"]["id"]]
    stopped = ask(handler, "scenario", action="stop", id=scenario["id"]).result["scenario"]
    assert stopped["stopped"] and stopped["state"] == "ended"
    assert ask(handler, "scenario", action="list", twin=twin + 1000).result["scenarios"] == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ({}, "bad_request", "missing field 'args.action'"),
        ({"action": "begin"}, "out_of_range",
         "field 'args.action' holds 'begin', expected one of start, list, stop"),
        ({"action": "start", "twin": 99_999, "kind": "illness", "days": 1}, "unknown_twin",
         "twin 99999 does not exist"),
        ({"action": "start", "twin": "one"}, "bad_request",
         "field 'args.twin' must be int, got str"),
        ({"action": "start", "twin": 1, "kind": "flu", "days": 1}, "out_of_range",
         "field 'args.kind' holds 'flu', expected one of illness, medication, exercise, "
         "short_night"),
        ({"action": "start", "twin": 1, "kind": "illness", "days": 0}, "out_of_range",
         "field 'args.days' holds 0.0, expected more than 0, at most 366"),
        ({"action": "start", "twin": 1, "kind": "illness", "days": 1, "severity": 3},
         "bad_request", "field 'args.severity' must be str, got int"),
        ({"action": "start", "twin": 1, "kind": "medication", "days": 1}, "bad_request",
         "missing field 'args.drug'"),
        ({"action": "start", "twin": 1, "kind": "medication", "days": 1,
          "drug": "antihypertensive", "classes": 4}, "out_of_range",
         "field 'args.classes' holds 4, expected 1..3"),
        ({"action": "start", "twin": 1, "kind": "short_night", "days": 1, "hours": 0.5},
         "out_of_range", "field 'args.hours' holds 0.5, expected 1..8"),
        ({"action": "start", "twin": 1, "kind": "exercise", "days": 1, "factor": float("nan")},
         "out_of_range", "field 'args.factor' holds nan, expected 0..4"),
        ({"action": "start", "twin": 1, "kind": "illness", "days": 1, "start": "yesterday"},
         "bad_request", "args.start 'yesterday': expected a simulated local time "
         "YYYY-MM-DDTHH:MM:SS"),
        ({"action": "start", "twin": 1, "kind": "illness", "days": 1,
          "start": "2026-03-01T00:00:00"}, "out_of_range",
         "field 'args.start' holds 2026-03-01T00:00:00, expected {now} or later "
         "(simulated now)"),
        ({"action": "stop", "id": 4_000}, "out_of_range", "no scenario 4000"),
        ({"action": "start", "twin": 1, "kind": "illness", "days": 2,
          "start": "9999-12-31T00:00:00"}, "out_of_range",
         "field 'args.start' holds 9999-12-31T00:00:00, expected a scenario that ends by "
         "9999-12-31T23:59:59"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_with_short_errors_and_change_nothing(world, args, code, message):
    sim, _ = world
    handler = make_handler(world)
    before = dict(sim.world.resource(Scenarios).items)
    now = sim.world.clock.now.isoformat(timespec="seconds")
    assert error_of(ask(handler, "scenario", **args)) == (code, message.replace("{now}", now))
    assert sim.world.resource(Scenarios).items == before


def test_only_operators_may_start_list_or_stop_scenarios(world, tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    tokens = {role: store.create(role, role.name) for role in Role}
    handler = make_handler(world, store)
    for role in (Role.VIEWER, Role.ANALYST):
        answer = ask(handler, "scenario", token=tokens[role], action="list")
        assert error_of(answer)[0] == "forbidden"
    for role in (Role.OPERATOR, Role.ADMIN):
        assert ask(handler, "scenario", token=tokens[role], action="list").ok


def test_scenarios_and_their_effects_survive_a_checkpoint(tmp_path):
    config = load_config(None, twins=6, seed=2, tick_hz=1.0, time_scale=300.0, start=MONDAY)
    sim = build_simulation(config)
    try:
        twin = int(sim.world.ids[2])
        scenarios = sim.world.resource(Scenarios)
        scenarios.add(twin, "medication", 0.0, 5 * DAY_S, {"drug": "sulfonylurea", "classes": 1})
        scenarios.add(twin, "exercise", 0.0, 30 * DAY_S, {"factor": 2.0})
        scenarios.stop(2, 600.0)
        sim.loop.run_ticks(12)
        save_checkpoint(sim.world, sim.schedule, tmp_path / "w.ckpt")
        resumed = build_simulation(config, resume=tmp_path / "w.ckpt")
        try:
            assert resumed.world.resource(Scenarios).items == scenarios.items
            assert resumed.world.resource(Scenarios).next_id == 3
            sim.loop.run_ticks(30)
            resumed.loop.run_ticks(30)
            for name in (*SCENARIO_EFFECTS.names, "glucose_mgdl", "hr_bpm"):
                assert np.array_equal(resumed.world[name], sim.world[name]), name
        finally:
            resumed.close()
    finally:
        sim.close()


def test_no_acknowledged_scenario_is_lost_on_kill_9(tmp_path):
    proc, router = start_serve(tmp_path)
    try:
        assert wait_for(lambda: (tmp_path / "w.ckpt").is_file(), FIRST_CHECKPOINT_S)
        time.sleep(0.5)  # past the first checkpoint: the commands live in the journal only
        with RequestClient(router) as client:
            kept = client.call("scenario", action="start", twin=3, kind="medication", days=14,
                               drug="antihypertensive", classes=2)["scenario"]  # fmt: skip
            ended = client.call("scenario", action="start", twin=4, kind="illness", days=3)
            client.call("scenario", action="stop", id=ended["scenario"]["id"])
    finally:
        kill_hard(proc)  # right after the acks
    proc, router = start_serve(tmp_path, "--resume", str(tmp_path / "w.ckpt"))
    try:
        with RequestClient(router) as client:
            listed = client.call("scenario", action="list")["scenarios"]
        assert [(s["id"], s["twin"], s["kind"], s["stopped"]) for s in listed] == [
            (kept["id"], 3, "medication", False), (kept["id"] + 1, 4, "illness", True)
        ]  # fmt: skip
        assert listed[0]["args"] == {"drug": "antihypertensive", "classes": 2}
        assert listed[0]["start"] == kept["start"] and listed[0]["end"] == kept["end"]
    finally:
        kill_hard(proc)


SCENARIO_FILE = """
[[scenario]]
twin = 2
kind = "illness"
day = 1
days = 1
severity = "severe"
"""


def test_twin_simulate_puts_a_scenario_file_on_the_run_and_its_alert_fires(tmp_path):
    (tmp_path / "what_if.toml").write_text(SCENARIO_FILE)
    store = tmp_path / "h.duckdb"
    argv = ["simulate", "--twins", "4", "--days", "2", "--step-s", "300", "--quiet",
            "--start", "2026-03-02", "--out", str(tmp_path / "out"), "--store", str(store),
            "--scenario", str(tmp_path / "what_if.toml")]  # fmt: skip
    assert main(argv) == 0
    with duckdb.connect(str(store), read_only=True) as db:
        kept = db.execute("SELECT twin_id, kind, start FROM scenarios").fetchall()
        fired = db.execute("SELECT day FROM alerts WHERE twin_id = 2 AND rule = 'spo2_low'")
        days = [day for (day,) in fired.fetchall()]
    assert kept == [(2, "illness", datetime(2026, 3, 3))]
    assert days == [date(2026, 3, 3)]  # the severe illness's day, not the day before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("twin = 2", "expected [[scenario]] tables only"),
        ("[[scenario]]\ntwin = 2\nkind = 'illness'", "scenario 1: missing 'days'"),
        ("[[scenario]]\ntwin = 99\nkind = 'illness'\ndays = 1", "twin 99 does not exist"),
        ("[[scenario]]\ntwin = 2\nkind = 'illness'\ndays = 1\nseverity = 'grave'",
         "scenario 1: field 'scenario.severity' holds 'grave', expected one of mild, "
         "moderate, severe"),
        ("[[scenario]]\ntwin = 2\nkind = 'illness'\ndays = -1", "days in (0, 366]"),
        ("[[scenario", "not TOML"),
        ("[[scenario]]\ntwin = 2\nkind = 'illness'\nday = 1e9\ndays = 1",
         "scenario 1: it would end after 9999-12-31"),
    ],
)  # fmt: skip
def test_a_bad_scenario_file_gets_one_clear_line(tmp_path, capsys, text, message):
    (tmp_path / "bad.toml").write_text(text)
    argv = ["simulate", "--twins", "3", "--days", "1", "--quiet", "--out", str(tmp_path / "o"),
            "--scenario", str(tmp_path / "bad.toml")]  # fmt: skip
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1


def _exercise_minutes(factor: float) -> tuple[float, float]:
    """Every twin of the same world exercising ``factor`` times as often for two days: the
    minutes of exercise in all, and the mean resting-HR change of training at the end (bpm)."""
    config = load_config(None, twins=10, seed=6, tick_hz=1.0, time_scale=300.0, start=MONDAY)
    sim = build_simulation(config)
    try:
        scenarios = sim.world.resource(Scenarios)
        for twin in sim.world.ids.tolist():
            scenarios.add(twin, "exercise", 0.0, 30 * DAY_S, {"factor": factor})
        sim.loop.run_ticks(2 * 288)
        minutes = sum(float(day["min_exercise"].sum()) for day in sim.record.batches)
        return minutes, float(sim.world["scenario_hr_bpm"].mean())
    finally:
        sim.close()


def test_an_exercise_habit_change_changes_exercise_and_slowly_the_resting_heart_rate():
    more, trained = _exercise_minutes(3.0)
    none, detrained = _exercise_minutes(0.0)
    # the need for exercise no longer grows: what the twins started with (one bout) is all
    assert more > 3 * none, (more, none)
    # after 2 of 21 days' time constant: 1 - exp(-2/21) of -5 bpm (doubling or more) and +5
    assert trained == pytest.approx(-5.0 * (1 - np.exp(-2 / 21)), rel=0.02)
    assert detrained == pytest.approx(5.0 * (1 - np.exp(-2 / 21)), rel=0.02)


def test_overlapping_scenarios_add_and_the_shortest_night_holds(make_simulation):
    sim = make_simulation(twins=4, seed=3)
    twin = int(sim.world.ids[1])
    scenarios = sim.world.resource(Scenarios)
    for severity, hours in (("mild", 6.0), ("moderate", 4.0)):
        scenarios.add(twin, "illness", 0.0, DAY_S, {"severity": severity})
        scenarios.add(twin, "short_night", 0.0, DAY_S, {"hours": hours})
    sim.loop.run_ticks(120)  # two hours of minute ticks: the fevers at 1 - 1/e of their size
    w, row = sim.world, sim.world.row_of(twin)
    t_s = w.clock.elapsed_s - 60.0  # the effects of the last tick's start
    rise = -np.expm1(-t_s / 7200.0)
    assert w["scenario_temp_c"][row] == pytest.approx((0.6 + 1.5) * rise)
    assert w["scenario_step_factor"][row] == pytest.approx(0.8 * 0.6)
    assert w["scenario_exercise_factor"][row] == 0.0
    assert w["scenario_sleep_cap_h"][row] == 4.0
    others = np.arange(w.n) != row
    assert not w["scenario_temp_c"][others].any() and (w["scenario_sleep_cap_h"][others] == 0).all()


def test_a_removed_twin_takes_its_effects_along_and_keeps_its_scenarios(world):
    sim, _ = world
    handler = make_handler(world)
    twin, other = int(sim.world.ids[-1]), int(sim.world.ids[0])
    started = ask(handler, "scenario", action="start", twin=twin, kind="illness", days=1.0)
    assert ask(handler, "scenario", action="start", twin=other, kind="illness", days=1.0).ok
    sim.loop.run_ticks(2)
    assert sim.world["scenario_temp_c"][sim.world.row_of(twin)] > 0
    assert ask(handler, "despawn", ids=[twin]).ok
    sim.loop.run_ticks(2)
    everyone = ask(handler, "scenario", action="list").result["scenarios"]
    ill = {s["twin"] for s in everyone if s["kind"] == "illness"}  # fevers fade after the end
    feverish = set(sim.world.ids[sim.world["scenario_temp_c"] > 0].tolist())
    assert twin in ill and other in feverish and feverish <= ill - {twin}
    listed = ask(handler, "scenario", action="list", twin=twin).result["scenarios"]
    assert [s["id"] for s in listed] == [started.result["scenario"]["id"]]


def test_stacked_scenarios_stay_within_physiology(make_simulation):
    sim = make_simulation(twins=3, seed=5)
    twin = int(sim.world.ids[0])
    scenarios = sim.world.resource(Scenarios)
    stacked = [("illness", {"severity": "severe"})] * 4 + [
        ("medication", {"drug": "antihypertensive", "classes": 3}),
        ("medication", {"drug": "sulfonylurea", "classes": 1}),
        ("exercise", {"factor": 4.0}),
    ] * 4  # fmt: skip
    for kind, args in stacked:  # started long ago: every effect at full strength
        scenarios.add(twin, kind, -60 * DAY_S, 30 * DAY_S, args)
    sim.loop.run_ticks(240)  # four hours of minute ticks: the vitals at their targets
    w, row = sim.world, sim.world.row_of(twin)
    effects = {name: float(w[name][row]) for name in SCENARIO_EFFECTS.names}
    assert effects["scenario_temp_c"] == pytest.approx(2.5)  # one severe fever, not four
    assert effects["scenario_hr_bpm"] == pytest.approx(8.5 * 2.5 + 5.0)  # the bound, not 65
    assert effects["scenario_spo2_pct"] == pytest.approx(7.0)
    assert effects["scenario_sbp_mmhg"] == pytest.approx(-3 * 9.1)
    assert effects["scenario_dbp_mmhg"] == pytest.approx(-3 * 5.5)
    assert effects["scenario_glucose_mgdl"] == pytest.approx(-43.0)
    assert effects["scenario_exercise_factor"] == 0.0  # severe illness: none, however keen
    assert effects["scenario_lie_in"] == pytest.approx(0.07)
    assert 36.0 < w["core_temp_c"][row] < 41.0 and w["spo2_pct"][row] >= 80.0
    assert w["sbp_mmhg"][row] > 80.0 and w["dbp_mmhg"][row] > 45.0
