"""Behaviour: personality, schedule, needs and the current activity of each twin."""

from synthtwin.components.schema import Column, Component

__all__ = ["ACTIVITY_STATE", "NEEDS", "PERSONALITY", "SCHEDULE", "SHIFTS"]

SHIFTS = ("day", "evening", "night", "rotating", "none")

NEEDS = ("hunger", "hygiene", "household", "shopping", "social", "fitness", "caring")
"""Needs, 0 (satisfied) to 1 (urgent): they grow with time; the matching activity resets them."""

PERSONALITY = Component(
    "personality",
    tuple(
        Column(trait, "float32", unit="z", doc=f"Big Five {trait}, z-score against adult norms")
        for trait in (
            "openness",
            "conscientiousness",
            "extraversion",
            "agreeableness",
            "neuroticism",
        )
    ),
)

SCHEDULE = Component(
    "schedule",
    (
        Column("shift", "uint8", default=4, enum=SHIFTS, doc="work shift type"),
        Column(
            "work_start_h", "float32", unit="h", default=9, doc="local start hour of a work day"
        ),
        Column("work_hours", "float32", unit="h", doc="hours worked per work day"),
        Column("work_days", "uint8", doc="bitmask of working days, bit 0 = Monday"),
        Column("school_start_h", "float32", unit="h", default=9, doc="local start hour of classes"),
        Column("school_hours", "float32", unit="h", doc="hours of classes per school day"),
        Column("school_days", "uint8", doc="bitmask of class days, bit 0 = Monday"),
        Column("work_mets", "float32", unit="MET", default=1.5, doc="intensity of the job"),
        Column("work_steps_per_min", "float32", unit="1/min", default=6, doc="steps at work"),
        Column(
            "chronotype_h", "float32", unit="h", default=4, doc="mid-sleep on free days (MSFsc)"
        ),
        Column("circadian_phase_h", "float32", unit="h", doc="circadian shift vs the mean"),
        Column("exercise_habit", "float32", doc="propensity to exercise, 0..1"),
    ),
)

ACTIVITY_STATE = Component(
    "activity_state",
    (
        Column("activity", "uint8", doc="current Activity code"),
        Column("next_activity", "uint8", doc="activity to start on arrival while travelling"),
        Column("activity_start_s", "float64", unit="s", doc="sim time the activity began"),
        Column("activity_end_s", "float64", unit="s", doc="sim time the activity is due to end"),
        Column("place", "uint32", doc="place the twin is at (destination while travelling)"),
        Column("needs", "float32", shape=(len(NEEDS),), doc="need levels, order of NEEDS"),
    ),
)
