"""The physiology equations of a twin: one scalar function per published model.

This module is the one statement of the equations. Every function takes scalar floats (and bool
flags), returns a float or a tuple of floats and uses only ``math``: no numpy, no allocation, no
exceptions, nothing from the project. ``kernels/numba/physiology.py`` compiles these very functions
for the CPU and ``kernels/cupy/physiology.py`` transpiles them into CUDA device functions, so keep
to what both compilers take: ``math.exp``, ``math.cos``, ``math.ceil`` and ``math.pi``, ``min`` and
``max``, ``if`` on a bool, ``for`` over ``range`` of a run-time count, tuple returns, positional
calls between these functions (CuPy's JIT ignores keyword arguments), no default arguments;
``math.log`` and ``math.sqrt`` too, and ``int(x)`` of a float with the integer
operators ``>>``, ``^``, ``&``, ``%``, ``+`` and ``*`` on values that stay below 2**62 (the
random bits).

Pattern: *target plus first-order kinetics*. Each vital sign has a target set by the activity
(``mets``), sleep and the twin's parameters, and relaxes toward it with a time constant. With the
target held constant over a tick, ``relax`` is the exact solution, so any tick length (1/30 s in
realtime, minutes headless) gives the same trajectory. Glucose and insulin are a nonlinear ODE,
integrated with RK4 substeps of at most one simulated minute.

Variability: heart rate and blood pressure wander around their resting values minute to minute
(unit Ornstein-Uhlenbeck processes, ``ou_step``) and their resting values move from day to day
(``day_variation``: a daily wobble, the seasons, the weekend, multi-day excursions). Every random
number is a counter-based draw (``random_bits``) keyed by the twin's ``variation_key``, a stream
and a counter (the tick count ``noise_draws``, or the day): deterministic per seed, identical on
every backend, and nothing to carry but the counter.

Parameters may be stored as float32: let every float32 operand meet a float64 (a constant, the
state, ``intensity``) before another float32, so compiled results equal Python's double ones.

``step_twin`` composes them into one twin's whole tick: the per-twin body of every driver (the
numba kernel, the per-entity peer in ``bench/``), so the sequence is written once too.

Units are in the names: ``_s`` seconds, ``_h`` hours, ``_min`` minutes (inside the glucose model),
``_bpm`` beats/min, ``_brpm`` breaths/min, ``_mmhg``, ``_pct``, ``_c`` degrees Celsius, ``_mgdl``
mg/dL, ``_uu_ml`` uU/mL, ``_kcal``. ``mets`` is the metabolic equivalent (1 MET = resting).
"""

from __future__ import annotations

import math

__all__ = [
    "BITS31",
    "BP_NOISE_TAU_S",
    "BP_TAU_S",
    "CORE_TEMP_MEAN_C",
    "CORE_TEMP_TAU_S",
    "HR_NOISE_TAU_S",
    "HR_TAU_S",
    "RR_MAX_BRPM",
    "RR_TAU_S",
    "SPO2_TAU_S",
    "S_PER_H",
    "blood_pressure_targets_mmhg",
    "core_temp_target_c",
    "day_variation",
    "excursion_effects",
    "energy_spent_kcal",
    "glucose_insulin_step",
    "hr_target_bpm",
    "intensity_fraction",
    "approx_normal",
    "minimal_model_rates",
    "mix31",
    "normal_pair",
    "ou_step",
    "process_c",
    "process_s",
    "random_bits",
    "relax",
    "resting_hr_now_bpm",
    "rr_target_brpm",
    "sleep_thresholds",
    "spo2_target_pct",
    "step_twin",
    "steps_taken",
    "tick_midpoint_h",
    "wander_amplitudes",
]

S_PER_MIN = 60.0
S_PER_H = 3600.0
HOURS_PER_DAY = 24.0
MG_PER_G = 1000.0

# Heart rate.
SEATED_REST_METS = 1.3
HR_TAU_S = 60.0
HR_SLEEP_DIP_FRACTION = 0.09

# Blood pressure.
BP_TAU_S = 120.0
SBP_RISE_MMHG_PER_MET = 9.0
DBP_RISE_MMHG_PER_MET = -0.5
BP_SLEEP_DIP_FRACTION = 0.12

# Respiration rate.
RR_TAU_S = 60.0
RR_MAX_BRPM = 40.0
RR_SLEEP_DROP_BRPM = 1.0

# Oxygen saturation.
SPO2_TAU_S = 30.0
SPO2_SLEEP_DROP_PCT = 1.0
SPO2_EXERCISE_DROP_PCT = 3.0
SPO2_EXERCISE_DROP_ONSET = 0.8
SPO2_MIN_PCT = 80.0
SPO2_MAX_PCT = 100.0

# Core temperature.
CORE_TEMP_TAU_S = 1080.0
CORE_TEMP_MEAN_C = 36.8
CORE_TEMP_24H_AMPLITUDE_C = 0.35
CORE_TEMP_24H_PEAK_H = 16.6
CORE_TEMP_12H_AMPLITUDE_C = 0.08
CORE_TEMP_12H_PEAK_H = 10.4
CORE_TEMP_EXERCISE_RISE_C = 2.2

# Glucose and insulin: Bergman minimal model with Hovorka gut absorption.
GLUCOSE_EFFECTIVENESS_PER_MIN = 0.02  # p1
INSULIN_ACTION_DECAY_PER_MIN = 0.08  # p2
INSULIN_ACTION_GAIN_PER_MIN2_PER_UU_ML = 4.8e-5  # p3
INSULIN_CLEARANCE_PER_MIN = 0.2  # n
INSULIN_SECRETION_UU_ML_PER_MIN_PER_MGDL = 0.25  # gamma
GLUCOSE_VOLUME_DL_PER_KG = 1.6
GUT_TMAX_MIN = 40.0
CARB_BIOAVAILABILITY = 0.8
GLUCOSE_EXERCISE_GAIN_PER_MET = 0.1
GLUCOSE_MAX_SUBSTEP_MIN = 1.0
RK4_MAX_STEP_TIMES_RATE = 1.0  # h * fastest rate; RK4 is stable below 2.78

