"""Scenarios (what-if): an illness, a medication, a change of exercise habit or a short night
put on one twin for a span of simulated time; their effects as per-twin columns.

A ``Scenario`` is plain data: its twin, its kind and arguments, its start and end in simulated
seconds since the clock's start. The ``Scenarios`` resource holds every scenario of the world
(ended ones too: the record of what was done), hands out their ids and is saved in checkpoints.
``systems.scenario.ScenarioSystem`` turns the active ones into the ``SCENARIO_EFFECTS`` columns
that the physiology kernel (``SCENARIO_KERNEL``), the physiology system (step cadence) and the
behaviour system (exercise, sleep) read; the effect sizes and their sources are there.

``scenario_args`` checks a scenario's arguments wherever they come from (the ROUTER ``scenario``
op, a scenario file of ``twin simulate``), with the protocol's error templates (section 10).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from synthtwin.components.schema import Column, Component

__all__ = [
    "DRUGS",
    "KINDS",
    "MAX_DAYS",
    "SCENARIO_EFFECTS",
    "SCENARIO_KERNEL",
    "SEVERITIES",
    "Scenario",
    "ScenarioError",
    "Scenarios",
    "scenario_args",
]

KINDS = ("illness", "medication", "exercise", "short_night")
"""The kinds of scenario."""
SEVERITIES = ("mild", "moderate", "severe")
"""Severity levels of an illness."""
DRUGS = ("antihypertensive", "antihypertensive_stop", "sulfonylurea", "metformin_stop")
"""Medications: starting an antihypertensive (``classes`` drug classes at standard dose),
stopping one, starting a sulfonylurea, stopping metformin."""
MAX_DAYS = 366.0
"""The longest scenario, simulated days."""
MAX_CLASSES = 3
EXERCISE_FACTOR_RANGE = (0.0, 4.0)
"""Exercise habit factor: 0 stops exercising, 2 exercises twice as often."""
SLEEP_HOURS_RANGE = (1.0, 8.0)
"""Hours a short night allows."""

SCENARIO_KERNEL = (
    Column("scenario_hr_bpm", "float64", unit="1/min", doc="scenario rise of resting HR"),
    Column("scenario_sbp_mmhg", "float64", unit="mmHg", doc="scenario change of resting SBP"),
    Column("scenario_dbp_mmhg", "float64", unit="mmHg", doc="scenario change of resting DBP"),
    Column("scenario_spo2_pct", "float64", unit="%", doc="scenario fall of resting SpO2"),
    Column("scenario_temp_c", "float64", unit="degC", doc="scenario fever above the set point"),
    Column("scenario_glucose_mgdl", "float64", unit="mg/dL", doc="scenario change of fasting BG"),
)
"""The physiology kernel's scenario inputs (``kernels.physiology.step_twin``, in this order):
float64, so that adding them to float32 parameters is double arithmetic on every backend."""

SCENARIO_EFFECTS = Component(
    "scenario_effects",
    (
        *SCENARIO_KERNEL,
        Column("scenario_step_factor", "float32", default=1, doc="scenario factor on step cadence"),
        Column("scenario_exercise_factor", "float32", default=1, doc="factor on exercise need"),
        Column("scenario_sleep_cap_h", "float32", unit="h", doc="longest sleep allowed; 0 none"),
        Column("scenario_lie_in", "float32", doc="extra fall of sleep pressure before waking"),
    ),
    doc="what the active scenarios do to a twin now; written by the scenario system",
)


class ScenarioError(ValueError):
    """A scenario's arguments are wrong; ``code`` is the protocol's error code
    (``bad_request``, ``out_of_range``), the message names the field and what it expects."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Scenario:
    """One scenario.

    Attributes:
        id: its id (from 1, never reused).
        twin_id: the twin it is put on.
        kind: one of ``KINDS``.
        start_s, end_s: when it starts and ends, simulated seconds since the clock's start.
        args: its kind's arguments (``scenario_args``: ``severity``, ``drug`` and ``classes``,
            ``factor``, ``hours``).
        stopped: whether it was stopped before its planned end (``end_s`` is then the stop).
    """

    id: int
    twin_id: int
    kind: str
    start_s: float
    end_s: float
    args: dict[str, Any] = field(default_factory=dict)
    stopped: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: Any) -> Scenario:
        """The scenario a checkpoint saved; ValueError if it is not one."""
        if not isinstance(value, dict) or set(value) != set(cls.__dataclass_fields__):
            raise ValueError(f"not a scenario: {str(value)[:80]}")
        scenario = cls(**value)
        ok = (
            _count(scenario.id) and scenario.id > 0 and _count(scenario.twin_id)
            and scenario.kind in KINDS and isinstance(scenario.args, dict)
            and all(isinstance(t, int | float) and math.isfinite(t)
                    for t in (scenario.start_s, scenario.end_s))
            and scenario.start_s <= scenario.end_s and isinstance(scenario.stopped, bool)
        )  # fmt: skip
        if not ok:
            raise ValueError(f"not a scenario: {str(value)[:80]}")
        scenario_args(scenario.kind, scenario.args)
        return scenario


