"""Answers: one handler per intent, each writing a ``Draft`` from the snapshot's facts.

A handler is ``handler(draft, understanding) -> None``: it reads facts from ``draft.snap``, writes
core and extra sentences, formats every number with ``draft.say`` (so the fact is recorded), and
lists the concerns its answer touches. It never states a number that is not a fact, and says what
it does not know instead of guessing. ``HANDLERS`` maps each intent to its handler.
"""

from __future__ import annotations

from collections.abc import Callable

from synthtwin.net.chat import recall
from synthtwin.net.chat.draft import Draft
from synthtwin.net.chat.norms import (
    FEVER_C,
    GLUCOSE_HIGH_MGDL,
    RECOMMENDED_SLEEP_H,
    SHORT_SLEEP_H,
    TIRED_SLEEP_PRESSURE,
    at_rest,
    concerns,
    is_tired,
)
from synthtwin.net.chat.slots import ABOUT_TOPICS, VITAL_TOPICS
from synthtwin.net.chat.understand import Understanding
from synthtwin.net.chat.wording import (
    ACTIVITY_DOING,
    ACTIVITY_NOUN,
    CATEGORY_DOING,
    EMPLOYMENT_SAYS,
    PLACE_AT,
    PLACE_TO,
    SHIFT_SAYS,
    TIMEFRAME_SAYS,
    TRAVEL_BY,
)

__all__ = ["HANDLERS", "Handler"]

Handler = Callable[[Draft, Understanding], None]

EFFORT_METS = 3.0
"""Moderate intensity starts at 3 METs (Ainsworth et al. 2011; WHO 2020 guidelines)."""
SETTLING_MIN = 10
"""Minutes into an activity during which the heart is still settling from the last one."""
DIGESTING_G = 5
"""Carbohydrate still in the gut (g) above which the twin says it ate recently."""
REGULAR_EXERCISE = 0.6
SOME_EXERCISE = 0.3
"""Exercise propensity (0..1) from which a twin exercises regularly / now and then."""
_HIGH_WORDS = frozenset(
    ("high", "higher", "up", "raised", "elevated", "fast", "racing", "pounding", "spike", "spiked")
)
"""Words with which a "why" question assumes a value is high."""
ABOVE_USUAL_BPM = 10
ABOVE_USUAL_MMHG = 10
"""How far above its own usual resting value (profile) a twin calls its heart rate (bpm) or
systolic pressure (mmHg) up."""
GLUCOSE_AFTER_MEAL_MGDL = 140
"""Glucose below 140 mg/dL two hours after a meal is normal without diabetes (ADA Standards of
Care 2024, section 2, 2-h OGTT cut-off)."""
DEFAULT_VITALS = ("hr", "bp", "spo2", "temp", "glucose")
DEFAULT_ABOUT = ("age", "job", "household")


def _concerns(d: Draft, topics: tuple[str, ...]) -> None:
    d.concerns += [c for c in concerns(d.snap) if c.topic in topics]


def _doing(d: Draft) -> str:
    return ACTIVITY_DOING[d.use("activity").value]


# -- small talk --------------------------------------------------------------------------------


def greeting(d: Draft, u: Understanding) -> None:
    found = concerns(d.snap)
    mood = "not great, honestly" if found else "good"
    if not found and is_tired(d.snap):
        mood = "okay, a bit tired"
        d.said_tired = True
    hello = d.pick(("Hi!", "Hello!", "Hey!", "Hi there."), "hello")
    if d.use("activity").value == "sleep":
        d.add(f"{hello} I'm {mood}, just sleepy: I was asleep.")
    else:
        d.add(f"{hello} I'm {mood}, {_doing(d)} right now.")
    d.social = True
    if found:
        d.concerns.append(found[0])
        d.add(_vital_sentence(d, found[0].topic))


def farewell(d: Draft, u: Understanding) -> None:
    d.add(d.pick(("Bye! Talk soon.", "Take care!", "Thanks, bye for now.", "See you!"), "bye"))


def what_if(d: Draft, u: Understanding) -> None:
    d.add(d.pick((
        "I can't play out what-if scenarios yet: that needs a scenario tool the simulation "
        "doesn't have so far.",
        "Scenarios aren't available yet, so I can't tell you what would happen, and I can't "
        "change what I do from a chat.",
    ), "whatif"))  # fmt: skip
    d.detail("I can tell you how I am right now, though.")