# Sleep: two-process model.
PROCESS_S_RISE_TAU_H = 18.2
PROCESS_S_DECAY_TAU_H = 4.2
SLEEP_UPPER_THRESHOLD_MEAN = 0.67
SLEEP_LOWER_THRESHOLD_MEAN = 0.17
PROCESS_C_AMPLITUDE = 0.12
PROCESS_C_PEAK_H = 15.5

# Energy.
KCAL_PER_KG_PER_H_PER_MET = 1.0

# Short-term variability: Ornstein-Uhlenbeck processes of unit variance.
HR_NOISE_TAU_S = 120.0
BP_NOISE_TAU_S = 300.0
DBP_NOISE_FRACTION = 0.6
WANDER_AGE_FROM_Y = 20.0
WANDER_AGE_SPAN_Y = 60.0
HR_NOISE_CV_AT_20 = 0.055
HR_NOISE_CV_PER_Y = -0.02 / 60.0
SBP_NOISE_MMHG_AT_20 = 4.0
SBP_NOISE_MMHG_PER_Y = 0.04

# Counter-based random bits: integer arithmetic on 31-bit values, exact in int64 everywhere.
BITS31 = 0x7FFFFFFF
MIX_MULTIPLIER_1 = 0x45D9F3B
MIX_MULTIPLIER_2 = 0x2C1B3C6D
STREAM_STRIDE = 0x61C88647
TICK_STREAM = 0
IRWIN_HALL_BITS = 7
IRWIN_HALL_MASK = 0x7F
IRWIN_HALL_SCALE = 128.0
IRWIN_HALL_NORM = 1.7320508075688772  # sqrt(3): 1 / SD of a sum of four unit uniforms

# Day-to-day variation (day_variation).
DAYS_PER_YEAR = 365.25
DAY_STREAM = 1
EXCURSION_STREAM = 2
RHR_DAY_SD_BPM = 1.0
SBP_DAY_SD_MMHG = 5.0
RHR_SEASON_AMPLITUDE_BPM = 1.0
SBP_SEASON_AMPLITUDE_MMHG = 2.5
SEASON_PEAK_DAY_OF_YEAR = 10.0
RHR_WEEKEND_BPM = 1.6
SATURDAY = 5
# Excursions, one entry per kind: a cold, a bad week, travel.
EXCURSION_KINDS = 3
EXCURSION_RATE_PER_Y = (2.5, 4.0, 3.0)
EXCURSION_MIN_DAYS = (5, 3, 2)
EXCURSION_MAX_DAYS = (10, 7, 7)
EXCURSION_RHR_BPM = (3.0, 2.0, 1.5)
EXCURSION_SBP_MMHG = (0.0, 4.0, 0.0)
EXCURSION_ACTIVITY_FACTOR = (0.6, 0.85, 1.3)
EXCURSION_SEVERITY_MAX = 3.0


def relax(value: float, target: float, dt_s: float, tau_s: float) -> float:
    """First-order kinetics toward a target held constant over ``dt_s``, solved exactly.

    ``dv/dt = (target - v) / tau`` gives ``v(t + dt) = target + (v - target) exp(-dt / tau)``:
    one step of 60 s equals sixty steps of 1 s, and the result never overshoots the target.
    Same units for ``value`` and ``target``; ``dt_s`` and ``tau_s`` in seconds.
    """
    return target + (value - target) * math.exp(-dt_s / tau_s)


def intensity_fraction(mets: float, vo2max_mets: float) -> float:
    """Relative intensity as a fraction of the oxygen-uptake reserve (%VO2R / 100), in [0, 1].

    ``(mets - r) / (vo2max_mets - r)`` with ``r = SEATED_REST_METS``: 0 when sitting quietly or
    below, 1 at the twin's maximal aerobic capacity and above. %VO2R equals %HRR (Swain &
    Leutholtz 1997, Med Sci Sports Exerc 29:410; ACSM's Guidelines for Exercise Testing and
    Prescription), so this fraction drives heart rate. The reserve is anchored at seated rest
    (1.3 MET, Compendium 2011 code 07021 "sitting quietly") because ``rhr_bpm`` is a seated
    resting pulse (NHANES protocol): a twin sitting quietly has exactly its resting pulse.
    """
    fraction = (mets - SEATED_REST_METS) / (vo2max_mets - SEATED_REST_METS)
    return min(max(fraction, 0.0), 1.0)


def hr_target_bpm(intensity: float, asleep: bool, rhr_bpm: float, hrmax_bpm: float) -> float:
    """Steady-state heart rate (beats/min) for a relative intensity in [0, 1].

    Karvonen/ACSM heart-rate reserve: ``rhr + (hrmax - rhr) * intensity`` with %HRR = %VO2R
    (Swain & Leutholtz 1997). ``hrmax = 208 - 0.7 age`` (Tanaka, Monahan & Seals 2001,
    J Am Coll Cardiol 37:153) is a parameter, so the target never exceeds it. Asleep, heart rate
    falls ~9 % below resting wake (nocturnal dip: Burgess et al. 1997, Am J Physiol 273:H1761).
    Kinetics: ``relax`` with ``HR_TAU_S`` = 60 s on and off, the order of published on- and
    recovery time constants at moderate intensity (Imai et al. 1994, J Am Coll Cardiol 24:1529).
    """
    target = rhr_bpm * (1.0 - intensity) + hrmax_bpm * intensity
    if asleep:
        target *= 1.0 - HR_SLEEP_DIP_FRACTION
    return target


