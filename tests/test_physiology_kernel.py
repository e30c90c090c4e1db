"""Each physiology model against its published behaviour, through the numba driver.

The scalar equations live in ``kernels/physiology.py``; these tests drive them the way the engine
does, through ``kernels.numba.physiology.step_physiology`` on a few twins (N <= 64).
"""

from __future__ import annotations

import dataclasses
import inspect
import math

import numpy as np
import pytest

from synthtwin.components.physiology import PHYSIOLOGY_KERNEL_ARGS as ARGS
from synthtwin.components.physiology import KernelArgs
from synthtwin.components.scenario import SCENARIO_KERNEL
from synthtwin.kernels import physiology
from synthtwin.kernels.numba.physiology import sleep_thresholds, step_physiology

HEALTHY = {
    "rhr_bpm": 60.0,
    "hrmax_bpm": 180.0,
    "vo2max_mets": 12.0,
    "sbp_rest_mmhg": 120.0,
    "dbp_rest_mmhg": 75.0,
    "rr_rest_brpm": 14.0,
    "spo2_rest_pct": 97.5,
    "weight_kg": 70.0,
    "glucose_basal_mgdl": 90.0,
    "insulin_basal_uu_ml": 8.0,
    "insulin_sensitivity": 1.0,
    "insulin_secretion": 1.0,
    "circadian_phase_h": 0.0,
}
TYPE2_DIABETES = {
    "glucose_basal_mgdl": 150.0,
    "insulin_basal_uu_ml": 15.0,
    "insulin_sensitivity": 0.3,
    "insulin_secretion": 0.4,
}
OGTT_CARBS_G = 75.0


def make_twins(n: int, **params: float | list[float]) -> dict[str, np.ndarray]:
    """Columns of ``n`` healthy resting twins, awake at their basal state; ``params`` override.

    Today's offsets and the wander amplitudes are 0 unless given, so the models are exact.

    Parameters and inputs are ``(n,) float32`` (``asleep`` bool), state and accumulators
    ``(n,) float64``, as the engine stores them.
    """
    cols = {
        name: np.broadcast_to(np.float32(params.get(name, default)), (n,)).copy()
        for name, default in HEALTHY.items()
    }
    cols["mets"] = np.ones(n, np.float32)
    cols["cadence_spm"] = np.zeros(n, np.float32)
    cols["asleep"] = np.zeros(n, np.bool_)
    cols["carbs_g"] = np.zeros(n, np.float32)
    calm = {  # no offsets and no wander: the deterministic models alone
        "rhr_offset_bpm": 0.0,
        "bp_offset_mmhg": 0.0,
        "hr_noise_cv": 0.0,
        "sbp_noise_mmhg": 0.0,
        "variation_key": 1.0,
        **{column.name: 0.0 for column in SCENARIO_KERNEL},  # no scenario
    }
    for column in ARGS.inputs:
        if column.name in calm:
            value = params.get(column.name, calm[column.name])
            cols[column.name] = np.broadcast_to(np.asarray(value, column.dtype), (n,)).copy()
    basal = {
        "hr_bpm": cols["rhr_bpm"],
        "sbp_mmhg": cols["sbp_rest_mmhg"],
        "dbp_mmhg": cols["dbp_rest_mmhg"],
        "rr_brpm": cols["rr_rest_brpm"],
        "spo2_pct": cols["spo2_rest_pct"],
        "core_temp_c": physiology.CORE_TEMP_MEAN_C,
        "glucose_mgdl": cols["glucose_basal_mgdl"],
        "insulin_uu_ml": cols["insulin_basal_uu_ml"],
        "insulin_action_per_min": 0.0,
        "gut1_mg": 0.0,
        "gut2_mg": 0.0,
        "sleep_pressure": 0.3,
        "hr_noise": 0.0,
        "bp_noise": 0.0,
        "noise_draws": 0.0,
    }
    for column in ARGS.state:
        cols[column.name] = np.broadcast_to(np.float64(basal[column.name]), (n,)).copy()
    for column in ARGS.accumulators:
        cols[column.name] = np.zeros(n, np.float64)
    return cols


