"""The record's queries (``engine.health_query``) on a crafted store: baselines are the means of
the days before, trends the least-squares slopes with their direction, groups and limits."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from synthtwin.engine.health_query import (
    DayRange,
    HistoryError,
    population_daily,
    twin_baselines,
    twin_history,
)
from synthtwin.engine.health_store import HealthStore

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