def out_of_domain(d: Draft, u: Understanding) -> None:
    d.add(d.pick((
        "Sorry, I don't know about that. I can only talk about my own life: what I'm doing, "
        "how I feel, my body and my day.",
        "That's outside what I know. I'm a simulated person, so ask me about my day, my health "
        "or my plans.",
        "I'd only be guessing there. Ask me about what I'm up to, how I slept or how I feel.",
    ), "ood"))  # fmt: skip


# -- now ---------------------------------------------------------------------------------------


_SAID_BY_PLACE = {
    ("work", "workplace"),
    ("school", "school"),
    ("shopping", "shop"),
    ("exercise_gym", "gym"),
    ("eat_out", "restaurant"),
    ("exercise_park", "park"),
}
"""Activities that the place already says ("I'm at work", not "at work, working")."""


def activity(d: Draft, u: Understanding) -> None:
    act = d.use("activity").value
    if act == "travel":
        _travel(d)
    elif act == "sleep":
        d.add(f"I'm asleep, have been for {d.say('asleep_for_h')}.")
    else:
        d.add(f"I'm {_doing(d)}, since {d.say('activity_since')}.")
        place = d.use("place").value
        if place != "home" and (act, place) not in _SAID_BY_PLACE:
            d.detail(f"I'm {PLACE_AT[place]}.")
    if d.has("activity_until") and act != "travel":
        d.detail(f"I'll probably be done around {d.say('activity_until')}.")


def _travel(d: Draft) -> None:
    where = PLACE_TO[d.use("place").value]
    mode = TRAVEL_BY[d.use("travel_mode").value]
    d.add(f"I'm on my way to {where}, {mode}.")
    if d.has("next_activity"):
        d.detail(f"Next up is {ACTIVITY_NOUN[d.use('next_activity').value]}.")


def _where_doing(d: Draft) -> str:
    """ "at home, watching TV", or just "at work" where the place says what the twin does."""
    act, place = d.use("activity").value, d.use("place").value
    if (act, place) in _SAID_BY_PLACE:
        return PLACE_AT[place]
    return f"{PLACE_AT.get(place, 'out')}, {_doing(d)}"


def location(d: Draft, u: Understanding) -> None:
    if d.use("activity").value == "travel":
        _travel(d)
        return
    d.add(f"I'm {_where_doing(d)}.")
    d.detail(f"I've been here since {d.say('activity_since')}.")


def company(d: Draft, u: Understanding) -> None:
    act, place = d.use("activity").value, d.use("place").value
    others = d.use("household_others").value
    d.use("household_size")
    if act == "socialize":
        d.add(f"I'm with friends, {PLACE_AT[place]}, though I couldn't tell you who exactly.")
    elif act == "caring" and d.value("n_children", 0) > 0:
        d.use("n_children")
        d.add("I'm with my kids, looking after them.")
    elif place in ("home",) and others > 0:
        d.add(
            f"I'm at home. I live with {d.say('household_others')} other people, but I can't "
            "say who's in the room with me right now."
        )
    elif place in ("home",):
        d.add("I'm at home, and I live alone, so I'm on my own.")
    else:
        d.add(f"I'm {_where_doing(d)}. There are people around, but nobody I could name: I "
              "don't keep track of who I'm with.")  # fmt: skip


# -- body --------------------------------------------------------------------------------------


def sleep(d: Draft, u: Understanding) -> None:
    hours = d.use("sleep_hours").value
    if d.value("activity") == "sleep":
        d.add(f"I'm asleep right now, for {d.say('asleep_for_h')} so far.")
    elif hours > 0:
        d.add(f"I slept {d.say('sleep_hours')} last night.")
        if hours >= SHORT_SLEEP_H:
            d.add(_sleep_verdict(d, hours))
    else:
        d.add("I haven't had a night's sleep that ended today, so there's nothing to tell yet.")
    _concerns(d, ("sleep",))
    if d.value("sleep_pressure", 0) >= TIRED_SLEEP_PRESSURE and d.value("activity") != "sleep":
        d.use("sleep_pressure")
        d.detail("I'm getting sleepy, though.")


def _sleep_verdict(d: Draft, hours: float) -> str:
    """How a night of at least ``SHORT_SLEEP_H`` felt (a shorter one is a concern, which the
    voice speaks about)."""
    if hours >= RECOMMENDED_SLEEP_H:
        return d.pick(("That's a good night for me.", "Pretty decent."), "sleep-good")
    return d.pick(("A little less than I'd like.", "Not bad, not great."), "sleep-ok")


