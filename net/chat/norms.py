"""Norms: published cut-offs that make a number "bad", and the twin's concerns against them.

A value is a concern only where a published norm says so:

- Blood pressure: ACC/AHA 2017 guideline (Whelton et al., Hypertension 2018;71:e13-e115): stage 2
  hypertension from 140 systolic or 90 diastolic mmHg; a crisis above 180 or 120. Judged at rest.
- Heart rate: AHA, a normal resting heart rate for adults is 60-100 bpm ("All About Heart Rate
  (Pulse)", heart.org); above 100 at rest is tachycardia. Judged at rest and awake.
- Glucose: ADA Standards of Care in Diabetes 2024 (Diabetes Care 47 Suppl 1), section 6:
  hypoglycaemia below 70 mg/dL (level 1); the 70-180 mg/dL target range of continuous glucose
  monitoring (Battelino et al., Diabetes Care 2019;42:1593), so above 180 is high.
- Oxygen saturation: British Thoracic Society guideline (O'Driscoll et al., Thorax 2017;72:i1),
  target 94-98 % for adults: below 94 is low.
- Respiration: NEWS2 (Royal College of Physicians 2017): 12-20 breaths/min scores 0, above 20 at
  rest is raised.
- Temperature: CDC's definition of fever, 38.0 degC (100.4 degF) or more; hypothermia below 35.
- Sleep: AASM/SRS consensus (Watson et al., Sleep 2015;38:843): adults need 7 h or more; under 6 h
  the twin is short of sleep and says it is tired.
- Sleep pressure: a twin is sleepy when Process S is within one circadian amplitude (0.12) of the
  mean upper threshold at which it falls asleep (0.67; Daan, Beersma & Borbely 1984).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from synthtwin.kernels.physiology import PROCESS_C_AMPLITUDE, SLEEP_UPPER_THRESHOLD_MEAN
from synthtwin.net.chat.snapshot import TwinSnapshot

__all__ = ["Concern", "at_rest", "concerns", "is_tired", "short_night"]

SBP_STAGE2_MMHG = 140.0
DBP_STAGE2_MMHG = 90.0
SBP_CRISIS_MMHG = 180.0
DBP_CRISIS_MMHG = 120.0
HR_REST_MAX_BPM = 100.0
GLUCOSE_LOW_MGDL = 70.0
GLUCOSE_HIGH_MGDL = 180.0
SPO2_LOW_PCT = 94.0
RR_REST_MAX_BRPM = 20.0
FEVER_C = 38.0
HYPOTHERMIA_C = 35.0
SHORT_SLEEP_H = 6.0
RECOMMENDED_SLEEP_H = 7.0
TIRED_SLEEP_PRESSURE = SLEEP_UPPER_THRESHOLD_MEAN - PROCESS_C_AMPLITUDE
REST_MAX_METS = 1.5
"""Sitting quietly and light sitting tasks are 1.0-1.5 MET (Ainsworth et al. 2011)."""

_NOT_RESTING = ("sleep", "travel", "exercise_gym", "exercise_park")


@dataclass(frozen=True)
class Concern:
    """A value outside its norm.

    Attributes:
        topic: what it is about (``bp``, ``hr``, ``glucose``, ``spo2``, ``rr``, ``temp``,
            ``sleep``), the topics of ``slots.TOPICS``.
        level: ``high`` or ``low``.
        facts: the facts that show it.
        severe: far outside (a hypertensive crisis).
    """

    topic: str
    level: Literal["high", "low"]
    facts: tuple[str, ...]
    severe: bool = False


def at_rest(snap: TwinSnapshot) -> bool:
    """Awake, sitting or lying quietly: where resting norms (HR, BP, RR) apply."""
    return snap.value("activity") not in _NOT_RESTING and snap.value("mets", 99.0) <= REST_MAX_METS


def concerns(snap: TwinSnapshot) -> tuple[Concern, ...]:
    """Every value of the snapshot outside its published norm, most serious first."""
    out: list[Concern] = []
    rest = at_rest(snap)
    sbp, dbp = snap.value("sbp_mmhg", 0), snap.value("dbp_mmhg", 0)
    if rest and (sbp >= SBP_STAGE2_MMHG or dbp >= DBP_STAGE2_MMHG):
        severe = sbp > SBP_CRISIS_MMHG or dbp > DBP_CRISIS_MMHG
        out.append(Concern("bp", "high", ("sbp_mmhg", "dbp_mmhg"), severe))
    glucose = snap.value("glucose_mgdl", 100)
    if glucose > GLUCOSE_HIGH_MGDL or glucose < GLUCOSE_LOW_MGDL:
        level = "high" if glucose > GLUCOSE_HIGH_MGDL else "low"
        out.append(Concern("glucose", level, ("glucose_mgdl",)))
    if snap.value("spo2_pct", 100) < SPO2_LOW_PCT:
        out.append(Concern("spo2", "low", ("spo2_pct",)))
    temp = snap.value("core_temp_c", 37.0)
    if (rest and temp >= FEVER_C) or temp < HYPOTHERMIA_C:
        out.append(Concern("temp", "high" if temp >= FEVER_C else "low", ("core_temp_c",)))
    if rest and snap.value("hr_bpm", 0) > HR_REST_MAX_BPM:
        out.append(Concern("hr", "high", ("hr_bpm",)))
    if rest and snap.value("rr_brpm", 0) > RR_REST_MAX_BRPM:
        out.append(Concern("rr", "high", ("rr_brpm",)))
    if short_night(snap):
        out.append(Concern("sleep", "low", ("sleep_hours",)))
    return tuple(out)


def short_night(snap: TwinSnapshot) -> bool:
    """Slept, but under 6 h (a night that ended today; 0 means none has ended yet)."""
    return 0 < snap.value("sleep_hours", 0) < SHORT_SLEEP_H


def is_tired(snap: TwinSnapshot) -> bool:
    """Short of sleep, or sleep pressure near bedtime level (and awake)."""
    sleepy = snap.value("sleep_pressure", 0) >= TIRED_SLEEP_PRESSURE
    return snap.value("activity") != "sleep" and (short_night(snap) or sleepy)
