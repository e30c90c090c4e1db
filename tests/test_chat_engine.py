"""The chat engine on live twins: the snapshot, the voice, determinism, conversation memory and
input checks."""

from __future__ import annotations

import time

import numpy as np
import pytest

from synthtwin.engine.world import UnknownTwinError
from synthtwin.net.chat import (
    INTENTS,
    ChatEngine,
    ChatInputError,
    ChatSettings,
    TwinSnapshot,
    Understander,
    take_snapshot,
    ungrounded,
)
from synthtwin.net.chat.answers import HANDLERS
from synthtwin.net.chat.memory import ConversationStore, Turn
from synthtwin.net.chat.understand import Understanding
from tests.conftest import small_simulation

SMALL_TALK = (
    "hi, how are you?",
    "what are you doing?",
    "how's your day been?",
    "how did you sleep?",
)


@pytest.fixture(scope="module")
def sim():
    sim = small_simulation(twins=60, seed=5)
    sim.loop.run_ticks(14 * 60 + 30)
    yield sim
    sim.close()


UNDERSTANDER = Understander()


@pytest.fixture(scope="module")
def engine() -> ChatEngine:
    return ChatEngine(understander=UNDERSTANDER)


@pytest.fixture
def snap(sim) -> TwinSnapshot:
    """An awake twin at home, watching TV, rested, with middling personality."""
    row = 0
    base = take_snapshot(sim.world, int(sim.world.ids[row]), sim.today)
    return base.replace(
        activity="tv", place="home", mets=1.3, sleep_hours=7.5, sleep_pressure=0.3,
        hr_bpm=70, sbp_mmhg=118, dbp_mmhg=76, glucose_mgdl=95, spo2_pct=97, rr_brpm=14,
        core_temp_c=36.8, extraversion=0.0, neuroticism=0.0, agreeableness=0.0,
    )  # fmt: skip


def test_every_intent_has_a_handler():
    assert set(HANDLERS) == set(INTENTS)


def test_a_snapshot_holds_the_world_values_with_units_sources_and_times(sim):
    world = sim.world
    twin_id = int(world.ids[3])
    snap = take_snapshot(world, twin_id, sim.today)
    assert snap.twin_id == twin_id and snap.time == "2026-03-02T14:30:00"
    hr = snap["hr_bpm"]
    assert hr.value == round(float(world["hr_bpm"][3]))
    assert (hr.unit, hr.source, hr.time) == ("1/min", "live", "2026-03-02T14:30:00")
    assert snap["sleep_hours"].source == "history" and snap["sleep_hours"].time == "2026-03-02"
    assert snap["age_y"].source == "profile" and snap["age_y"].time is None
    assert {f.source for f in snap} == {"live", "history", "profile", "schedule"}


def test_a_snapshot_takes_well_under_a_millisecond(sim):
    ids = sim.world.ids[:50].tolist()
    take_snapshot(sim.world, ids[0], sim.today)
    times = []
    for twin_id in ids * 4:
        start = time.perf_counter()
        take_snapshot(sim.world, twin_id, sim.today)
        times.append(time.perf_counter() - start)
    assert np.median(times) < 1e-3


def test_a_snapshot_round_trips_through_plain_data(snap):
    assert TwinSnapshot.from_dict(snap.to_dict()) == snap


def test_an_unknown_twin_has_no_snapshot(sim):
    with pytest.raises(UnknownTwinError):
        take_snapshot(sim.world, 10**6, sim.today)


def test_replies_are_deterministic_per_seed(snap):
    def conversation(engine: ChatEngine) -> list[str]:
        cid, out = "c1", []
        for message in (*SMALL_TALK, "and yesterday?", "what's your bp", "why?"):
            out.append(engine.reply(snap, message, cid).reply)
        return out

    first = conversation(ChatEngine(ChatSettings(seed=3), UNDERSTANDER))
    assert conversation(ChatEngine(ChatSettings(seed=3), UNDERSTANDER)) == first
    others = [conversation(ChatEngine(ChatSettings(seed=s), UNDERSTANDER)) for s in range(4, 9)]
    assert any(other != first for other in others)


def test_extraverts_say_more_than_introverts(engine, snap):
    outgoing = snap.replace(extraversion=1.5, agreeableness=1.0)
    reserved = snap.replace(extraversion=-1.5)
    for message in SMALL_TALK:
        long = engine.reply(outgoing, message).reply
        short = engine.reply(reserved, message).reply
        assert len(long) > len(short), (long, short)
    assert "?" in engine.reply(outgoing, "hi, how are you?").reply


def test_a_bad_number_worries_a_neurotic_twin_and_not_a_calm_one(engine, snap):
    high_bp = snap.replace(sbp_mmhg=152, dbp_mmhg=96)
    worried = engine.reply(high_bp.replace(neuroticism=1.5), "what's your blood pressure?").reply
    calm = engine.reply(high_bp.replace(neuroticism=-1.5), "what's your blood pressure?").reply
    assert "152/96" in worried and "152/96" in calm
    assert any(w in worried for w in ("worries", "nervous", "doctor"))
    assert any(w in calm for w in ("not too worried", "sure it's fine"))
    normal = engine.reply(snap.replace(neuroticism=1.5), "what's your blood pressure?").reply
    assert not any(w in normal for w in ("worries", "nervous", "doctor"))