def blood_pressure_targets_mmhg(
    intensity: float, asleep: bool, vo2max_mets: float, sbp_rest_mmhg: float, dbp_rest_mmhg: float
) -> tuple[float, float]:
    """Steady-state (systolic, diastolic) blood pressure in mmHg.

    In dynamic exercise systolic pressure rises ~10 mmHg per MET above rest while diastolic stays
    level or falls slightly (Fletcher et al. 2013, AHA exercise standards, Circulation 128:873):
    here +9 and -0.5 mmHg per MET, METs above rest capped at the twin's capacity
    (``intensity * (vo2max_mets - SEATED_REST_METS)``), rest being seated as for the resting
    pressures. Asleep, both fall 12 % (normal "dipping" is a 10-20 %
    nocturnal fall: O'Brien, Sheridan & O'Malley 1988, Lancet 2:397; Fagard et al. 2008,
    Hypertension 51:55). Kinetics: ``relax`` with ``BP_TAU_S`` = 2 min.
    """
    mets_above_rest = intensity * (vo2max_mets - SEATED_REST_METS)
    sbp = sbp_rest_mmhg + SBP_RISE_MMHG_PER_MET * mets_above_rest
    dbp = dbp_rest_mmhg + DBP_RISE_MMHG_PER_MET * mets_above_rest
    if asleep:
        sbp *= 1.0 - BP_SLEEP_DIP_FRACTION
        dbp *= 1.0 - BP_SLEEP_DIP_FRACTION
    return sbp, dbp


def rr_target_brpm(intensity: float, asleep: bool, rr_rest_brpm: float) -> float:
    """Steady-state respiration rate (breaths/min).

    Rises with relative intensity from the resting rate toward ~40 breaths/min at maximal effort
    (Nicolò, Massaroni & Passfield 2017, Front Physiol 8:922), linear in ``intensity``. Asleep,
    1 breath/min lower (Douglas et al. 1982, Thorax 37:840: ventilation falls in sleep, mostly
    through tidal volume). Kinetics: ``relax`` with ``RR_TAU_S`` = 60 s.
    """
    target = rr_rest_brpm + (RR_MAX_BRPM - rr_rest_brpm) * intensity
    if asleep:
        target -= RR_SLEEP_DROP_BRPM
    return target


def spo2_target_pct(intensity: float, asleep: bool, spo2_rest_pct: float) -> float:
    """Steady-state peripheral oxygen saturation (%), bounded to [80, 100].

    About 1 point lower asleep (Gries & Brooks 1996, Chest 110:1489). Above 80 % of the reserve
    it falls linearly by up to 3 points at maximal effort: exercise-induced arterial hypoxaemia
    (Dempsey & Wagner 1999, J Appl Physiol 87:1997). Kinetics: ``relax`` with ``SPO2_TAU_S``.
    """
    target = spo2_rest_pct
    if asleep:
        target -= SPO2_SLEEP_DROP_PCT
    hard = max(intensity - SPO2_EXERCISE_DROP_ONSET, 0.0) / (1.0 - SPO2_EXERCISE_DROP_ONSET)
    target -= SPO2_EXERCISE_DROP_PCT * hard
    return min(max(target, SPO2_MIN_PCT), SPO2_MAX_PCT)


def core_temp_target_c(clock_h: float, circadian_phase_h: float, intensity: float) -> float:
    """Core body temperature setpoint (deg C): circadian rhythm plus exercise load.

    Circadian part: a two-harmonic (24 h and 12 h) rhythm, the model Brown & Czeisler (1992,
    J Biol Rhythms 7:177) fit to constant-routine core temperature, around 36.8 deg C with a
    0.35 deg C fundamental: minimum at 04:30 and maximum at 17:45 for ``circadian_phase_h`` = 0
    (Refinetti & Menaker 1992, Physiol Behav 51:613). After the 18 min lag of ``relax`` the
    simulated temperature bottoms out near 04:50 and peaks near 18:00; a positive phase (evening
    type) shifts both later. Exercise part: steady-state core temperature rises in proportion to
    relative intensity, not absolute METs (Saltin & Hermansen 1966, J Appl Physiol 21:1757):
    +2.2 deg C at maximal sustained effort (~39 deg C), about +0.2 deg C per MET for a 12-MET
    twin. Kinetics: ``relax`` with ``CORE_TEMP_TAU_S`` = 18 min.
    """
    twin_h = clock_h - circadian_phase_h
    fundamental = math.cos(2.0 * math.pi * (twin_h - CORE_TEMP_24H_PEAK_H) / HOURS_PER_DAY)
    harmonic = math.cos(4.0 * math.pi * (twin_h - CORE_TEMP_12H_PEAK_H) / HOURS_PER_DAY)
    circadian = CORE_TEMP_24H_AMPLITUDE_C * fundamental + CORE_TEMP_12H_AMPLITUDE_C * harmonic
    return CORE_TEMP_MEAN_C + circadian + CORE_TEMP_EXERCISE_RISE_C * intensity


def minimal_model_rates(
    glucose_mgdl: float,
    insulin_action_per_min: float,
    insulin_uu_ml: float,
    gut1_mg: float,
    gut2_mg: float,
    p3_per_min2_per_uu_ml: float,
    gamma_uu_ml_per_min_per_mgdl: float,
    exercise_gain: float,
    glucose_basal_mgdl: float,
    insulin_basal_uu_ml: float,
    glucose_volume_dl: float,
) -> tuple[float, float, float, float, float]:
    """Time derivatives, per minute, of (G, X, I, q1, q2) of the meal minimal model.

    Bergman minimal model (Bergman et al. 1979, Am J Physiol 236:E667; Bergman, Phillips & Cobelli
    1981, J Clin Invest 68:1456) with glucose-driven insulin secretion, and Hovorka's two-
    compartment gut absorption (Hovorka et al. 2004, Physiol Meas 25:905)::

        dG/dt  = -e (p1 (G - Gb) + X G) + Ra / VG          G mg/dL, Ra mg/min, VG dL
        dX/dt  = -p2 X + p3 (I - Ib)                         X 1/min
        dI/dt  = -n (I - Ib) + gamma max(G - Gb, 0)          I uU/mL
        dq1/dt = -q1 / tmax,  dq2/dt = (q1 - q2) / tmax,  Ra = f q2 / tmax    q mg

    ``-p1 (G - Gb)`` is Bergman's ``-p1 G + p1 Gb`` written so that the basal state is an exact
    equilibrium. ``e >= 1`` is the exercise gain on glucose effectiveness and insulin action, the
    two terms through which Derouich & Boutayeb (2002, J Biomech 35:911) add physical activity to
    the minimal model; hepatic output is taken to rise with uptake at basal, so exercise speeds the
    return to ``Gb`` without driving glucose below it.
    """
    glucose_excess = glucose_mgdl - glucose_basal_mgdl
    insulin_excess = insulin_uu_ml - insulin_basal_uu_ml
    appearance_mg_per_min = CARB_BIOAVAILABILITY * gut2_mg / GUT_TMAX_MIN
    d_glucose = (
        -exercise_gain
        * (GLUCOSE_EFFECTIVENESS_PER_MIN * glucose_excess + insulin_action_per_min * glucose_mgdl)
        + appearance_mg_per_min / glucose_volume_dl
    )
    d_action = (
        -INSULIN_ACTION_DECAY_PER_MIN * insulin_action_per_min
        + p3_per_min2_per_uu_ml * insulin_excess
    )
    secretion = gamma_uu_ml_per_min_per_mgdl * max(glucose_excess, 0.0)
    d_insulin = -INSULIN_CLEARANCE_PER_MIN * insulin_excess + secretion
    d_gut1 = -gut1_mg / GUT_TMAX_MIN
    d_gut2 = (gut1_mg - gut2_mg) / GUT_TMAX_MIN
    return d_glucose, d_action, d_insulin, d_gut1, d_gut2


