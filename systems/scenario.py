"""Scenarios: the active what-ifs of ``components.scenario.Scenarios`` as per-twin effects.

Runs in the INPUT phase after the commands (a scenario started by a request acts in the same
tick) and writes ``SCENARIO_EFFECTS``: what the physiology kernel adds to a twin's resting
heart rate, blood pressure, temperature set point and basal glucose and takes off its oxygen
saturation, the factor on its step cadence, on its need for exercise, and its sleep limits.
Effects are recomputed when a scenario starts or stops, when twins are spawned or removed, and
once a simulated minute while any scenario acts (their onsets and offsets are hours to weeks);
otherwise the system does nothing.

Time course: a physiological effect rises as ``1 - exp(-t / onset)`` from its start and decays
as ``exp(-t / offset)`` after its end (a fever breaks within hours, a drug's effect fades as it
washes out, training's effect on resting heart rate over weeks); behaviour (steps, exercise,
sleep) changes at the start and end. Overlapping scenarios of a twin add their effects and
multiply their factors within ``LIMITS`` (stacking cannot go beyond physiology); the shortest
sleep limit holds.

Effect sizes (``effect``):

- illness (``mild``, ``moderate``, ``severe``): a fever of 0.6, 1.5, 2.5 deg C (above 38 deg C
  from ``moderate`` on), onset 2 h, gone 12 h after the end; heart rate rises 8.5 bpm per deg C
  of fever (Karjalainen & Viitasalo 1986, Arch Intern Med 146:1169: 8.5 beats/min per deg C in
  febrile adults); daily steps fall to 80, 60, 30 % (influenza-like illness lowers steps and
  raises resting heart rate in wearable data: Radin et al. 2020, Lancet Digit Health 2:e85);
  exercise halves, then stops; sleep lengthens (the sleeper gets up at a sleep pressure 0.02,
  0.04, 0.07 lower, about 0.5, 1 and 2 h more: infection increases sleep, Imeri & Opp 2009, Nat
  Rev Neurosci 10:199). A severe illness is a respiratory one (pneumonia) that takes 7 points
  off resting SpO2, to ~90 %: severe COVID-19 and pneumonia are defined by SpO2 below 94 % on
  room air (NIH COVID-19 Treatment Guidelines, clinical spectrum), WHO's by below 90 %.
- medication: ``antihypertensive``: each drug class at standard dose lowers blood pressure by
  9.1/5.5 mmHg, classes adding up (Law, Morris & Wald 2009, BMJ 338:b1665, meta-analysis of
  147 trials: 9.1 mmHg systolic and 5.5 diastolic from a pre-treatment 154/97, effects of
  classes additive); most of the fall comes within one to two weeks: onset and offset 3 days
  (a best-known value). ``antihypertensive_stop``: the same effect reversed (the treated twin's
  pressure returns to its untreated level). ``sulfonylurea``: HbA1c falls 1.5 points on
  sulfonylurea monotherapy (Hirst et al. 2013, Diabetologia 56:973), mean glucose 28.7 mg/dL
  per HbA1c point (Nathan et al. 2008, ADAG, Diabetes Care 31:1473): basal glucose -43 mg/dL,
  onset 2 h (glucose-independent insulin secretion), offset 24 h: in a twin whose fasting
  glucose is normal, the hypoglycaemia of overtreatment. ``metformin_stop``: metformin
  monotherapy lowers HbA1c by 1.1 points (Hirst et al. 2012, Diabetologia 55:1577), so stopping
  it raises basal glucose by 32 mg/dL, onset and offset 2 days.
- exercise (``factor``): the need for exercise grows ``factor`` times as fast, so exercise
  episodes come ``factor`` times as often; resting heart rate falls by 5 bpm per extra habit
  (``factor`` - 1, within -1..1), over weeks: endurance training lowers resting heart rate by
  about 5 bpm in interventional trials (Reimers, Knapp & Reimers 2018, J Clin Med 7:503), reached
  with a 3-week time constant, and detraining takes it back within weeks (Mujika & Padilla 2000,
  Sports Med 30:79): offset 2 weeks.
- short night (``hours``): every sleep bout ends after ``hours`` (the alarm of a short night).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from synthtwin.components.scenario import (
    EXERCISE_FACTOR_RANGE,
    MAX_CLASSES,
    SCENARIO_EFFECTS,
    Scenario,
    Scenarios,
)
from synthtwin.engine.record_queue import RecordBatch
from synthtwin.engine.schedule import Phase, System, Tick
from synthtwin.engine.world import World

__all__ = ["Effect", "ScenarioSystem", "effect", "strength", "strengths"]

S_PER_H = 3600.0
S_PER_DAY = 86_400.0
RECOMPUTE_S = 60.0
"""Simulated seconds between two recomputations while a scenario acts."""
FADED_OFFSETS = 10.0
"""Offsets after its end at which an effect counts as gone (e^-10)."""

HR_PER_FEVER_BPM = 8.5
FEVER_C = {"mild": 0.6, "moderate": 1.5, "severe": 2.5}
SPO2_FALL_PCT = {"mild": 0.0, "moderate": 0.0, "severe": 7.0}
ILL_STEP_FACTOR = {"mild": 0.8, "moderate": 0.6, "severe": 0.3}
ILL_EXERCISE_FACTOR = {"mild": 0.5, "moderate": 0.0, "severe": 0.0}
ILL_LIE_IN = {"mild": 0.02, "moderate": 0.04, "severe": 0.07}
FEVER_ONSET_S, FEVER_OFFSET_S = 2 * S_PER_H, 12 * S_PER_H
ANTIHYPERTENSIVE_MMHG = (9.1, 5.5)
"""(systolic, diastolic) fall per drug class at standard dose (Law, Morris & Wald 2009)."""
ANTIHYPERTENSIVE_ONSET_S = 3 * S_PER_DAY
SULFONYLUREA_MGDL = -43.0
SULFONYLUREA_ONSET_S, SULFONYLUREA_OFFSET_S = 2 * S_PER_H, 24 * S_PER_H
METFORMIN_MGDL = 32.0
METFORMIN_ONSET_S = 2 * S_PER_DAY
TRAINING_RHR_BPM = 5.0
TRAINING_ONSET_S, DETRAINING_OFFSET_S = 21 * S_PER_DAY, 14 * S_PER_DAY
_FEVER_MAX_C = max(FEVER_C.values())
_SBP_MAX, _DBP_MAX = (MAX_CLASSES * mmhg for mmhg in ANTIHYPERTENSIVE_MMHG)
LIMITS = {
    "scenario_hr_bpm": (-TRAINING_RHR_BPM, HR_PER_FEVER_BPM * _FEVER_MAX_C + TRAINING_RHR_BPM),
    "scenario_sbp_mmhg": (-_SBP_MAX, _SBP_MAX),
    "scenario_dbp_mmhg": (-_DBP_MAX, _DBP_MAX),
    "scenario_spo2_pct": (0.0, max(SPO2_FALL_PCT.values())),
    "scenario_temp_c": (0.0, _FEVER_MAX_C),
    "scenario_glucose_mgdl": (SULFONYLUREA_MGDL, METFORMIN_MGDL),
    "scenario_exercise_factor": EXERCISE_FACTOR_RANGE,
    "scenario_lie_in": (0.0, max(ILL_LIE_IN.values())),
}
"""Bounds of a twin's summed effects: overlapping scenarios add, but never beyond what the
strongest scenario of each kind does (two severe illnesses are not a 5 deg C fever, four
antihypertensives of three classes not a 109 mmHg fall): at most a severe fever with its heart
rate and SpO2 fall, three drug classes (or their withdrawal), one glucose drug, the widest
exercise habit and the longest lie-in."""


@dataclass(frozen=True)
class Effect:
    """What one scenario does at full strength, and how fast (module docstring).

    Attributes:
        hr_bpm, sbp_mmhg, dbp_mmhg, spo2_pct, temp_c, glucose_mgdl: added to the kernel's
            ``scenario_*`` inputs (``spo2_pct``: taken off), scaled by ``strength``.
        step_factor, exercise_factor, sleep_cap_h, lie_in: behaviour while it runs.
        onset_s, offset_s: time constants of the physiological effects (0: at once).
    """

    hr_bpm: float = 0.0
    sbp_mmhg: float = 0.0
    dbp_mmhg: float = 0.0
    spo2_pct: float = 0.0
    temp_c: float = 0.0
    glucose_mgdl: float = 0.0
    step_factor: float = 1.0
    exercise_factor: float = 1.0
    sleep_cap_h: float = 0.0
    lie_in: float = 0.0
    onset_s: float = 0.0
    offset_s: float = 0.0


def effect(scenario: Scenario) -> Effect:
    """The effect of ``scenario`` at full strength (sizes and sources: module docstring)."""
    args = scenario.args
    if scenario.kind == "illness":
        level = args["severity"]
        fever = FEVER_C[level]
        return Effect(
            hr_bpm=HR_PER_FEVER_BPM * fever, temp_c=fever, spo2_pct=SPO2_FALL_PCT[level],
            step_factor=ILL_STEP_FACTOR[level], exercise_factor=ILL_EXERCISE_FACTOR[level],
            lie_in=ILL_LIE_IN[level], onset_s=FEVER_ONSET_S, offset_s=FEVER_OFFSET_S,
        )  # fmt: skip
    if scenario.kind == "medication":
        return _medication(args["drug"], args["classes"])
    if scenario.kind == "exercise":
        extra = min(max(args["factor"] - 1.0, -1.0), 1.0)
        return Effect(
            hr_bpm=-TRAINING_RHR_BPM * extra, exercise_factor=args["factor"],
            onset_s=TRAINING_ONSET_S, offset_s=DETRAINING_OFFSET_S,
        )  # fmt: skip
    return Effect(sleep_cap_h=args["hours"])


def _medication(drug: str, classes: int) -> Effect:
    if drug in ("antihypertensive", "antihypertensive_stop"):
        sign = -classes if drug == "antihypertensive" else classes
        sbp, dbp = (sign * mmhg for mmhg in ANTIHYPERTENSIVE_MMHG)
        onset = ANTIHYPERTENSIVE_ONSET_S
        return Effect(sbp_mmhg=sbp, dbp_mmhg=dbp, onset_s=onset, offset_s=onset)
    if drug == "sulfonylurea":
        return Effect(glucose_mgdl=SULFONYLUREA_MGDL, onset_s=SULFONYLUREA_ONSET_S,
                      offset_s=SULFONYLUREA_OFFSET_S)  # fmt: skip
    return Effect(glucose_mgdl=METFORMIN_MGDL, onset_s=METFORMIN_ONSET_S,
                  offset_s=METFORMIN_ONSET_S)  # fmt: skip


PHYSIOLOGY = ("hr_bpm", "sbp_mmhg", "dbp_mmhg", "spo2_pct", "temp_c", "glucose_mgdl")
"""The effects the kernel reads, ``scenario_<name>`` each."""


def strengths(
    start_s: np.ndarray, end_s: np.ndarray, onset_s: np.ndarray, offset_s: np.ndarray, now_s: float
) -> np.ndarray:
    """``(S,)`` the fraction of their physiological effect that scenarios have at ``now_s``: 0
    before they start, ``1 - exp(-t / onset)`` while they run, then decaying by
    ``exp(-t / offset)`` after their end (a time constant of 0: at once). Arguments ``(S,)``,
    seconds."""
    ran_s = np.clip(np.minimum(now_s, end_s) - start_s, 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = np.where(onset_s > 0, -np.expm1(-ran_s / onset_s), 1.0)
        after_s = np.maximum(now_s - end_s, 0.0)
        fade = np.where(offset_s > 0, np.exp(-after_s / offset_s), after_s == 0)
    return np.where(now_s < start_s, 0.0, rise * fade)


def strength(scenario: Scenario, how: Effect, now_s: float) -> float:
    """``strengths`` of one scenario."""
    one = (np.array([value]) for value in (scenario.start_s, scenario.end_s, how.onset_s,
                                            how.offset_s))  # fmt: skip
    return float(strengths(*one, now_s)[0])


@dataclass(frozen=True)
class _Table:
    """Every scenario as columns (``(S,)`` each), rebuilt when one is added or stopped."""

    twin: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    onset_s: np.ndarray
    offset_s: np.ndarray
    physiology: np.ndarray
    """``(S, 6)`` full effects in ``PHYSIOLOGY`` order."""
    step_factor: np.ndarray
    exercise_factor: np.ndarray
    sleep_cap_h: np.ndarray
    lie_in: np.ndarray

    @classmethod
    def of(cls, scenarios: list[Scenario]) -> _Table:
        hows = [effect(s) for s in scenarios]

        def column(values: list[float]) -> np.ndarray:
            return np.array(values, dtype=np.float64)

        return cls(
            np.array([s.twin_id for s in scenarios], dtype=np.int64),
            column([s.start_s for s in scenarios]), column([s.end_s for s in scenarios]),
            column([h.onset_s for h in hows]), column([h.offset_s for h in hows]),
            column([[getattr(h, name) for name in PHYSIOLOGY] for h in hows]).reshape(-1, 6),
            column([h.step_factor for h in hows]), column([h.exercise_factor for h in hows]),
            column([h.sleep_cap_h for h in hows]), column([h.lie_in for h in hows]),
        )  # fmt: skip


class ScenarioSystem(System):
    """Writes every twin's scenario effects (module docstring); with ``record``, hands each
    scenario to the health record when it is added or stopped (table ``scenarios``)."""

    phase = Phase.INPUT
    writes = SCENARIO_EFFECTS.names

    def __init__(
        self,
        world: World,
        record: Callable[[RecordBatch], object] | None = None,
        every: int = 1,
    ) -> None:
        super().__init__(every)
        self.world = world
        self.record = record
        self._seen: tuple[int, int] | None = None
        """(scenarios version, columns version) of the last computation."""
        self._table = _Table.of([])
        self._next_s = -math.inf
        self._dirty = True
        """Whether some twin's effects differ from the defaults."""
        self._recorded: dict[int, Scenario] = {}

    def warmup(self) -> None:
        """Recompute at the next tick (a restored world's scenarios), and record them all."""
        self._seen = None
        self._dirty = True
        self._recorded = {}

    def run(self, tick: Tick) -> None:
        scenarios = self.world.resource(Scenarios)
        seen = (scenarios.version, self.world.columns.version)
        if seen == self._seen and tick.t_s < self._next_s:
            return
        if seen[0] != (self._seen or (None,))[0]:
            self._table = _Table.of(list(scenarios.items.values()))
            if self.record is not None:
                self._record(scenarios)
        self._seen = seen
        acting = self._compute(tick.t_s)
        later = self._table.start_s[self._table.start_s > tick.t_s]
        next_start = later.min() if later.size else math.inf
        self._next_s = min(tick.t_s + RECOMPUTE_S if acting else math.inf, next_start)

    def _compute(self, now_s: float) -> bool:
        """Write every twin's effects at ``now_s`` (vectorised over the scenarios); whether any
        scenario acts (then they are computed again ``RECOMPUTE_S`` later, else at the next
        start)."""
        w, t = self.world, self._table
        if self._dirty:
            for column in SCENARIO_EFFECTS.columns:
                w[column.name][...] = column.default
            self._dirty = False
        acts = (t.start_s <= now_s) & (now_s < t.end_s + FADED_OFFSETS * t.offset_s)
        if not acts.any():
            return False
        alive = acts & np.isin(t.twin, w.ids)  # a removed twin's scenarios stay in the record
        rows = w.rows_of(t.twin[alive])
        k = strengths(t.start_s[alive], t.end_s[alive], t.onset_s[alive], t.offset_s[alive], now_s)
        for j, name in enumerate(PHYSIOLOGY):
            np.add.at(w[f"scenario_{name}"], rows, k * t.physiology[alive, j])
        running = now_s < t.end_s[alive]
        rows, chosen = rows[running], np.flatnonzero(alive)[running]
        np.multiply.at(w["scenario_step_factor"], rows, t.step_factor[chosen])
        np.multiply.at(w["scenario_exercise_factor"], rows, t.exercise_factor[chosen])
        np.add.at(w["scenario_lie_in"], rows, t.lie_in[chosen])
        capped = t.sleep_cap_h[chosen] > 0
        caps = w["scenario_sleep_cap_h"]
        caps[rows[capped]] = np.inf  # "no cap" (0) before the smallest of the caps is taken
        np.minimum.at(caps, rows[capped], t.sleep_cap_h[chosen][capped])
        for name, (low, high) in LIMITS.items():
            np.clip(w[name], low, high, out=w[name])
        self._dirty = True
        return True

    def _record(self, scenarios: Scenarios) -> None:
        """Hand the scenarios added or changed since the last call to the record."""
        changed = [s for s in scenarios.items.values() if self._recorded.get(s.id) != s]
        if not changed:
            return
        self._recorded.update((s.id, s) for s in changed)
        self.record(RecordBatch("scenarios", scenario_rows(self.world, changed)))


def scenario_rows(world: World, scenarios: list[Scenario]) -> dict[str, np.ndarray]:
    """The ``scenarios`` table's rows of ``scenarios``: ``scenario_id``, ``twin_id``, ``kind``,
    ``args`` (JSON text), ``start``, ``end`` (simulated local time), ``stopped``."""
    start = np.datetime64(world.clock.start, "us")

    def at(seconds: list[float]) -> np.ndarray:
        return start + np.rint(np.asarray(seconds) * 1e6).astype("timedelta64[us]")

    return {
        "scenario_id": np.array([s.id for s in scenarios], dtype=np.int64),
        "twin_id": np.array([s.twin_id for s in scenarios], dtype=np.uint32),
        "kind": np.array([s.kind for s in scenarios], dtype=object),
        "args": np.array([json.dumps(s.args, sort_keys=True) for s in scenarios], dtype=object),
        "start": at([s.start_s for s in scenarios]),
        "end": at([s.end_s for s in scenarios]),
        "stopped": np.array([s.stopped for s in scenarios], dtype=bool),
    }
