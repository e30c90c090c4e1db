"""Identity: who a twin is (demographics, household, conditions). Static after spawn."""

from synthtwin.components.schema import Column, Component

__all__ = ["EMPLOYMENT", "IDENTITY"]

EMPLOYMENT = ("full_time", "part_time", "unemployed", "retired", "student", "homemaker", "disabled")

IDENTITY = Component(
    "identity",
    (
        Column(
            "source_id", "int64", default=-1, doc="person id in an imported file; -1 if synthesized"
        ),
        Column("age_y", "float32", unit="y", default=40, doc="age with fractional part, 18-90"),
        Column("sex", "uint8", enum=("female", "male"), doc="sex at birth"),
        Column("employment", "uint8", enum=EMPLOYMENT, doc="main activity status"),
        Column("employed", "bool", doc="works full or part time"),
        Column("student", "bool", doc="enrolled in education"),
        Column("household_id", "uint32", doc="household the twin lives in"),
        Column("household_size", "uint8", unit="person", default=1, doc="people in the household"),
        Column("n_children", "uint8", unit="person", doc="children under 18 at home"),
        Column("has_car", "bool", default=True, doc="household has a car"),
        Column("bikes", "bool", doc="rides a bike for short trips"),
        Column("hypertension", "bool", doc="hypertension (ACC/AHA 2017, >=130/80 or treated)"),
        Column("htn_treated", "bool", doc="takes blood-pressure medication"),
        Column("diabetes", "bool", doc="type 2 diabetes, diagnosed or not"),
    ),
)
