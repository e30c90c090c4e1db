"""History queries on the health record (``engine.health_store``): a twin's history, a day's
timeline, the population's days by group.

Each query takes a DuckDB connection of its own (``HealthStore.cursor``; the ROUTER's ``history``
op runs them on a worker thread, ``net.history_requests``) and returns a map of columns: numeric
arrays (``(R,)``, one value per row: float32 or integer; booleans as uint8) and time as ISO
strings (``YYYY-MM-DD`` days, ``YYYY-MM-DDTHH:MM:SS`` simulated local times). Bad arguments raise
``HistoryError`` with the argument and the allowed range, before anything is read.

Age bands follow the decades of NHANES and NCHS reporting (18-29, then ten-year bands, 80+;
CDC/NCHS, National Health Statistics Reports); conditions are the twin's diagnoses
(``hypertension``, ``diabetes``, both, none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import numpy as np

from synthtwin.components.identity import EMPLOYMENT
from synthtwin.components.physiology import VITAL_COLUMNS

__all__ = [
    "GROUPS",
    "MAX_ALERTS",
    "MAX_DAYS",
    "RESOLUTIONS",
    "DayRange",
    "HistoryError",
    "acknowledge",
    "days_before",
    "fit_trend",
    "list_alerts",
    "population_daily",
    "twin_baselines",
    "twin_history",
    "twin_timeline",
]

RESOLUTIONS = ("minute", "hour", "day")
MAX_DAYS = {"minute": 7, "hour": 92, "day": 3660}
"""Longest range one query may cover, in days, by resolution (bounds a reply's size: a week of
minutes is 10,080 rows)."""
GROUPS = ("age_band", "sex", "condition", "employment")
MAX_ALERTS = 10_000
"""Most alerts one ``alerts`` query lists (its reply is encoded between two ticks: 10,000 rows
take ~8 ms; a month of a 10,000-twin population, ~110,000 rows, took ~90 ms); beyond it the
query is refused with the count, to be asked again for fewer days or one twin."""
AGE_BANDS = ("18-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+")
DAILY_MEASURES = ("steps", "sleep_hours", "resting_hr", "mean_hr", "sbp_mean", "dbp_mean",
                  "glucose_mean", "spo2_mean", "energy_kcal")  # fmt: skip
"""The daily columns the population query averages."""
BASELINE_MEASURES = ("resting_hr", "sleep_hours", "steps", "sbp_mean", "dbp_mean")
"""The daily columns with rolling baselines and trends."""
BASELINE_DAYS = (7, 28)
TREND_DAYS = 28
TREND_T = 2.0
"""A trend has a direction when its slope is at least this many standard errors from zero
(about a 95 % two-sided test for 28 days); else it is ``flat``."""
_GROUP_SQL = {
    "age_band": "CASE WHEN t.age_y < 30 THEN 0 WHEN t.age_y >= 80 THEN 6 "
    "ELSE CAST(floor(t.age_y / 10) AS INTEGER) - 2 END",
    "sex": "t.sex",
    "condition": "CAST(t.hypertension AS INTEGER) + 2 * CAST(t.diabetes AS INTEGER)",
    "employment": "t.employment",
}
_GROUP_NAMES = {
    "age_band": AGE_BANDS,
    "sex": ("female", "male"),
    "condition": ("none", "hypertension", "diabetes", "hypertension+diabetes"),
    "employment": EMPLOYMENT,
}


class HistoryError(ValueError):
    """A query's argument is missing, malformed or out of range; the message says which.

    Attributes:
        code: the reply error code (``bad_request``, ``out_of_range`` or ``unknown_twin``).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def days_before(day: date, days: int) -> date:
    """``day`` less ``days`` days, no earlier than ``date.min`` (a range near year 1 is cut
    short there instead of overflowing)."""
    return date.fromordinal(max(1, day.toordinal() - days))


@dataclass(frozen=True)
class DayRange:
    """Whole simulated days ``first`` to ``last``, both included."""

    first: date
    last: date

    @classmethod
    def checked(cls, first: date, last: date, longest_days: int) -> DayRange:
        if last < first:
            raise HistoryError("out_of_range", f"'to' {last} is before 'from' {first}")
        days = (last - first).days + 1
        if days > longest_days:
            raise HistoryError(
                "out_of_range", f"{days} days asked, at most {longest_days} at this resolution"
            )
        return cls(first, last)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, datetime.min.time())

    @property
    def end(self) -> datetime:
        """Midnight after ``last``."""
        return datetime.combine(self.last + timedelta(days=1), datetime.min.time())


