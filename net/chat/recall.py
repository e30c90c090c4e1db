"""Recall: answers from the twin's recorded past days (the ``history`` facts of ``past``).

``past_day`` tells one recorded day ("yesterday", "the day before", "3 days ago"), ``past_week``
compares the last week with the twin's usual (the mean of its recorded weeks) and says where a
trend runs, and ``from_record`` adds to a "why" answer what the record shows: the latest alert
about the topic, its trend, or the last week against the usual. Every number goes through
``Draft.say``; a day or value the record lacks is said to be missing, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from synthtwin.net.chat.draft import Draft
from synthtwin.net.chat.past import day_key
from synthtwin.net.chat.slots import VITAL_TOPICS

__all__ = ["ALERT_TOPIC", "alert_topics", "from_record", "past_day", "past_week", "recorded"]

DEFAULT_TOPICS = ("steps", "sleep", "hr")
"""What a question about a past day or week without a topic is answered with."""
DAY_TOPICS = ("steps", "sleep", "hr", "bp", "glucose", "spo2", "temp", "rr", "energy")
"""The topics a past day's record holds."""
SAME_FRACTION = 0.05
"""A week within 5 % of the usual is "about the same" (day-to-day variation of steps and sleep is
larger: Tudor-Locke et al. 2011, IJBNPA 8:79)."""
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ALERT_TOPIC: dict[str, str] = {
    "resting_tachycardia": "hr", "resting_hr_rise": "hr", "bp_crisis": "bp",
    "bp_day_mean": "bp", "glucose_high": "glucose", "glucose_low": "glucose",
    "spo2_low": "spo2", "short_sleep": "sleep",
}  # fmt: skip
"""Alert rule (``engine.alerts``) -> the topic it is about."""
_ALERT_SAYS: dict[str, Callable[[str, str], str]] = {
    "resting_tachycardia": lambda when, v: f"{when} my resting heart rate was {v}, high enough "
    "for my record to flag it.",
    "resting_hr_rise": lambda when, v: f"{when} my record flagged my resting heart rate running "
    f"{v} above my usual for days in a row.",
    "bp_day_mean": lambda when, v: f"{when} my blood pressure averaged {v} systolic, which my "
    "record flagged as high.",
    "bp_crisis": lambda when, v: f"{when} my systolic pressure reached {v}, and my record "
    "flagged it.",
    "glucose_high": lambda when, v: f"{when} my blood sugar stayed high for {v} in a row.",
    "glucose_low": lambda when, v: f"{when} my blood sugar ran low for {v} in a row.",
    "spo2_low": lambda when, v: f"{when} my oxygen stayed low for {v} in a row.",
    "short_sleep": lambda when, v: f"My record flagged short sleep: {v} lately, up to {when}.",
}  # fmt: skip
"""How a twin tells an alert: ``(when, value as said) -> sentence``."""
_MEAN_OF: dict[str, tuple[str, ...]] = {
    "steps": ("steps",), "sleep": ("sleep_hours",), "hr": ("resting_hr",),
    "bp": ("sbp_mean", "dbp_mean"), "glucose": ("glucose_mean",), "energy": ("energy_kcal",),
}  # fmt: skip
"""Topic -> the daily measures its week and usual means are of (``past.MEAN_MEASURES``)."""
_WEEK_SAYS: dict[str, Callable[[str], str]] = {
    "steps": lambda v: f"I averaged {v} a day",
    "sleep": lambda v: f"I slept {v} a night on average",
    "hr": lambda v: f"my resting heart rate averaged {v}",
    "bp": lambda v: f"my blood pressure averaged {v}",
    "glucose": lambda v: f"my blood sugar averaged {v}",
    "energy": lambda v: f"I burned {v} a day on average",
}  # fmt: skip
_USUAL_SAYS: dict[str, Callable[[str], str]] = {
    "steps": lambda v: f"I take about {v} a day",
    "sleep": lambda v: f"I sleep about {v} a night",
    "hr": lambda v: f"my resting heart rate is around {v}",
    "bp": lambda v: f"my blood pressure is around {v}",
    "glucose": lambda v: f"my blood sugar is around {v}",
    "energy": lambda v: f"I burn about {v} a day",
}  # fmt: skip
_TREND_OF = {"steps": "steps", "sleep": "sleep_hours", "hr": "resting_hr", "bp": "sbp_mean"}
"""Topic -> the measure whose trend (``engine.health_query.twin_baselines``) it has."""
_TREND_SAYS = {"steps": "my daily step count", "sleep": "my sleep", "hr": "my resting heart rate",
               "bp": "my blood pressure"}  # fmt: skip