def glucose_insulin_step(
    glucose_mgdl: float,
    insulin_action_per_min: float,
    insulin_uu_ml: float,
    gut1_mg: float,
    gut2_mg: float,
    dt_s: float,
    mets: float,
    carbs_g: float,
    weight_kg: float,
    glucose_basal_mgdl: float,
    insulin_basal_uu_ml: float,
    insulin_sensitivity: float,
    insulin_secretion: float,
) -> tuple[float, float, float, float, float]:
    """Advance (G mg/dL, X 1/min, I uU/mL, q1 mg, q2 mg) by ``dt_s`` seconds; returns the new tuple.

    ``carbs_g`` grams eaten at the tick's start enter gut compartment 1 as mg. The model of
    ``minimal_model_rates`` is integrated with classical RK4 in equal substeps of at most 1 min,
    shorter when the fastest rate of the tick's start state (insulin clearance or glucose
    uptake) exceeds 1/min, so it is accurate and stable from 1/30 s to 10 min ticks even at
    extreme insulin action. Parameters (healthy, multipliers
    1): p1 = 0.02 /min, p2 = 0.08 /min, p3 = 4.8e-5 /min^2 per uU/mL (insulin sensitivity
    p3/p2 = 6e-4 /min per uU/mL), n = 0.2 /min, gamma = 0.25 uU/mL/min per mg/dL, VG = 1.6 dL/kg,
    tmax = 40 min, f = 0.8. Type 2 diabetes scales p3 by ``insulin_sensitivity`` (~0.3) and gamma
    by ``insulin_secretion`` (~0.4). With these a 70 kg twin's 75 g oral glucose load gives a
    normal ADA curve (peak ~147 mg/dL at 35 min, 2 h ~108 mg/dL) when healthy and a diabetic one
    (2 h ~215 mg/dL from Gb 150) with the type 2 multipliers (ADA Standards of Care,
    Classification and Diagnosis of Diabetes: 2 h < 140 normal, >= 200 diabetes). Exercise gain
    ``e = 1 + 0.1 (mets - 1)`` above rest.
    """
    gut1_mg += carbs_g * MG_PER_G
    p3 = INSULIN_ACTION_GAIN_PER_MIN2_PER_UU_ML * insulin_sensitivity
    gamma = INSULIN_SECRETION_UU_ML_PER_MIN_PER_MGDL * insulin_secretion
    exercise_gain = 1.0 + GLUCOSE_EXERCISE_GAIN_PER_MET * max(mets - 1.0, 0.0)
    volume_dl = GLUCOSE_VOLUME_DL_PER_KG * weight_kg
    fastest_rate_per_min = INSULIN_CLEARANCE_PER_MIN + exercise_gain * (
        GLUCOSE_EFFECTIVENESS_PER_MIN + max(insulin_action_per_min, 0.0)
    )
    substep_min = min(GLUCOSE_MAX_SUBSTEP_MIN, RK4_MAX_STEP_TIMES_RATE / fastest_rate_per_min)
    dt_min = dt_s / S_PER_MIN
    substeps = max(math.ceil(dt_min / substep_min), 1)
    h = dt_min / substeps
    g, x, i, q1, q2 = glucose_mgdl, insulin_action_per_min, insulin_uu_ml, gut1_mg, gut2_mg
    for _ in range(substeps):
        a_g, a_x, a_i, a_q1, a_q2 = minimal_model_rates(
            g, x, i, q1, q2,
            p3, gamma, exercise_gain, glucose_basal_mgdl, insulin_basal_uu_ml, volume_dl,
        )  # fmt: skip
        b_g, b_x, b_i, b_q1, b_q2 = minimal_model_rates(
            g + 0.5 * h * a_g, x + 0.5 * h * a_x, i + 0.5 * h * a_i,
            q1 + 0.5 * h * a_q1, q2 + 0.5 * h * a_q2,
            p3, gamma, exercise_gain, glucose_basal_mgdl, insulin_basal_uu_ml, volume_dl,
        )  # fmt: skip
        c_g, c_x, c_i, c_q1, c_q2 = minimal_model_rates(
            g + 0.5 * h * b_g, x + 0.5 * h * b_x, i + 0.5 * h * b_i,
            q1 + 0.5 * h * b_q1, q2 + 0.5 * h * b_q2,
            p3, gamma, exercise_gain, glucose_basal_mgdl, insulin_basal_uu_ml, volume_dl,
        )  # fmt: skip
        d_g, d_x, d_i, d_q1, d_q2 = minimal_model_rates(
            g + h * c_g, x + h * c_x, i + h * c_i, q1 + h * c_q1, q2 + h * c_q2,
            p3, gamma, exercise_gain, glucose_basal_mgdl, insulin_basal_uu_ml, volume_dl,
        )  # fmt: skip
        g += h / 6.0 * (a_g + 2.0 * b_g + 2.0 * c_g + d_g)
        x += h / 6.0 * (a_x + 2.0 * b_x + 2.0 * c_x + d_x)
        i += h / 6.0 * (a_i + 2.0 * b_i + 2.0 * c_i + d_i)
        q1 += h / 6.0 * (a_q1 + 2.0 * b_q1 + 2.0 * c_q1 + d_q1)
        q2 += h / 6.0 * (a_q2 + 2.0 * b_q2 + 2.0 * c_q2 + d_q2)
    return g, x, i, q1, q2


