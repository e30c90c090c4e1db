"""The past: a twin's recorded days (the DuckDB health record, ``engine.health_store``) as chat
facts.

Two steps, in two places, like the snapshot's:

1. ``fetch_past(db, twin_id, today)`` on the health record's query thread
   (``net.history_requests.HistoryRequests.fetch``, never the tick): the twin's daily rows of the
   ``PAST_DAYS`` days before ``today`` (``engine.health_query.twin_history``), its trends
   (``fit_trend``: those of ``twin_baselines``, fitted to the rows read) and its alerts of the
   last ``ALERT_DAYS`` days (``list_alerts``), as plain columns.
2. ``with_past(snapshot, past)`` in the chat worker: those columns as ``history`` facts added to
   the snapshot, each with its day as ``time``:

   - a day's values under ``"<name>@<n>"``, ``n`` days before today (1: yesterday): the daily
     record's ``sleep_hours`` (the night that ended that day), ``resting_hr``, ``mean_hr``,
     ``max_hr``, ``sbp_mean``/``dbp_mean``, ``glucose_mean``/``glucose_max``, ``spo2_mean``,
     ``temp_mean``, ``rr_mean``, and ``day_steps``/``day_energy_kcal`` (the day's totals);
   - ``week_<m>``: the mean of the last ``WEEK_DAYS`` recorded days; ``usual_<m>``: the mean
     over all ``PAST_DAYS`` (the twin's own baseline, as wearables compare a week with the
     month before it); ``time``: the last recorded day;
   - ``trend_<m>`` (the change over the trend's days, always positive) and
     ``trend_<m>_direction`` (``up`` or ``down``), only for trends that are significant
     (``engine.health_query.fit_trend``, as ``twin_baselines``);
   - ``alert_<rule>``: the value of the latest alert of each rule (``engine.alerts``: bpm,
     mmHg, minutes or nights), its day as ``time``;
   - ``days_recorded``: how many of the ``PAST_DAYS`` days are recorded (0 without a record).

A twin without a record (no store, a twin born today) keeps ``days_recorded`` 0 and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import duckdb
import numpy as np

from synthtwin.engine.health_query import (
    BASELINE_MEASURES,
    TREND_DAYS,
    DayRange,
    HistoryError,
    days_before,
    fit_trend,
    list_alerts,
    twin_history,
)
from synthtwin.net.chat.facts import FACT_SPECS, Fact, make_fact
from synthtwin.net.chat.snapshot import TwinSnapshot

__all__ = [
    "ALERT_DAYS",
    "DAY_FACTS",
    "MEAN_MEASURES",
    "PAST_DAYS",
    "WEEK_DAYS",
    "day_key",
    "fetch_past",
    "with_past",
]

PAST_DAYS = TREND_DAYS
"""Days before today a chat reads (four weeks: the usual baseline of wearables, and the days a
trend is fitted to)."""
WEEK_DAYS = 7
ALERT_DAYS = 7
"""Alerts of this many days before today are the twin's recent alerts."""
DAY_FACTS: dict[str, str] = {
    "sleep_hours": "sleep_hours", "resting_hr": "resting_hr", "mean_hr": "mean_hr",
    "max_hr": "max_hr", "sbp_mean": "sbp_mean", "dbp_mean": "dbp_mean",
    "glucose_mean": "glucose_mean", "glucose_max": "glucose_max", "spo2_mean": "spo2_mean",
    "temp_mean": "temp_mean", "rr_mean": "rr_mean",
    "steps": "day_steps", "energy_kcal": "day_energy_kcal",
}  # fmt: skip
"""Daily-record column -> the fact that states it for a past day."""
MEAN_MEASURES = ("steps", "sleep_hours", "resting_hr", "sbp_mean", "dbp_mean", "glucose_mean",
                 "energy_kcal")  # fmt: skip
"""Daily columns with ``week_`` and ``usual_`` means."""
_NO_PAST: dict[str, Any] = {"days": {}, "trends": {}, "alerts": {}}


def day_key(name: str, days_back: int) -> str:
    """The snapshot key of fact ``name`` on the day ``days_back`` days before today."""
    return f"{name}@{days_back}"