def vitals(d: Draft, u: Understanding) -> None:
    topics = tuple(t for t in u.topics if t in VITAL_TOPICS and t != "vitals")
    if not topics:
        topics = DEFAULT_VITALS if "vitals" in u.topics or not u.topics else DEFAULT_VITALS[:2]
    for topic in topics:
        d.add(_vital_sentence(d, topic))
    _concerns(d, topics)
    verdict = _verdict(d, topics)
    if verdict:
        d.add(verdict)
    for topic in topics:
        more = _vital_detail(d, topic)
        if more:
            d.detail(more)


def _vital_sentence(d: Draft, topic: str) -> str:
    """The sentence that states a vital sign now."""
    if topic == "hr":
        return f"My heart rate is {d.say('hr_bpm')}."
    if topic == "bp":
        return f"My blood pressure is {d.say('sbp_mmhg')}/{d.say('dbp_mmhg')}."
    if topic == "glucose":
        return f"My blood sugar is {d.say('glucose_mgdl')}."
    if topic == "spo2":
        return f"My oxygen saturation is {d.say('spo2_pct')}."
    if topic == "temp":
        return f"My temperature is {d.say('core_temp_c')}."
    if topic == "rr":
        return f"I'm breathing {d.say('rr_brpm')}."
    if topic == "steps":
        return f"I've taken {d.say('steps')} today."
    if topic == "energy":
        return f"I've burned {d.say('energy_kcal')} today."
    if topic == "sleep":
        return f"I slept {d.say('sleep_hours')} last night."
    return ""


def _vital_detail(d: Draft, topic: str) -> str:
    """Today's context for a vital sign, from the daily record."""
    if topic == "hr" and d.has("resting_hr"):
        return f"My resting heart rate today has been {d.say('resting_hr')}."
    if topic == "bp" and d.has("sbp_mean"):
        return f"Today's average is {d.say('sbp_mean')}/{d.say('dbp_mean')}."
    if topic == "glucose" and d.has("glucose_max"):
        return f"It peaked at {d.say('glucose_max')} today."
    if topic == "steps":
        return f"That's burned {d.say('energy_kcal')} so far."
    return ""


def _verdict(d: Draft, topics: tuple[str, ...]) -> str:
    """Whether the asked values are normal, or why they are up."""
    judged = [t for t in topics if t in ("hr", "bp", "glucose", "spo2", "temp", "rr")]
    if d.concerns or not judged:
        return ""
    raised = [t for t in judged if t in ("hr", "bp") and _above_usual(d, t)]
    if raised and not at_rest(d.snap) and d.value("activity") != "sleep":
        return f"It's up because I'm {_doing(d)}."
    if raised:
        return "A bit above my usual, but within the normal range."
    return d.pick(("All in the normal range.", "That's normal for me.", "Nothing unusual."),
                  "normal")  # fmt: skip


def why(d: Draft, u: Understanding) -> None:
    """Explains a value from the live state, then from the record (its alerts and trends)."""
    topics = [t for t in u.topics if t != "vitals"]
    if not topics:
        found = concerns(d.snap)
        flagged = recall.alert_topics(d)
        topics = [found[0].topic] if found else flagged[:1] or ["hr"]
    topic = topics[0]
    explain = _EXPLAIN.get(topic, _explain_effort)
    explain(d, topic)
    _concerns(d, (topic,))
    known = recall.from_record(d, topic)
    if _HIGH_WORDS & set(u.words) and not (d.concerns or known or _above_usual(d, topic)):
        d.core.insert(1, "That's not really high, though.")


def _above_usual(d: Draft, topic: str) -> bool:
    """Whether a vital is clearly above the twin's own usual resting value."""
    if topic == "hr":
        return d.value("hr_bpm", 0) > d.value("rhr_bpm", 0) + ABOVE_USUAL_BPM
    if topic == "bp":
        return d.value("sbp_mmhg", 0) > d.value("sbp_rest_mmhg", 0) + ABOVE_USUAL_MMHG
    if topic == "glucose":
        return d.value("glucose_mgdl", 0) >= GLUCOSE_AFTER_MEAL_MGDL
    return True


