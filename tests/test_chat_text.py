"""The chat's pure parts: fact rounding and wording, the number checker, the normaliser, the
speller and the slot finder."""

from __future__ import annotations

import pytest

from synthtwin.net.chat.facts import FACT_SPECS, Fact, make_fact, say
from synthtwin.net.chat.grounding import numbers_in, ungrounded
from synthtwin.net.chat.slots import find_slots
from synthtwin.net.chat.text import Speller, normalise


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("My BP is 128/82 mmHg.", ["128", "82"]),
        ("SpO2 is 97%, O2 fine", ["97"]),
        ("I've taken 7,990 steps", ["7990"]),
        ("at 9:05 and 21:30", ["09:05", "21:30"]),
        ("on 2026-03-02", ["2026-03-02"]),
        ("I slept seven hours, 6.4 really", ["7", "6.4"]),
        ("no one here, just one of those days", []),
        ("37.4°C and 72bpm", ["37.4", "72"]),
        ("", []),
    ],
)
def test_numbers_in_finds_every_number_and_only_numbers(text, numbers):
    assert numbers_in(text) == numbers


def _fact(name, value, unit="", source="live"):
    return Fact(name, value, unit, source, None)


def test_ungrounded_accepts_facts_as_written_or_rounded_further():
    facts = [_fact("core_temp_c", 36.8, "degC"), _fact("hr_bpm", 72)]
    assert ungrounded("36.8 degrees, pulse 72", facts) == []
    assert ungrounded("about 37 degrees", facts) == []
    assert ungrounded("pulse 73", facts) == ["73"]
    assert ungrounded("36.9 degrees", facts) == ["36.9"]


def test_ungrounded_reads_times_in_24_and_12_hour_forms_and_dates_by_part():
    facts = [_fact("work_start", "21:30", "time"), _fact("date", "2026-03-02", "date")]
    assert ungrounded("I start at 21:30, that's 9:30 pm, 9 pm-ish", facts) == []
    assert ungrounded("on 2026-03-02, March 2", facts) == []
    assert ungrounded("at 10:30", facts) == ["10:30"]


def test_booleans_support_no_number():
    assert ungrounded("I have 1 condition", [_fact("diabetes", True)]) == ["1"]


def test_make_fact_rounds_as_the_spec_states():
    assert make_fact("hr_bpm", 71.6, "t").value == 72
    assert make_fact("core_temp_c", 36.84, "t").value == 36.8
    assert make_fact("age_y", 34.97, None).value == 34
    assert make_fact("age_y", 34.97, "t").time is None
    fact = make_fact("sleep_hours", 6.35, "2026-03-02")
    assert (fact.unit, fact.source, fact.time) == ("h", "history", "2026-03-02")


def test_say_writes_the_value_with_its_spoken_unit():
    assert say(make_fact("hr_bpm", 71.6, None)) == "72 bpm"
    assert say(make_fact("spo2_pct", 97.2, None)) == "97%"
    assert say(make_fact("work_hours", 8.0, None)) == "8 hours"
    assert say(make_fact("core_temp_c", 36.84, None), unit=False) == "36.8"
    assert say(make_fact("diabetes", True, None)) == "yes"


def test_every_fact_spec_has_a_known_source():
    assert {spec.source for spec in FACT_SPECS.values()} == {
        "live",
        "history",
        "profile",
        "schedule",
    }


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ("Whats ur BP rn?", "what is your bp right now"),
        ("how r u", "how are you"),
        ("wyd", "what are you doing"),
        ("I'm fine, you're ok? didn't", "i am fine you are ok did not"),
        ("hows ur sp02", "how is your spo2"),
        ("where's your friend's place", "where is your friend place"),
        ("do you work tmrw", "do you work tomorrow"),
    ],
)
def test_normalise_spells_out_shorthand(message, words):
    assert normalise(message) == words


def test_speller_corrects_unknown_words_to_near_known_ones_only():
    speller = Speller(["heart", "pressure", "yesterday", "glucose", "temperature", "sleep", "read"])
    typos = ["hart", "presure", "yesturday", "glucoes", "temprature", "slep"]
    assert speller.correct(typos) == [
        "heart",
        "pressure",
        "yesterday",
        "glucose",
        "temperature",
        "sleep",
    ]
    assert speller.correct(["bp", "zzzzzz", "head", "12"]) == ["bp", "zzzzzz", "head", "12"]


def test_slots_match_the_longest_phrase_and_the_most_specific_time_frame():
    slots = find_slots(normalise("how is your sleep pressure and blood pressure tomorrow").split())
    assert slots.topics == ("sleep", "bp")
    assert slots.timeframe == "tomorrow"
    assert find_slots(normalise("plans for later tomorrow").split()).timeframe == "tomorrow"


def test_slots_mask_vital_signs_and_drop_the_present():
    slots = find_slots(normalise("what is your heart rate right now").split())
    assert slots.masked == ("what", "is", "your", "vitalsign")
    assert slots.rest == ("what", "is", "your")
