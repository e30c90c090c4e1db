"""Chat from the health record: twins talk about their recorded past days.

A real DuckDB store written by ``twin simulate --store`` (``TWINS`` twins, ``DAYS`` days, every
day's resting HR flagged by a tachycardia rule of 1 bpm so that every twin has alerts), read the
way the server reads it (``net.chat.past.fetch_past`` on a DuckDB connection) and:

- asked the question set's ``history`` and ``why`` questions (``tests/chat/questions.jsonl``,
  follow-ups included), measuring intent accuracy, recall of ``record_facts`` (the facts an
  answer must rest on when the twin has a record), fact accuracy against an oracle computed from
  the run's ``daily.parquet`` and the store's ``alerts`` table without the chat package, and
  grounding (no number without a fact);
- served by ``Serving`` and asked over the ROUTER (a follow-up steps a day back) and REST;
- a twin without a record (unknown to the store, or on the store's first day), and a server
  without a store, say so instead of guessing.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import duckdb
import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest

from synthtwin.engine.app.cli import main
from synthtwin.engine.app.serve import Serving
from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.config import load_config
from synthtwin.engine.health_query import DayRange, twin_baselines
from synthtwin.net.chat import ChatEngine, Fact, take_snapshot, ungrounded
from synthtwin.net.chat.past import PAST_DAYS, WEEK_DAYS, fetch_past, with_past
from tests.loopback import free_port, loopback
from tests.test_chat_questions import QUESTIONS, _ask
from tests.test_serve import ask

TWINS = 50
DAYS = 8
FIRST = date(2026, 3, 2)
TODAY = FIRST + timedelta(days=DAYS)
"""The day after the recorded ones: the served world's (and the engine tests') today."""
ASKED_TWINS = 6
DAILY_NAMES = {"sleep_hours": 1, "resting_hr": 0, "mean_hr": 0, "max_hr": 0, "sbp_mean": 0,
               "dbp_mean": 0, "glucose_mean": 0, "glucose_max": 0, "spo2_mean": 0,
               "day_steps": 0, "day_energy_kcal": 0, "temp_mean": 1, "rr_mean": 0}  # fmt: skip
"""Fact name -> decimals, for the facts of a past day."""
COLUMN_OF = {"day_steps": "steps", "day_energy_kcal": "energy_kcal"}
MEANS = {"steps": 0, "sleep_hours": 1, "resting_hr": 0, "sbp_mean": 0, "dbp_mean": 0,
         "glucose_mean": 0, "energy_kcal": 0}  # fmt: skip


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    """``(store path, daily columns)`` of ``DAYS`` simulated days of ``TWINS`` twins."""
    tmp = tmp_path_factory.mktemp("chat_history")
    store = tmp / "health.duckdb"
    rules = tmp / "rules.toml"
    rules.write_text("[alerts]\ntachycardia_bpm = 1.0\n")
    argv = ["simulate", "--twins", str(TWINS), "--days", str(DAYS), "--step-s", "600",
            "--quiet", "--start", FIRST.isoformat(), "--out", str(tmp / "out"), "--store",
            str(store), "--config", str(rules)]  # fmt: skip
    assert main(argv) == 0
    return store, pq.read_table(tmp / "out" / "daily.parquet").to_pydict()


def _oracle(daily: dict, alerts: list[tuple], twin: int) -> dict[tuple[str, str], object]:
    """``(fact name, time) -> value`` of the twin's history facts, from the daily record and
    the alerts table (not from the chat package)."""
    rows = [i for i, t in enumerate(daily["twin_id"]) if t == twin]
    out: dict[tuple[str, str], object] = {}
    for i in rows:
        day = str(daily["day"][i])[:10]
        for name, decimals in DAILY_NAMES.items():
            value = daily[COLUMN_OF.get(name, name)][i]
            if value is not None and not np.isnan(value):
                out[(name, day)] = _rounded(float(value), decimals)
    days = sorted(str(daily["day"][i])[:10] for i in rows)
    week_first = (date.fromisoformat(days[-1]) - timedelta(days=WEEK_DAYS - 1)).isoformat()
    for m, decimals in MEANS.items():
        by_day = {str(daily["day"][i])[:10]: daily[m][i] for i in rows}
        for prefix, first in (("week", week_first), ("usual", days[0])):
            values = [float(v) for d, v in by_day.items() if d >= first and not np.isnan(v)]
            out[(f"{prefix}_{m}", days[-1])] = _rounded(float(np.mean(values)), decimals)
    for rule, value, day in sorted(a[1:] for a in alerts if a[0] == twin):
        out[(f"alert_{rule}", str(day))] = round(value)
    out[("days_recorded", TODAY.isoformat())] = len(rows)
    return out


def _rounded(value: float, decimals: int) -> float | int:
    return round(value, decimals) if decimals else round(value)


@pytest.fixture(scope="module")
def recorded_twins(record):
    """``(snapshot with its past, oracle)`` of ``ASKED_TWINS`` twins on ``TODAY`` afternoon, the
    simulation, and the pasts read for a twin the store does not know and for a twin on the
    store's first day (the store is closed again: the served tests open it)."""
    store, daily = record
    config = load_config(
        None,
        twins=TWINS,
        tick_hz=1.0,
        time_scale=60.0,
        start=datetime.combine(TODAY, datetime.min.time()) + timedelta(hours=14),
    )
    sim = build_simulation(config)
    try:
        sim.loop.run_ticks(5)
        with duckdb.connect(str(store), read_only=True) as db:
            since = TODAY - timedelta(days=7)
            alerts = db.execute("SELECT twin_id, rule, value, day FROM alerts WHERE day >= ? "
                                "ORDER BY alert_id", [since]).fetchall()  # fmt: skip
            out = []
            for twin in sim.world.ids[:ASKED_TWINS].tolist():
                past = fetch_past(db, twin, sim.world.clock.date)
                snap = with_past(take_snapshot(sim.world, twin, sim.today), past)
                out.append((snap, _oracle(daily, alerts, twin)))
            none = [fetch_past(db, 4_000_000, TODAY), fetch_past(db, out[0][0].twin_id, FIRST)]
            last = DayRange(TODAY - timedelta(days=1), TODAY - timedelta(days=1))
            fits = [
                (fetch_past(db, twin, TODAY)["trends"], twin_baselines(db, twin, last)["trends"])
                for twin in sim.world.ids.tolist()
            ]
        yield out, sim, none, fits
    finally:
        sim.close()


