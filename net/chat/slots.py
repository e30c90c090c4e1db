"""Slots: what a message is about (topics) and when (its time frame), found by phrase lookup in
the corrected words.

Topics name a fact group (``hr`` is heart rate, ``bp`` blood pressure...); a message may name
several ("heart rate and blood pressure"). The time frame says which source answers: ``now`` and
``today`` the live state and today's record, ``yesterday``, ``week`` and ``usual`` the history,
``later`` and ``tomorrow`` the schedule. Phrases are matched longest first, so "sleep pressure"
is not blood pressure. The classifier reads the message with every vital-sign phrase replaced by
the one word ``vitalsign`` and without "right now" and its like (``masked``), so one
paraphrase covers all vitals, at any moment.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ABOUT_TOPICS",
    "TIMEFRAMES",
    "TIMEFRAME_PRIORITY",
    "TOPICS",
    "VITAL_TOPICS",
    "Slots",
    "find_slots",
    "slot_words",
]

VITAL_TOKEN = "vitalsign"

TOPICS: dict[str, tuple[str, ...]] = {
    "hr": ("heart rate", "heartrate", "heart rates", "pulse", "heartbeat", "heart beat", "hr",
           "bpm", "heart", "resting heart rate", "resting hr", "resting pulse"),
    "bp": ("blood pressure", "bp", "pressure", "systolic", "diastolic", "bloodpressure"),
    "glucose": ("glucose", "blood sugar", "sugar", "sugars", "glycemia", "blood glucose",
                "sugar level", "sugar levels", "glucose level"),
    "spo2": ("oxygen", "spo2", "saturation", "oxygen saturation", "oxygen level", "sats",
             "blood oxygen", "oxygen levels"),
    "temp": ("temperature", "temp", "body temperature", "core temperature", "fever"),
    "rr": ("breathing", "respiration", "respiratory rate", "breathing rate", "breaths",
           "respiration rate"),
    "steps": ("steps", "step count", "step", "footsteps"),
    "energy": ("calories", "calorie", "kcal", "energy expenditure", "energy spent",
               "energy burned", "kilocalories"),
    "vitals": ("vitals", "vital signs", "vital", "readings", "numbers", "stats", "metrics",
               "measurements"),
    "sleep": ("sleep", "slept", "sleeping", "night", "sleep pressure", "nap", "rest", "rested"),
    "age": ("age", "old", "born", "birthday"),
    "job": ("job", "living", "occupation", "employed", "career", "profession", "employment",
            "retired", "student", "unemployed", "shift"),
    "household": ("live with", "family", "kids", "children", "child", "household", "married",
                  "partner", "wife", "husband", "live alone", "people live"),
    "conditions": ("conditions", "condition", "diabetes", "diabetic", "hypertension",
                   "high blood pressure", "medication", "meds", "pills", "illness", "disease",
                   "health problems", "medical"),
    "habits": ("exercise", "work out", "workout", "sporty", "sport", "habits", "early bird",
               "night owl", "morning person", "routine"),
    "body": ("weight", "weigh", "height", "tall", "bmi", "heavy"),
    "transport": ("car", "drive", "bike", "cycle"),
    "name": ("name", "called"),
    "personality": ("personality", "introvert", "extrovert", "kind of person", "like as a person"),
}  # fmt: skip
"""Topic -> the phrases that name it (corrected words, lower case)."""

ALSO: dict[str, str] = {"high blood pressure": "bp", "hypertension": "bp"}
"""Phrases that name a second topic: the condition is also about the vital sign."""

VITAL_TOPICS = ("hr", "bp", "glucose", "spo2", "temp", "rr", "steps", "energy", "vitals")
ABOUT_TOPICS = ("age", "job", "household", "conditions", "habits", "body", "transport", "name",
                "personality")  # fmt: skip

TIMEFRAMES: dict[str, tuple[str, ...]] = {
    "now": ("now", "right now", "currently", "at the moment", "at present", "this minute"),
    "today": ("today", "so far", "this morning", "this afternoon", "all day"),
    "yesterday": ("yesterday", "day before", "the day before", "night before last",
                  "the night before", "days ago", "nights ago", "day before yesterday"),
    "week": ("this week", "last week", "past week", "lately", "recently", "these days",
             "past few days", "last few days", "this month", "over time", "weekend",
             "last weekend", "past days", "trend", "trends", "week", "month"),
    "usual": ("usual", "usually", "normally", "typical", "typically", "on average", "average",
              "compared", "compare", "than normal", "normal for you", "usual for you"),
    "later": ("later", "tonight", "this evening", "next", "afterwards", "after this",
              "after that", "soon", "plans", "plan", "planned", "schedule", "agenda", "after work",
              "after school", "after dinner", "after lunch"),
    "tomorrow": ("tomorrow", "next week", "weekends", "day off", "days off"),
}  # fmt: skip
"""Time frame -> the phrases that name it."""

TIMEFRAME_PRIORITY = ("yesterday", "tomorrow", "week", "later", "usual", "today", "now")
"""When a message names several time frames, the most specific wins ("plans for tomorrow" is
about tomorrow, "later today" about later)."""

_VITAL_PHRASES = frozenset(p for t in VITAL_TOPICS for p in TOPICS[t])
_MAX_WORDS = 4


@dataclass(frozen=True)
class Slots:
    """What a message names.

    Attributes:
        topics: topics in the order named, each once.
        timeframe: the most specific time frame named (``TIMEFRAME_PRIORITY``), or ``None``.
        masked: the words with each vital-sign phrase replaced by ``vitalsign`` and the ``now``
            phrases left out (the present is the default; "at the moment" says nothing of what
            is asked).
        rest: the words that are no slot phrase (for telling a bare follow-up such as "and
            yesterday?" from a question).
    """

    topics: tuple[str, ...]
    timeframe: str | None
    masked: tuple[str, ...]
    rest: tuple[str, ...]


def _lookup() -> dict[str, tuple[str, str]]:
    """Phrase -> ``(kind, name)``; kind ``topic`` or ``time``; a phrase in both is a topic."""
    out = {p: ("time", name) for name, phrases in TIMEFRAMES.items() for p in phrases}
    out.update({p: ("topic", name) for name, phrases in TOPICS.items() for p in phrases})
    return out


_PHRASES = _lookup()


def slot_words() -> set[str]:
    """Every word of every slot phrase (the speller's vocabulary needs them)."""
    return {word for phrase in _PHRASES for word in phrase.split()}


def find_slots(words: list[str]) -> Slots:
    """Topics, time frame and the masked words of a corrected message."""
    topics: list[str] = []
    timeframe: str | None = None
    masked: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(words):
        size, hit = _match_at(words, i)
        if hit is None:
            masked.append(words[i])
            rest.append(words[i])
            i += 1
            continue
        kind, name = _PHRASES[hit]
        for topic in (name, ALSO.get(hit)) if kind == "topic" else ():
            if topic and topic not in topics:
                topics.append(topic)
        if kind == "time" and (timeframe is None or _rank(name) < _rank(timeframe)):
            timeframe = name
        if hit in _VITAL_PHRASES:
            masked.append(VITAL_TOKEN)
        elif (kind, name) != ("time", "now"):
            masked += words[i : i + size]
        i += size
    return Slots(tuple(topics), timeframe, tuple(masked), tuple(rest))


def _rank(timeframe: str) -> int:
    return TIMEFRAME_PRIORITY.index(timeframe)


def _match_at(words: list[str], i: int) -> tuple[int, str | None]:
    """The longest slot phrase starting at word ``i``: ``(words it spans, phrase)``."""
    for size in range(min(_MAX_WORDS, len(words) - i), 0, -1):
        phrase = " ".join(words[i : i + size])
        if phrase in _PHRASES:
            return size, phrase
    return 1, None
