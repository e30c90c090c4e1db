"""Every alert rule of ``engine.alerts`` driven by a scenario, and one stopped by a scenario: one
real headless week of 16 twins (5-minute ticks) writing a real DuckDB record with the default
rules, each twin given the scenario a person would need for that rule to fire.

Each rule is checked both ways: it fires for its twin after the scenario starts and not in the
days before (the same twin, unchanged, did not fire it), so no test passes on a rule that fires
for anyone.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pytest

from synthtwin.components.scenario import Scenarios, scenario_args
from synthtwin.engine.app.record import Recorder
from synthtwin.engine.app.simulate import run_headless
from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.config import AlertsConfig, load_config
from synthtwin.engine.health_query import DayRange, twin_history

START = datetime(2026, 3, 2)  # a Monday
DAYS = 7
DAY_S = 86_400.0
STEP_S = 300.0


def _day(index: int) -> date:
    return START.date() + timedelta(days=index)


def _roles(world) -> dict[str, int]:
    """Twin ids by role, each twin once: the one a rule needs first (the fastest resting heart
    rate for a severe illness, the highest pressures for the antihypertensive, the highest
    fasting glucose of a twin without diabetes, whose glucose is not high already, a normal
    pressure for stopping antihypertensives), then any."""
    ids = world.ids.tolist()
    free = list(range(len(ids)))
    roles = {}

    def take(role: str, score: np.ndarray | None = None) -> None:
        row = free[int(np.argmax(score[free]))] if score is not None else free[0]
        free.remove(row)
        roles[role] = ids[row]

    take("severe", world["rhr_bpm"])
    take("treated", world["sbp_rest_mmhg"] + world["dbp_rest_mmhg"])
    take("metformin", np.where(world["diabetes"], 0.0, world["glucose_basal_mgdl"]))
    take("withdrawal", -np.abs(world["sbp_rest_mmhg"] - 125.0))
    for role in ("moderate", "sulfonylurea", "short_night"):
        take(role)
    return roles


SCENARIOS = {
    "moderate": ("illness", {"severity": "moderate"}, 3, 7),
    "severe": ("illness", {"severity": "severe"}, 3, 6),
    "withdrawal": ("medication", {"drug": "antihypertensive_stop", "classes": 3}, 2, 7),
    "metformin": ("medication", {"drug": "metformin_stop"}, 2, 7),
    "sulfonylurea": ("medication", {"drug": "sulfonylurea"}, 3, 5),
    "short_night": ("short_night", {"hours": 4.5}, 3, 7),
    "treated": ("medication", {"drug": "antihypertensive", "classes": 3}, 2, 7),
}
"""Role: (kind, arguments, first day, end day)."""


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    """The alerts of the week by (twin, rule): the days they fired on; the roles; the store."""
    folder = tmp_path_factory.mktemp("scenario_week")
    config = load_config(
        None, twins=16, seed=3, tick_hz=1.0, time_scale=STEP_S, start=START,
        history={"minute_s": STEP_S},
    )  # fmt: skip
    recorder = Recorder(folder / "h.duckdb", config.history, blocking=True, alerts=AlertsConfig())
    sim = build_simulation(config, record=recorder.sink)
    try:
        recorder.align(sim.world)
        roles = _roles(sim.world)
        scenarios = sim.world.resource(Scenarios)
        for role, (kind, args, first, end) in SCENARIOS.items():
            scenarios.add(roles[role], kind, first * DAY_S, end * DAY_S, scenario_args(kind, args))
        run_headless(sim, DAYS, folder / "out", recorder=recorder)
    finally:
        recorder.close()
        sim.close()
    store = folder / "h.duckdb"
    with duckdb.connect(str(store), read_only=True) as db:
        rows = db.execute("SELECT twin_id, rule, day FROM alerts ORDER BY day").fetchall()
    fired: dict[tuple[int, str], list[date]] = {}
    for twin, rule, day in rows:
        fired.setdefault((twin, rule), []).append(day)
    return fired, roles, store


@pytest.mark.parametrize(
    ("role", "rule"),
    [
        ("moderate", "resting_hr_rise"),
        ("severe", "resting_tachycardia"),
        ("severe", "spo2_low"),
        ("withdrawal", "bp_day_mean"),
        ("withdrawal", "bp_crisis"),
        ("metformin", "glucose_high"),
        ("sulfonylurea", "glucose_low"),
        ("short_night", "short_sleep"),
    ],
)
def test_a_scenario_makes_its_rule_fire_and_not_before(week, role, rule):
    fired, roles, _ = week
    days = fired.get((roles[role], rule), [])
    first = SCENARIOS[role][2]
    assert days, f"{rule} never fired for the {role} twin {roles[role]}: {fired}"
    assert min(days) >= _day(first), f"{rule} fired before the scenario started: {days}"


def test_fever_rules_fire_on_the_days_a_person_would_see_them(week):
    fired, roles, _ = week
    # a rise of 10 bpm on 2 consecutive days: once, on the illness's second day
    assert fired[(roles["moderate"], "resting_hr_rise")] == [_day(4)]
    # three nights under 6 h among five: once, by the third short night (the run's first day,
    # from midnight, holds only the end of a night, so it may count as the first of three)
    assert fired[(roles["short_night"], "short_sleep")] in ([_day(4)], [_day(5)])
    # the sulfonylurea's hypoglycaemia ends with it (its effect fades within a day)
    assert max(fired[(roles["sulfonylurea"], "glucose_low")]) <= _day(5)


def test_an_antihypertensive_makes_the_bp_rule_stop_firing(week):
    fired, roles, _ = week
    days = fired.get((roles["treated"], "bp_day_mean"), [])
    assert _day(0) in days and _day(1) in days, f"the untreated twin did not fire: {days}"
    assert not [d for d in days if d >= _day(5)], f"it still fired on treatment: {days}"


def test_each_scenario_is_in_the_record(week):
    _, roles, store = week
    with duckdb.connect(str(store), read_only=True) as db:
        rows = db.execute(
            'SELECT twin_id, kind, args, start, "end", stopped FROM scenarios ORDER BY scenario_id'
        ).fetchall()
    assert len(rows) == len(SCENARIOS)
    for (twin, kind, args, start, end, stopped), (role, (k, _, first, last)) in zip(
        rows, SCENARIOS.items(), strict=True
    ):
        assert (twin, kind, stopped) == (roles[role], k, False)
        assert (start, end) == (START + timedelta(days=first), START + timedelta(days=last))
        assert args.startswith("{")


def test_a_twins_history_shows_its_scenarios(week):
    _, roles, store = week
    with duckdb.connect(str(store), read_only=True) as db:
        days = DayRange(_day(0), _day(DAYS - 1))
        shown = twin_history(db, roles["treated"], days, "day")["scenarios"]
        before = twin_history(db, roles["treated"], DayRange(_day(0), _day(1)), "day")
    assert shown["kind"] == ["medication"] and shown["start"] == ["2026-03-04T00:00:00"]
    assert json.loads(shown["args"][0]) == {"drug": "antihypertensive", "classes": 3}
    assert len(before["scenarios"]["kind"]) == 0  # it started after that range


def test_an_ill_twin_walks_less_and_runs_a_fever(week):
    _, roles, store = week
    with duckdb.connect(str(store), read_only=True) as db:
        rows = db.execute(
            "SELECT day, steps, temp_mean, resting_hr FROM daily WHERE twin_id = ? ORDER BY day",
            [roles["severe"]],
        ).fetchall()
    well = [r for r in rows if _day(1) <= r[0] <= _day(2)]
    ill = [r for r in rows if _day(3) <= r[0] <= _day(5)]
    mean = lambda rows, k: float(np.mean([r[k] for r in rows]))  # noqa: E731
    assert mean(ill, 1) < 0.5 * mean(well, 1)  # steps: 30 % of the usual at full severity
    assert mean(ill, 2) - mean(well, 2) > 2.0  # a fever of 2.5 deg C over most of the day
    assert mean(ill, 3) - mean(well, 3) > 15.0  # +8.5 bpm per deg C