def tick(cols: dict[str, np.ndarray], dt_s: float, clock_h: float = 12.0) -> None:
    """One call of the driver on the columns, by name, as the engine makes it."""
    step_physiology(dt_s, clock_h, *ARGS.by_role(cols))


def test_step_twin_takes_the_declared_columns_in_order() -> None:
    names = tuple(inspect.signature(physiology.step_twin).parameters)
    assert names == ("dt_s", "clock_mid_h", *ARGS.names)


def test_the_driver_takes_the_declared_roles_in_order() -> None:
    names = tuple(inspect.signature(step_physiology).parameters)
    roles = tuple(field.name for field in dataclasses.fields(KernelArgs))
    assert names == ("dt_s", "clock_h", *roles)


def test_declared_columns_are_component_columns() -> None:
    """Every kernel column but ``asleep`` is stored by a component of the world, with the dtype
    the kernel is declared with; state and accumulators are float64, as the driver writes them."""
    from synthtwin.engine.app.simulation import SCHEMA

    assert all(SCHEMA[c.name] is c for c in ARGS.columns if c.name != "asleep")
    assert "asleep" not in SCHEMA
    assert {c.dtype for c in ARGS.state + ARGS.accumulators} == {"float64"}


# Heart rate: %HRR = %VO2R, first-order kinetics with tau = 60 s.


def _hr_target(cols: dict[str, np.ndarray], mets: float) -> float:
    rhr, hrmax, vo2max = (float(cols[k][0]) for k in ("rhr_bpm", "hrmax_bpm", "vo2max_mets"))
    return rhr + (hrmax - rhr) * (mets - 1.0) / (vo2max - 1.0)


def test_hr_covers_63_percent_of_a_step_in_one_time_constant_on_and_off() -> None:
    cols = make_twins(1)
    rest = float(cols["rhr_bpm"][0])
    exercise = _hr_target(cols, 8.0)
    cols["mets"][:] = 8.0
    for _ in range(60):
        tick(cols, 1.0)
    on = (cols["hr_bpm"][0] - rest) / (exercise - rest)
    tick(cols, 3600.0)
    cols["mets"][:] = 1.0
    for _ in range(60):
        tick(cols, 1.0)
    off = (exercise - cols["hr_bpm"][0]) / (exercise - rest)
    assert on == pytest.approx(1.0 - math.exp(-1.0), abs=0.02)
    assert off == pytest.approx(1.0 - math.exp(-1.0), abs=0.02)


def test_hr_is_independent_of_the_tick_length() -> None:
    fine, coarse = make_twins(1), make_twins(1)
    fine["mets"][:] = coarse["mets"][:] = 6.0
    for _ in range(60):
        tick(fine, 1.0)
    tick(coarse, 60.0)
    assert fine["hr_bpm"][0] == pytest.approx(coarse["hr_bpm"][0], abs=1e-6)


@pytest.mark.parametrize("dt_s", [1.0, 600.0])
def test_hr_never_exceeds_hrmax(dt_s: float) -> None:
    cols = make_twins(1)
    cols["mets"][:] = 20.0
    highest = 0.0
    for _ in range(int(3600 / dt_s)):
        tick(cols, dt_s)
        highest = max(highest, cols["hr_bpm"][0])
    assert highest <= cols["hrmax_bpm"][0]
    assert highest == pytest.approx(cols["hrmax_bpm"][0], abs=1e-3)


def test_hr_at_rest_awake_stays_at_rhr_and_dips_asleep() -> None:
    cols = make_twins(2)
    cols["asleep"][1] = True
    cols["mets"][1] = 0.95
    for _ in range(60):
        tick(cols, 60.0)
    assert cols["hr_bpm"][0] == cols["rhr_bpm"][0]
    assert 0.88 <= cols["hr_bpm"][1] / cols["rhr_bpm"][1] <= 0.93


# Glucose and insulin: 75 g oral glucose tolerance test (ADA criteria).


@pytest.fixture(scope="module")
def ogtt_mgdl() -> np.ndarray:
    """Glucose every minute for 4 h after 75 g at t = 0, healthy and type 2: ``(241, 2)``."""
    cols = make_twins(2, **{k: [HEALTHY[k], v] for k, v in TYPE2_DIABETES.items()})
    cols["carbs_g"][:] = OGTT_CARBS_G
    curve = [cols["glucose_mgdl"].copy()]
    for _ in range(240):
        tick(cols, 60.0)
        cols["carbs_g"][:] = 0.0
        curve.append(cols["glucose_mgdl"].copy())
    return np.array(curve)