def twin_history(
    db: duckdb.DuckDBPyConnection, twin_id: int, days: DayRange, resolution: str
) -> dict[str, Any]:
    """One twin's record over ``days``: ``day`` rows of the daily record, or its vitals by
    ``minute`` (as sampled) or by ``hour`` (hourly means).

    Returns:
        ``{"resolution", "twin_id", "columns": {name: (R,) values}, "scenarios": {name: (S,)
        values}}``; ``day`` or ``t`` first; ``scenarios``: ``_scenarios``.
    """
    _require_twin(db, twin_id)
    columns = _columns(db, twin_id, days, resolution)
    scenarios = _scenarios(db, twin_id, days)
    return {"resolution": resolution, "twin_id": twin_id, "columns": columns,
            "scenarios": scenarios}  # fmt: skip


def _scenarios(db: duckdb.DuckDBPyConnection, twin_id: int, days: DayRange) -> dict[str, Any]:
    """The twin's what-if scenarios that overlap ``days`` (table ``scenarios``, written by
    ``systems.scenario``), by id: ``scenario_id``, ``kind``, ``args`` (JSON text), ``start``,
    ``end``, ``stopped``; empty columns when there are none (no columns before any scenario)."""
    sql = (
        'SELECT scenario_id, kind, args, start, "end", stopped FROM scenarios '
        'WHERE twin_id = ? AND start < ? AND "end" > ? ORDER BY scenario_id'
    )
    return _fetch(db, sql, [twin_id, days.end, days.start])


def _columns(
    db: duckdb.DuckDBPyConnection, twin_id: int, days: DayRange, resolution: str
) -> dict[str, Any]:
    """The twin's rows over ``days`` at ``resolution`` (``twin_history``), ``twin_id`` aside."""
    if resolution == "day":
        sql = "SELECT * FROM daily WHERE twin_id = ? AND day BETWEEN ? AND ? ORDER BY day"
        columns = _fetch(db, sql, [twin_id, days.first, days.last])
    elif resolution == "hour":
        means = ", ".join(f"avg({c})::FLOAT AS {c}" for c in VITAL_COLUMNS)
        sql = (
            f"SELECT time_bucket(INTERVAL 1 HOUR, t) AS t, {means} FROM vitals "
            "WHERE twin_id = ? AND t >= ? AND t < ? GROUP BY 1 ORDER BY 1"
        )
        columns = _fetch(db, sql, [twin_id, days.start, days.end])
    else:
        sql = "SELECT * FROM vitals WHERE twin_id = ? AND t >= ? AND t < ? ORDER BY t"
        columns = _fetch(db, sql, [twin_id, days.start, days.end])
    columns.pop("twin_id", None)
    return columns


def twin_timeline(db: duckdb.DuckDBPyConnection, twin_id: int, day: date) -> dict[str, Any]:
    """One twin's day: its activity episodes that overlap the day (clipped to it) and its
    vitals as sampled that day.

    Returns:
        ``{"twin_id", "date", "episodes": {start, end, activity, place}, "vitals": {t, ...}}``.
    """
    _require_twin(db, twin_id)
    span = DayRange(day, day)
    episodes = _fetch(
        db,
        'SELECT greatest(start, ?) AS start, least("end", ?) AS "end", activity, place '
        'FROM episodes WHERE twin_id = ? AND "end" > ? AND start < ? ORDER BY start',
        [span.start, span.end, twin_id, span.start, span.end],
    )
    vitals = _columns(db, twin_id, span, "minute")
    return {"twin_id": twin_id, "date": day.isoformat(), "episodes": episodes, "vitals": vitals}


