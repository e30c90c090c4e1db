"""Grounding: every number a reply states must be a fact's value.

``numbers_in`` finds what reads as a number in a text (plain and decimal numbers, thousands with
separators, clock times, ISO dates, number words from two to ninety); ``ungrounded`` returns those
that no fact supports. A number is supported by a fact whose value it equals as written, or as the
fact's value rounded to the digits written (a model may say 37 for 36.8); a clock time by a time
fact in 24 h or 12 h form (or its hour alone: "at 9 pm"); a date by a date fact or its year, month
or day. Digits inside a word (``SpO2``) are part of the word, not numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from synthtwin.net.chat.facts import Fact

__all__ = ["numbers_in", "ungrounded"]

_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
"""Number words read as numbers ("one" is left out: "no one", "one of them")."""

_TOKEN = re.compile(
    r"(?P<date>(?<![\w.])\d{4}-\d{2}-\d{2}(?!\d))"
    r"|(?P<time>(?<![\w.:])\d{1,2}:\d{2}(?![\d:]))"
    r"|(?P<num>(?<![A-Za-z\d.,])\d{1,3}(?:,\d{3})+(?![\d,])|(?<![A-Za-z\d.,])\d+(?:\.\d+)?(?!\d))"
    r"|(?P<word>\b(?:" + "|".join(_WORDS) + r")\b)",
    re.IGNORECASE,
)


def numbers_in(text: str) -> list[str]:
    """The numbers of ``text``, in order, normalised: ``"128"``, ``"6.4"``, ``"7990"`` (from
    ``7,990``), ``"09:05"`` (from ``9:05``), ``"2026-03-02"``, ``"7"`` (from ``seven``)."""
    found = []
    for match in _TOKEN.finditer(text):
        kind, token = match.lastgroup, match.group()
        if kind == "time":
            hour, minute = token.split(":")
            found.append(f"{int(hour):02d}:{minute}")
        elif kind == "word":
            found.append(str(_WORDS[token.lower()]))
        else:
            found.append(token.replace(",", ""))
    return found


def ungrounded(text: str, facts: Iterable[Fact]) -> list[str]:
    """The numbers of ``text`` (as ``numbers_in`` writes them) that no fact supports."""
    facts = list(facts)
    return [token for token in numbers_in(text) if not any(_supports(f, token) for f in facts)]


def _supports(fact: Fact, token: str) -> bool:
    value = fact.value
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return ":" not in token and "-" not in token and _same_number(float(value), token)
    if fact.unit == "time":
        return token in _time_forms(value)
    if fact.unit == "date":
        return token == value or token in {str(int(part)) for part in value.split("-")}
    return token in numbers_in(value)


def _same_number(value: float, token: str) -> bool:
    """``token`` is ``value``, or ``value`` rounded to the digits ``token`` has."""
    digits = len(token.split(".")[1]) if "." in token else 0
    return round(value, digits) == float(token) or value == float(token)


def _time_forms(value: str) -> set[str]:
    """``"21:30"`` -> ``{"21:30", "09:30", "21", "9"}``: 24 h and 12 h forms, and the hour."""
    hour, minute = (int(part) for part in value.split(":"))
    twelve = hour % 12 or 12
    return {value, f"{twelve:02d}:{minute:02d}", str(hour), str(twelve)}