def test_healthy_ogtt_peaks_in_range_and_returns_to_basal(ogtt_mgdl: np.ndarray) -> None:
    healthy = ogtt_mgdl[:, 0]
    assert 125.0 <= healthy.max() <= 160.0
    assert 30 <= healthy.argmax() <= 60
    assert healthy[120] < 140.0
    assert abs(healthy[180] - HEALTHY["glucose_basal_mgdl"]) <= 10.0


def test_type2_ogtt_is_diabetic_and_slower(ogtt_mgdl: np.ndarray) -> None:
    healthy, diabetic = ogtt_mgdl[:, 0], ogtt_mgdl[:, 1]
    assert diabetic[120] >= 200.0
    assert diabetic.max() > healthy.max()
    assert diabetic.argmax() > healthy.argmax()
    assert diabetic[180] - TYPE2_DIABETES["glucose_basal_mgdl"] > 10.0


def test_glucose_without_food_stays_at_basal_for_a_day() -> None:
    cols = make_twins(2, **{k: [HEALTHY[k], v] for k, v in TYPE2_DIABETES.items()})
    start = {k: cols[k].copy() for k in ("glucose_mgdl", "insulin_uu_ml", "insulin_action_per_min")}
    for _ in range(24 * 60):
        tick(cols, 60.0)
    for name, value in start.items():
        np.testing.assert_array_equal(cols[name], value)


def test_glucose_agrees_between_realtime_and_minute_ticks() -> None:
    realtime, minute = make_twins(2, **TYPE2_DIABETES), make_twins(2, **TYPE2_DIABETES)
    realtime["carbs_g"][:] = minute["carbs_g"][:] = OGTT_CARBS_G
    realtime["mets"][1] = minute["mets"][1] = 3.5
    for _ in range(30 * 60 * 30):
        tick(realtime, 1.0 / 30.0)
        realtime["carbs_g"][:] = 0.0
    for _ in range(30):
        tick(minute, 60.0)
        minute["carbs_g"][:] = 0.0
    assert np.isfinite(realtime["glucose_mgdl"]).all()
    assert minute["glucose_mgdl"][0] > TYPE2_DIABETES["glucose_basal_mgdl"] + 50.0
    np.testing.assert_allclose(realtime["glucose_mgdl"], minute["glucose_mgdl"], atol=1e-3)


def test_glucose_is_stable_with_ten_minute_ticks() -> None:
    """Headless 10 min ticks: a day of meals every 4 h, finite and equal to minute ticks."""
    coarse, minute = make_twins(2, **TYPE2_DIABETES), make_twins(2, **TYPE2_DIABETES)
    coarse["mets"][1] = minute["mets"][1] = 9.0
    for k in range(24 * 6):
        meal_g = OGTT_CARBS_G if k % 24 == 0 else 0.0
        coarse["carbs_g"][:] = minute["carbs_g"][:] = meal_g
        tick(coarse, 600.0)
        for _ in range(10):
            tick(minute, 60.0)
            minute["carbs_g"][:] = 0.0
    for name in ("glucose_mgdl", "insulin_uu_ml", "insulin_action_per_min", "gut2_mg"):
        assert np.isfinite(coarse[name]).all()
        np.testing.assert_allclose(coarse[name], minute[name], rtol=1e-9)


def test_walking_after_a_meal_lowers_the_glucose_peak() -> None:
    cols = make_twins(2)
    cols["carbs_g"][:] = OGTT_CARBS_G
    cols["mets"][1] = 3.5
    peak = cols["glucose_mgdl"].copy()
    for _ in range(120):
        tick(cols, 60.0)
        cols["carbs_g"][:] = 0.0
        peak = np.maximum(peak, cols["glucose_mgdl"])
    assert peak[1] < peak[0] - 5.0
    assert cols["glucose_mgdl"][1] >= HEALTHY["glucose_basal_mgdl"] - 5.0


