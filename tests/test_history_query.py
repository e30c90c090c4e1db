"""The record's queries (``engine.health_query``) on a crafted store: baselines are the means of
the days before, trends the least-squares slopes with their direction, groups and limits."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import numpy as np
import pytest

from synthtwin.engine.alerts import evaluate_day
from synthtwin.engine.config import AlertsConfig
from synthtwin.engine.health_query import (
    MAX_ALERTS,
    DayRange,
    HistoryError,
    list_alerts,
    population_daily,
    twin_baselines,
    twin_history,
)
from synthtwin.engine.health_store import HealthStore
from synthtwin.net.history_requests import ALERT_TOPIC, ALERTS_PER_POLL, HistoryRequests
from synthtwin.net.wire import event, topics

FIRST = date(2026, 2, 2)
DAYS = 40
TWIN = 3


@pytest.fixture
def store(tmp_path):
    """One twin over ``DAYS`` days: resting HR rising 0.5 bpm a day with noise, steps without a
    trend, day 20 without a resting HR; a second twin for the groups."""
    rng = np.random.default_rng(4)
    health = HealthStore(tmp_path / "h.duckdb")
    health.write("twins", {
        "twin_id": np.array([TWIN, 4], np.uint32), "age_y": np.array([34.0, 81.0], np.float32),
        "sex": np.array([0, 1], np.uint8), "employment": np.array([0, 3], np.uint8),
        "hypertension": np.array([False, True]), "diabetes": np.array([False, True]),
    })  # fmt: skip
    day = np.arange(DAYS)
    resting = (60.0 + 0.5 * day + rng.normal(0, 0.5, DAYS)).astype(np.float32)
    resting[20] = np.nan
    for twin in (TWIN, 4):
        health.write("daily", {
            "twin_id": np.full(DAYS, twin, np.uint32),
            "day": np.datetime64(FIRST, "D") + day,
            "resting_hr": resting, "sleep_hours": np.full(DAYS, 7.0, np.float32),
            "steps": rng.integers(7000, 9000, DAYS).astype(np.int32),
            "sbp_mean": np.full(DAYS, 120.0, np.float32),
            "dbp_mean": np.full(DAYS, 80.0, np.float32),
            **{name: np.full(DAYS, 1.0, np.float32) for name in (
                "mean_hr", "glucose_mean", "spo2_mean", "energy_kcal")},
        })  # fmt: skip
    yield health, resting
    health.close()


def test_baselines_are_the_means_of_the_days_before(store):
    health, resting = store
    last = FIRST + timedelta(days=DAYS - 1)
    result = twin_baselines(health.cursor(), TWIN, DayRange(FIRST + timedelta(days=10), last))
    columns = result["columns"]
    assert (
        columns["day"][0] == (FIRST + timedelta(days=10)).isoformat() and len(columns["day"]) == 30
    )
    assert columns["resting_hr_7d"][0] == pytest.approx(np.mean(resting[3:10]), rel=1e-5)
    assert columns["resting_hr_28d"][0] == pytest.approx(np.mean(resting[:10]), rel=1e-5)
    # day 24's 7-day baseline skips day 20, which has no value
    assert columns["resting_hr_7d"][14] == pytest.approx(np.nanmean(resting[17:24]), rel=1e-5)
    assert np.isnan(columns["resting_hr"][10])


def test_trends_have_a_slope_and_a_direction_only_when_significant(store):
    health, _ = store
    last = FIRST + timedelta(days=DAYS - 1)
    trends = twin_baselines(health.cursor(), TWIN, DayRange(last, last))["trends"]
    assert trends["resting_hr"]["direction"] == "up" and trends["resting_hr"]["days"] == 27
    assert trends["resting_hr"]["slope_per_day"] == pytest.approx(0.5, abs=0.05)
    assert trends["steps"]["direction"] == "flat"
    assert trends["sleep_hours"] == {"slope_per_day": 0.0, "change": 0.0, "days": 28,
                                     "direction": "flat"}  # fmt: skip


def test_population_groups_and_query_limits(store):
    health, _ = store
    days = DayRange(FIRST, FIRST + timedelta(days=1))
    result = population_daily(health.cursor(), days, "condition")
    assert result["groups"][result["columns"]["group"][0]] == "none"
    assert result["groups"][result["columns"]["group"][1]] == "hypertension+diabetes"
    bands = population_daily(health.cursor(), days, "age_band")
    assert [bands["groups"][g] for g in bands["columns"]["group"][:2]] == ["30-39", "80+"]
    with pytest.raises(HistoryError, match="at most 7 at this resolution"):
        DayRange.checked(FIRST, FIRST + timedelta(days=7), 7)
    with pytest.raises(HistoryError, match="twin 99 has no health record") as err:
        twin_history(health.cursor(), 99, days, "day")
    assert err.value.code == "unknown_twin"
    assert twin_history(health.cursor(), TWIN, days, "minute")["columns"] == {}  # no samples yet


def test_each_alert_rule_fires_on_its_onset_day_and_only_then(tmp_path):
    health = HealthStore(tmp_path / "alerts.duckdb")
    days = 33
    day = np.datetime64(FIRST, "D") + np.arange(days)
    resting = np.full(days, 60.0, np.float32)
    resting[30:] = 75.0  # +15 bpm from day 30 on: the 2-day rise starts on day 31
    sleep = np.full(days, 7.5, np.float32)
    sleep[[27, 29, 31]] = 5.0  # the third short night of five on day 31
    sbp = np.full(days, 120.0, np.float32)
    sbp[31] = 145.0
    health.write("daily", {
        "twin_id": np.full(days, TWIN, np.uint32), "day": day, "resting_hr": resting,
        "sleep_hours": sleep, "sbp_mean": sbp, "dbp_mean": np.full(days, 75.0, np.float32),
    })  # fmt: skip
    minutes = 1440
    spo2 = np.full(minutes, 97.0, np.float32)
    spo2[600:612] = 90.0  # 12 minutes low
    glucose = np.full(minutes, 100.0, np.float32)
    glucose[700:710] = 200.0  # 10 minutes high: not enough
    crisis = np.full(minutes, 120.0, np.float32)
    crisis[800] = 185.0
    health.write("vitals", {
        "twin_id": np.full(minutes, TWIN, np.uint32),
        "t": (np.datetime64(FIRST + timedelta(days=31), "m") + np.arange(minutes)).astype("M8[us]"),
        "spo2_pct": spo2, "glucose_mgdl": glucose, "sbp_mmhg": crisis,
        "dbp_mmhg": np.full(minutes, 80.0, np.float32),
    })  # fmt: skip
    rules = AlertsConfig()
    fired = evaluate_day(health.db, FIRST + timedelta(days=31), rules, 60.0)
    found = dict(zip(fired["rule"].tolist(), fired["value"].tolist(), strict=True))
    assert found == pytest.approx(
        {
            "resting_hr_rise": 75.0 - (27 * 60.0 + 75.0) / 28,  # day 30 is in the baseline
            "short_sleep": 3.0,
            "bp_day_mean": 145.0,
            "spo2_low": 12.0,
            "bp_crisis": 185.0,
        }
    )
    assert set(fired["twin_id"].tolist()) == {TWIN} and fired["alert_id"].tolist() == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert not evaluate_day(health.db, FIRST + timedelta(days=32), rules, 60.0)["rule"].size
    again = evaluate_day(health.db, FIRST + timedelta(days=31), rules, 60.0)  # replaces, no twin
    assert again["alert_id"].tolist() == [6, 7, 8, 9, 10]  # an id sent once names no other alert
    assert health.db.execute("SELECT count(*) FROM alerts").fetchone()[0] == 5
    health.close()


def test_fired_alerts_are_published_as_event_alert_at_the_next_poll(tmp_path):
    health = HealthStore(tmp_path / "h.duckdb")
    world = SimpleNamespace(tick=90, clock=SimpleNamespace(elapsed_s=5400.0, date=FIRST))
    sent = []
    waiting = [[{"alert_id": 3, "twin_id": TWIN, "day": date(2026, 2, 2), "rule": "spo2_low",
                 "value": 12.0}]]  # fmt: skip
    requests = HistoryRequests(
        health, world, lambda topic, payload_at: sent.append((topic, payload_at(17))) or True,
        lambda: waiting.pop() if waiting else [],
    )  # fmt: skip
    try:
        assert requests.finished() == [] and requests.finished() == []
    finally:
        requests.close()
        health.close()
    [(topic, payload)] = sent
    message = event.decode(payload)
    assert topic == ALERT_TOPIC == topics.topic_for("event", event_type="alert")
    assert (message.tick, message.seq, message.t_s, message.type, message.twin_id) == (
        90,
        17,
        5400.0,
        "alert",
        TWIN,
    )
    assert message.data == {"alert_id": 3, "rule": "spo2_low", "day": "2026-02-02", "value": 12.0}


def test_a_days_alerts_are_published_a_bounded_number_a_poll(tmp_path):
    """Thousands of alerts fire when a day of a large population closes: at most
    ``ALERTS_PER_POLL`` go out a poll (a bounded cost for the tick), every one in order."""
    health = HealthStore(tmp_path / "h.duckdb")
    world = SimpleNamespace(tick=90, clock=SimpleNamespace(elapsed_s=5400.0, date=FIRST))
    sent: list[int] = []
    fired = [{"alert_id": i, "twin_id": i, "day": FIRST, "rule": "bp_day_mean", "value": 150.0}
             for i in range(1, 2 * ALERTS_PER_POLL + 11)]  # fmt: skip
    waiting = [fired]
    requests = HistoryRequests(
        health, world,
        lambda topic, payload_at: sent.append(event.decode(payload_at(1)).data["alert_id"]),
        lambda: waiting.pop() if waiting else [],
    )  # fmt: skip
    try:
        per_poll = []
        for _ in range(4):
            before = len(sent)
            requests.finished()
            per_poll.append(len(sent) - before)
    finally:
        requests.close()
        health.close()
    assert per_poll == [ALERTS_PER_POLL, ALERTS_PER_POLL, 10, 0]
    assert sent == [a["alert_id"] for a in fired]


def test_an_alerts_query_over_more_than_max_alerts_is_refused_with_the_count(tmp_path):
    """The reply of a listing is encoded between two ticks: one of a month of a large
    population (~110,000 rows) took ~90 ms; past ``MAX_ALERTS`` the query is refused, and one
    twin's or fewer days' alerts are listed."""
    health = HealthStore(tmp_path / "h.duckdb")
    health.db.execute(
        "CREATE TABLE alerts AS SELECT range + 1 AS alert_id, (range % 100)::UINTEGER AS twin_id, "
        f"DATE '{FIRST}' + (range // 1000)::INTEGER AS day, 'bp_day_mean' AS rule, "
        f"150.0::FLOAT AS value, false AS acknowledged FROM range({MAX_ALERTS + 1000})"
    )
    db = health.cursor()
    try:
        with pytest.raises(HistoryError, match=f"{MAX_ALERTS + 1000} alerts from ") as err:
            list_alerts(db, DayRange(FIRST, FIRST + timedelta(days=30)), None)
        assert err.value.code == "out_of_range" and f"at most {MAX_ALERTS} a query" in str(
            err.value
        )
        one_twin = list_alerts(db, DayRange(FIRST, FIRST + timedelta(days=30)), 7)
        assert one_twin["counts"] == {"bp_day_mean": (MAX_ALERTS + 1000) // 100}
        one_day = list_alerts(db, DayRange(FIRST, FIRST), None)
        assert len(one_day["columns"]["alert_id"]) == 1000
    finally:
        db.close()
        health.close()