@pytest.fixture(scope="module")
def engine() -> ChatEngine:
    return ChatEngine()


@pytest.fixture(scope="module")
def answered(engine, recorded_twins):
    """The history and why questions (and their follow-ups) asked of every recorded twin."""
    entries = [e for e in QUESTIONS if "record_facts" in e]
    return [(e, snap, oracle, _ask(engine, snap, e)) for snap, oracle in recorded_twins[0]
            for e in entries]  # fmt: skip


def test_the_record_is_read_into_the_snapshot(recorded_twins):
    snap, oracle = recorded_twins[0][0]
    assert snap.value("days_recorded") == DAYS
    yesterday = snap["sleep_hours@1"]
    assert yesterday.source == "history" and yesterday.time == (TODAY - timedelta(1)).isoformat()
    assert oracle[(yesterday.name, yesterday.time)] == yesterday.value
    assert "sleep_hours@9" not in snap and DAYS < PAST_DAYS


def test_a_chat_fits_the_trends_the_baselines_query_fits(recorded_twins):
    fits = recorded_twins[3]
    for ours, query in fits:
        assert ours.keys() == query.keys()
        for m, trend in query.items():
            assert ours[m]["direction"] == trend["direction"] and ours[m]["days"] == trend["days"]
            if trend["slope_per_day"] is not None:
                assert ours[m]["slope_per_day"] == pytest.approx(trend["slope_per_day"], rel=1e-4)
    assert max(t["days"] for ours, _ in fits for t in ours.values()) == DAYS


def test_history_questions_are_understood_and_rest_on_the_record(answered):
    hits = [reply.intent == e["intent"] for e, _, _, reply in answered]
    expected = found = 0
    for entry, snap, _, reply in answered:
        for key in entry["record_facts"]:
            if key in snap:
                expected += 1
                found += snap[key] in reply.facts
    print(f"\nrecord: intent accuracy {np.mean(hits):.1%} of {len(hits)}, "
          f"fact recall {found / expected:.1%} of {expected}")  # fmt: skip
    assert np.mean(hits) >= 0.90
    assert found / expected >= 0.90


def test_every_history_fact_equals_the_record(answered):
    checked = 0
    wrong = []
    for entry, snap, oracle, reply in answered:
        for fact in reply.facts:
            assert fact in snap.facts.values(), "reply facts come from the snapshot unchanged"
            if fact.source == "history" and not fact.name.startswith("trend_"):
                if (fact.name, fact.time) not in oracle and fact.name.startswith("today_"):
                    continue  # today's record so far: checked by test_chat_questions
                checked += 1
                if oracle.get((fact.name, fact.time)) != fact.value:
                    wrong.append((entry["q"], fact, oracle.get((fact.name, fact.time))))
    print(f"\nhistory fact accuracy {(checked - len(wrong)) / checked:.1%} of {checked}")
    assert checked > 100
    assert not wrong, wrong[:5]


def test_no_history_reply_states_a_number_it_has_no_fact_for(answered):
    invented = [(e["q"], reply.reply, ungrounded(reply.reply, reply.facts))
                for e, _, _, reply in answered if ungrounded(reply.reply, reply.facts)]  # fmt: skip
    assert not invented, invented[:5]


def test_follow_ups_step_back_a_day_at_a_time(engine, recorded_twins):
    snap, _ = recorded_twins[0][0]
    first = engine.reply(snap, "How did you sleep yesterday?")
    again = engine.reply(snap, "and the day before?", first.conversation_id)
    more = engine.reply(snap, "and the day before?", first.conversation_id)
    days = [[f.time for f in r.facts if f.name == "sleep_hours"] for r in (first, again, more)]
    assert days == [[(TODAY - timedelta(n)).isoformat()] for n in (1, 2, 3)]
    assert "day before yesterday" in again.reply.lower()


