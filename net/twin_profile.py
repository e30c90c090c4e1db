"""A twin's profile: who it is (age, sex, body, employment, shift, conditions), read from its row.

One reader for every interface that shows a profile, so that they agree on every value: the
``twin`` operation's ``profile`` (``net.requests``, ``docs/protocol.md`` section 7) and the chat
snapshot's profile facts (``net.chat.snapshot``).
"""

from __future__ import annotations

from typing import Any

from synthtwin.components.behavior import SHIFTS
from synthtwin.components.identity import EMPLOYMENT
from synthtwin.engine.world import World

__all__ = ["CONDITIONS", "twin_profile"]

CONDITIONS = ("hypertension", "diabetes")
"""The chronic conditions a profile lists (boolean columns of the same names)."""


def twin_profile(world: World, row: int) -> dict[str, Any]:
    """The profile of the twin at ``row``: ``age_y`` (years), ``sex`` (``female``/``male``),
    ``height_cm``, ``weight_kg``, ``bmi`` (kg/m2), ``employment`` and ``shift`` (names) and
    ``conditions`` (those of ``CONDITIONS`` it has), as plain Python values."""
    return {
        "age_y": float(world["age_y"][row]),
        "sex": ("female", "male")[int(world["sex"][row])],
        "height_cm": float(world["height_cm"][row]),
        "weight_kg": float(world["weight_kg"][row]),
        "bmi": float(world["bmi"][row]),
        "employment": EMPLOYMENT[int(world["employment"][row])],
        "shift": SHIFTS[int(world["shift"][row])],
        "conditions": [name for name in CONDITIONS if bool(world[name][row])],
    }