# Sleep: Borbely's two-process model (Daan, Beersma & Borbely 1984).


def test_process_s_rises_awake_and_decays_asleep_exactly() -> None:
    cols = make_twins(1)
    cols["sleep_pressure"][:] = 0.2
    for _ in range(16 * 60):
        tick(cols, 60.0)
    awake = 1.0 - 0.8 * math.exp(-16.0 / 18.2)
    assert cols["sleep_pressure"][0] == pytest.approx(awake, abs=1e-6)
    cols["asleep"][:] = True
    for _ in range(8):
        tick(cols, 3600.0)
    assert cols["sleep_pressure"][0] == pytest.approx(awake * math.exp(-8.0 / 4.2), abs=1e-6)


def test_sleep_thresholds_are_a_circadian_band_half_a_unit_wide() -> None:
    hours = np.arange(0.0, 24.0, 0.25)
    phase = np.array([0.0, 2.0], np.float32)
    upper, lower = np.empty((hours.size, 2)), np.empty((hours.size, 2))
    for k, clock_h in enumerate(hours):
        sleep_thresholds(clock_h, phase, upper[k], lower[k])
    np.testing.assert_allclose(upper - lower, 0.5, atol=1e-12)
    np.testing.assert_allclose(upper.max(0), 0.67 + 0.12, atol=1e-3)
    np.testing.assert_allclose(lower.min(0), 0.17 - 0.12, atol=1e-3)
    assert hours[upper[:, 1].argmax()] - hours[upper[:, 0].argmax()] == pytest.approx(2.0)


def test_two_process_model_sleeps_at_night_and_shifts_with_chronotype() -> None:
    """Sleep when S reaches H, wake when S falls to L: ~23:00-07:00, 2 h later for +2 h phase."""
    cols = make_twins(2, circadian_phase_h=[0.0, 2.0])
    upper, lower = np.empty(2), np.empty(2)
    onsets: list[list[float]] = [[], []]
    wakes: list[list[float]] = [[], []]
    dt_s = 60.0
    for k in range(4 * 24 * 60):
        clock_h = (7.0 + k * dt_s / 3600.0) % 24.0
        sleep_thresholds(clock_h, cols["circadian_phase_h"], upper, lower)
        for n in range(2):
            if not cols["asleep"][n] and cols["sleep_pressure"][n] >= upper[n]:
                cols["asleep"][n] = True
                onsets[n].append(clock_h)
            elif cols["asleep"][n] and cols["sleep_pressure"][n] <= lower[n]:
                cols["asleep"][n] = False
                wakes[n].append(clock_h)
        tick(cols, dt_s, clock_h)
    assert 22.5 <= onsets[0][-1] <= 23.5
    assert 6.5 <= wakes[0][-1] <= 7.5
    later_h = [(times[1][-1] - times[0][-1]) % 24.0 for times in (onsets, wakes)]
    assert later_h == pytest.approx([2.0, 2.0], abs=0.1)


# Core temperature: circadian rhythm (Refinetti & Menaker 1992) and exercise load.


def test_core_temperature_minimum_and_maximum_hours_shift_with_phase() -> None:
    phases = [0.0, 2.0, -1.5]
    cols = make_twins(3, circadian_phase_h=phases)
    dt_s = 60.0
    day = []
    for k in range(2 * 24 * 60):
        tick(cols, dt_s, (k * dt_s / 3600.0) % 24.0)
        if k >= 24 * 60:
            day.append(cols["core_temp_c"].copy())
    temps = np.array(day)
    hours = (np.arange(24 * 60) + 1) * dt_s / 3600.0
    minimum_h, maximum_h = hours[temps.argmin(0)], hours[temps.argmax(0)]
    assert 4.5 <= minimum_h[0] <= 5.0
    assert 17.0 <= maximum_h[0] <= 19.0
    assert 0.6 <= temps[:, 0].max() - temps[:, 0].min() <= 0.8
    np.testing.assert_allclose(minimum_h - minimum_h[0], phases, atol=1.5 * dt_s / 3600.0)
    np.testing.assert_allclose(maximum_h - maximum_h[0], phases, atol=1.5 * dt_s / 3600.0)