def process_s(sleep_pressure: float, dt_s: float, asleep: bool) -> float:
    """Homeostatic sleep pressure, Process S of the two-process model, after ``dt_s`` seconds.

    Awake, S rises toward 1 with tau_r = 18.2 h; asleep it decays toward 0 with tau_d = 4.2 h
    (Borbely 1982, Hum Neurobiol 1:195; Daan, Beersma & Borbely 1984, Am J Physiol 246:R161).
    Exact exponential update for a sleep state held over the tick; dimensionless, in [0, 1].
    """
    dt_h = dt_s / S_PER_H
    if asleep:
        return sleep_pressure * math.exp(-dt_h / PROCESS_S_DECAY_TAU_H)
    return 1.0 - (1.0 - sleep_pressure) * math.exp(-dt_h / PROCESS_S_RISE_TAU_H)


def process_c(clock_h: float, circadian_phase_h: float) -> float:
    """Circadian Process C in [-1, 1]: a 24 h cosine peaking at 15:30 + ``circadian_phase_h``.

    Daan, Beersma & Borbely (1984) modulate both sleep thresholds with one circadian oscillation.
    The peak hour is set so that, with their thresholds and time constants, a twin of phase 0 who
    follows them settles into sleep from ~23:00 to ~07:00; a positive phase (evening type) shifts
    the whole pattern later by the same number of hours.
    """
    twin_h = clock_h - circadian_phase_h
    return math.cos(2.0 * math.pi * (twin_h - PROCESS_C_PEAK_H) / HOURS_PER_DAY)


def sleep_thresholds(process_c_value: float) -> tuple[float, float]:
    """(upper H, lower L) thresholds of Process S for a Process C value in [-1, 1].

    ``H = 0.67 + a C`` and ``L = 0.17 + a C`` with ``a`` = 0.12 (Daan, Beersma & Borbely 1984):
    an awake twin falls asleep when S rises to H, a sleeping twin wakes when S decays to L.
    """
    modulation = PROCESS_C_AMPLITUDE * process_c_value
    return SLEEP_UPPER_THRESHOLD_MEAN + modulation, SLEEP_LOWER_THRESHOLD_MEAN + modulation


def energy_spent_kcal(mets: float, weight_kg: float, dt_s: float) -> float:
    """Energy spent over ``dt_s`` seconds, in kcal: ``mets * weight_kg * dt_h``.

    One MET is ~1 kcal per kg of body mass per hour (Ainsworth et al. 2011, Compendium of Physical
    Activities, Med Sci Sports Exerc 43:1575), so 1 h at 1 MET for 70 kg is 70 kcal.
    """
    return KCAL_PER_KG_PER_H_PER_MET * mets * weight_kg * dt_s / S_PER_H


def steps_taken(cadence_spm: float, dt_s: float) -> float:
    """Steps taken over ``dt_s`` seconds at ``cadence_spm`` steps/min: ``cadence * dt_min``.

    Typical adult cadences: ~100 steps/min marks moderate-intensity walking, ~120-130 brisk
    walking, 150+ running (Tudor-Locke et al. 2011, Int J Behav Nutr Phys Act 8:79; Tudor-Locke
    et al. 2018, Br J Sports Med 52:776).
    """
    return cadence_spm * dt_s / S_PER_MIN


def tick_midpoint_h(clock_h: float, dt_s: float) -> float:
    """Hour of day at the middle of a tick of ``dt_s`` seconds that starts at ``clock_h``.

    The circadian targets are held at this value over the tick. Not wrapped to [0, 24): the
    functions that read it are 24 h periodic.
    """
    return clock_h + 0.5 * dt_s / S_PER_H


def mix31(x: int) -> int:
    """A bijective mix of a 31-bit integer into 31 well-spread bits.

    Two xorshift-multiply rounds (Wellons' "hash prospector" 32-bit hash, ``lowbias32``, with
    the multipliers cut to 31 bits): every operand stays below 2**62, so signed 64-bit integers
    compute it exactly and alike in Python, numba and CUDA C++. Works elementwise on int64 numpy
    arrays too.
    """
    x = ((x >> 16) ^ x) * MIX_MULTIPLIER_1 & BITS31
    x = ((x >> 15) ^ x) * MIX_MULTIPLIER_2 & BITS31
    return (x >> 16) ^ x


def random_bits(key: float, stream: int, counter: float) -> int:
    """31 random bits for draw ``counter`` of ``stream`` of the twin whose key is ``key``.

    Counter-based (Salmon et al. 2011, "Parallel random numbers: as easy as 1, 2, 3", SC'11):
    a pure function of (key, stream, counter), so any draw is reproducible without a generator
    state, in any order, on any device. ``key`` is the twin's ``variation_key`` (an integer below
    2**31 stored as a float), ``counter`` a non-negative integer stored as a float (a tick count
    or a day number).
    """
    lane = mix31((int(key) + stream * STREAM_STRIDE) & BITS31)
    return mix31((mix31(lane) + int(counter)) & BITS31)


def approx_normal(bits: int) -> float:
    """A standard normal draw, approximately, from the low 28 of 31 random bits.

    The Irwin-Hall sum of four uniforms of 7 bits each, centred and scaled to unit variance,
    ``(u1 + u2 + u3 + u4 - 2) sqrt(3)``: bounded at +-3.46, kurtosis 2.7 (a normal's is 3).
    Integer work and one multiply-add, ~20 times cheaper than Box-Muller's log, sqrt, cos and
    sin (Box & Muller 1958) in the per-twin loop; the processes it drives (``ou_step``, the
    daily wobble) are normal enough for second-order statistics, and a sum of many draws.
    """
    total = (
        (bits & IRWIN_HALL_MASK)
        + ((bits >> IRWIN_HALL_BITS) & IRWIN_HALL_MASK)
        + ((bits >> (2 * IRWIN_HALL_BITS)) & IRWIN_HALL_MASK)
        + ((bits >> (3 * IRWIN_HALL_BITS)) & IRWIN_HALL_MASK)
    )
    return ((total + 2.0) / IRWIN_HALL_SCALE - 2.0) * IRWIN_HALL_NORM


