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

Variation within a person: daily resting heart rate of 92,457 Fitbit users (Quer et al. 2020,
PLoS One 15:e0227709: stable for most people, but 20 % have at least one week in which it moves
by 10 bpm or more; highest in January, lowest in July), nightly resting heart rate of Oura users
(Sleep 2019, 42 suppl. 1, abstract 1200: ~2 bpm higher in winter, +1.6 bpm at weekends), colds
(Heikkinen & Jarvinen 2003, Lancet 361:51: 2-4 a year in adults), the nocturnal dip of blood
pressure (O'Brien, Sheridan & O'Malley 1988, Lancet 2:397: 10-20 %) and of heart rate (Burgess et
al. 1997, Am J Physiol 273:H1761), steps lowest on Sundays (Jaeschke et al. 2018, BMC Public
Health, 24 h accelerometry over two weeks).
"""

from datetime import date, timedelta

import numpy as np
import pytest

from synthtwin.components.activity import CATEGORIES, Activity
from synthtwin.kernels import physiology
from synthtwin.kernels.numba.physiology import day_variation
from tests.conftest import small_simulation

YEAR_TWINS = 2000
YEAR_START = date(2026, 1, 5)  # a Monday
YEAR_WEEKS = 52


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


def test_resting_pulse_tails_match_nhanes_by_sex(daily_with_people):
    """Ostchega et al. 2011: bradycardia in 15.2 % of men and 6.9 % of women, tachycardia in
    1.3 % and 1.9 % (each twin's mean measured resting HR over the week; 400 twins)."""
    daily, people = daily_with_people
    ids, first = np.unique(daily["twin_id"], return_index=True)
    mean_rhr = np.array([np.nanmean(daily["resting_hr"][daily["twin_id"] == i]) for i in ids])
    male = people["sex"][first] == 1
    assert 0.07 <= (mean_rhr[male] < 60).mean() <= 0.26
    assert 0.02 <= (mean_rhr[~male] < 60).mean() <= 0.14
    assert (mean_rhr >= 100).mean() <= 0.05


def test_resting_hr_varies_from_day_to_day_but_stays_near_the_persons_own(week):
    """Never flat (the issue found 0.0005 bpm over 14 days), yet stable for most people (Quer
    et al. 2020): the median within-person SD over the week is 1-4 bpm."""
    _, daily = week
    sds = np.array(
        [np.nanstd(daily["resting_hr"][daily["twin_id"] == i]) for i in np.unique(daily["twin_id"])]
    )
    assert (sds > 0.2).all()
    assert 1.0 <= np.median(sds) <= 4.0


def test_steps_are_lowest_on_sunday(daily_with_people):
    daily, _ = daily_with_people
    by_day = np.array([daily["steps"][daily["weekday"] == k].mean() for k in range(7)])
    assert by_day[6] < by_day[:5].mean()


@pytest.fixture(scope="module")
def year():
    """The day model (``day_variation``) of 2,000 twins over 52 weeks from a Monday in January:
    ``(364, N)`` resting-HR offsets and activity factors."""
    keys = np.arange(1, YEAR_TWINS + 1, dtype=np.float64) * 7919.0
    age = np.full(YEAR_TWINS, 45.0, np.float32)
    rhr, factor = np.zeros((7 * YEAR_WEEKS, YEAR_TWINS)), np.zeros((7 * YEAR_WEEKS, YEAR_TWINS))
    for d in range(7 * YEAR_WEEKS):
        day = YEAR_START + timedelta(days=d)
        out = [np.zeros(YEAR_TWINS) for _ in range(2)]
        out += [np.zeros(YEAR_TWINS, np.float32) for _ in range(3)]
        day_variation(d, day.timetuple().tm_yday - 1, day.weekday(), keys, age, *out)
        rhr[d], factor[d] = out[0], out[2]
    return rhr, factor


def test_a_fifth_of_people_have_a_week_with_a_10_bpm_swing(year):
    """Quer et al. 2020: 20 % of people had at least one week in which their daily resting
    heart rate moved by 10 bpm or more (over a median of 320 days)."""
    rhr, _ = year
    weeks = rhr.reshape(YEAR_WEEKS, 7, -1)
    swing = weeks.max(axis=1) - weeks.min(axis=1)
    assert 0.12 <= (swing >= 10.0).any(axis=0).mean() <= 0.35


def test_resting_hr_is_higher_in_winter_and_at_weekends(year):
    """Highest in January and lowest in July (Quer et al. 2020), ~2 bpm apart (Oura users);
    +1.6 bpm at weekends (Oura users)."""
    rhr, _ = year
    january, july = rhr[:26].mean(), rhr[177:205].mean()
    assert 1.0 <= january - july <= 3.0
    weekday = np.array([(YEAR_START + timedelta(days=d)).weekday() for d in range(len(rhr))])
    weekend_rise = rhr[weekday >= 5].mean() - rhr[weekday < 5].mean()
    assert weekend_rise == pytest.approx(1.6, abs=0.4)


def test_adults_catch_two_to_four_colds_a_year():
    """Heikkinen & Jarvinen 2003: adults have 2-4 colds a year, each lasting 7-10 days."""
    keys = np.arange(1, 301, dtype=np.float64) * 104729.0
    onsets, days_ill = 0, 0
    for key in keys:
        ill = [physiology.excursion_effects(key, float(d), 0)[0] > 0.0 for d in range(730)]
        onsets += sum(now and not was for was, now in zip([False, *ill[:-1]], ill, strict=True))
        days_ill += sum(ill)
    per_year = onsets / (2 * len(keys))
    assert 1.8 <= per_year <= 4.0
    assert 5.0 <= days_ill / onsets <= 10.0


@pytest.fixture(scope="module")
def nights():
    """60 twins over two days, minute by minute: ``(daily, series)``, ``series`` mapping
    ``hr_bpm``, ``sbp_mmhg``, ``activity``, ``mets`` and ``activity_start_s`` to ``(2880, 60)``
    arrays, one row a minute."""
    sim = small_simulation(twins=60, seed=23)
    w = sim.world
    series = {name: [] for name in ("hr_bpm", "sbp_mmhg", "activity", "mets", "activity_start_s")}
    for _ in range(2 * 1440):
        sim.loop.step()
        for name, rows in series.items():
            rows.append(w[name].copy())
    yield sim.record.columns(), {name: np.array(rows) for name, rows in series.items()}
    sim.close()


def test_nobody_sleeps_above_their_own_resting_hr_and_bp_dips_at_night(nights):
    daily, series = nights
    minute_s = 60.0
    t_s = minute_s * np.arange(1, 2 * 1440 + 1)[:, None]
    settled = t_s - series["activity_start_s"] >= 15 * minute_s
    asleep = (series["activity"] == Activity.SLEEP) & settled
    resting = ~asleep & (series["mets"] <= 1.3) & settled
    hr, sbp = series["hr_bpm"], series["sbp_mmhg"]
    for twin in range(hr.shape[1]):
        for day in range(2):
            rows = slice(day * 1440, (day + 1) * 1440)
            sleep_hr = hr[rows, twin][asleep[rows, twin]]
            rest_hr = daily["resting_hr"][day * hr.shape[1] + twin]
            if sleep_hr.size < 120 or np.isnan(rest_hr):
                continue
            assert sleep_hr.mean() < rest_hr, (twin, day)
            assert np.percentile(sleep_hr, 90) < rest_hr + 1.0, (twin, day)
            assert sleep_hr.std() > 0.3, (twin, day)
    hr_dip = 1.0 - hr[asleep].mean() / hr[resting].mean()
    sbp_dip = 1.0 - sbp[asleep].mean() / sbp[resting].mean()
    assert 0.05 <= hr_dip <= 0.20
    assert 0.08 <= sbp_dip <= 0.20


def test_steps_and_sleep_vary_within_a_person_as_in_cohorts(week):
    """Day-to-day variation within a person: over two weeks of 24 h accelerometry, 54.5-65.6 %
    of the variance of daily physical activity is within-person (Jaeschke et al. 2018); the
    night-to-night SD of a person's sleep duration is of the order of an hour (Bei et al. 2016,
    Sleep Med Rev 28:108, review of intraindividual sleep variability)."""
    _, daily = week
    ids = daily["twin_id"]
    people = np.unique(ids)
    steps = daily["steps"].astype(np.float64)
    within = np.mean([steps[ids == i].var(ddof=1) for i in people])
    assert 0.4 <= within / steps.var(ddof=1) <= 0.75
    sleep_sd = [daily["sleep_hours"][ids == i].std(ddof=1) for i in people]
    assert 0.4 <= np.median(sleep_sd) <= 1.5