class Scenarios:
    """Every scenario of the world, by id (a resource; checkpointed).

    Attributes:
        version: changes whenever a scenario is added or stopped (the scenario system
            recomputes its effects then).
    """

    def __init__(self) -> None:
        self.items: dict[int, Scenario] = {}
        self.next_id = 1
        self.version = 0

    def add(self, twin_id: int, kind: str, start_s: float, end_s: float, args: dict) -> Scenario:
        """A new scenario, kept and returned (arguments already checked)."""
        scenario = Scenario(self.next_id, int(twin_id), kind, float(start_s), float(end_s), args)
        self.items[scenario.id] = scenario
        self.next_id += 1
        self.version += 1
        return scenario

    def stop(self, scenario_id: int, now_s: float) -> Scenario:
        """End scenario ``scenario_id`` at ``now_s`` (one not yet started is cut to nothing);
        one already over is returned unchanged. KeyError if there is none."""
        scenario = self.items[scenario_id]
        if scenario.end_s <= now_s:
            return scenario
        start_s = min(scenario.start_s, now_s)
        stopped = Scenario(scenario.id, scenario.twin_id, scenario.kind, start_s, now_s,
                           scenario.args, stopped=True)  # fmt: skip
        self.items[scenario_id] = stopped
        self.version += 1
        return stopped

    def of_twin(self, twin_id: int | None) -> list[Scenario]:
        """The scenarios of one twin (None: all), by id."""
        return [s for s in self.items.values() if twin_id is None or s.twin_id == twin_id]

    def state_dict(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """No arrays; the scalars are the scenarios and the next id (nothing before the first
        scenario, so checkpoints without scenarios read as before)."""
        if self.next_id == 1:
            return {}, {}
        items = [s.to_json() for s in self.items.values()]
        return {}, {"next_id": self.next_id, "items": items}

    def load_state_dict(self, arrays: dict[str, Any], scalars: dict[str, Any]) -> None:
        """Restore what ``state_dict`` gave; ValueError on anything else."""
        items = [Scenario.from_json(item) for item in scalars.get("items", [])]
        next_id = scalars.get("next_id", 1)
        if (
            not _count(next_id)
            or any(s.id >= next_id for s in items)
            or len({s.id for s in items}) != len(items)
        ):
            raise ValueError("scenario ids and next_id disagree")
        self.items = {s.id: s for s in items}
        self.next_id = next_id
        self.version += 1


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def scenario_args(kind: str, args: dict[str, Any], prefix: str = "args") -> dict[str, Any]:
    """The checked arguments of a scenario of ``kind`` from ``args`` (other keys ignored), with
    their defaults: illness ``severity`` (``SEVERITIES``, default ``moderate``); medication
    ``drug`` (``DRUGS``), ``classes`` (int 1..3, default 1; antihypertensives only); exercise
    ``factor`` (float 0..4: the exercise habit's factor); short_night ``hours`` (float 1..8).

    Raises:
        ScenarioError: ``bad_request`` for a wrong type, ``out_of_range`` for a value outside
            its range or set.
    """
    if kind == "illness":
        return {"severity": _choice(args, "severity", SEVERITIES, prefix, "moderate")}
    if kind == "medication":
        drug = _choice(args, "drug", DRUGS, prefix, None)
        classes = _number(args, "classes", (1, MAX_CLASSES), prefix, 1, integer=True)
        return {"drug": drug, "classes": classes}
    if kind == "exercise":
        return {"factor": _number(args, "factor", EXERCISE_FACTOR_RANGE, prefix, None)}
    if kind == "short_night":
        return {"hours": _number(args, "hours", SLEEP_HOURS_RANGE, prefix, None)}
    raise ScenarioError(
        "out_of_range", f"field '{prefix}.kind' holds '{str(kind)[:64]}', expected one of "
        f"{', '.join(KINDS)}"
    )  # fmt: skip


def _choice(
    args: dict, key: str, allowed: tuple[str, ...], prefix: str, default: str | None
) -> str:
    value = args.get(key, default)
    if value is None:
        raise ScenarioError("bad_request", f"missing field '{prefix}.{key}'")
    if not isinstance(value, str):
        raise ScenarioError("bad_request", f"field '{prefix}.{key}' must be str, got "
                            f"{_family(value)}")  # fmt: skip
    if value not in allowed:
        raise ScenarioError("out_of_range", f"field '{prefix}.{key}' holds '{value[:64]}', "
                            f"expected one of {', '.join(allowed)}")  # fmt: skip
    return value


def _number(
    args: dict, key: str, bounds: tuple[float, float], prefix: str, default: float | None,
    integer: bool = False,
) -> float | int:  # fmt: skip
    value = args.get(key, default)
    if value is None:
        raise ScenarioError("bad_request", f"missing field '{prefix}.{key}'")
    number = isinstance(value, int) if integer else isinstance(value, int | float)
    if not number or isinstance(value, bool):
        expected = "int" if integer else "float"
        raise ScenarioError("bad_request", f"field '{prefix}.{key}' must be {expected}, got "
                            f"{_family(value)}")  # fmt: skip
    low, high = bounds
    if not (math.isfinite(value) and low <= value <= high):
        raise ScenarioError("out_of_range", f"field '{prefix}.{key}' holds {value}, expected "
                            f"{low:g}..{high:g}")  # fmt: skip
    return value if integer else float(value)


def _family(value: Any) -> str:
    """The msgpack family of ``value`` (protocol section 4.1)."""
    families = ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"),
                (bytes, "bin"), (dict, "map"), (list, "array"))  # fmt: skip
    if value is None:
        return "nil"
    return next((name for kind, name in families if isinstance(value, kind)), "array")
