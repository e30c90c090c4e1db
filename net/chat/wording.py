"""Wording: how the twin names its activities, places, time-use categories and situation in
first-person English. Plain tables, no numbers (numbers come only from facts)."""

from __future__ import annotations

__all__ = [
    "ACTIVITY_DOING",
    "ACTIVITY_NOUN",
    "CATEGORY_DOING",
    "EMPLOYMENT_SAYS",
    "PLACE_AT",
    "PLACE_TO",
    "SHIFT_SAYS",
    "TIMEFRAME_SAYS",
    "TRAVEL_BY",
]

ACTIVITY_DOING: dict[str, str] = {
    "sleep": "sleeping",
    "personal_care": "getting ready and freshening up",
    "eat": "having something to eat",
    "eat_out": "eating out",
    "household": "doing some housework",
    "work": "working",
    "school": "in class",
    "shopping": "doing some shopping",
    "caring": "looking after the family",
    "tv": "watching TV",
    "leisure": "relaxing with a book",
    "socialize": "hanging out with friends",
    "exercise_gym": "working out at the gym",
    "exercise_park": "out for a run in the park",
    "travel": "on my way",
}
"""Activity name -> what the twin says it is doing ("I'm ...")."""

ACTIVITY_NOUN: dict[str, str] = {
    "sleep": "sleep", "personal_care": "getting ready", "eat": "a meal", "eat_out": "a meal out",
    "household": "housework", "work": "work", "school": "class", "shopping": "shopping",
    "caring": "looking after the family", "tv": "some TV", "leisure": "some time to relax",
    "socialize": "seeing friends", "exercise_gym": "the gym", "exercise_park": "a run in the park",
    "travel": "travelling",
}  # fmt: skip
"""Activity name -> a noun phrase ("on my way to ...", "next is ...")."""

PLACE_AT: dict[str, str] = {
    "home": "at home", "friend_home": "at a friend's place", "workplace": "at work",
    "school": "at school", "shop": "at the shops", "restaurant": "at a restaurant",
    "gym": "at the gym", "park": "in the park",
}  # fmt: skip

PLACE_TO: dict[str, str] = {
    "home": "home", "friend_home": "a friend's place", "workplace": "work", "school": "school",
    "shop": "the shops", "restaurant": "a restaurant", "gym": "the gym", "park": "the park",
}  # fmt: skip

TRAVEL_BY: dict[str, str] = {"walk": "on foot", "bike": "by bike", "car": "by car", "bus": "by bus"}

CATEGORY_DOING: dict[str, str] = {
    "sleep": "asleep", "personal_care": "on personal care", "eating": "eating",
    "household": "on housework", "work": "working", "education": "in class",
    "shopping": "shopping", "caring": "looking after others", "leisure": "relaxing",
    "socializing": "with friends", "exercise": "exercising", "travel": "getting around",
}  # fmt: skip
"""Time-use category -> how the twin says it spent time ("... hours working")."""

EMPLOYMENT_SAYS: dict[str, str] = {
    "full_time": "I work full time",
    "part_time": "I work part time",
    "unemployed": "I'm out of work at the moment",
    "retired": "I'm retired",
    "student": "I'm a student",
    "homemaker": "I look after the home",
    "disabled": "I'm not able to work",
}

SHIFT_SAYS: dict[str, str] = {
    "day": "on day shifts", "evening": "on evening shifts", "night": "on night shifts",
    "rotating": "on rotating shifts", "none": "",
}  # fmt: skip

TIMEFRAME_SAYS: dict[str | None, str] = {
    "yesterday": "yesterday",
    "week": "the past few days",
    "usual": "how things usually are",
    None: "earlier days",
}