def test_why_explains_an_alert_from_the_record(engine, recorded_twins):
    snap, oracle = recorded_twins[0][0]
    answer = engine.reply(snap, "Why is your heart rate up?")
    flagged = [f for f in answer.facts if f.name == "alert_resting_tachycardia"]
    assert flagged and flagged[0].time == max(t for n, t in oracle if n == flagged[0].name)
    assert "flag" in answer.reply and not ungrounded(answer.reply, answer.facts)


def test_a_twin_without_a_record_says_so(engine, recorded_twins):
    (snap, _), sim, none, _ = recorded_twins[0][0], *recorded_twins[1:]
    plain = take_snapshot(sim.world, snap.twin_id, sim.today)
    for past in (*none, None):
        alone = with_past(plain, past)
        answer = engine.reply(alone, "How did you sleep yesterday?")
        assert alone.value("days_recorded") == 0
        assert "record" in answer.reply and not ungrounded(answer.reply, answer.facts)
        assert not [f for f in answer.facts if f.source == "history" and f.name != "days_recorded"]


@pytest.fixture(scope="module")
def served(record):
    """The store served by ``twin serve``'s ``Serving`` from ``TODAY`` on."""
    store, daily = record
    folder = store.parent
    config = load_config(
        None,
        serve={"pub_endpoint": loopback(), "router_endpoint": loopback(),
               "http_port": free_port(), "checkpoint": folder / "w.ckpt"},
        history={"path": store}, twins=TWINS, start=datetime.combine(TODAY, datetime.min.time()),
    )  # fmt: skip
    serving = Serving(config)
    thread = threading.Thread(target=serving.run, name="serve")
    thread.start()
    try:
        with httpx.Client(base_url=serving.http.url, timeout=10.0) as client:
            yield serving, client, daily
    finally:
        serving.stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()


def _said(daily: dict, twin: int, day: date, column: str, decimals: int) -> float | int:
    for t, d, v in zip(daily["twin_id"], daily["day"], daily[column], strict=True):
        if t == twin and str(d)[:10] == day.isoformat():
            return _rounded(float(v), decimals)
    raise AssertionError(f"twin {twin} has no {day}")


def test_the_router_chat_answers_from_the_record(served):
    serving, _, daily = served
    router = serving.server.endpoints["router"]
    twin = int(daily["twin_id"][0])
    first = ask(router, "chat", 10.0, id=twin, message="How many steps did you take yesterday?")
    assert first.ok, first.error
    cid = first.result["conversation_id"]
    again = ask(router, "chat", 10.0, id=twin, message="and the day before?", conversation_id=cid)
    assert again.ok, again.error
    for answer, back in ((first, 1), (again, 2)):
        day = TODAY - timedelta(days=back)
        steps = [f for f in answer.result["facts"] if f["name"] == "day_steps"]
        assert steps == [
            {
                "name": "day_steps",
                "value": _said(daily, twin, day, "steps", 0),
                "unit": "step",
                "source": "history",
                "time": day.isoformat(),
            }
        ]
        assert str(steps[0]["value"]) in answer.result["reply"]
    read = serving.server.handler.chat._pasts[twin]
    third = ask(router, "chat", 10.0, id=twin, message="and 3 days ago?", conversation_id=cid)
    assert third.ok and serving.server.handler.chat._pasts[twin] is read, "one read serves all"


def test_rest_chat_explains_why_from_the_record(served):
    _, client, daily = served
    twin = int(daily["twin_id"][1])
    answer = client.post(
        f"/api/twins/{twin}/chat", json={"message": "How was your week compared with usual?"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    names = {f["name"] for f in body["facts"] if f["source"] == "history"}
    assert {"week_steps", "usual_steps"} <= names
    assert not ungrounded(body["reply"], [Fact(**f) for f in body["facts"]])
    why = client.post(
        f"/api/twins/{twin}/chat",
        json={"message": "why is your heart rate up?", "conversation_id": body["conversation_id"]},
    )
    assert why.status_code == 200, why.text
    assert any(f["name"] == "alert_resting_tachycardia" for f in why.json()["facts"])


def test_a_server_without_a_record_still_chats(tmp_path):
    config = load_config(
        None,
        serve={"pub_endpoint": loopback(), "router_endpoint": loopback(),
               "checkpoint": tmp_path / "w.ckpt", "http_enabled": False},
        history={"enabled": False}, twins=20,
    )  # fmt: skip
    serving = Serving(config)
    thread = threading.Thread(target=serving.run, name="serve")
    thread.start()
    try:
        twin = int(serving.sim.world.ids[0])
        router = serving.server.endpoints["router"]
        answer = ask(router, "chat", 10.0, id=twin, message="How did you sleep yesterday?")
        assert answer.ok, answer.error
        facts = {f["name"]: f for f in answer.result["facts"]}
        assert facts["days_recorded"]["value"] == 0 and "record" in answer.result["reply"]
    finally:
        serving.stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
