"""Chat quality, measured on the shipped question sets against live twins.

``tests/chat/questions.jsonl``: realistic questions (paraphrases, typos, follow-ups after the
messages in ``after``) with the intent each asks and the facts its answer must rest on
(``facts``; ``record_facts`` where a twin with a health record answers from other facts, by
snapshot key: ``tests/test_chat_history.py`` asks those of twins with a record).
``tests/chat/extra_questions.jsonl``: more questions, intents only, written in four batches after
the paraphrase set (each batch was first scored unseen, then some used to improve the set).

Against twins of a small simulation at two moments (an afternoon, and 03:00 the next night,
when most sleep), the suite measures:

- intent accuracy (>= 90 % asserted on each set);
- fact recall: the expected facts are among the reply's facts (>= 90 %);
- fact accuracy: every reply fact that an independent oracle can compute from the world equals
  it (100 %);
- grounding: no reply states a number that is not one of its facts (100 %).

Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from synthtwin.components.activity import ACTIVITY_NAMES, CATEGORIES
from synthtwin.components.identity import EMPLOYMENT
from synthtwin.net.chat import ChatEngine, TwinSnapshot, take_snapshot, ungrounded
from tests.conftest import small_simulation

DATA = Path(__file__).parent / "chat"
TWINS_PER_MOMENT = 8
MOMENTS_TICKS = (14 * 60 + 30, 12 * 60 + 30)
"""Ticks of 60 s run before each moment: Monday 14:30, then Tuesday 03:00."""


def _load(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


QUESTIONS = _load("questions.jsonl")
EXTRA = _load("extra_questions.jsonl")


def _hhmm(hours: float) -> str:
    minutes = int(round(hours * 60)) % 1440
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _oracle(world, row: int, day: dict) -> dict:
    """Fact values computed from the world without the chat package."""

    def r(name: str, decimals: int = 0) -> float:
        value = float(world[name][row])
        return round(value, decimals) if decimals else round(value)

    out = {
        "twin_id": int(world.ids[row]),
        "age_y": math.floor(float(world["age_y"][row])),
        "employment": EMPLOYMENT[int(world["employment"][row])],
        "activity": ACTIVITY_NAMES[int(world["activity"][row])],
        "household_size": int(world["household_size"][row]),
        "household_others": int(world["household_size"][row]) - 1,
        "n_children": int(world["n_children"][row]),
        "days_recorded": 0,
        "sleep_hours": round(float(day["sleep_hours"][0]), 1),
        "mean_hr": round(float(day["mean_hr"][0])),
        "glucose_max": round(float(day["glucose_max"][0])),
        "sbp_mean": round(float(day["sbp_mean"][0])),
        "dbp_mean": round(float(day["dbp_mean"][0])),
        "core_temp_c": r("core_temp_c", 1),
        "mets": r("mets", 1),
        **{f"today_{c}_h": round(float(day[f"min_{c}"][0]) / 60, 1) for c in CATEGORIES},
    }
    for name in ("hr_bpm", "sbp_mmhg", "dbp_mmhg", "rr_brpm", "spo2_pct", "glucose_mgdl",
                 "steps", "energy_kcal", "rhr_bpm", "sbp_rest_mmhg", "dbp_rest_mmhg",
                 "glucose_basal_mgdl", "height_cm", "weight_kg"):  # fmt: skip
        out[name] = r(name)
    for name in ("hypertension", "htn_treated", "diabetes"):
        out[name] = bool(world[name][row])
    if not np.isnan(day["resting_hr"][0]):
        out["resting_hr"] = round(float(day["resting_hr"][0]))
    if bool(world["employed"][row]) and world["work_hours"][row] > 0 and world["work_days"][row]:
        start = float(world["work_start_h"][row])
        out["work_start"] = _hhmm(start)
        out["work_end"] = _hhmm(start + float(world["work_hours"][row]))
    return out


def _pick_rows(world) -> list[int]:
    """Twins in different situations: one per activity first, then ill and shift workers."""
    rows: list[int] = []
    for code in np.unique(world["activity"]):
        rows.append(int(np.flatnonzero(world["activity"] == code)[0]))
    for name in ("diabetes", "hypertension"):
        rows += np.flatnonzero(world[name])[:2].tolist()
    rows += np.flatnonzero(world["shift"] == 2)[:2].tolist()
    return list(dict.fromkeys(rows))[:TWINS_PER_MOMENT]


@pytest.fixture(scope="module")
def twins() -> list[tuple[TwinSnapshot, dict]]:
    """``(snapshot, oracle values)`` of several twins at each moment."""
    sim = small_simulation(twins=200, seed=7)
    out = []
    try:
        for ticks in MOMENTS_TICKS:
            sim.loop.run_ticks(ticks)
            for row in _pick_rows(sim.world):
                twin_id = int(sim.world.ids[row])
                day = sim.today(np.array([row]))
                out.append(
                    (take_snapshot(sim.world, twin_id, sim.today), _oracle(sim.world, row, day))
                )
    finally:
        sim.close()
    return out


@pytest.fixture(scope="module")
def engine() -> ChatEngine:
    return ChatEngine()


def _ask(engine: ChatEngine, snap: TwinSnapshot, entry: dict):
    conversation = None
    for message in entry.get("after", []):
        conversation = engine.reply(snap, message, conversation).conversation_id
    return engine.reply(snap, entry["q"], conversation)


@pytest.fixture(scope="module")
def answered(engine, twins) -> list[tuple[dict, TwinSnapshot, dict, object]]:
    """Every question asked of every twin: ``(entry, snapshot, oracle, reply)``."""
    return [(e, snap, oracle, _ask(engine, snap, e)) for snap, oracle in twins for e in QUESTIONS]


def test_the_question_set_is_large_varied_and_well_formed(engine):
    assert len(QUESTIONS) >= 200
    kinds = Counter(e["kind"] for e in QUESTIONS)
    assert kinds["typo"] >= 40 and kinds["followup"] >= 15
    assert {e["intent"] for e in QUESTIONS} == set(engine.understander.classifier.intents)
    assert len({(e["q"], tuple(e.get("after", ()))) for e in QUESTIONS}) == len(QUESTIONS)


def _intent_accuracy(answered_or_entries) -> float:
    return sum(ok for ok in answered_or_entries) / len(answered_or_entries)


def test_intent_accuracy_on_the_question_set(answered, twins):
    first = [a for a in answered if a[1] is twins[0][0]]
    hits = [reply.intent == e["intent"] for e, _, _, reply in first]
    by_kind = {
        kind: _intent_accuracy(
            [h for h, (e, *_) in zip(hits, first, strict=True) if e["kind"] == kind]
        )
        for kind in ("plain", "typo", "followup")
    }
    accuracy = _intent_accuracy(hits)
    print(f"\nintent accuracy {accuracy:.1%} of {len(hits)}; by kind " +
          ", ".join(f"{k} {v:.1%}" for k, v in by_kind.items()))  # fmt: skip
    assert accuracy >= 0.90


def test_intent_accuracy_on_the_extra_questions(engine):
    hits = [engine.understander.understand(e["q"]).intent == e["intent"] for e in EXTRA]
    batches = Counter(e["batch"] for e in EXTRA)
    right = Counter(e["batch"] for e, hit in zip(EXTRA, hits, strict=True) if hit)
    print(f"\nextra questions: {_intent_accuracy(hits):.1%} of {len(hits)}; by batch " +
          ", ".join(f"{b}: {right[b] / n:.1%}" for b, n in sorted(batches.items())))  # fmt: skip
    assert _intent_accuracy(hits) >= 0.90


def test_answers_rest_on_the_expected_facts(answered):
    expected = found = 0
    for entry, snap, _, reply in answered:
        names = {f.name for f in reply.facts}
        for name in entry["facts"]:
            if name in snap:
                expected += 1
                found += name in names
    print(f"\nfact recall {found / expected:.1%} of {expected}")
    assert found / expected >= 0.90


def test_every_fact_equals_the_world(answered):
    checked = wrong = 0
    mismatches = []
    for entry, snap, oracle, reply in answered:
        for fact in reply.facts:
            assert snap[fact.name] == fact, "reply facts come from the snapshot unchanged"
            if fact.name in oracle:
                checked += 1
                if fact.value != oracle[fact.name]:
                    wrong += 1
                    mismatches.append((entry["q"], fact, oracle[fact.name]))
    print(f"\nfact accuracy {(checked - wrong) / checked:.1%} of {checked} checked facts")
    assert not mismatches, mismatches[:5]


def test_no_reply_states_a_number_it_has_no_fact_for(answered):
    invented = [(e["q"], reply.reply, ungrounded(reply.reply, reply.facts))
                for e, _, _, reply in answered if ungrounded(reply.reply, reply.facts)]  # fmt: skip
    print(f"\ngrounded replies {1 - len(invented) / len(answered):.1%} of {len(answered)}")
    assert not invented, invented[:5]
