"""Health: time-weighted daily aggregates of every twin, closed into a daily record at midnight.

Each tick adds ``value x dt`` to today's integrals (a time-weighted mean is then exact for any tick
length) and the tick's seconds to the twin's current time-use category; a tick belongs to the day
it starts in. At the end of the tick that reaches midnight, every twin's day becomes one row of the
``HealthRecord`` and the aggregates restart, so a run of whole days ends with every day closed.
Steps and energy are the physiology system's own daily totals (it restarts them at midnight);
this system only reads them.

Definitions (units in the record's schema):
- ``sleep_hours``: time asleep in the longest bout in bed that ended on the day (the wake-up day,
  as wearables assign sleep): time in bed x sleep efficiency, which falls with age from about 95 %
  at 20 to about 83 % at 80 (Ohayon et al. 2004, Sleep 27:1255, meta-analysis of adult norms).
  A twin with no bout ended on the day but asleep at its close (a night worker who stays up
  after a last shift and goes to bed in the afternoon) is credited the bout so far, and the
  bout's remainder counts as a new bout of the next day: no day with sleep has none.
- ``resting_hr``: mean heart rate over awake, seated quiet (<= 1.3 MET) time at least 5 minutes into
  the activity: the wearable analogue of a seated resting pulse (NHANES protocol: seated, 5 min).
- means are time-weighted over the twin's simulated part of the day.

Spread pass (``[sim] health_window_s``, W; ``engine.spread``): with ticks much shorter than W
(realtime: 1/30 s) the twins are split into B = floor(W / dt_s) contiguous blocks, and each tick
accumulates one block, round robin, each twin over the simulated seconds since its own last pass
(``health_done_s``, about W), with its values at the tick's end, as a ``[sim.every]`` divisor
would but spread evenly over the ticks: the pass costs 1/B of a whole one every tick. At midnight
(and when B changes) every twin is brought up to the tick's end first, so days still close whole;
a twin spawned, or moved out of its block by a change of the row count, is accumulated as soon as
it is more than B ticks behind (a new twin over its whole first tick). B = 1 (ticks of W or
longer: headless, fast time scales) is the exact tick-by-tick pass. Error bounds, per twin and
day, against the tick-by-tick pass (``tests/test_health_window.py`` checks each; W = 1 s by
default, so each is a second or two of a day):
- ``steps``, ``energy_kcal`` (the physiology system's own totals) and the covered time: exact.
- ``min_<category>``: at most k W / 60 min, k the twin's activity changes that day (each window
  goes whole to the category at its end).
- ``sleep_hours``: at most W / 3600 h (a bout's start and end each move by less than a window),
  as long as the awake spells between two sleeps last W or more (activities last minutes).
- means: at most W TV / T, TV the vital's total variation over the day (sum of its per-tick
  changes) and T the covered seconds: a window holds the value at its end, within the window's
  variation of every tick's.
- ``max_hr``, ``glucose_max``: maxima over the windows' ends, so lower by at most the largest
  variation within one window.
- ``resting_hr``: the rest time moves by at most 2 k W (each activity change moves the rest flag
  by a window), so at most (W TV + 2 k W R) / T_rest, R the day's HR range.
A twin's "today" (``day_summary`` while the day runs) lags by at most W.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from synthtwin.components.activity import CATEGORIES, Activity, activity_table
from synthtwin.engine.schedule import Phase, System, Tick
from synthtwin.engine.spread import SpreadPass, Window
from synthtwin.engine.world import World
from synthtwin.kernels.numba.health import accumulate_day, accumulate_day_serial

__all__ = ["DAILY_FIELDS", "HealthRecord", "HealthSystem", "day_summary"]

REST_MAX_METS = 1.3
SETTLE_S = 300.0
SLEEP_EFFICIENCY_AT_20 = 0.95
SLEEP_EFFICIENCY_LOSS_PER_Y = 0.002
SLEEP_EFFICIENCY_MIN = 0.80
_MEANS = (
    ("mean_hr", "day_hr_sum", "hr_bpm"),
    ("sbp_mean", "day_sbp_sum", "sbp_mmhg"),
    ("dbp_mean", "day_dbp_sum", "dbp_mmhg"),
    ("rr_mean", "day_rr_sum", "rr_brpm"),
    ("spo2_mean", "day_spo2_sum", "spo2_pct"),
    ("temp_mean", "day_temp_sum", "core_temp_c"),
    ("glucose_mean", "day_glucose_sum", "glucose_mgdl"),
)
DAILY_FIELDS: dict[str, str] = {
    "twin_id": "",
    "day": "date",
    "weekday": "0 = Monday",
    **{f"min_{c}": "min" for c in CATEGORIES},
    "steps": "step",
    "sleep_hours": "h",
    "resting_hr": "1/min",
    "mean_hr": "1/min",
    "max_hr": "1/min",
    "sbp_mean": "mmHg",
    "dbp_mean": "mmHg",
    "rr_mean": "1/min",
    "spo2_mean": "%",
    "temp_mean": "degC",
    "glucose_mean": "mg/dL",
    "glucose_max": "mg/dL",
    "energy_kcal": "kcal",
}
"""Columns of the daily record and their units."""


@dataclass
class HealthRecord:
    """Closed days of every twin, as column batches (one batch per simulated day), oldest first.

    A day stored elsewhere (the health record's DuckDB file, a headless run's ``daily.parquet``)
    may be ``release``d: it leaves memory and the checkpoints, and ``closed`` still counts it.
    So the days held are those no store has yet; without a store, every day (~110 B a
    twin-day, docs/architecture.md).

    Attributes:
        batches: the closed days held, each ``DAILY_FIELDS`` by column, ``(twins,)`` each.
        released: closed days dropped by ``release``.
    """

    batches: list[dict[str, np.ndarray]] = field(default_factory=list)
    released: int = 0

    @property
    def closed(self) -> int:
        """Days closed so far, released or held."""
        return self.released + len(self.batches)

    def append(self, batch: dict[str, np.ndarray]) -> None:
        self.batches.append(batch)

    def since(self, closed: int) -> list[dict[str, np.ndarray]]:
        """The held days among those closed after the first ``closed`` (days are appended in
        order, so they are the last ``self.closed - closed`` held, or every held day)."""
        return self.batches[max(0, len(self.batches) - (self.closed - closed)) :]

    def release(self, days: set[np.datetime64] | None = None) -> int:
        """Drop the held days in ``days`` (``datetime64[D]``; None: all of them); how many."""
        kept = [b for b in self.batches if days is not None and b["day"][0] not in days]
        dropped = len(self.batches) - len(kept)
        self.batches = kept
        self.released += dropped
        return dropped

    def columns(self) -> dict[str, np.ndarray]:
        """All closed days held, concatenated, by column."""
        if not self.batches:
            return {name: np.zeros(0) for name in DAILY_FIELDS}
        return {name: np.concatenate([b[name] for b in self.batches]) for name in DAILY_FIELDS}

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict]:
        sizes = np.array([len(b["twin_id"]) for b in self.batches], dtype=np.int64)
        return {"batch_sizes": sizes, **self.columns()}, (
            {"released": self.released} if self.released else {}
        )

    def load_state_dict(self, arrays: dict[str, np.ndarray], scalars: dict) -> None:
        bounds = np.cumsum(arrays["batch_sizes"])[:-1]
        split = {name: np.split(arrays[name], bounds) for name in DAILY_FIELDS}
        self.batches = [
            {name: split[name][i] for name in DAILY_FIELDS}
            for i in range(len(arrays["batch_sizes"]))
        ]
        released = scalars.get("released", 0)  # absent: none (and older checkpoints)
        if not isinstance(released, int) or released < 0:
            raise ValueError(f"released = {str(released)[:40]}, expected a count >= 0")
        self.released = released

    def to_table(self) -> pa.Table:
        cols = self.columns()
        arrays = {name: pa.array(values) for name, values in cols.items() if name != "day"}
        day = pa.array(cols["day"].astype("datetime64[D]"), type=pa.date32())
        return pa.table({"twin_id": arrays.pop("twin_id"), "day": day, **arrays})


class HealthSystem(System):
    """Accumulates today's aggregates and closes the day into the HealthRecord at midnight."""

    phase = Phase.HEALTH
    reads = (
        "activity",
        "activity_start_s",
        "mets",
        "steps",
        "energy_kcal",
        "age_y",
        *(column for _, _, column in _MEANS),
    )
    writes = (
        "day_category_s",
        "day_covered_s",
        "day_hr_max",
        "day_glucose_max",
        "day_rest_hr_sum",
        "day_rest_s",
        "day_main_sleep_s",
        "sleep_bout_s",
        "health_done_s",
        *(total for _, total, _ in _MEANS),
    )

    def __init__(self, world: World, every: int = 1, window_s: float = 0.0) -> None:
        super().__init__(every)
        self.world = world
        self.day_index = world.clock.day_index
        """The day being aggregated, in whole days since the start date."""
        self.category = activity_table().category.astype(np.int64)
        self.spread = SpreadPass(window_s, "health_done_s", "health")

    def run(self, tick: Tick) -> None:
        closes = tick.end_day_index != self.day_index
        for window in self.spread.plan(self.world, tick, whole=closes):
            self._accumulate_window(tick, window)
        if closes:
            self._close_day()
            self.day_index = tick.end_day_index

    def settle(self, rows: np.ndarray) -> None:
        """Bring ``rows`` (``(K,)`` int) up to the last run's end from their own times done,
        before they leave the world whole (a shard handoff, ``World.take_twins``): their
        aggregates then cover the day so far, and the world they join adds from its next tick.
        """
        for window in self.spread.settle(self.world, rows):
            self._accumulate_window(None, window)

    def _accumulate_window(self, tick: Tick | None, window: Window) -> None:
        """Add ``window`` to its twins' aggregates: every twin over ``tick`` with the parallel
        kernel, a block in place, other rows gathered and scattered back."""
        if tick is not None and window.whole(self.world.n):
            self._accumulate(replace(tick, t_s=window.start_s, dt_s=window.dt_s))
            return
        part = Tick(0, window.dt_s, window.start_s, 0.0, 0, 0, 0)
        if isinstance(window.rows, slice):
            self._accumulate(part, self._view(window.rows), accumulate_day_serial)
            return
        taken = {name: self.world[name][window.rows] for name in {*self.reads, *self.writes}}
        self._accumulate(part, taken.__getitem__, accumulate_day_serial)
        for name in self.writes:
            self.world[name][window.rows] = taken[name]

    def warmup(self) -> None:
        for kernel in (accumulate_day, accumulate_day_serial):
            self._accumulate(Tick(0, 0.0, 0.0, 0.0, 0, 0, 0), self._view(slice(0, 0)), kernel)

    def _view(self, rows: slice) -> Callable[[str], np.ndarray]:
        """A column's ``rows``, by name (views: the kernel writes into the world)."""
        return lambda name: self.world[name][rows]

    def _accumulate(
        self, tick: Tick, col: Callable[[str], np.ndarray] | None = None,
        kernel: Callable[..., None] = accumulate_day,
    ) -> None:  # fmt: skip
        """Add ``tick`` to today's aggregates of the twins ``col`` gives (column by name; all
        twins by default) with ``kernel``: the parallel pass, or the serial one for a block."""
        col = col or self._view(slice(None))
        kernel(
            tick.dt_s, tick.t_s, col("activity"), self.category, int(Activity.SLEEP),
            col("activity_start_s"), col("mets"), REST_MAX_METS, SETTLE_S,
            tuple(col(column) for _, _, column in _MEANS),
            tuple(col(total) for _, total, _ in _MEANS),
            col("hr_bpm"), col("glucose_mgdl"), col("day_category_s"), col("day_covered_s"),
            col("day_hr_max"), col("day_glucose_max"), col("day_rest_hr_sum"), col("day_rest_s"),
            col("day_main_sleep_s"), col("sleep_bout_s"),
        )  # fmt: skip

    def _close_day(self) -> None:
        """Append the day's row of every twin to the HealthRecord and restart the aggregates."""
        w = self.world
        if w.n:
            day = w.clock.start.date() + timedelta(days=self.day_index)
            w.resource(HealthRecord).append(day_summary(w, np.arange(w.n), day))
            bout = w["sleep_bout_s"]
            bout[w["day_main_sleep_s"] == 0.0] = 0.0  # credited to the closed day
        self._reset()

    def _reset(self) -> None:
        w = self.world
        for name in (
            "day_category_s",
            "day_covered_s",
            "day_rest_hr_sum",
            "day_rest_s",
            "day_main_sleep_s",
            *(total for _, total, _ in _MEANS),
        ):
            w[name][...] = 0.0
        w["day_hr_max"][:] = 0.0
        w["day_glucose_max"][:] = 0.0

    def state_dict(self) -> dict:
        return {**super().state_dict(), "day_index": self.day_index, **self.spread.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        day = int(state.get("day_index", -1))
        self.day_index = day if day >= 0 else self.world.clock.day_index
        self.spread.load_state_dict(state)


def day_summary(world: World, rows: np.ndarray, day: date) -> dict[str, np.ndarray]:
    """The daily record's columns (``DAILY_FIELDS``) of ``rows`` for ``day``, from the aggregates
    so far: the health system's record at the day's end, a twin's "today" while it runs."""
    w = world
    covered = np.maximum(w["day_covered_s"][rows], 1e-9)
    rest_s = w["day_rest_s"][rows]
    with np.errstate(invalid="ignore", divide="ignore"):
        resting = np.where(rest_s > 0, w["day_rest_hr_sum"][rows] / rest_s, np.nan)
    main_s = w["day_main_sleep_s"][rows]
    in_bed_s = np.where(main_s > 0.0, main_s, w["sleep_bout_s"][rows])
    asleep_s = in_bed_s * _sleep_efficiency(w["age_y"][rows])
    out = {
        "twin_id": w.ids[rows].copy(),
        "day": np.full(rows.size, np.datetime64(day, "D")),
        "weekday": np.full(rows.size, day.weekday(), dtype=np.int8),
        **{
            f"min_{c}": (w["day_category_s"][rows, i] / 60.0).astype(np.float32)
            for i, c in enumerate(CATEGORIES)
        },
        "steps": np.rint(w["steps"][rows]).astype(np.int32),
        "sleep_hours": (asleep_s / 3600.0).astype(np.float32),
        "resting_hr": resting.astype(np.float32),
        "max_hr": w["day_hr_max"][rows].copy(),
        "glucose_max": w["day_glucose_max"][rows].copy(),
        "energy_kcal": w["energy_kcal"][rows].astype(np.float32),
    }
    for name, total, _ in _MEANS:
        out[name] = (w[total][rows] / covered).astype(np.float32)
    return {name: out[name] for name in DAILY_FIELDS}


def _sleep_efficiency(age_y: np.ndarray) -> np.ndarray:
    """``(M,)`` fraction of time in bed spent asleep, by age (Ohayon et al. 2004)."""
    loss = SLEEP_EFFICIENCY_LOSS_PER_Y * np.maximum(age_y - 20.0, 0.0)
    return np.maximum(SLEEP_EFFICIENCY_AT_20 - loss, SLEEP_EFFICIENCY_MIN)
