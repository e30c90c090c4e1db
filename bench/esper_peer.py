"""The naive peer of the numba physiology kernel: an esper Processor stepping one entity at a time.

Pattern: per-entity Processor, the textbook esper design. Each twin is an entity with three small
dataclass components (``Vitals``, ``Exertion``, ``PhysiologyParams``) whose fields are the columns
of ``components.physiology.PHYSIOLOGY_KERNEL_ARGS`` (state and accumulators, inputs, parameters);
``PhysiologyProcessor`` loops over them and calls ``kernels.physiology.step_twin`` in pure Python,
the very function the numba kernel ``kernels.numba.physiology.step_physiology`` inlines, with the
same arguments in the same order, so both do the same work and only the data layout and the
compiler differ. Nothing here restates an equation or a column.

esper 3.9's API is module-level over named worlds: each peer lives in its own world, named by
``build_peer_world``, made current only inside this module's functions, and released by
``delete_peer_world``. Building the world is a structural change that clears esper's query cache,
so the first ``step_peer`` after it pays for the query; step once before timing.

Column glossary: N twins; every array is ``(N,)`` with the dtypes the engine stores (the
declaration's: state and accumulators float64, inputs float32 with ``asleep`` bool, parameters
float32), keyed by column name.
"""

from __future__ import annotations

import uuid
from dataclasses import fields, make_dataclass
from operator import attrgetter

import esper
import numpy as np

from synthtwin.components.physiology import PHYSIOLOGY_KERNEL_ARGS as ARGS
from synthtwin.components.scenario import SCENARIO_KERNEL
from synthtwin.components.schema import Column
from synthtwin.kernels.physiology import CORE_TEMP_MEAN_C, step_twin, tick_midpoint_h

__all__ = [
    "Exertion",
    "PhysiologyParams",
    "PhysiologyProcessor",
    "Vitals",
    "build_peer_world",
    "delete_peer_world",
    "peer_columns",
    "peer_world_from_columns",
    "step_peer",
    "twin_columns",
]

# Realistic adult population, for the benchmark's inputs.
RHR_MEAN_BPM, RHR_SD_BPM = 70.0, 10.0
RHR_RANGE_BPM = (45.0, 100.0)
AGE_RANGE_Y = (20.0, 70.0)
HRMAX_INTERCEPT_BPM, HRMAX_SLOPE_BPM_PER_Y = 208.0, 0.7  # Tanaka, Monahan & Seals 2001
VO2MAX_RANGE_METS = (8.0, 12.0)
WEIGHT_RANGE_KG = (60.0, 100.0)
SBP_MEAN_MMHG, SBP_SD_MMHG = 120.0, 10.0
DBP_MEAN_MMHG, DBP_SD_MMHG = 75.0, 8.0
RR_MEAN_BRPM, RR_SD_BRPM = 14.0, 2.0
SPO2_MEAN_PCT, SPO2_SD_PCT, SPO2_MAX_PCT = 97.5, 1.0, 100.0
GLUCOSE_BASAL_MGDL = 90.0
INSULIN_BASAL_UU_ML = 8.0
SLEEP_PRESSURE_RANGE = (0.1, 0.9)
RHR_DAY_SD_BPM, SBP_DAY_SD_MMHG = 1.0, 5.0  # today's offsets (kernels.physiology.day_variation)
HR_NOISE_CV, SBP_NOISE_MMHG = 0.045, 5.0  # wander amplitudes at ~50 years
EXERTION_DTYPES = {c.name: c.dtype for c in ARGS.inputs}
# Activities (METs, cadence steps/min, asleep): asleep, seated, walking, running.
ACTIVITIES = ((0.95, 0.0, True), (1.3, 0.0, False), (3.5, 100.0, False), (9.0, 160.0, False))
ACTIVITY_SHARES = (0.3, 0.5, 0.15, 0.05)
DIGESTING_SHARE = 0.25  # twins with a meal in the gut at the start
GUT_RANGE_MG = (0.0, 60_000.0)


def _component(name: str, columns: tuple[Column, ...], doc: str) -> type:
    """A slotted dataclass with one field per column, in order (``bool`` or ``float``)."""
    spec = [(c.name, bool if c.dtype == "bool" else float) for c in columns]
    component = make_dataclass(name, spec, slots=True, namespace={"__doc__": doc})
    component.__module__ = __name__
    return component


