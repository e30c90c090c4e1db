"""Health: today's running aggregates, time-weighted, from which the daily record is made."""

from synthtwin.components.activity import CATEGORIES
from synthtwin.components.schema import NOT_STEPPED, Column, Component

__all__ = ["DAY_AGGREGATES"]

_SUMS = ("hr", "sbp", "dbp", "rr", "spo2", "temp", "glucose")

DAY_AGGREGATES = Component(
    "day_aggregates",
    (
        Column(
            "day_category_s",
            "float64",
            shape=(len(CATEGORIES),),
            unit="s",
            doc="seconds spent today per time-use category, order of CATEGORIES",
        ),
        Column("day_covered_s", "float64", unit="s", doc="seconds of today the twin was simulated"),
        *(
            Column(f"day_{v}_sum", "float64", unit="value*s", doc=f"time integral of {v} today")
            for v in _SUMS
        ),
        Column("day_hr_max", "float32", unit="1/min", doc="highest heart rate today"),
        Column("day_glucose_max", "float32", unit="mg/dL", doc="highest glucose today"),
        Column("day_rest_hr_sum", "float64", unit="1/min*s", doc="HR integral at awake rest"),
        Column(
            "day_rest_s", "float64", unit="s", doc="awake seconds at rest (<= 1.5 MET, settled)"
        ),
        Column("day_main_sleep_s", "float64", unit="s", doc="longest sleep bout ended today"),
        Column("sleep_bout_s", "float64", unit="s", doc="length of the current sleep bout"),
        Column(
            "health_done_s",
            "float64",
            unit="s",
            default=NOT_STEPPED,
            doc="simulated time the aggregates cover up to (engine.spread)",
        ),  # fmt: skip
    ),
)
