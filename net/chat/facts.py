"""Facts: the values a reply may state, each with its unit, its source, the time it holds and the
rounding it is said with.

A ``Fact`` is plain data. Its ``value`` is already rounded as its ``FactSpec`` states (``decimals``
for numbers, the minute for clock times), so a reply that formats it with ``say`` writes exactly
the number the fact holds, and ``grounding.numbers_in`` can check a reply against its facts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from synthtwin.components.activity import CATEGORIES
from synthtwin.components.behavior import PERSONALITY

__all__ = ["FACT_SPECS", "Fact", "FactSpec", "Source", "make_fact", "say"]

Source = Literal["live", "history", "profile", "schedule"]
"""Where a fact comes from: the twin's state this tick, its daily record (today so far and its
recorded past days, ``past``), its fixed profile, or its timetable."""

Value = float | int | str | bool


@dataclass(frozen=True)
class Fact:
    """One stated value.

    Attributes:
        name: the fact's name (``hr_bpm``, ``sleep_hours``...), a key of ``FACT_SPECS``.
        value: the value as it is said (rounded per its spec); clock times are ``"HH:MM"``, dates
            ``"YYYY-MM-DD"``, codes their names.
        unit: the unit (the component schema's spelling: ``1/min``, ``mmHg``, ``h``...), ``""``
            for names and flags, ``time`` for clock times, ``date`` for dates.
        source: ``live`` | ``history`` | ``profile`` | ``schedule``.
        time: simulated local time the value holds at (ISO 8601; a date for a day's aggregate),
            ``None`` for what does not change with time.
    """

    name: str
    value: Value
    unit: str
    source: Source
    time: str | None

    def to_dict(self) -> dict[str, Any]:
        """The fact as a JSON-ready mapping (written out: ``dataclasses.asdict`` deep-copies,
        ~20 us a fact, and a snapshot of ~75 facts crosses to the chat worker in the tick)."""
        return {"name": self.name, "value": self.value, "unit": self.unit,
                "source": self.source, "time": self.time}  # fmt: skip


@dataclass(frozen=True)
class FactSpec:
    """How one fact is measured and said.

    Attributes:
        unit: the fact's unit (see ``Fact.unit``).
        source: where it comes from.
        decimals: digits after the point it is rounded to (numbers only); ``None`` for values that
            are not numbers, ``0`` for whole numbers; an age is floored (people say 34 at 34.7).
        spoken: the unit as a reply writes it after the number (``"bpm"``), ``""`` for none.
    """

    unit: str
    source: Source
    decimals: int | None = None
    spoken: str = ""


def _specs() -> dict[str, FactSpec]:
    live, hist, prof, sched = "live", "history", "profile", "schedule"
    specs = {
        # live: the twin's state this tick
        "clock": FactSpec("time", live),
        "weekday": FactSpec("", live),
        "date": FactSpec("date", live),
        "activity": FactSpec("", live),
        "activity_since": FactSpec("time", live),
        "activity_minutes": FactSpec("min", live, 0, "minutes"),
        "place": FactSpec("", live),
        "travel_mode": FactSpec("", live),
        "hr_bpm": FactSpec("1/min", live, 0, "bpm"),
        "sbp_mmhg": FactSpec("mmHg", live, 0, ""),
        "dbp_mmhg": FactSpec("mmHg", live, 0, "mmHg"),
        "rr_brpm": FactSpec("1/min", live, 0, "breaths a minute"),
        "spo2_pct": FactSpec("%", live, 0, "%"),
        "core_temp_c": FactSpec("degC", live, 1, "°C"),
        "glucose_mgdl": FactSpec("mg/dL", live, 0, "mg/dL"),
        "steps": FactSpec("step", live, 0, "steps"),
        "energy_kcal": FactSpec("kcal", live, 0, "kcal"),
        "mets": FactSpec("MET", live, 1, "METs"),
        "sleep_pressure": FactSpec("", live, 2, ""),
        "gut_carbs_g": FactSpec("g", live, 0, "g"),
        "asleep_for_h": FactSpec("h", live, 1, "hours"),
        # history: today's daily record so far (the health system's aggregates)
        "days_recorded": FactSpec("day", hist, 0, "days"),
        "sleep_hours": FactSpec("h", hist, 1, "hours"),
        "resting_hr": FactSpec("1/min", hist, 0, "bpm"),
        "mean_hr": FactSpec("1/min", hist, 0, "bpm"),
        "max_hr": FactSpec("1/min", hist, 0, "bpm"),
        "sbp_mean": FactSpec("mmHg", hist, 0, ""),
        "dbp_mean": FactSpec("mmHg", hist, 0, "mmHg"),
        "glucose_mean": FactSpec("mg/dL", hist, 0, "mg/dL"),
        "glucose_max": FactSpec("mg/dL", hist, 0, "mg/dL"),
        # profile: who the twin is
        "twin_id": FactSpec("", prof, 0, ""),
        "age_y": FactSpec("y", prof, 0, ""),
        "sex": FactSpec("", prof),
        "employment": FactSpec("", prof),
        "household_size": FactSpec("person", prof, 0, ""),
        "household_others": FactSpec("person", prof, 0, ""),
        "n_children": FactSpec("person", prof, 0, ""),
        "has_car": FactSpec("", prof),
        "bikes": FactSpec("", prof),
        "hypertension": FactSpec("", prof),
        "htn_treated": FactSpec("", prof),
        "diabetes": FactSpec("", prof),
        "exercise_habit": FactSpec("", prof, 2, ""),
        "chronotype": FactSpec("", prof),
        "height_cm": FactSpec("cm", prof, 0, "cm"),
        "weight_kg": FactSpec("kg", prof, 0, "kg"),
        "bmi": FactSpec("kg/m^2", prof, 1, ""),
        "rhr_bpm": FactSpec("1/min", prof, 0, "bpm"),
        "sbp_rest_mmhg": FactSpec("mmHg", prof, 0, ""),
        "dbp_rest_mmhg": FactSpec("mmHg", prof, 0, "mmHg"),
        "glucose_basal_mgdl": FactSpec("mg/dL", prof, 0, "mg/dL"),
        **{trait: FactSpec("z", prof, 1, "") for trait in PERSONALITY.names},
        # schedule: the twin's timetable
        "shift": FactSpec("", sched),
        "work_days": FactSpec("", sched),
        "work_start": FactSpec("time", sched),
        "work_end": FactSpec("time", sched),
        "work_hours": FactSpec("h", sched, 1, "hours"),
        "works_today": FactSpec("", sched),
        "works_tomorrow": FactSpec("", sched),
        "school_days": FactSpec("", sched),
        "school_start": FactSpec("time", sched),
        "school_end": FactSpec("time", sched),
        "school_today": FactSpec("", sched),
        "school_tomorrow": FactSpec("", sched),
        "activity_until": FactSpec("time", sched),
        "next_activity": FactSpec("", sched),
    }
    for category in CATEGORIES:
        specs[f"today_{category}_h"] = FactSpec("h", hist, 1, "hours")
    specs.update(_past_specs())
    return specs


def _past_specs() -> dict[str, FactSpec]:
    """The facts of the recorded past days (``past``): a day's totals and its SpO2,
    temperature and breathing means (its other values share today's names), the week's and the
    usual means, trends and alerts."""
    hist = "history"
    measures = {
        "steps": FactSpec("step", hist, 0, "steps"),
        "energy_kcal": FactSpec("kcal", hist, 0, "kcal"),
        "sleep_hours": FactSpec("h", hist, 1, "hours"),
        "resting_hr": FactSpec("1/min", hist, 0, "bpm"),
        "sbp_mean": FactSpec("mmHg", hist, 0, ""),
        "dbp_mean": FactSpec("mmHg", hist, 0, "mmHg"),
        "glucose_mean": FactSpec("mg/dL", hist, 0, "mg/dL"),
    }
    specs = {
        "day_steps": measures["steps"],
        "day_energy_kcal": measures["energy_kcal"],
        "spo2_mean": FactSpec("%", hist, 0, "%"),
        "temp_mean": FactSpec("degC", hist, 1, "°C"),
        "rr_mean": FactSpec("1/min", hist, 0, "breaths a minute"),
    }
    for name, spec in measures.items():
        specs[f"week_{name}"] = specs[f"usual_{name}"] = spec
        specs[f"trend_{name}"] = spec
        specs[f"trend_{name}_direction"] = FactSpec("", hist)
    alerts = {
        "resting_hr_rise": ("1/min", "bpm"), "resting_tachycardia": ("1/min", "bpm"),
        "bp_day_mean": ("mmHg", "mmHg"), "bp_crisis": ("mmHg", "mmHg"),
        "spo2_low": ("min", "minutes"), "glucose_high": ("min", "minutes"),
        "glucose_low": ("min", "minutes"), "short_sleep": ("night", "nights"),
    }  # fmt: skip
    for rule, (unit, spoken) in alerts.items():
        specs[f"alert_{rule}"] = FactSpec(unit, hist, 0, spoken)
    return specs


FACT_SPECS: dict[str, FactSpec] = _specs()
"""Every fact a reply may state, by name."""


def make_fact(name: str, raw: Value, time: str | None) -> Fact:
    """The fact ``name`` of a raw value: rounded as its spec states, with the spec's unit and
    source. ``time`` is when it holds (``None`` for profile and schedule facts)."""
    spec = FACT_SPECS[name]
    value: Value = raw
    if spec.decimals is not None and not isinstance(raw, bool | str):
        if name == "age_y":
            value = int(math.floor(float(raw)))
        elif spec.decimals == 0:
            value = int(round(float(raw)))
        else:
            value = round(float(raw), spec.decimals)
    return Fact(name, value, spec.unit, spec.source, time if spec.source != "profile" else None)


def say(fact: Fact, unit: bool = True) -> str:
    """The fact's value as a reply writes it: the number as rounded (no trailing ``.0``), then its
    spoken unit when ``unit``; names and times as they are."""
    value = fact.value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    text = str(int(value)) if float(value).is_integer() else f"{value}"
    spoken = FACT_SPECS[fact.name].spoken
    if not unit or not spoken:
        return text
    return f"{text}{spoken}" if spoken in ("%", "°C") else f"{text} {spoken}"
