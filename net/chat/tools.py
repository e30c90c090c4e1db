"""Tools: the twin's facts as the functions an LLM may call (OpenAI Chat Completions tool
calling), one per source.

Each tool takes no arguments and returns ``{"facts": [...]}``, the snapshot's facts of one source
(``Fact.to_dict``); what a model may state is what these returned.
"""

from __future__ import annotations

from typing import Any

from synthtwin.net.chat.facts import Fact
from synthtwin.net.chat.snapshot import TwinSnapshot

__all__ = ["TOOLS", "call_tool", "tool_specs"]

TOOLS: dict[str, tuple[str, str]] = {
    "get_live_state": (
        "live",
        "What you are doing right now, where, since when, and your vital signs this minute "
        "(heart rate, blood pressure, breathing, SpO2, temperature, glucose, steps and energy "
        "today, effort in METs, sleep pressure), with the local time and date.",
    ),
    "get_history": (
        "history",
        "Your daily record so far today (sleep last night, resting/mean/max heart rate, mean "
        "blood pressure and glucose, hours per kind of activity), how many earlier days are "
        "recorded, and those days (each fact's time is its day): their sleep, steps, energy, "
        "heart rate, blood pressure, glucose and SpO2, the past week's means (week_*) against "
        "your usual (usual_*), trends (trend_*) and the alerts your record raised (alert_*).",
    ),
    "get_schedule": (
        "schedule",
        "Your timetable: work or class days and hours, shift, whether you work today and "
        "tomorrow, when your current activity ends and where you are heading.",
    ),
    "get_profile": (
        "profile",
        "Who you are: age, sex, height, weight, employment, household, children, car and bike, "
        "conditions (hypertension, diabetes, medication), exercise habit, chronotype, usual "
        "resting values, Big Five personality z-scores.",
    ),
}
"""Tool name -> (the fact source it returns, its description for the model)."""


def tool_specs() -> list[dict[str, Any]]:
    """The ``tools`` array of a Chat Completions request."""
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": description,
                "parameters": {"type": "object", "properties": {}, "required": []},
            },
        }
        for name, (_, description) in TOOLS.items()
    ]


def call_tool(snap: TwinSnapshot, name: str) -> list[Fact]:
    """The facts tool ``name`` returns; an unknown tool returns none."""
    entry = TOOLS.get(name)
    if entry is None:
        return []
    return [fact for fact in snap if fact.source == entry[0]]
