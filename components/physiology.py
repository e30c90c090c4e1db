"""Physiology: per-twin parameters (from the population) and the integrated vital state."""

from synthtwin.components.schema import Column, Component

__all__ = ["EXERTION", "PHYSIOLOGY_PARAMS", "VITALS", "VITAL_COLUMNS"]

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
        Column("energy_kcal", "float64", unit="kcal", doc="energy spent today"),
        Column("steps", "float64", unit="step", doc="steps taken today"),
    ),
)

EXERTION = Component(
    "exertion",
    (
        Column("mets", "float32", unit="MET", default=1, doc="intensity of the current activity"),
        Column("cadence_spm", "float32", unit="1/min", doc="average steps per minute now"),
        Column("carbs_g", "float32", unit="g", doc="carbohydrate eaten this tick"),
    ),
    doc="what the current activity asks of the body; written by the physiology system",
)

VITAL_COLUMNS = ("hr_bpm", "sbp_mmhg", "dbp_mmhg", "rr_brpm", "spo2_pct", "core_temp_c",
                 "glucose_mgdl", "steps", "energy_kcal", "mets")  # fmt: skip
"""The live vitals a twin's ``vitals`` topic carries, in the message's field order."""