def _explain_hr(d: Draft, topic: str) -> None:
    d.add(_vital_sentence(d, "hr"))
    act = d.use("activity").value
    if act == "sleep":
        d.add("I'm asleep, so my heart is taking it easy.")
    elif d.value("mets", 1.0) >= EFFORT_METS:
        d.add(f"That's because I'm {_doing(d)}: {d.say('mets')} of effort.")
    elif d.value("activity_minutes", 99) == 0 and act != "travel":  # whole minutes: not "0 ago"
        d.add(f"I only just started {_doing(d)}, so it's settling.")
    elif d.value("activity_minutes", 99) < SETTLING_MIN and act != "travel":
        d.add(f"I only started {_doing(d)} {d.say('activity_minutes')} ago, so it's settling.")
    elif act == "travel":
        d.add(f"I'm on my way somewhere, {TRAVEL_BY[d.use('travel_mode').value]}.")
    else:
        d.add(f"I'm {_doing(d)}, and my usual resting rate is {d.say('rhr_bpm')}.")
    if d.value("core_temp_c", 37.0) >= FEVER_C:
        d.detail(f"My temperature is {d.say('core_temp_c')}, which pushes it up too.")


def _explain_bp(d: Draft, topic: str) -> None:
    d.add(_vital_sentence(d, "bp"))
    if d.use("hypertension").value:
        treated = " and take medication for it" if d.use("htn_treated").value else ""
        d.add(f"I have high blood pressure{treated}.")
    if d.value("mets", 1.0) >= EFFORT_METS:
        d.add(f"Also, I'm {_doing(d)}, which raises it while I'm at it.")
    else:
        d.detail(f"My usual resting level is {d.say('sbp_rest_mmhg')}/{d.say('dbp_rest_mmhg')}.")


def _explain_glucose(d: Draft, topic: str) -> None:
    d.add(_vital_sentence(d, "glucose"))
    act = d.use("activity").value
    if act in ("eat", "eat_out"):
        d.add("I'm eating right now, so it's going up.")
    elif d.value("gut_carbs_g", 0) > DIGESTING_G:
        d.add(f"I ate not long ago; I'm still digesting {d.say('gut_carbs_g')} of carbs.")
    elif d.value("mets", 1.0) >= EFFORT_METS:
        d.add(f"I'm {_doing(d)}, and exercise brings it down.")
    else:
        d.add(f"It's not far from my fasting level of {d.say('glucose_basal_mgdl')}.")
    if d.use("diabetes").value:
        d.add("I have diabetes, so it runs higher than most people's.")
    elif d.value("glucose_mgdl", 0) > GLUCOSE_HIGH_MGDL:
        d.detail("I don't have diabetes, as far as I know.")


def _explain_sleep(d: Draft, topic: str) -> None:
    hours = d.use("sleep_hours").value
    if hours > 0:
        d.add(f"I slept {d.say('sleep_hours')} last night.")
    if d.value("sleep_pressure", 0) >= TIRED_SLEEP_PRESSURE:
        d.use("sleep_pressure")
        d.add("And I've been awake a long time, so I'm ready for bed.")
    elif hours >= RECOMMENDED_SLEEP_H:
        d.add("So I'm not short on sleep; it's just been a long day.")


def _explain_effort(d: Draft, topic: str) -> None:
    sentence = _vital_sentence(d, topic)
    if sentence:
        d.add(sentence)
    if d.value("mets", 1.0) >= EFFORT_METS:
        d.add(f"I'm {_doing(d)}: {d.say('mets')} of effort.")
    else:
        d.add(f"I'm {_doing(d)} at the moment.")
    if topic in ("steps", "energy"):
        _top_categories(d, 1)


_EXPLAIN = {"hr": _explain_hr, "bp": _explain_bp, "glucose": _explain_glucose,
            "sleep": _explain_sleep}  # fmt: skip


# -- the day and the past ----------------------------------------------------------------------


def today(d: Draft, u: Understanding) -> None:
    d.add(f"So far today I've taken {d.say('steps')} and burned {d.say('energy_kcal')}.")
    _top_categories(d, 2)
    d.social = True


def _top_categories(d: Draft, count: int) -> None:
    """Say where most of today's waking time went (then more, as detail)."""
    awake = [c for c in CATEGORY_DOING if c != "sleep" and d.has(f"today_{c}_h")]
    ranked = sorted(awake, key=lambda c: -d.value(f"today_{c}_h"))
    spent = [c for c in ranked if d.value(f"today_{c}_h") >= 0.1][: count + 1]
    if not spent:
        return
    said = [f"{d.say(f'today_{c}_h')} {CATEGORY_DOING[c]}" for c in spent[:count]]
    d.add(f"Most of my time went to {' and '.join(said)}.")
    if len(spent) > count:
        c = spent[count]
        d.detail(f"Then {d.say(f'today_{c}_h')} {CATEGORY_DOING[c]}.")