def fetch_past(db: duckdb.DuckDBPyConnection, twin_id: int, today: date) -> dict[str, Any]:
    """The twin's record of the ``PAST_DAYS`` days before ``today`` (module docstring, step 1):
    ``{"today", "days": daily columns, "trends": {measure: trend}, "alerts": alert columns}``;
    empty columns for a twin the record does not know. Runs on the query thread."""
    yesterday = days_before(today, 1)
    days = DayRange(days_before(today, PAST_DAYS), yesterday)
    try:
        columns = twin_history(db, twin_id, days, "day")["columns"]
    except HistoryError:  # no record of this twin
        return {"today": today.isoformat(), **_NO_PAST}
    rows = {name: columns[name] for name in ("day", *DAY_FACTS) if name in columns}
    trends = {m: fit_trend(rows["day"], rows[m]) for m in BASELINE_MEASURES if m in rows}
    alerts = list_alerts(db, DayRange(days_before(today, ALERT_DAYS), yesterday), twin_id)
    return {"today": today.isoformat(), "days": rows, "trends": trends,
            "alerts": alerts["columns"]}  # fmt: skip


def with_past(snap: TwinSnapshot, past: Mapping[str, Any] | None) -> TwinSnapshot:
    """``snap`` with the facts of ``past`` (``fetch_past``; None: no record kept) added (module
    docstring, step 2)."""
    if past is None:
        return snap
    today = date.fromisoformat(past["today"])
    facts = dict(snap.facts)
    days = past["days"]
    when = list(days.get("day", []))
    recorded = 0
    for i, day in enumerate(when):
        back = (today - date.fromisoformat(day)).days
        said = _day_facts(days, i, day, back)
        recorded += bool(said)
        facts.update(said)
    facts["days_recorded"] = make_fact("days_recorded", recorded, past["today"])
    if when:
        facts.update(_means(days, when))
    facts.update(_trends(past["trends"], when[-1] if when else past["today"]))
    facts.update(_alerts(past["alerts"]))
    return TwinSnapshot(snap.twin_id, snap.time, facts)


def _day_facts(days: Mapping[str, Any], i: int, day: str, back: int) -> dict[str, Fact]:
    """The facts of row ``i`` (``day``, ``back`` days ago): its values that are recorded."""
    out = {}
    for column, name in DAY_FACTS.items():
        value = _number(days, column, i)
        if value is not None and not (column == "max_hr" and value <= 0.0):
            out[day_key(name, back)] = make_fact(name, value, day)
    return out


def _number(columns: Mapping[str, Any], column: str, i: int) -> float | None:
    """Row ``i`` of a column as a float; None when the column or the value is missing (NaN)."""
    values = columns.get(column)
    if values is None or i >= len(values):
        return None
    value = float(values[i])
    return None if np.isnan(value) else value


def _means(days: Mapping[str, Any], when: list[str]) -> dict[str, Fact]:
    """``week_<m>`` and ``usual_<m>`` of each of ``MEAN_MEASURES`` that has values."""
    out = {}
    last = when[-1]
    week_first = date.fromisoformat(last).toordinal() - WEEK_DAYS + 1
    in_week = np.array([date.fromisoformat(d).toordinal() >= week_first for d in when])
    for m in MEAN_MEASURES:
        values = np.asarray(days.get(m, []), dtype=np.float64)
        if values.size != len(when):
            continue
        for name, chosen in ((f"week_{m}", values[in_week]), (f"usual_{m}", values)):
            chosen = chosen[~np.isnan(chosen)]
            if chosen.size:
                out[name] = make_fact(name, float(chosen.mean()), last)
    return out


def _trends(trends: Mapping[str, Mapping[str, Any]], day: str) -> dict[str, Fact]:
    """``trend_<m>`` and its direction, for the significant trends."""
    out = {}
    for m, trend in trends.items():
        if m not in BASELINE_MEASURES or trend.get("direction") not in ("up", "down"):
            continue
        out[f"trend_{m}"] = make_fact(f"trend_{m}", abs(float(trend["change"])), day)
        out[f"trend_{m}_direction"] = make_fact(f"trend_{m}_direction", trend["direction"], day)
    return out


def _alerts(alerts: Mapping[str, Any]) -> dict[str, Fact]:
    """``alert_<rule>``: the latest alert of each rule (the columns come oldest first)."""
    out = {}
    rows = zip(alerts.get("rule", []), alerts.get("value", []), alerts.get("day", []), strict=True)
    for rule, value, day in rows:
        if f"alert_{rule}" in FACT_SPECS:  # a rule this version knows
            out[f"alert_{rule}"] = make_fact(f"alert_{rule}", float(value), str(day)[:10])
    return out