def recorded(d: Draft) -> bool:
    """Whether the twin has any recorded past day."""
    return d.value("days_recorded", 0) > 0


def alert_topics(d: Draft) -> list[str]:
    """The topics of the twin's recent alerts, latest first."""
    alerts = [(d.snap[f"alert_{rule}"].time or "", topic) for rule, topic in ALERT_TOPIC.items()
              if d.has(f"alert_{rule}")]  # fmt: skip
    return [topic for _, topic in sorted(alerts, reverse=True)]


def day_name(d: Draft, back: int) -> str:
    """How the twin names the day ``back`` days before today: "yesterday", "the day before
    yesterday", "on Saturday" (within a week), "on Saturday the week before", "that day"."""
    if back == 1:
        return "yesterday"
    if back == 2:
        return "the day before yesterday"
    weekday = WEEKDAYS[(_today(d) - timedelta(days=back)).weekday()]
    if back < 7:
        return f"on {weekday}"
    return f"on {weekday} the week before" if back < 14 else "that day"


def _today(d: Draft) -> date:
    return date.fromisoformat(d.value("date"))


def _back(d: Draft, day: str) -> int:
    return (_today(d) - date.fromisoformat(day[:10])).days


# -- one day -----------------------------------------------------------------------------------


def _day_parts(d: Draft, topic: str, back: int) -> str:
    """What the twin did or measured on that day about ``topic``; "" when not recorded."""

    def has(*names: str) -> bool:
        return all(d.has(day_key(n, back)) for n in names)

    def say(name: str) -> str:
        return d.say(day_key(name, back))

    if topic == "sleep" and has("sleep_hours"):
        return f"I woke up after {say('sleep_hours')} of sleep"
    if topic == "steps" and has("day_steps"):
        return f"I took {say('day_steps')}"
    if topic == "energy" and has("day_energy_kcal"):
        return f"I burned {say('day_energy_kcal')}"
    if topic == "hr" and has("resting_hr"):
        return f"my resting heart rate was {say('resting_hr')}"
    if topic == "hr" and has("mean_hr"):
        return f"my heart rate averaged {say('mean_hr')}"
    if topic == "bp" and has("sbp_mean", "dbp_mean"):
        return f"my blood pressure averaged {say('sbp_mean')}/{say('dbp_mean')}"
    if topic == "glucose" and has("glucose_mean", "glucose_max"):
        return f"my blood sugar averaged {say('glucose_mean')} and peaked at {say('glucose_max')}"
    if topic == "spo2" and has("spo2_mean"):
        return f"my oxygen saturation averaged {say('spo2_mean')}"
    if topic == "temp" and has("temp_mean"):
        return f"my temperature averaged {say('temp_mean')}"
    if topic == "rr" and has("rr_mean"):
        return f"I breathed {say('rr_mean')} on average"
    return ""


def _unrecorded(d: Draft, topics: tuple[str, ...], kept: tuple[str, ...], sentence: str) -> bool:
    """Say ``sentence`` when ``topics`` name only vital signs the record does not keep as
    ``kept`` (a week's SpO2); whether it did."""
    if not topics or any(t in kept for t in topics):
        return False
    if not any(t in VITAL_TOPICS and t != "vitals" for t in topics):
        return False
    d.add(sentence)
    return True


def past_day(d: Draft, topics: tuple[str, ...], back: int) -> None:
    """One recorded day, ``back`` days ago, about ``topics`` (the default ones when none)."""
    when = day_name(d, back)
    if _unrecorded(d, topics, DAY_TOPICS, f"My record doesn't keep that for {when}."):
        return
    asked = [t for t in topics if t in DAY_TOPICS]
    parts = [p for p in (_day_parts(d, t, back) for t in asked or DEFAULT_TOPICS) if p]
    if not parts:
        d.use("days_recorded")
        missing = "that" if asked else "anything"
        d.add(f"I have no record of {missing} {when}.")
        _coverage(d)
        return
    said = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    d.add(f"{when[0].upper()}{when[1:]} {said}.")
    topic = (asked or list(DEFAULT_TOPICS))[0]
    usual = _usual(d, topic)
    if usual:
        d.detail(f"Usually {usual}.")