def test_core_temperature_rises_with_sustained_exercise() -> None:
    cols = make_twins(2)
    cols["mets"][1] = 9.0
    for _ in range(90):
        tick(cols, 60.0, 10.0)
    rise = cols["core_temp_c"][1] - cols["core_temp_c"][0]
    assert 1.0 <= rise <= 2.0
    assert cols["core_temp_c"][1] < 39.0


# Blood pressure: exercise rise (Fletcher et al. 2013) and nocturnal dipping (O'Brien 1988).


def test_blood_pressure_dips_asleep_and_rises_with_mets() -> None:
    mets = [1.3, 3.3, 5.3, 7.3, 0.95]
    cols = make_twins(len(mets))
    cols["mets"][:] = mets
    cols["asleep"][-1] = True
    asleep_sbp = []
    for _ in range(60):
        tick(cols, 60.0)
        asleep_sbp.append(cols["sbp_mmhg"][-1])
    dip = 1.0 - np.mean(asleep_sbp[10:]) / cols["sbp_rest_mmhg"][-1]
    assert 0.10 <= dip <= 0.20
    np.testing.assert_allclose(np.diff(cols["sbp_mmhg"][:4]) / 2.0, 9.0, atol=1.0)
    np.testing.assert_allclose(cols["dbp_mmhg"][:4], cols["dbp_rest_mmhg"][:4], atol=5.0)


# Respiration and saturation.


def test_respiration_and_saturation_follow_intensity_and_sleep() -> None:
    cols = make_twins(3)
    cols["mets"][:] = [12.0, 0.95, 1.0]
    cols["asleep"][1] = True
    for _ in range(30):
        tick(cols, 60.0)
    rr, spo2 = cols["rr_brpm"], cols["spo2_pct"]
    assert rr[0] == pytest.approx(physiology.RR_MAX_BRPM)
    assert rr[1] < rr[2] == pytest.approx(cols["rr_rest_brpm"][2])
    assert spo2[1] == pytest.approx(cols["spo2_rest_pct"][1] - 1.0)
    assert 80.0 <= spo2[0] < spo2[2] <= 100.0


# Energy and steps.


def test_energy_is_mets_times_mass_times_hours_and_steps_are_cadence_times_minutes() -> None:
    cols = make_twins(2, weight_kg=[70.0, 80.0])
    cols["mets"][:] = [1.0, 3.5]
    cols["cadence_spm"][:] = [0.0, 100.0]
    for _ in range(60):
        tick(cols, 60.0)
    np.testing.assert_allclose(cols["energy_kcal"], [70.0, 3.5 * 80.0], rtol=1e-9)
    np.testing.assert_allclose(cols["steps"], [0.0, 100.0 * 60.0], rtol=1e-9)


# The parallel driver.