def normal_pair(bits: int) -> tuple[float, float]:
    """Two independent (approximately) standard normal draws from 31 random bits: one from the
    bits, one from their mix (``mix31`` is a bijection, so the pair is a function of the bits)."""
    return approx_normal(bits), approx_normal(mix31(bits))


def ou_step(value: float, normal: float, dt_s: float, tau_s: float) -> float:
    """An Ornstein-Uhlenbeck process of unit variance advanced by ``dt_s`` seconds, exactly.

    ``x(t + dt) = x a + sqrt(1 - a**2) z`` with ``a = exp(-dt / tau)`` and ``z`` standard normal
    (Gillespie 1996, Am J Phys 64:225): the exact update for any ``dt``, so the process has the
    autocorrelation ``exp(-lag / tau)`` and unit variance whatever the tick length.
    """
    decay = math.exp(-dt_s / tau_s)
    return value * decay + math.sqrt(1.0 - decay * decay) * normal


def resting_hr_now_bpm(
    rhr_bpm: float, rhr_offset_bpm: float, hr_noise_cv: float, hr_noise: float
) -> float:
    """The twin's resting heart rate this minute (beats/min): today's level times its wander.

    Today's level is the long-term ``rhr_bpm`` plus the day's offset (illness, season, weekday:
    ``day_variation``). The wander is the unit OU process ``hr_noise`` scaled by the twin's
    coefficient of variation ``hr_noise_cv``: minute-to-minute heart rate fluctuates by a few
    percent at rest, the slow (very-low- and low-frequency) part of heart rate variability,
    whose power dominates 5-minute recordings (normal short-term SDNN ~50 ms, ~6 % of the beat
    interval: Nunan, Sandercock & Brodie 2010, Pacing Clin Electrophysiol 33:1407; Task Force
    of the ESC and NASPE 1996, Circulation 93:1043). It is applied to the resting component
    only, so it fades with intensity as vagal modulation does and never lifts heart rate above
    ``hrmax`` (``hr_target_bpm`` blends this value with ``hrmax_bpm``).
    """
    return (rhr_offset_bpm + rhr_bpm) * (1.0 + hr_noise_cv * hr_noise)


def wander_amplitudes(age_y: float) -> tuple[float, float]:
    """(CV of resting heart rate's wander, SD of systolic pressure's wander in mmHg) by age.

    Heart rate variability falls with age (Umetani et al. 1998, J Am Coll Cardiol 31:593: SDNN
    and the other indices lose roughly a third to a half from the 20s to the 70s): here a CV of
    5.5 % at 20 falling linearly to 3.5 % at 80, which through ``ou_step`` and the 60 s heart
    rate kinetics gives minute-to-minute SDs of ~3-4 % of resting heart rate. Short-term blood
    pressure variability rises with age (Parati et al. 2013, Nat Rev Cardiol 10:143): a systolic
    SD of 4 mmHg at 20 rising to 6.4 mmHg at 80 (diastolic 0.6 of it). Ages outside 20-80 take
    the end values.
    """
    years = min(max(age_y - WANDER_AGE_FROM_Y, 0.0), WANDER_AGE_SPAN_Y)
    hr_cv = HR_NOISE_CV_AT_20 + HR_NOISE_CV_PER_Y * years
    return hr_cv, SBP_NOISE_MMHG_AT_20 + SBP_NOISE_MMHG_PER_Y * years


def uniform(bits: int) -> float:
    """A uniform draw in (0, 1) from 31 random bits."""
    return (bits + 0.5) / (BITS31 + 1.0)


def excursion_effects(key: float, day_index: float, kind: int) -> tuple[float, float, float]:
    """(RHR rise bpm, SBP rise mmHg, activity factor) on ``day_index`` of excursions of ``kind``.

    An excursion of each kind starts on any day with probability ``rate / 365.25`` and lasts a
    whole number of days drawn uniformly from its range; its severity is exponential with mean 1,
    capped at 3, and scales its rises (the activity factor moves toward the kind's by
    ``min(severity, 1)``). Start, length and severity are counter-based draws keyed by the twin
    and the start day, so a day's state needs no memory of earlier days: the ``max_days`` days
    before it are looked at. Overlapping excursions add their rises and multiply their factors.

    Kinds and values: 0 a cold, an acute respiratory infection, which adults catch 2-4 times a
    year and which lasts 7-10 days (Heikkinen & Jarvinen 2003, Lancet 361:51); resting heart rate
    rises in influenza-like illness and daily steps fall (Radin et al. 2020, Lancet Digit Health
    2:e85; Quer et al. 2021, Nat Med 27:73): here +3 bpm and 60 % of the usual steps at
    severity 1. 1 a bad week (work stress, short sleep): heart rate and blood pressure rise
    under psychological stress (Steptoe & Kivimaki 2012, Nat Rev Cardiol 9:360), here +2 bpm,
    +4 mmHg, 85 % of the steps. 2 travel: +1.5 bpm (jet lag, unfamiliar beds) and 130 % of the
    steps. The rates, lengths and sizes of kinds 1 and 2 are best-known values.
    """
    rhr_bpm = 0.0
    sbp_mmhg = 0.0
    activity = 1.0
    rate_per_day = EXCURSION_RATE_PER_Y[kind] / DAYS_PER_YEAR
    span = EXCURSION_MAX_DAYS[kind] - EXCURSION_MIN_DAYS[kind] + 1
    for lag in range(EXCURSION_MAX_DAYS[kind]):
        start_bits = random_bits(key, EXCURSION_STREAM + kind, day_index - lag)
        if uniform(start_bits) < rate_per_day:
            shape_bits = mix31(start_bits)
            if lag < EXCURSION_MIN_DAYS[kind] + shape_bits % span:
                severity = min(-math.log(uniform(mix31(shape_bits))), EXCURSION_SEVERITY_MAX)
                rhr_bpm += EXCURSION_RHR_BPM[kind] * severity
                sbp_mmhg += EXCURSION_SBP_MMHG[kind] * severity
                activity *= 1.0 + (EXCURSION_ACTIVITY_FACTOR[kind] - 1.0) * min(severity, 1.0)
    return rhr_bpm, sbp_mmhg, activity