def twin_baselines(db: duckdb.DuckDBPyConnection, twin_id: int, days: DayRange) -> dict:
    """A twin's rolling baselines over ``days`` and its trends over the ``TREND_DAYS`` days to
    ``days.last``, for each of ``BASELINE_MEASURES``.

    A day's N-day baseline is the mean of the N days before it (the day itself excluded, as
    wearables compare a night with the weeks before it; days without a value skipped). A trend
    is the least-squares slope per day over the last ``TREND_DAYS`` days (``change``: the slope
    times the days it spans), its ``direction`` ``up``
    or ``down`` when ``|slope| / standard error >= TREND_T`` (t = sqrt(r2 (n - 2) / (1 - r2))),
    else ``flat``.

    Returns:
        ``{"twin_id", "columns": {day, and per measure its value, <m>_7d, <m>_28d},
        "trends": {measure: {"slope_per_day", "change", "days", "direction"}}}``.
    """
    _require_twin(db, twin_id)
    longest = max(BASELINE_DAYS)
    rolled = ", ".join(
        f"{m}, " + ", ".join(f"avg({m}) OVER w{n} AS {m}_{n}d" for n in BASELINE_DAYS)
        for m in BASELINE_MEASURES
    )
    windows = ", ".join(
        f"w{n} AS (ORDER BY day RANGE BETWEEN INTERVAL {n} DAYS PRECEDING "
        "AND INTERVAL 1 DAYS PRECEDING)"
        for n in BASELINE_DAYS
    )
    sql = (
        f"SELECT * FROM (SELECT day, {rolled} FROM daily WHERE twin_id = ? AND day BETWEEN ? "
        f"AND ? WINDOW {windows}) WHERE day >= ? ORDER BY day"
    )
    since = days_before(days.first, longest)
    columns = _fetch(db, sql, [twin_id, since, days.last, days.first])
    trend_first = days_before(days.last, TREND_DAYS - 1)
    fits = ", ".join(
        f"regr_slope({m}, x), regr_r2({m}, x), regr_count({m}, x)" for m in BASELINE_MEASURES
    )
    fit_sql = (
        f"SELECT {fits} FROM (SELECT *, (day - DATE '2000-01-01')::DOUBLE AS x FROM daily "
        "WHERE twin_id = ? AND day BETWEEN ? AND ?)"
    )
    try:
        row = db.execute(fit_sql, [twin_id, trend_first, days.last]).fetchone()
    except duckdb.CatalogException:
        row = (None,) * (3 * len(BASELINE_MEASURES))
    trends = {m: _trend(*row[3 * i : 3 * i + 3]) for i, m in enumerate(BASELINE_MEASURES)}
    return {"twin_id": twin_id, "columns": columns, "trends": trends}


