"""Alerts: the rules of ``[alerts]`` (``engine.config.AlertsConfig``, with their clinical
sources) checked on each closed day of the health record, in SQL, off the tick.

``evaluate_day`` runs when the record's writer has stored a day's daily rows (and compacted its
samples): every rule over every twin at once, its alerts written to the ``alerts`` table
(``alert_id``, ``twin_id``, ``day``, ``rule``, ``value``: the measure that fired it, in the
rule's unit; ``acknowledged``) and returned for delivery (``event/alert``). Evaluating a day again
(a resumed world lives it again) replaces its alerts. Rules (``RULES``):

- ``resting_hr_rise``: the day's resting HR at least ``resting_hr_rise_bpm`` above its baseline
  (the mean of the 28 days before) on ``resting_hr_rise_days`` consecutive days ending with this
  one, and not on the day before them (fires once, when the run starts); value: the smallest rise;
- ``resting_tachycardia``: the day's resting HR above ``tachycardia_bpm``; value: the HR;
- ``bp_day_mean``: the day's mean BP at or above ``bp_day_sbp_mmhg``/``bp_day_dbp_mmhg``;
  value: the mean SBP;
- ``bp_crisis``: a sample at or above ``bp_crisis_sbp_mmhg``/``bp_crisis_dbp_mmhg``; value: the
  highest SBP;
- ``spo2_low``, ``glucose_high``, ``glucose_low``: consecutive samples below (above) the
  threshold lasting at least the rule's minutes; value: the longest run, minutes;
- ``short_sleep``: main sleep under ``short_sleep_h`` on ``short_sleep_nights`` of the last
  ``short_sleep_window`` nights, and not so the day before (fires once); value: the nights.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import duckdb
import numpy as np

from synthtwin.engine.config import AlertsConfig

__all__ = ["RULES", "evaluate_day"]

RULES = ("resting_hr_rise", "resting_tachycardia", "bp_day_mean", "bp_crisis", "spo2_low",
         "glucose_high", "glucose_low", "short_sleep")  # fmt: skip
BASELINE_DAYS = 28

_CREATE = (
    "CREATE TABLE IF NOT EXISTS alerts (alert_id BIGINT, twin_id UINTEGER, day DATE, "
    "rule VARCHAR, value FLOAT, acknowledged BOOLEAN)"
)


_CREATE_IDS = "CREATE TABLE IF NOT EXISTS alert_ids (last BIGINT)"
"""The last alert id handed out, kept apart from the alerts: a day evaluated again (or cut off on
resume) gets new ids, so an id a client was sent never names another alert."""
_LAST_ID = (
    "SELECT greatest(coalesce((SELECT max(last) FROM alert_ids), 0), "
    "coalesce((SELECT max(alert_id) FROM alerts), 0))"
)


def evaluate_day(
    db: duckdb.DuckDBPyConnection, day: date, rules: AlertsConfig, minute_s: float
) -> dict[str, np.ndarray]:
    """Check every rule on ``day`` for every twin; store and return its alerts by column
    (``alert_id``, ``twin_id``, ``day``, ``rule``, ``value``), ``(A,)`` each. Ids ascend and are
    never used twice (``alert_ids``), also when ``day`` is evaluated again."""
    db.execute(_CREATE)
    selects = [sql for sql in _daily_rules(day, rules)]
    if _has_table(db, "vitals"):
        selects += _sample_rules(day, rules, minute_s)
    union = " UNION ALL ".join(selects)
    db.execute(_CREATE_IDS)
    db.execute("BEGIN")
    try:
        db.execute("DELETE FROM alerts WHERE day = ?", [day])
        (last,) = db.execute(_LAST_ID).fetchone()
        db.execute(
            f"INSERT INTO alerts SELECT {int(last)} + row_number() OVER (ORDER BY twin_id, rule),"
            f" twin_id, DATE '{day}', rule, value::FLOAT, false FROM ({union})"
        )
        db.execute("DELETE FROM alert_ids")
        db.execute(f"INSERT INTO alert_ids SELECT greatest({int(last)}, max(alert_id)) FROM alerts")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    found = db.execute(
        "SELECT alert_id, twin_id, day, rule, value FROM alerts WHERE day = ? ORDER BY alert_id",
        [day],
    ).fetchnumpy()
    return {name: np.asarray(values) for name, values in found.items()}


def _daily_rules(day: date, r: AlertsConfig) -> list[str]:
    """The rules on the daily rows, as SELECTs of ``twin_id, rule, value``."""
    d = f"DATE '{day}'"
    rise_first = day - timedelta(days=r.resting_hr_rise_days)
    since = rise_first - timedelta(days=BASELINE_DAYS)
    window_first = day - timedelta(days=r.short_sleep_window)
    return [
        "SELECT twin_id, 'resting_hr_rise' AS rule, min(rise) FILTER (WHERE day > DATE "
        f"'{rise_first}') AS value FROM ("
        "SELECT twin_id, day, resting_hr - avg(resting_hr) OVER (PARTITION BY twin_id ORDER BY "
        f"day RANGE BETWEEN INTERVAL {BASELINE_DAYS} DAYS PRECEDING AND INTERVAL 1 DAYS "
        f"PRECEDING) AS rise FROM daily WHERE day BETWEEN DATE '{since}' AND {d}) "
        f"WHERE day >= DATE '{rise_first}' GROUP BY twin_id HAVING "
        f"count(*) FILTER (WHERE day > DATE '{rise_first}' AND rise >= {r.resting_hr_rise_bpm})"
        f" = {r.resting_hr_rise_days} AND NOT bool_or(day = DATE '{rise_first}' AND "
        f"coalesce(rise >= {r.resting_hr_rise_bpm}, false))",
        "SELECT twin_id, 'resting_tachycardia', resting_hr FROM daily "
        f"WHERE day = {d} AND resting_hr > {r.tachycardia_bpm}",
        "SELECT twin_id, 'bp_day_mean', sbp_mean FROM daily WHERE day = "
        f"{d} AND (sbp_mean >= {r.bp_day_sbp_mmhg} OR dbp_mean >= {r.bp_day_dbp_mmhg})",
        "SELECT twin_id, 'short_sleep', count(*) FILTER (WHERE day > DATE "
        f"'{window_first}' AND sleep_hours < {r.short_sleep_h}) AS nights FROM daily "
        f"WHERE day BETWEEN DATE '{window_first}' AND {d} GROUP BY twin_id HAVING nights >= "
        f"{r.short_sleep_nights} AND count(*) FILTER (WHERE day < {d} AND sleep_hours < "
        f"{r.short_sleep_h}) < {r.short_sleep_nights}",
    ]


def _sample_rules(day: date, r: AlertsConfig, minute_s: float) -> list[str]:
    """The rules on the day's samples, as SELECTs of ``twin_id, rule, value``."""
    start = datetime.combine(day, datetime.min.time())
    span = f"t >= TIMESTAMP '{start}' AND t < TIMESTAMP '{start + timedelta(days=1)}'"
    runs = [
        ("spo2_low", f"spo2_pct < {r.spo2_low_pct}", r.spo2_low_min),
        ("glucose_high", f"glucose_mgdl > {r.glucose_high_mgdl}", r.glucose_min),
        ("glucose_low", f"glucose_mgdl < {r.glucose_low_mgdl}", r.glucose_min),
    ]
    selects = [_longest_run(name, condition, minutes, span, minute_s)
               for name, condition, minutes in runs]  # fmt: skip
    selects.append(
        "SELECT twin_id, 'bp_crisis', max(sbp_mmhg) FROM vitals WHERE "
        f"{span} AND (sbp_mmhg >= {r.bp_crisis_sbp_mmhg} OR dbp_mmhg >= {r.bp_crisis_dbp_mmhg}) "
        "GROUP BY twin_id"
    )
    return selects


def _longest_run(rule: str, condition: str, minutes: float, span: str, minute_s: float) -> str:
    """Twins whose consecutive samples meeting ``condition`` last ``minutes`` or more (a run of
    k samples lasts k x ``minute_s``: gaps and islands over each twin's samples in time order),
    looked for only among the twins with at least ``need`` such samples that day (one scan)."""
    need = max(1, math.ceil(minutes * 60.0 / minute_s))
    return (
        f"SELECT twin_id, '{rule}', max(n) * {minute_s / 60.0} FROM (SELECT twin_id, count(*) "
        "AS n FROM (SELECT twin_id, hit, row_number() OVER (PARTITION BY twin_id ORDER BY t) - "
        "row_number() OVER (PARTITION BY twin_id, hit ORDER BY t) AS run FROM (SELECT twin_id, "
        f"t, ({condition}) AS hit FROM vitals WHERE {span} AND twin_id IN (SELECT twin_id FROM "
        f"vitals WHERE {span} AND {condition} GROUP BY twin_id HAVING count(*) >= {need}))) "
        f"WHERE hit GROUP BY twin_id, run) WHERE n >= {need} GROUP BY twin_id"
    )


def _has_table(db: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = db.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name])
    return bool(found.fetchone()[0])