Vitals = _component(
    "Vitals", ARGS.state + ARGS.accumulators, "The integrated state of one twin, with its totals."
)
Exertion = _component("Exertion", ARGS.inputs, "This tick's inputs of one twin.")
PhysiologyParams = _component("PhysiologyParams", ARGS.params, "Per-twin parameters.")

_state = attrgetter(*(c.name for c in ARGS.state))
_inputs = attrgetter(*(c.name for c in ARGS.inputs))
_params = attrgetter(*(c.name for c in ARGS.params))
_accumulators = attrgetter(*(c.name for c in ARGS.accumulators))


class PhysiologyProcessor(esper.Processor):
    """Reads ``Exertion`` and ``PhysiologyParams``, writes ``Vitals``: ``step_twin`` per entity."""

    def process(self, dt_s: float, clock_h: float) -> None:
        """Advance every entity by ``dt_s`` simulated seconds from hour of day ``clock_h``."""
        clock_mid_h = tick_midpoint_h(clock_h, dt_s)
        for _entity, (v, x, p) in esper.get_components(Vitals, Exertion, PhysiologyParams):
            # ``Vitals``' fields are the written columns in ``step_twin``'s return order: its
            # dataclass ``__init__`` stores the tick's results, field by field, in place.
            v.__init__(
                *step_twin(
                    dt_s, clock_mid_h, *_state(v), *_inputs(x), *_params(p), *_accumulators(v)
                )
            )


