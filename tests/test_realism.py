"""Population-level realism of one simulated week, against published norms.

Time use: American Time Use Survey 2023 (BLS, Table 1, persons 15+, annual averages; hours a
day): sleeping 9.0, eating and drinking 1.1, household activities 2.0, purchasing 0.7, caring for
others 0.7, working 3.6, education 0.4, leisure and sports 5.2 (of which socializing 0.6 and
sports and exercise 0.3), travel ~1.2; employed people work most on weekdays, and everyone has more
leisure and sleep at weekends. Our twins are adults (18+), so education is lower.

Vitals: NHANES resting pulse (Ostchega et al. 2011, NHSR 41: women 3-4 bpm above men), NHANES blood
pressure means, glucose of healthy adults on continuous monitors (Shah et al. 2019, JCEM 104:4356:
mean ~99 mg/dL, 96 % of time in 70-140), daily steps (Tudor-Locke et al. 2009, NHANES 2005-2006,
pedometer-equivalent ~6,500, fewer with age), self-reported sleep (NHANES 2017-2020: ~7.5 h).
"""

import numpy as np
import pytest

from synthtwin.components.activity import CATEGORIES


def hours(daily, category, mask=None):
    values = daily[f"min_{category}"] / 60.0
    return float(values[mask].mean() if mask is not None else values.mean())


@pytest.fixture(scope="module")
def daily_with_people(week):
    sim, daily = week
    rows = sim.world.rows_of(daily["twin_id"])
    people = {
        k: sim.world[k][rows] for k in ("employed", "sex", "age_y", "hypertension", "diabetes")
    }
    return daily, people


def test_every_day_of_every_twin_sums_to_1440_minutes(week):
    _, daily = week
    total = sum(daily[f"min_{c}"].astype(np.float64) for c in CATEGORIES)
    np.testing.assert_allclose(total, 1440.0, atol=1e-3)
    assert len(daily["twin_id"]) == 400 * 7


def test_time_use_matches_atus_averages(week):
    _, daily = week
    expected = {  # (low, high) hours a day, around ATUS 2023 for adults
        "sleep": (8.3, 9.6),
        "personal_care": (0.4, 1.1),
        "eating": (0.8, 1.5),
        "household": (1.3, 2.5),
        "work": (2.6, 4.2),
        "shopping": (0.3, 1.0),
        "caring": (0.2, 0.9),
        "leisure": (3.8, 6.0),
        "socializing": (0.3, 1.0),
        "exercise": (0.1, 0.5),
        "travel": (0.6, 1.6),
    }
    for category, (low, high) in expected.items():
        assert low <= hours(daily, category) <= high, category
    assert all(daily[f"min_{c}"].sum() > 0 for c in CATEGORIES if c != "education")


def test_employed_twins_work_on_weekdays_and_rest_at_weekends(daily_with_people):
    daily, people = daily_with_people
    weekday = daily["weekday"] < 5
    employed = people["employed"]
    on_weekdays = hours(daily, "work", employed & weekday)
    at_weekends = hours(daily, "work", employed & ~weekday)
    assert 5.5 <= on_weekdays <= 8.5
    assert at_weekends < 0.5 * on_weekdays
    assert hours(daily, "work", ~employed) < 0.5


def test_weekends_have_more_leisure_and_sleep(daily_with_people):
    daily, _ = daily_with_people
    weekday = daily["weekday"] < 5
    assert hours(daily, "leisure", ~weekday) > hours(daily, "leisure", weekday) + 0.5
    assert hours(daily, "sleep", ~weekday) > hours(daily, "sleep", weekday) + 0.2


def test_women_do_more_household_work_than_men(daily_with_people):
    daily, people = daily_with_people
    female = people["sex"] == 0
    assert hours(daily, "household", female) > hours(daily, "household", ~female) + 0.3


def test_resting_pulse_matches_nhanes_by_sex(daily_with_people):
    daily, people = daily_with_people
    rest = daily["resting_hr"]
    female = people["sex"] == 0
    assert 66 <= np.nanmean(rest) <= 80
    assert 1.5 <= np.nanmean(rest[female]) - np.nanmean(rest[~female]) <= 6.5


def test_blood_pressure_rises_with_age_and_hypertension(daily_with_people):
    daily, people = daily_with_people
    sbp, dbp = daily["sbp_mean"], daily["dbp_mean"]
    assert 108 <= sbp.mean() <= 132 and 60 <= dbp.mean() <= 80
    age = people["age_y"]
    assert sbp[age >= 60].mean() > sbp[age < 40].mean() + 8
    htn = people["hypertension"]
    assert sbp[htn].mean() > sbp[~htn].mean() + 8


def test_glucose_of_healthy_twins_matches_cgm_norms_and_diabetes_raises_it(daily_with_people):
    daily, people = daily_with_people
    healthy = ~people["diabetes"]
    assert 90 <= daily["glucose_mean"][healthy].mean() <= 112
    assert np.percentile(daily["glucose_max"][healthy], 95) < 190
    assert daily["glucose_mean"][~healthy].mean() > 130


def test_daily_steps_match_pedometer_norms_and_fall_with_age(daily_with_people):
    daily, people = daily_with_people
    steps = daily["steps"]
    assert 4_500 <= steps.mean() <= 10_000
    assert steps[people["age_y"] >= 65].mean() < steps[people["age_y"] < 40].mean()


def test_sleep_and_other_vitals_are_within_adult_norms(daily_with_people):
    daily, people = daily_with_people
    assert 6.8 <= daily["sleep_hours"].mean() <= 8.3
    assert 95 <= daily["spo2_mean"].mean() <= 99
    assert 36.5 <= daily["temp_mean"].mean() <= 37.2
    assert 12 <= daily["rr_mean"].mean() <= 20
    assert (daily["max_hr"] <= 208 - 0.7 * people["age_y"] + 1e-3).all()