def history(d: Draft, u: Understanding) -> None:
    """The recorded past (``recall``): a day, or the last week against the usual; without a
    record, says so and compares now with the profile's usual values instead."""
    if not recall.recorded(d):
        _no_history(d, u)
    elif u.timeframe == "yesterday":
        recall.past_day(d, u.topics, u.days_back)
    else:
        if u.timeframe == "usual":
            for topic in [t for t in u.topics if t in _USUAL and t != "today"][:2]:
                d.add(_USUAL[topic](d))
        recall.past_week(d, u.topics)


def _no_history(d: Draft, u: Understanding) -> None:
    d.use("days_recorded")
    when = TIMEFRAME_SAYS.get(u.timeframe, TIMEFRAME_SAYS[None])
    d.add(d.pick((
        f"I don't keep a record of past days yet, so I can't tell you about {when}.",
        f"I can't compare with {when}: I don't have a record of earlier days yet.",
    ), "nohistory"))  # fmt: skip
    topics = [t for t in u.topics if t in _USUAL] or ["today"]
    for topic in topics[:2]:
        d.add(_USUAL[topic](d))


def _usual_hr(d: Draft) -> str:
    return f"My usual resting heart rate is {d.say('rhr_bpm')}; right now it's {d.say('hr_bpm')}."


def _usual_bp(d: Draft) -> str:
    return (
        f"At rest my blood pressure is usually {d.say('sbp_rest_mmhg')}/{d.say('dbp_rest_mmhg')}; "
        f"right now it's {d.say('sbp_mmhg')}/{d.say('dbp_mmhg')}."
    )


def _usual_glucose(d: Draft) -> str:
    return (
        f"My fasting blood sugar is usually {d.say('glucose_basal_mgdl')}; right now it's "
        f"{d.say('glucose_mgdl')}."
    )


def _usual_sleep(d: Draft) -> str:
    if d.value("sleep_hours", 0) > 0:
        return f"Last night I slept {d.say('sleep_hours')}, if that helps."
    return "I haven't had a night's sleep that ended today either."


def _usual_today(d: Draft) -> str:
    return f"Today so far: {d.say('steps')} and {d.say('energy_kcal')}."


_USUAL: dict[str, Callable[[Draft], str]] = {
    "hr": _usual_hr, "bp": _usual_bp, "glucose": _usual_glucose, "sleep": _usual_sleep,
    "steps": _usual_today, "energy": _usual_today, "today": _usual_today,
}  # fmt: skip


# -- later -------------------------------------------------------------------------------------


def plans(d: Draft, u: Understanding) -> None:
    employment = d.use("employment").value
    if d.value("activity") == "travel" and d.has("next_activity"):
        d.add(f"Right now I'm heading to {ACTIVITY_NOUN[d.use('next_activity').value]}.")
    elif d.has("activity_until") and u.timeframe != "tomorrow":
        d.detail(f"I'll be {_doing(d)} until about {d.say('activity_until')}.")
    if d.has("work_start"):
        _timetable(d, u, "work", "works", "work")
    if d.has("school_start"):
        _timetable(d, u, "school", "school", "class")
    if not (d.has("work_start") or d.has("school_start")):
        d.add(f"{EMPLOYMENT_SAYS[employment]}, so I have no fixed timetable. I'll see how I feel.")


def _timetable(d: Draft, u: Understanding, prefix: str, flag: str, noun: str) -> None:
    """Say the next work (or class) window: today's, else tomorrow's."""
    start, end = f"{prefix}_start", f"{prefix}_end"
    if u.timeframe == "tomorrow":
        if d.use(f"{flag}_tomorrow").value:
            d.add(f"Tomorrow I have {noun} from {d.say(start)} to {d.say(end)}.")
        else:
            d.add(f"Tomorrow's a day off from {noun}.")
    elif d.value("activity") == ("work" if prefix == "work" else "school"):
        d.add(f"I'm at {noun} until {d.say(end)}.")
    elif d.use(f"{flag}_today").value and d.value("clock") < d.value(start):
        d.add(f"Later I have {noun} from {d.say(start)} to {d.say(end)}.")
    else:
        tomorrow = d.use(f"{flag}_tomorrow").value
        d.add(f"No more {noun} today." + (f" Tomorrow it starts at {d.say(start)}." if tomorrow
                                          else " Tomorrow's a day off, too."))  # fmt: skip
    days = d.say(f"{prefix}_days")
    shift = SHIFT_SAYS.get(d.value("shift", "none"), "") if prefix == "work" else ""
    if shift:
        d.use("shift")
    d.detail(f"I have {noun} {days}{', ' + shift if shift else ''}.")