def twin_columns(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Columns of ``n`` healthy adults at rest state, with a mix of activities; ``(n,)`` each.

    Today's condition: resting-HR and SBP offsets of SD 1 bpm and 5 mmHg, wander amplitudes of
    a 50-year-old, a random key each; the wander processes start at a random stationary value.

    Parameters: resting heart rate 70 +- 10 beats/min, ``hrmax = 208 - 0.7 age`` for ages 20-70,
    aerobic capacity 8-12 METs, 60-100 kg, resting pressure 120/75 +- 10/8 mmHg, basal glucose
    90 mg/dL and insulin 8 uU/mL, multipliers 1, circadian phase 0. Vitals start at the resting
    values; a quarter of the twins has a meal in the gut; 30 % sleep, 50 % sit, 15 % walk, 5 % run.
    No carbohydrate is eaten this tick (``carbs_g`` 0), so repeated ticks do the same work; no
    scenario runs (its effects 0).
    """
    age_y = rng.uniform(*AGE_RANGE_Y, n)
    params = {
        "rhr_bpm": np.clip(rng.normal(RHR_MEAN_BPM, RHR_SD_BPM, n), *RHR_RANGE_BPM),
        "hrmax_bpm": HRMAX_INTERCEPT_BPM - HRMAX_SLOPE_BPM_PER_Y * age_y,
        "vo2max_mets": rng.uniform(*VO2MAX_RANGE_METS, n),
        "sbp_rest_mmhg": rng.normal(SBP_MEAN_MMHG, SBP_SD_MMHG, n),
        "dbp_rest_mmhg": rng.normal(DBP_MEAN_MMHG, DBP_SD_MMHG, n),
        "rr_rest_brpm": rng.normal(RR_MEAN_BRPM, RR_SD_BRPM, n),
        "spo2_rest_pct": np.minimum(rng.normal(SPO2_MEAN_PCT, SPO2_SD_PCT, n), SPO2_MAX_PCT),
        "weight_kg": rng.uniform(*WEIGHT_RANGE_KG, n),
        "glucose_basal_mgdl": np.full(n, GLUCOSE_BASAL_MGDL),
        "insulin_basal_uu_ml": np.full(n, INSULIN_BASAL_UU_ML),
        "insulin_sensitivity": np.ones(n),
        "insulin_secretion": np.ones(n),
        "circadian_phase_h": np.zeros(n),
    }
    cols = {c.name: params[c.name].astype(c.dtype) for c in ARGS.params}
    activity = rng.choice(len(ACTIVITIES), n, p=ACTIVITY_SHARES)
    mets, cadence_spm, asleep = (np.array(column) for column in zip(*ACTIVITIES, strict=True))
    cols["mets"] = mets[activity].astype(np.float32)
    cols["cadence_spm"] = cadence_spm[activity].astype(np.float32)
    cols["asleep"] = asleep[activity].astype(np.bool_)
    cols["carbs_g"] = np.zeros(n, np.float32)
    condition = {
        "rhr_offset_bpm": rng.normal(0.0, RHR_DAY_SD_BPM, n),
        "bp_offset_mmhg": rng.normal(0.0, SBP_DAY_SD_MMHG, n),
        "hr_noise_cv": np.full(n, HR_NOISE_CV),
        "sbp_noise_mmhg": np.full(n, SBP_NOISE_MMHG),
        "variation_key": rng.integers(1, 2**31, n).astype(np.float64),
    }
    for name, values in condition.items():
        cols[name] = values.astype(EXERTION_DTYPES[name])
    for c in SCENARIO_KERNEL:  # no scenario: no effect
        cols[c.name] = np.zeros(n, c.dtype)
    digesting = rng.random(n) < DIGESTING_SHARE
    start = {
        "hr_bpm": cols["rhr_bpm"],
        "sbp_mmhg": cols["sbp_rest_mmhg"],
        "dbp_mmhg": cols["dbp_rest_mmhg"],
        "rr_brpm": cols["rr_rest_brpm"],
        "spo2_pct": cols["spo2_rest_pct"],
        "core_temp_c": np.full(n, CORE_TEMP_MEAN_C),
        "glucose_mgdl": cols["glucose_basal_mgdl"],
        "insulin_uu_ml": cols["insulin_basal_uu_ml"],
        "insulin_action_per_min": np.zeros(n),
        "gut1_mg": np.where(digesting, rng.uniform(*GUT_RANGE_MG, n), 0.0),
        "gut2_mg": np.where(digesting, rng.uniform(*GUT_RANGE_MG, n), 0.0),
        "sleep_pressure": rng.uniform(*SLEEP_PRESSURE_RANGE, n),
        "hr_noise": rng.standard_normal(n),
        "bp_noise": rng.standard_normal(n),
        "noise_draws": np.zeros(n),
    }
    for c in ARGS.state:
        cols[c.name] = np.asarray(start[c.name], c.dtype).copy()
    for c in ARGS.accumulators:
        cols[c.name] = np.zeros(n, c.dtype)
    return cols


def _row(cols: dict[str, np.ndarray], component: type, n: int) -> object:
    """Twin ``n``'s ``component``, its fields read from the columns of the same names."""
    return component(*(cols[f.name][n].item() for f in fields(component)))


def peer_world_from_columns(cols: dict[str, np.ndarray]) -> str:
    """A new esper world with one entity per twin of ``cols`` (see ``twin_columns``); its name.

    Entities are created in row order, so the k-th entity holds row k. The previously current
    world is current again on return.
    """
    name = f"esper-peer-{uuid.uuid4().hex}"
    previous = esper.current_world
    esper.switch_world(name)
    try:
        for n in range(len(cols["hr_bpm"])):
            esper.create_entity(
                _row(cols, Vitals, n), _row(cols, Exertion, n), _row(cols, PhysiologyParams, n)
            )
        esper.add_processor(PhysiologyProcessor())
    finally:
        esper.switch_world(previous)
    return name


def build_peer_world(n: int, rng: np.random.Generator) -> str:
    """A new esper world of ``n`` realistic twins (``twin_columns(n, rng)``); its name."""
    return peer_world_from_columns(twin_columns(n, rng))


def step_peer(name: str, dt_s: float, clock_h: float) -> None:
    """One tick of world ``name``: every Processor once, ``dt_s`` seconds from hour ``clock_h``."""
    previous = esper.current_world
    esper.switch_world(name)
    try:
        esper.process(dt_s, clock_h)
    finally:
        esper.switch_world(previous)


def peer_columns(name: str) -> dict[str, np.ndarray]:
    """The ``Vitals`` of world ``name`` as ``(N,) float64`` columns, rows in entity order."""
    previous = esper.current_world
    esper.switch_world(name)
    try:
        rows = sorted(esper.get_component(Vitals), key=lambda item: item[0])
    finally:
        esper.switch_world(previous)
    return {
        f.name: np.array([getattr(vitals, f.name) for _, vitals in rows], np.float64)
        for f in fields(Vitals)
    }


def delete_peer_world(name: str) -> None:
    """Release world ``name`` (entities and processor); ``default`` becomes current if it was."""
    if esper.current_world == name:
        esper.switch_world("default")
    if name in esper.list_worlds():
        esper.delete_world(name)