def _usual(d: Draft, topic: str) -> str:
    """The twin's usual (``usual_`` means) for ``topic`` as a clause; "" when it has none."""
    names = [f"usual_{m}" for m in _MEAN_OF.get(topic, ())]
    if not names or not all(d.has(n) for n in names):
        return ""
    value = "/".join(d.say(n, unit=n == names[-1]) for n in names)
    return _USUAL_SAYS[topic](value)


def _coverage(d: Draft) -> None:
    """How much of the past the record holds, when it holds little."""
    days = d.value("days_recorded", 0)
    if days == 0:
        d.add("I don't have a record of earlier days yet.")
    elif days < 7:
        count = "one day" if days == 1 else d.say("days_recorded")
        d.detail(f"My record only goes back {count}.")


# -- the week against the usual ----------------------------------------------------------------


def past_week(d: Draft, topics: tuple[str, ...]) -> None:
    """The last week's means of ``topics`` against the usual, and where a trend runs."""
    if _unrecorded(d, topics, tuple(_MEAN_OF), "My record doesn't keep a weekly average of that; "
                   "ask me about a day."):  # fmt: skip
        return
    asked = [t for t in topics if t in _MEAN_OF] or list(DEFAULT_TOPICS)
    said = 0
    for topic in asked[:3]:
        sentence = _week_sentence(d, topic)
        if sentence:
            d.add(f"This past week {sentence}" if not said else sentence[0].upper() + sentence[1:])
            said += 1
            trend = _trend_sentence(d, topic)
            if trend:
                d.detail(f"And {trend[0].lower()}{trend[1:]}")
    if not said:
        d.add("My record doesn't have that for the past week.")
    _coverage(d)


def _week_sentence(d: Draft, topic: str) -> str:
    """The week's mean of ``topic`` against the usual, as a clause; "" when either is missing."""
    measures = _MEAN_OF[topic]
    week = [f"week_{m}" for m in measures]
    usual = [f"usual_{m}" for m in measures]
    if not all(d.has(n) for n in week + usual):
        return ""
    now = "/".join(d.say(n, unit=n == week[-1]) for n in week)
    before = "/".join(d.say(n, unit=n == usual[-1]) for n in usual)
    verdict = _compare(d.value(week[0]), d.value(usual[0]))
    return f"{_WEEK_SAYS[topic](now)}, against {before} usually: {verdict}."


def _compare(week: float, usual: float) -> str:
    if abs(week - usual) <= SAME_FRACTION * abs(usual):
        return "about the same"
    return "a bit more than usual" if week > usual else "a bit less than usual"


def _trend_sentence(d: Draft, topic: str) -> str:
    """Where the twin's measure for ``topic`` has been heading, if it has a clear trend."""
    measure = _TREND_OF.get(topic)
    if measure is None or not d.has(f"trend_{measure}"):
        return ""
    direction = d.use(f"trend_{measure}_direction").value
    change = d.say(f"trend_{measure}")
    what = _TREND_SAYS[topic]
    return f"{what[0].upper()}{what[1:]} has been going {direction}: {change} over the past weeks."


# -- why ---------------------------------------------------------------------------------------


def from_record(d: Draft, topic: str) -> bool:
    """Add what the record shows about ``topic`` to a "why" answer: its latest alert, else its
    trend, else the last week against the usual; whether anything was said."""
    alerts = [rule for rule, t in ALERT_TOPIC.items() if t == topic and d.has(f"alert_{rule}")]
    if alerts:
        latest = max(alerts, key=lambda rule: d.snap[f"alert_{rule}"].time or "")
        fact = d.snap[f"alert_{latest}"]
        when = day_name(d, _back(d, fact.time or d.value("date")))
        sentence = _ALERT_SAYS[latest](when, d.say(f"alert_{latest}"))
        d.add(sentence[0].upper() + sentence[1:])
        return True
    trend = _trend_sentence(d, topic)
    if trend:
        d.add(trend)
        return True
    if topic in _MEAN_OF and recorded(d):
        sentence = _week_sentence(d, topic)
        if sentence:
            d.detail(f"This past week {sentence}")
            return True
    return False