# -- who I am ----------------------------------------------------------------------------------


def about(d: Draft, u: Understanding) -> None:
    topics = [t for t in u.topics if t in ABOUT_TOPICS]
    if not topics:
        topics = list(DEFAULT_ABOUT)
        d.detail(_habits(d))
    for topic in topics:
        d.add(_ABOUT[topic](d))


def _age(d: Draft) -> str:
    sex = "woman" if d.use("sex").value == "female" else "man"
    return f"I'm a {d.say('age_y')}-year-old {sex}."


def _job(d: Draft) -> str:
    says = EMPLOYMENT_SAYS[d.use("employment").value]
    shift = SHIFT_SAYS.get(d.value("shift", "none"), "")
    if d.has("work_days") and shift:
        d.use("shift")
        return f"{says}, {shift}, {d.say('work_days')}."
    return f"{says}."


def _household(d: Draft) -> str:
    d.use("household_size")
    if d.value("household_others", 0) == 0:
        return "I live alone."
    kids = d.value("n_children", 0)
    with_kids = f", {d.say('n_children')} of them kids" if kids > 0 else ""
    return f"I live with {d.say('household_others')} other people{with_kids}."


def _conditions(d: Draft) -> str:
    found = []
    if d.use("hypertension").value:
        treated = ", which I take medication for" if d.use("htn_treated").value else ""
        found.append(f"high blood pressure{treated}")
    if d.use("diabetes").value:
        found.append("diabetes")
    if not found:
        return "I have no diagnosed conditions, as far as I know."
    return f"I have {' and '.join(found)}."


def _habits(d: Draft) -> str:
    habit = d.use("exercise_habit").value
    chronotype = d.use("chronotype").value
    if habit >= REGULAR_EXERCISE:
        sport = "I exercise regularly"
    elif habit >= SOME_EXERCISE:
        sport = "I exercise now and then"
    else:
        sport = "I hardly ever exercise"
    if chronotype == "in between":
        return f"{sport}, and I'm neither an early bird nor a night owl."
    return f"{sport}, and I'm {'an' if chronotype == 'early bird' else 'a'} {chronotype}."


def _body(d: Draft) -> str:
    return f"I'm {d.say('height_cm')} tall and weigh {d.say('weight_kg')}."


def _transport(d: Draft) -> str:
    car = "I have a car" if d.use("has_car").value else "I don't have a car"
    bike = "and I ride a bike for short trips" if d.use("bikes").value else "and I don't cycle"
    return f"{car}, {bike}."


def _name(d: Draft) -> str:
    return f"I don't have a name in the simulation; I'm twin {d.say('twin_id')}."


def _personality(d: Draft) -> str:
    words = []
    for trait, high, low in (
        ("extraversion", "outgoing", "quiet"),
        ("conscientiousness", "organised", "easy-going"),
        ("agreeableness", "warm", "blunt"),
        ("neuroticism", "a bit of a worrier", "pretty calm"),
        ("openness", "curious", "down to earth"),
    ):
        z = d.use(trait).value
        if abs(z) >= 0.5:
            words.append(high if z > 0 else low)
    if not words:
        return "I'm pretty average, personality-wise."
    return (
        f"People would say I'm {', '.join(words[:-1]) + ' and ' if len(words) > 1 else ''}"
        f"{words[-1]}."
    )


_ABOUT: dict[str, Callable[[Draft], str]] = {
    "age": _age, "job": _job, "household": _household, "conditions": _conditions,
    "habits": _habits, "body": _body, "transport": _transport, "name": _name,
    "personality": _personality,
}  # fmt: skip


HANDLERS: dict[str, Handler] = {
    "greeting": greeting, "farewell": farewell, "activity": activity, "location": location,
    "company": company, "sleep": sleep, "vitals": vitals, "today": today, "history": history,
    "plans": plans, "about": about, "why": why, "what_if": what_if,
    "out_of_domain": out_of_domain,
}  # fmt: skip
"""Intent -> its handler; every intent of the paraphrase set has one."""
