"""Physiology: per-twin parameters (from the population), the integrated vital state, and the
declaration of the physiology kernel's column arguments (``PHYSIOLOGY_KERNEL_ARGS``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from synthtwin.components.behavior import SCHEDULE
from synthtwin.components.body import BODY
from synthtwin.components.scenario import SCENARIO_KERNEL
from synthtwin.components.schema import NOT_STEPPED, Column, Component

__all__ = [
    "ASLEEP",
    "EXERTION",
    "PHYSIOLOGY_KERNEL_ARGS",
    "PHYSIOLOGY_PARAMS",
    "VITALS",
    "VITAL_COLUMNS",
    "KernelArgs",
]

PHYSIOLOGY_PARAMS = Component(
    "physiology_params",
    (
        Column("rhr_bpm", "float32", unit="1/min", default=72, doc="resting heart rate, seated"),
        Column(
            "hrmax_bpm", "float32", unit="1/min", default=180, doc="208 - 0.7 age (Tanaka 2001)"
        ),
        Column("vo2max_mlkgmin", "float32", unit="mL/kg/min", default=35, doc="aerobic capacity"),
        Column("vo2max_mets", "float32", unit="MET", default=10, doc="aerobic capacity / 3.5"),
        Column("sbp_rest_mmhg", "float32", unit="mmHg", default=120, doc="resting systolic BP"),
        Column("dbp_rest_mmhg", "float32", unit="mmHg", default=75, doc="resting diastolic BP"),
        Column("rr_rest_brpm", "float32", unit="1/min", default=14, doc="resting breathing rate"),
        Column("spo2_rest_pct", "float32", unit="%", default=97.5, doc="resting SpO2"),
        Column("glucose_basal_mgdl", "float32", unit="mg/dL", default=90, doc="fasting glucose"),
        Column("insulin_basal_uu_ml", "float32", unit="uU/mL", default=8, doc="fasting insulin"),
        Column("insulin_sensitivity", "float32", default=1, doc="x minimal-model p3; 1 healthy"),
        Column("insulin_secretion", "float32", default=1, doc="x pancreatic gain; 1 healthy"),
    ),
)

VITALS = Component(
    "vitals",
    (
        Column("hr_bpm", "float64", unit="1/min", default=72, doc="heart rate"),
        Column("sbp_mmhg", "float64", unit="mmHg", default=120, doc="systolic blood pressure"),
        Column("dbp_mmhg", "float64", unit="mmHg", default=75, doc="diastolic blood pressure"),
        Column("rr_brpm", "float64", unit="1/min", default=14, doc="respiration rate"),
        Column("spo2_pct", "float64", unit="%", default=97.5, doc="oxygen saturation"),
        Column("core_temp_c", "float64", unit="degC", default=36.8, doc="core body temperature"),
        Column("glucose_mgdl", "float64", unit="mg/dL", default=90, doc="plasma glucose"),
        Column("insulin_uu_ml", "float64", unit="uU/mL", default=8, doc="plasma insulin"),
        Column("insulin_action_per_min", "float64", unit="1/min", doc="remote insulin action X"),
        Column("gut1_mg", "float64", unit="mg", doc="carbohydrate in gut compartment 1"),
        Column("gut2_mg", "float64", unit="mg", doc="carbohydrate in gut compartment 2"),
        Column("sleep_pressure", "float64", default=0.3, doc="Borbely process S, 0..1"),
        Column("hr_noise", "float64", doc="wander of resting HR, unit Ornstein-Uhlenbeck"),
        Column("bp_noise", "float64", doc="wander of blood pressure, unit Ornstein-Uhlenbeck"),
        Column("noise_draws", "float64", doc="ticks that drew random numbers: their counter"),
        Column("energy_kcal", "float64", unit="kcal", doc="energy spent today"),
        Column("steps", "float64", unit="step", doc="steps taken today"),
    ),
)

EXERTION = Component(
    "exertion",
    (
        Column("mets", "float32", unit="MET", default=1, doc="intensity of the current activity"),
        Column("cadence_spm", "float32", unit="1/min", doc="average steps per minute now"),
        Column("carbs_g", "float32", unit="g", doc="carbohydrate eaten in the current step"),
        Column("rhr_offset_bpm", "float64", unit="1/min", doc="today's resting-HR offset"),
        Column("bp_offset_mmhg", "float64", unit="mmHg", doc="today's systolic BP offset"),
        Column("hr_noise_cv", "float32", doc="minute-to-minute CV of resting HR, fraction"),
        Column("sbp_noise_mmhg", "float32", unit="mmHg", doc="minute-to-minute SD of SBP"),
        Column("variation_key", "float64", doc="key of the twin's random draws, integer < 2**31"),
        Column("activity_factor", "float32", default=1, doc="today's factor on step cadence"),
        Column(
            "physiology_done_s",
            "float64",
            unit="s",
            default=NOT_STEPPED,
            doc="simulated time the vitals are stepped to (engine.spread)",
        ),  # fmt: skip
    ),
    doc="what the current activity and today's condition ask of the body; written by the "
    "physiology system",
)

VITAL_COLUMNS = ("hr_bpm", "sbp_mmhg", "dbp_mmhg", "rr_brpm", "spo2_pct", "core_temp_c",
                 "glucose_mgdl", "steps", "energy_kcal", "mets")  # fmt: skip
"""The live vitals a twin's ``vitals`` topic carries, in the message's field order."""

ASLEEP = Column("asleep", "bool", doc="whether the twin sleeps this tick (its activity is sleep)")
"""A kernel input that no component stores: the physiology system derives it each tick."""


@dataclass(frozen=True)
class KernelArgs:
    """The column arguments of a per-twin kernel, by role, each role in the kernel's order.

    A kernel takes one ``(N,)`` array per column, grouped as its four roles
    (``kernel(dt_s, clock_h, state, inputs, params, accumulators)``, see ``by_role``), and its
    per-twin function takes one value per column in ``columns`` order and returns the new value
    of each column in ``written`` order.

    Attributes:
        state: columns the kernel advances (read, then overwritten).
        inputs: this tick's drivers, read only.
        params: per-twin constants, read only.
        accumulators: running totals the kernel adds to.
    """

    state: tuple[Column, ...]
    inputs: tuple[Column, ...]
    params: tuple[Column, ...]
    accumulators: tuple[Column, ...]

    @property
    def columns(self) -> tuple[Column, ...]:
        """Every argument column: state, inputs, params, accumulators."""
        return self.state + self.inputs + self.params + self.accumulators

    @property
    def names(self) -> tuple[str, ...]:
        """The names of ``columns``, in order."""
        return tuple(column.name for column in self.columns)

    @property
    def written(self) -> tuple[str, ...]:
        """The names of the columns the kernel writes: state, then accumulators."""
        return tuple(column.name for column in self.state + self.accumulators)

    def by_role(self, arrays: Mapping[str, Any]) -> tuple[tuple[Any, ...], ...]:
        """``(state, inputs, params, accumulators)``: ``arrays`` (by column name) grouped and
        ordered as the kernel takes them."""
        roles = (self.state, self.inputs, self.params, self.accumulators)
        return tuple(tuple(arrays[column.name] for column in role) for role in roles)


def _check_names(component: Component, names: tuple[str, ...]) -> None:
    """Raise ``ValueError`` unless ``component`` has every column in ``names``."""
    missing = set(names) - set(component.names)
    if missing:
        raise ValueError(f"component {component.name!r} has no column(s) {sorted(missing)}")


def _only(component: Component, *names: str) -> tuple[Column, ...]:
    """The columns of ``component`` named in ``names``, in the component's order."""
    _check_names(component, names)
    return tuple(column for column in component.columns if column.name in names)


def _all_but(component: Component, *names: str) -> tuple[Column, ...]:
    """The columns of ``component`` not named in ``names``, in the component's order."""
    _check_names(component, names)
    return tuple(column for column in component.columns if column.name not in names)


_ACCUMULATORS = ("energy_kcal", "steps")

PHYSIOLOGY_KERNEL_ARGS = KernelArgs(
    state=_all_but(VITALS, *_ACCUMULATORS),
    inputs=(*_all_but(EXERTION, "activity_factor", "physiology_done_s"), ASLEEP, *SCENARIO_KERNEL),
    params=(
        *_all_but(PHYSIOLOGY_PARAMS, "vo2max_mlkgmin"),
        *_only(BODY, "weight_kg"),
        *_only(SCHEDULE, "circadian_phase_h"),
    ),
    accumulators=_only(VITALS, *_ACCUMULATORS),
)
"""The physiology kernel's columns (``kernels.physiology.step_twin``, whose parameters after
``dt_s`` and ``clock_mid_h`` follow this order): the vitals, this tick's exertion, sleep and
scenario effects (``components.scenario``), the physiology parameters with the body's mass and
the circadian phase, then energy and steps."""