def _random_twins(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cols = make_twins(
        n,
        rhr_bpm=rng.uniform(50, 80, n).tolist(),
        vo2max_mets=rng.uniform(6, 16, n).tolist(),
        weight_kg=rng.uniform(50, 110, n).tolist(),
        insulin_sensitivity=rng.uniform(0.3, 1.0, n).tolist(),
        insulin_secretion=rng.uniform(0.4, 1.0, n).tolist(),
        circadian_phase_h=rng.uniform(-2, 2, n).tolist(),
    )
    cols["mets"][:] = rng.choice([0.95, 1.3, 3.5, 9.0], n)
    cols["asleep"][:] = cols["mets"] < 1.0
    cols["carbs_g"][:] = rng.choice([0.0, 0.0, 40.0, 90.0], n)
    cols["cadence_spm"][:] = np.where(cols["mets"] > 3.0, 110.0, 0.0)
    return cols


def test_parallel_driver_is_bit_identical_between_runs() -> None:
    runs = [_random_twins(64, seed=7), _random_twins(64, seed=7)]
    for cols in runs:
        for k in range(20):
            tick(cols, 90.0, (6.0 + k * 0.025) % 24.0)
    for name in ARGS.written:
        np.testing.assert_array_equal(runs[0][name], runs[1][name])


def _python_step(twin: dict[str, float], dt_s: float, clock_h: float) -> dict[str, float]:
    """One twin's tick composed from the plain-Python scalar functions: the test's oracle."""
    eq, asleep = physiology, bool(twin["asleep"])
    intensity = eq.intensity_fraction(twin["mets"], twin["vo2max_mets"])
    sbp, dbp = eq.blood_pressure_targets_mmhg(
        intensity, asleep, twin["vo2max_mets"], twin["sbp_rest_mmhg"], twin["dbp_rest_mmhg"]
    )
    clock_mid_h = clock_h + 0.5 * dt_s / 3600.0
    hr = eq.hr_target_bpm(intensity, asleep, twin["rhr_bpm"], twin["hrmax_bpm"])
    temp = eq.core_temp_target_c(clock_mid_h, twin["circadian_phase_h"], intensity)
    targets = {
        "hr_bpm": (hr, eq.HR_TAU_S),
        "sbp_mmhg": (sbp, eq.BP_TAU_S),
        "dbp_mmhg": (dbp, eq.BP_TAU_S),
        "rr_brpm": (eq.rr_target_brpm(intensity, asleep, twin["rr_rest_brpm"]), eq.RR_TAU_S),
        "spo2_pct": (eq.spo2_target_pct(intensity, asleep, twin["spo2_rest_pct"]), eq.SPO2_TAU_S),
        "core_temp_c": (temp, eq.CORE_TEMP_TAU_S),
    }
    out = {name: eq.relax(twin[name], target, dt_s, tau) for name, (target, tau) in targets.items()}
    model_order = ("glucose_mgdl", "insulin_action_per_min", "insulin_uu_ml", "gut1_mg", "gut2_mg")
    glucose = eq.glucose_insulin_step(
        *(twin[name] for name in model_order),
        dt_s,
        twin["mets"],
        twin["carbs_g"],
        twin["weight_kg"],
        twin["glucose_basal_mgdl"],
        twin["insulin_basal_uu_ml"],
        twin["insulin_sensitivity"],
        twin["insulin_secretion"],
    )
    out.update(zip(model_order, glucose, strict=True))
    out["sleep_pressure"] = eq.process_s(twin["sleep_pressure"], dt_s, asleep)
    out["energy_kcal"] = twin["energy_kcal"] + eq.energy_spent_kcal(
        twin["mets"], twin["weight_kg"], dt_s
    )
    out["steps"] = twin["steps"] + eq.steps_taken(twin["cadence_spm"], dt_s)
    return out


def test_driver_matches_the_python_equations() -> None:
    """The compiled driver computes, to rounding, what the plain-Python scalar functions say."""
    cols = _random_twins(8, seed=3)
    cols["energy_kcal"][:] = 1000.0
    twins = [{name: float(column[n]) for name, column in cols.items()} for n in range(8)]
    dt_s, clock_h = 90.0, 6.0
    tick(cols, dt_s, clock_h)
    for n, twin in enumerate(twins):
        expected = _python_step(twin, dt_s, clock_h)
        got = {name: cols[name][n] for name in expected}
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


# Short-term variability: unit Ornstein-Uhlenbeck wander on counter-based draws.


def _wander_run(n: int, dt_s: float, ticks: int, asleep: bool = False) -> np.ndarray:
    """``(ticks, n)`` heart rate of ``n`` seated (or sleeping) twins with wander, one row a tick;
    each twin has its own key, the amplitudes of a 45-year-old."""
    hr_cv, sbp_sd = physiology.wander_amplitudes(45.0)
    cols = make_twins(
        n, hr_noise_cv=hr_cv, sbp_noise_mmhg=sbp_sd, variation_key=list(range(1, n + 1))
    )
    cols["mets"][:] = physiology.SEATED_REST_METS
    cols["asleep"][:] = asleep
    rows = []
    for _ in range(ticks):
        tick(cols, dt_s)
        rows.append(cols["hr_bpm"].copy())
    return np.array(rows)


def test_resting_hr_wanders_a_few_percent_with_minutes_of_memory() -> None:
    """Minute-to-minute HR at seated rest: never flat, an SD of a few percent of the resting
    rate (short-term HRV, Nunan et al. 2010), correlated over a couple of minutes and not over
    half an hour (the OU time constant of 120 s behind the 60 s heart-rate kinetics)."""
    hr = _wander_run(32, 60.0, 1440)[30:]  # one day of minutes, after settling
    assert (np.diff(hr, axis=0) != 0.0).all()
    cv = (hr.std(axis=0) / HEALTHY["rhr_bpm"]).mean()
    assert 0.02 <= cv <= 0.05
    z = (hr - hr.mean(axis=0)) / hr.std(axis=0)
    lag1 = (z[1:] * z[:-1]).mean()
    lag30 = (z[30:] * z[:-30]).mean()
    assert lag1 > 0.4 and abs(lag30) < 0.15


def test_wander_has_unit_variance_whatever_the_tick_length() -> None:
    cols_fast = _wander_run(16, 1.0, 1)  # warm the compile
    del cols_fast
    for dt_s, ticks in ((1.0, 20_000), (60.0, 2_000)):
        cols = make_twins(64, hr_noise_cv=0.05, variation_key=list(range(7, 71)))
        samples = []
        for k in range(ticks):
            tick(cols, dt_s)
            if k % max(1, int(600 / dt_s)) == 0:
                samples.append(cols["hr_noise"].copy())
        values = np.concatenate(samples)
        assert abs(values.mean()) < 0.15, dt_s
        assert 0.8 <= values.var() <= 1.2, dt_s


def test_draws_are_keyed_by_twin_and_counter_and_reproducible() -> None:
    keys = [5, 5, 6]
    cols = make_twins(3, hr_noise_cv=0.05, sbp_noise_mmhg=5.0, variation_key=keys)
    for _ in range(10):
        tick(cols, 60.0)
    assert cols["hr_bpm"][0] == cols["hr_bpm"][1] != cols["hr_bpm"][2]
    assert (cols["noise_draws"] == 10.0).all()
    bits = [physiology.random_bits(5.0, 0, c) for c in range(2000)]
    assert len(set(bits)) == len(bits)
    z = np.array([physiology.normal_pair(b) for b in bits])
    assert abs(z.mean()) < 0.06 and 0.9 <= z.var() <= 1.1
    assert abs(np.corrcoef(z[:, 0], z[:, 1])[0, 1]) < 0.07


def test_sleeping_hr_stays_below_the_resting_hr_and_still_varies() -> None:
    hr = _wander_run(32, 60.0, 480, asleep=True)[30:]
    rest = HEALTHY["rhr_bpm"]
    assert hr.mean() < (1.0 - 0.5 * physiology.HR_SLEEP_DIP_FRACTION) * rest
    assert np.percentile(hr, 99) < rest
    assert (hr.std(axis=0) > 0.5).all()


def test_hr_stays_at_most_hrmax_with_wander_at_any_intensity() -> None:
    cols = make_twins(16, hr_noise_cv=0.06, variation_key=list(range(1, 17)))
    cols["mets"][:] = 20.0
    for _ in range(600):
        tick(cols, 10.0)
        assert (cols["hr_bpm"] <= cols["hrmax_bpm"] + 1e-9).all()


def test_wander_amplitudes_follow_age() -> None:
    young, old = physiology.wander_amplitudes(25.0), physiology.wander_amplitudes(75.0)
    assert young[0] > old[0] and young[1] < old[1]
    assert physiology.wander_amplitudes(10.0) == physiology.wander_amplitudes(20.0)


def test_day_kernel_matches_the_python_day_model() -> None:
    from synthtwin.kernels.numba.physiology import day_variation

    keys = np.arange(1, 65, dtype=np.float64) * 7919.0
    age = np.linspace(18.0, 90.0, 64).astype(np.float32)
    out = [np.zeros(64), np.zeros(64)] + [np.zeros(64, np.float32) for _ in range(3)]
    for day_index, day_of_year, weekday in ((0, 5, 0), (40, 45, 6), (300, 305, 3)):
        day_variation(day_index, day_of_year, weekday, keys, age, *out)
        for n in range(64):
            expected = physiology.day_variation(keys[n], day_index, day_of_year, weekday)
            expected += physiology.wander_amplitudes(float(age[n]))
            got = tuple(float(column[n]) for column in out)
            np.testing.assert_allclose(got, expected, rtol=1e-6)