def day_variation(
    key: float, day_index: float, day_of_year: float, weekday: int
) -> tuple[float, float, float]:
    """A twin's condition on one day: (resting-HR offset bpm, SBP offset mmHg, activity factor).

    The sum of
    - a day-to-day wobble, independent between days: SD 1 bpm of resting heart rate, whose
      daily value stays within a few bpm of a person's own mean on most days while 20 % of
      people see at least one week in which it moves by 10 bpm or more (Quer et al. 2020,
      PLoS One 15:e0227709, 92,457 Fitbit users, daily resting HR over a median of 320 days):
      with the excursions below and the weekend step, ~26 % of twins have such a week in a
      year of this model before measurement noise (the SD is set for that); and SD 5 mmHg of
      systolic pressure, the order of the day-to-day variability of home blood pressure
      (Parati et al. 2013, Nat Rev Cardiol 10:143, review of blood-pressure variability over
      minutes, days and seasons);
    - a seasonal cosine peaking in early January: resting heart rate is highest in January and
      lowest in July (Quer et al. 2020; nightly resting HR of 57,000 Oura ring users ~2 bpm
      higher in December than in August, Sleep 2019, 42 suppl. 1, abstract 1200), here 2 bpm
      from peak to trough; blood pressure is ~5 mmHg higher in winter (Brennan et al. 1982, BMJ
      285:919), here 5 mmHg peak to trough;
    - a weekend rise of resting heart rate, +1.6 bpm on Saturdays and Sundays (the same Oura
      abstract: weekly peaks at weekends of +1.6 bpm);
    - multi-day excursions (``excursion_effects``): a cold, a bad week, travel.
    Diastolic pressure follows at ``DBP_NOISE_FRACTION`` of the systolic offset (in
    ``step_twin``). The activity factor scales the day's stepping cadence.

    Args:
        key: the twin's ``variation_key``.
        day_index: simulated days since the start date (a whole number).
        day_of_year: days since 1 January (0-365).
        weekday: 0 Monday ... 6 Sunday.
    """
    rhr_z, sbp_z = normal_pair(random_bits(key, DAY_STREAM, day_index))
    season = math.cos(2.0 * math.pi * (day_of_year - SEASON_PEAK_DAY_OF_YEAR) / DAYS_PER_YEAR)
    rhr_bpm = RHR_DAY_SD_BPM * rhr_z + RHR_SEASON_AMPLITUDE_BPM * season
    sbp_mmhg = SBP_DAY_SD_MMHG * sbp_z + SBP_SEASON_AMPLITUDE_MMHG * season
    if weekday >= SATURDAY:
        rhr_bpm += RHR_WEEKEND_BPM
    activity = 1.0
    for kind in range(EXCURSION_KINDS):
        rhr_rise, sbp_rise, factor = excursion_effects(key, day_index, kind)
        rhr_bpm += rhr_rise
        sbp_mmhg += sbp_rise
        activity *= factor
    return rhr_bpm, sbp_mmhg, activity