def fit_trend(days: list[str], values: np.ndarray) -> dict[str, Any]:
    """The trend of one measure over ``days`` (``YYYY-MM-DD``, one per value; NaN values
    skipped), as ``twin_baselines`` computes it in SQL, here in NumPy for rows already read (a
    chat reads a twin's days once and fits them without another query)."""
    x = np.array([date.fromisoformat(d).toordinal() for d in days], dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    n = int(x.size)
    if n < 3 or np.ptp(x) == 0:
        return _trend(None, None, n)
    dx, dy = x - x.mean(), y - y.mean()
    slope = float((dx * dy).sum() / (dx * dx).sum())
    ss_y = float((dy * dy).sum())
    r2 = 1.0 if ss_y == 0 else float((dx * dy).sum() ** 2 / ((dx * dx).sum() * ss_y))
    return _trend(slope, r2, n)


def _trend(slope: float | None, r2: float | None, n: int | None) -> dict[str, Any]:
    """One measure's trend from its regression (module docstring of ``twin_baselines``)."""
    n = int(n or 0)
    if slope is None or n < 3 or not np.isfinite(slope):
        return {"slope_per_day": None, "change": None, "days": n, "direction": "flat"}
    r2 = float(r2) if r2 is not None and np.isfinite(r2) else 0.0
    t_squared = np.inf if r2 >= 1.0 else r2 * (n - 2) / (1.0 - r2)
    direction = "flat" if t_squared < TREND_T**2 or slope == 0 else ("up" if slope > 0 else "down")
    return {"slope_per_day": float(slope), "change": float(slope) * (n - 1), "days": n,
            "direction": direction}  # fmt: skip


def list_alerts(db: duckdb.DuckDBPyConnection, days: DayRange, twin_id: int | None) -> dict:
    """The alerts of ``days`` (of one twin, or all), oldest first, and their count per rule;
    ``HistoryError`` ``out_of_range`` when there are more than ``MAX_ALERTS``.

    Returns:
        ``{"columns": {alert_id, twin_id, day, rule, value, acknowledged}, "counts": {rule: n}}``.
    """
    where = "day BETWEEN ? AND ?" + ("" if twin_id is None else " AND twin_id = ?")
    params = [days.first, days.last] + ([] if twin_id is None else [twin_id])
    counts = _fetch(db, f"SELECT rule, count(*) AS n FROM alerts WHERE {where} GROUP BY rule "
                    "ORDER BY rule", params)  # fmt: skip
    per_rule = dict(zip(counts.get("rule", []), map(int, counts.get("n", [])), strict=True))
    total = sum(per_rule.values())
    if total > MAX_ALERTS:
        raise HistoryError(
            "out_of_range", f"{total} alerts from {days.first} to {days.last}, at most "
            f"{MAX_ALERTS} a query: ask for fewer days or one twin",
        )  # fmt: skip
    columns = _fetch(db, f"SELECT * FROM alerts WHERE {where} ORDER BY alert_id", params)
    return {"columns": columns, "counts": per_rule}


def acknowledge(db: duckdb.DuckDBPyConnection, alert_id: int) -> dict:
    """Mark one alert acknowledged (again is fine); ``HistoryError`` ``out_of_range`` when no
    alert has that id."""
    found = _fetch(db, "UPDATE alerts SET acknowledged = true WHERE alert_id = ? "
                   "RETURNING alert_id", [alert_id])  # fmt: skip
    if not len(found.get("alert_id", ())):
        raise HistoryError("out_of_range", f"no alert {alert_id}")
    return {"alert_id": alert_id, "acknowledged": True}


def population_daily(db: duckdb.DuckDBPyConnection, days: DayRange, group_by: str) -> dict:
    """Every day's means of ``DAILY_MEASURES`` over the twins of each group.

    Returns:
        ``{"group_by", "groups": [names], "columns": {day, group (index into groups), twins,
        and each measure's mean}}``.
    """
    if group_by not in GROUPS:
        raise HistoryError("out_of_range", f"group_by '{group_by}': expected one of {GROUPS}")
    means = ", ".join(f"avg(d.{m})::FLOAT AS {m}" for m in DAILY_MEASURES)
    sql = (
        f"SELECT d.day, {_GROUP_SQL[group_by]} AS grp, count(*)::INTEGER AS twins, {means} "
        "FROM daily d JOIN twins t USING (twin_id) WHERE d.day BETWEEN ? AND ? "
        "GROUP BY ALL ORDER BY 1, 2"
    )
    columns = _fetch(db, sql, [days.first, days.last])
    if "grp" in columns:
        columns["group"] = columns.pop("grp").astype(np.uint8)
    return {"group_by": group_by, "groups": list(_GROUP_NAMES[group_by]), "columns": columns}


def _require_twin(db: duckdb.DuckDBPyConnection, twin_id: int) -> None:
    found = _fetch(db, "SELECT twin_id FROM twins WHERE twin_id = ?", [twin_id])
    if not len(found.get("twin_id", ())):
        raise HistoryError("unknown_twin", f"twin {twin_id} has no health record")


def _fetch(db: duckdb.DuckDBPyConnection, sql: str, params: list) -> dict[str, Any]:
    """The query's columns for the wire (module docstring); empty while a table it reads does
    not exist yet (nothing of its kind was recorded)."""
    try:
        result = db.execute(sql, params).fetchnumpy()
    except duckdb.CatalogException:
        return {}
    return {name: _wire_column(name, values) for name, values in result.items()}


def _wire_column(name: str, values: np.ndarray) -> Any:
    """Times as ISO strings, booleans as uint8, masked (NULL) floats as NaN."""
    if isinstance(values, np.ma.MaskedArray):
        values = values.filled(np.nan) if values.dtype.kind == "f" else values.data
    if values.dtype.kind == "M":
        unit = "D" if name == "day" else "s"
        return np.datetime_as_string(values, unit=unit).tolist()
    if values.dtype.kind == "O":  # text
        return values.tolist()
    if values.dtype.kind == "b":
        return values.astype(np.uint8)
    if values.dtype == np.float64:
        return values.astype(np.float32)
    return values