def test_a_short_night_or_high_sleep_pressure_sounds_tired(engine, snap):
    for tired in (snap.replace(sleep_hours=4.6), snap.replace(sleep_pressure=0.62)):
        assert "tired" in engine.reply(tired, "hey, how are you?").reply.lower()
    assert "tired" not in engine.reply(snap, "hey, how are you?").reply.lower()
    asleep = snap.replace(activity="sleep", asleep_for_h=5.0)
    assert "asleep" in engine.reply(asleep, "what are you doing?").reply


def test_raised_heart_rate_is_explained_by_the_activity(engine, snap):
    running = snap.replace(activity="exercise_park", place="park", mets=4.5, hr_bpm=142)
    answer = engine.reply(running, "why is your heart rate so high?")
    assert answer.intent == "why"
    assert "142 bpm" in answer.reply and "run in the park" in answer.reply
    assert {"hr_bpm", "mets", "activity"} <= {f.name for f in answer.facts}


def test_high_glucose_after_a_meal_is_explained_by_the_meal(engine, snap):
    after_meal = snap.replace(glucose_mgdl=168, gut_carbs_g=40)
    answer = engine.reply(after_meal, "why is your blood sugar up?")
    assert "ate not long ago" in answer.reply and "40 g" in answer.reply
    assert not ungrounded(answer.reply, answer.facts)


def test_history_is_not_guessed(engine, snap):
    answer = engine.reply(snap, "how did you sleep yesterday?")
    assert answer.intent == "history"
    assert "record" in answer.reply
    assert answer.facts[0].name == "days_recorded" and answer.facts[0].value == 0


def test_follow_ups_refer_back(engine, snap):
    first = engine.reply(snap, "what's your heart rate?")
    second = engine.reply(snap, "what about your blood pressure?", first.conversation_id)
    third = engine.reply(snap, "why?", second.conversation_id)
    assert (second.intent, third.intent) == ("vitals", "why")
    assert "blood pressure" in second.reply and "blood pressure" in third.reply
    fresh = engine.reply(snap, "why?")
    assert "blood pressure" not in fresh.reply


def test_a_conversation_belongs_to_one_twin(engine, sim, snap):
    other = take_snapshot(sim.world, int(sim.world.ids[1]), sim.today)
    first = engine.reply(snap, "what's your blood pressure?", "shared")
    assert engine.conversations.context("shared", snap.twin_id).turn == 1
    engine.reply(other, "hello", first.conversation_id)
    assert engine.conversations.context("shared", snap.twin_id).turn == 0


@pytest.mark.parametrize("message", ["", "   ", "x" * 2001])
def test_bad_messages_are_refused(engine, snap, message):
    with pytest.raises(ChatInputError):
        engine.reply(snap, message)


@pytest.mark.parametrize("conversation_id", ["", "has space", "x" * 65, "semi;colon"])
def test_bad_conversation_ids_are_refused(engine, snap, conversation_id):
    with pytest.raises(ChatInputError):
        engine.reply(snap, "hi", conversation_id)


def test_the_reply_is_plain_data(engine, snap):
    data = engine.reply(snap, "how old are you?").to_dict()
    assert set(data) == {"reply", "conversation_id", "facts", "intent", "engine", "fallback"}
    assert data["engine"] == "embedded" and data["fallback"] is None
    assert data["facts"][0] == {
        "name": "sex", "value": snap["sex"].value, "unit": "", "source": "profile", "time": None,
    }  # fmt: skip


def test_memory_is_bounded_in_conversations_and_turns():
    store = ConversationStore(max_conversations=2, max_turns=3)
    turn = Turn("hi", Understanding("greeting"), "Hi!", "embedded")
    for _ in range(5):
        store.record("a", 1, turn)
    context = store.context("a", 1)
    assert (context.turn, len(context.turns)) == (5, 3)
    store.record("b", 1, turn)
    store.record("c", 1, turn)
    assert len(store) == 2
    assert store.context("a", 1).turn == 0
    assert store.context("c", 1).turn == 1


def test_a_day_without_a_sample_states_no_mean_or_peak(make_simulation):
    """At midnight the day's aggregates are zeros: the twin says none of them ("peaked at
    0 mg/dL today", "today's average is 0/0 mmHg"), only its live values."""
    sim = make_simulation(twins=5, seed=3)  # Monday 00:00, no tick yet
    twin = int(sim.world.ids[0])
    snap = take_snapshot(sim.world, twin, sim.today)
    assert not {"mean_hr", "max_hr", "sbp_mean", "dbp_mean", "glucose_mean",
                "glucose_max"} & {f.name for f in snap}  # fmt: skip
    engine = ChatEngine()
    for message in ("how is your blood sugar?", "what's your blood pressure?"):
        answer = engine.reply(snap, message)
        assert " 0 mg/dL" not in answer.reply and "0/0" not in answer.reply, answer.reply
    sim.loop.run_ticks(5)
    later = take_snapshot(sim.world, twin, sim.today)
    assert later["glucose_max"].value > 0 and later["sbp_mean"].value > 0