def step_twin(
    dt_s: float,
    clock_mid_h: float,
    hr_bpm: float,
    sbp_mmhg: float,
    dbp_mmhg: float,
    rr_brpm: float,
    spo2_pct: float,
    core_temp_c: float,
    glucose_mgdl: float,
    insulin_uu_ml: float,
    insulin_action_per_min: float,
    gut1_mg: float,
    gut2_mg: float,
    sleep_pressure: float,
    hr_noise: float,
    bp_noise: float,
    noise_draws: float,
    mets: float,
    cadence_spm: float,
    carbs_g: float,
    rhr_offset_bpm: float,
    bp_offset_mmhg: float,
    hr_noise_cv: float,
    sbp_noise_mmhg: float,
    variation_key: float,
    asleep: bool,
    scenario_hr_bpm: float,
    scenario_sbp_mmhg: float,
    scenario_dbp_mmhg: float,
    scenario_spo2_pct: float,
    scenario_temp_c: float,
    scenario_glucose_mgdl: float,
    rhr_bpm: float,
    hrmax_bpm: float,
    vo2max_mets: float,
    sbp_rest_mmhg: float,
    dbp_rest_mmhg: float,
    rr_rest_brpm: float,
    spo2_rest_pct: float,
    glucose_basal_mgdl: float,
    insulin_basal_uu_ml: float,
    insulin_sensitivity: float,
    insulin_secretion: float,
    weight_kg: float,
    circadian_phase_h: float,
    energy_kcal: float,
    steps: float,
) -> tuple[
    float, float, float, float, float, float, float, float, float, float, float, float, float,
    float, float, float, float,
]:  # fmt: skip
    """One twin's whole tick of ``dt_s`` seconds: the new values of the columns it writes.

    Composes the models above, each from the tick's start state with its inputs held over the
    tick: the short-term variability processes take one ``ou_step`` on the tick's counter-based
    normal draws, every vital sign ``relax``-es toward its target (heart rate and blood
    pressure around today's resting values and their wander), glucose and insulin take one
    ``glucose_insulin_step``, sleep pressure one ``process_s``; the tick's energy and steps are
    added to the accumulators. The parameters after ``clock_mid_h`` are the kernel's columns in
    the order and roles of their declaration, ``components.physiology.PHYSIOLOGY_KERNEL_ARGS``
    (state, inputs, parameters, accumulators; checked by ``tests/test_physiology_kernel.py``);
    parameters may be float32 (see the module note).

    Args:
        dt_s: simulated seconds this tick, from 1/30 s (realtime) to 600 s (headless).
        clock_mid_h: hour of day at the tick's middle, ``tick_midpoint_h(clock_h, dt_s)``.
        hr_bpm, sbp_mmhg, dbp_mmhg, rr_brpm, spo2_pct, core_temp_c: vital signs at the tick's
            start (beats/min, mmHg, mmHg, breaths/min, %, deg C).
        glucose_mgdl, insulin_uu_ml, insulin_action_per_min, gut1_mg, gut2_mg: minimal-model
            state G (mg/dL), I (uU/mL), X (1/min), gut carbohydrate q1 and q2 (mg).
        sleep_pressure: Process S, dimensionless in [0, 1].
        hr_noise, bp_noise: the unit OU processes of heart rate and blood pressure wander.
        noise_draws: how many ticks have drawn random numbers (the counter of the draws).
        mets: metabolic equivalent of the current activity (1 = rest).
        cadence_spm: steps per minute.
        carbs_g: carbohydrate eaten during the step, entering the gut at its start (g).
        rhr_offset_bpm, bp_offset_mmhg: today's offsets of resting heart rate (beats/min) and
            systolic pressure (mmHg), from ``day_variation``.
        hr_noise_cv: coefficient of variation of resting heart rate's wander (fraction), from
            ``wander_amplitudes``.
        sbp_noise_mmhg: SD of systolic pressure's wander (mmHg; diastolic 0.6 of it).
        variation_key: the twin's key of its random draws (an integer below 2**31).
        asleep: whether the twin sleeps this tick.
        scenario_hr_bpm, scenario_sbp_mmhg, scenario_dbp_mmhg: what the twin's scenarios add
            to its resting heart rate and pressures now (``systems.scenario``: fever,
            medication, training; 0 without one).
        scenario_spo2_pct: what they take off its resting oxygen saturation (%).
        scenario_temp_c: their fever: added to the core temperature's set point (deg C).
        scenario_glucose_mgdl: their change of basal glucose Gb (mg/dL; Gb stays >= 40).
        rhr_bpm, hrmax_bpm: resting and maximal heart rate (beats/min).
        vo2max_mets: maximal aerobic capacity (METs, > 1).
        sbp_rest_mmhg, dbp_rest_mmhg: resting systolic and diastolic pressure (mmHg).
        rr_rest_brpm: resting respiration rate (breaths/min).
        spo2_rest_pct: resting oxygen saturation (%).
        glucose_basal_mgdl, insulin_basal_uu_ml: basal G (mg/dL) and I (uU/mL).
        insulin_sensitivity: multiplier on the minimal model's p3 (1 healthy, ~0.3 type 2).
        insulin_secretion: multiplier on the pancreatic gain gamma (1 healthy, ~0.4 type 2).
        weight_kg: body mass (kg).
        circadian_phase_h: chronotype shift of the circadian clock (h, + = later).
        energy_kcal: energy spent so far (kcal).
        steps: steps taken so far.

    Returns:
        ``(hr_bpm, sbp_mmhg, dbp_mmhg, rr_brpm, spo2_pct, core_temp_c, glucose_mgdl,
        insulin_uu_ml, insulin_action_per_min, gut1_mg, gut2_mg, sleep_pressure, hr_noise,
        bp_noise, noise_draws, energy_kcal, steps)``: the fifteen state values at the tick's
        end, in the argument order and units above, then the accumulators plus the energy
        spent (kcal) and the steps taken over the tick.
    """
    hr_z, bp_z = normal_pair(random_bits(variation_key, TICK_STREAM, noise_draws))
    hr_wander = ou_step(hr_noise, hr_z, dt_s, HR_NOISE_TAU_S)
    bp_wander = ou_step(bp_noise, bp_z, dt_s, BP_NOISE_TAU_S)
    rest_bpm = resting_hr_now_bpm(rhr_bpm, rhr_offset_bpm + scenario_hr_bpm, hr_noise_cv, hr_wander)
    sbp_shift_mmhg = bp_offset_mmhg + sbp_noise_mmhg * bp_wander
    intensity = intensity_fraction(mets, vo2max_mets)
    hr_target = hr_target_bpm(intensity, asleep, rest_bpm, hrmax_bpm)
    sbp_target, dbp_target = blood_pressure_targets_mmhg(
        intensity, asleep, vo2max_mets, sbp_shift_mmhg + sbp_rest_mmhg + scenario_sbp_mmhg,
        DBP_NOISE_FRACTION * sbp_shift_mmhg + dbp_rest_mmhg + scenario_dbp_mmhg,
    )  # fmt: skip
    rr_target = rr_target_brpm(intensity, asleep, rr_rest_brpm)
    spo2_target = spo2_target_pct(intensity, asleep, spo2_rest_pct - scenario_spo2_pct)
    temp_target = core_temp_target_c(clock_mid_h, circadian_phase_h, intensity) + scenario_temp_c
    g, x, i, q1, q2 = glucose_insulin_step(
        glucose_mgdl, insulin_action_per_min, insulin_uu_ml, gut1_mg, gut2_mg,
        dt_s, mets, carbs_g, weight_kg, max(scenario_glucose_mgdl + glucose_basal_mgdl, 40.0),
        insulin_basal_uu_ml, insulin_sensitivity, insulin_secretion,
    )  # fmt: skip
    return (
        relax(hr_bpm, hr_target, dt_s, HR_TAU_S),
        relax(sbp_mmhg, sbp_target, dt_s, BP_TAU_S),
        relax(dbp_mmhg, dbp_target, dt_s, BP_TAU_S),
        relax(rr_brpm, rr_target, dt_s, RR_TAU_S),
        relax(spo2_pct, spo2_target, dt_s, SPO2_TAU_S),
        relax(core_temp_c, temp_target, dt_s, CORE_TEMP_TAU_S),
        g,
        i,
        x,
        q1,
        q2,
        process_s(sleep_pressure, dt_s, asleep),
        hr_wander,
        bp_wander,
        noise_draws + 1.0,
        energy_kcal + energy_spent_kcal(mets, weight_kg, dt_s),
        steps + steps_taken(cadence_spm, dt_s),
    )
