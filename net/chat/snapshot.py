"""The snapshot: one twin's facts, read from the world in the simulation thread.

``read_twin`` runs where the world is consistent (the simulation thread, between ticks, as the
``twin`` request does) and copies about a hundred raw scalars of one row into plain data (about
0.2 ms, most of it today's record); ``TwinSnapshot.from_dict`` makes them facts (rounded, with
units and sources) wherever the reply is composed: the chat worker process, off the tick.
``take_snapshot`` does both at once. Everything after it (understanding, replying, an LLM call)
reads only the frozen ``TwinSnapshot``.

The profile comes from the reader the ``twin`` operation uses too (``net.twin_profile``) and
today's record from the same ``today(rows)`` callable its ``Controls`` hold
(``Simulation.today``), so a chat and the ``twin`` reply agree on every value.

History: the snapshot holds today's record (``days_recorded`` = 0: no past day). Where the
server keeps a health record, the chat worker adds the twin's recorded past days
(``past.with_past``: each day's values under ``"<name>@<days back>"``, week and usual means,
trends, alerts), and ``answers`` compares them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

import numpy as np

from synthtwin.components.activity import ACTIVITY_NAMES, CATEGORIES, Activity
from synthtwin.components.behavior import PERSONALITY
from synthtwin.components.locomotion import TRAVEL_MODES
from synthtwin.components.town import PLACE_KINDS, PlaceKind, Town
from synthtwin.engine.world import World
from synthtwin.net.chat.facts import Fact, Value, make_fact
from synthtwin.net.twin_profile import twin_profile

__all__ = ["TodayReader", "TwinSnapshot", "read_twin", "read_twins", "take_snapshot"]

TodayReader = Callable[[np.ndarray], Mapping[str, np.ndarray]]
"""``today(rows)``: the daily record's columns of ``rows`` so far today (``Simulation.today``)."""

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
S_PER_H = 3600.0
EARLY_BIRD_MID_SLEEP_H = 3.5
NIGHT_OWL_MID_SLEEP_H = 5.0
"""Mid-sleep on free days (MSFsc, local hours after midnight) below which a twin calls itself an
early bird and above which a night owl (adult MSFsc centres near 4-4.5 h, Roenneberg et al. 2007,
Sleep Med Rev 11:429)."""


@dataclass(frozen=True)
class TwinSnapshot:
    """One twin's facts at one simulated instant: plain, immutable, cheap to copy or send.

    Attributes:
        twin_id: the twin.
        time: simulated local time of the snapshot, ISO 8601.
        facts: every known fact by key (a read-only mapping): its name, or for a past day's value
            ``"<name>@<days back>"`` (``past.day_key``); a fact the twin lacks (no job, no resting
            period yet today, no record of a day) is absent rather than made up.
    """

    twin_id: int
    time: str
    facts: Mapping[str, Fact] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "facts", MappingProxyType(dict(self.facts)))

    def __getitem__(self, key: str) -> Fact:
        return self.facts[key]

    def __contains__(self, name: object) -> bool:
        return name in self.facts

    def __iter__(self) -> Iterator[Fact]:
        return iter(self.facts.values())

    def value(self, name: str, default: Any = None) -> Any:
        """The value of fact ``name``, or ``default`` when the twin lacks it."""
        fact = self.facts.get(name)
        return default if fact is None else fact.value

    def pick(self, *names: str) -> list[Fact]:
        """The facts among ``names`` that the twin has, in that order."""
        return [self.facts[name] for name in names if name in self.facts]

    def replace(self, **values: Value) -> TwinSnapshot:
        """A copy with some facts set to new raw values (rounded as their specs state)."""
        facts = dict(self.facts)
        for name, raw in values.items():
            old = facts.get(name)
            facts[name] = make_fact(name, raw, old.time if old else self.time)
        return TwinSnapshot(self.twin_id, self.time, facts)

    def to_dict(self) -> dict[str, Any]:
        """The snapshot as plain data: ``twin_id``, ``time`` and ``facts`` ``{key: (name, value,
        time)}`` (the form ``read_twin`` writes)."""
        facts = {key: (f.name, f.value, f.time) for key, f in self.facts.items()}
        return {"twin_id": self.twin_id, "time": self.time, "facts": facts}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TwinSnapshot:
        """The snapshot of ``to_dict``'s or ``read_twin``'s data (raw values are rounded, and
        given their units and sources, here: ``facts.make_fact``)."""
        facts = {key: make_fact(name, value, time) for key, (name, value, time)
                 in data["facts"].items()}  # fmt: skip
        return cls(int(data["twin_id"]), str(data["time"]), facts)


def take_snapshot(world: World, twin_id: int, today: TodayReader) -> TwinSnapshot:
    """The facts of twin ``twin_id`` now (``read_twin``, then ``TwinSnapshot.from_dict``). Call
    it in the simulation thread (between ticks)."""
    return TwinSnapshot.from_dict(read_twin(world, twin_id, today))


def read_twin(world: World, twin_id: int, today: TodayReader) -> dict[str, Any]:
    """The raw facts of twin ``twin_id`` now, as ``TwinSnapshot.from_dict`` reads them
    (``read_twins`` of one twin)."""
    return read_twins(world, [twin_id], today)[0]


def read_twins(world: World, twin_ids: list[int], today: TodayReader) -> list[dict[str, Any]]:
    """The raw facts of each of ``twin_ids`` now, as ``TwinSnapshot.from_dict`` reads them:
    plain values, not rounded yet (cheap to take on the tick and to send to another process;
    today's record is read once for them all). Call it in the simulation thread (between
    ticks).

    Args:
        world: the running world (its ``Town`` resource names the places).
        twin_ids: the twins; an id that is not alive raises ``UnknownTwinError``.
        today: ``today(rows)``, the daily record so far (``Simulation.today``).
    """
    rows = world.rows_of(twin_ids)
    now = world.clock.now
    stamp, day = now.isoformat(timespec="seconds"), now.date().isoformat()
    days = today(np.asarray(rows))
    out = []
    for i, (twin_id, row) in enumerate(zip(twin_ids, rows.tolist(), strict=True)):
        facts: dict[str, tuple[str, Value, str | None]] = {}
        for part, time in (
            (_identity(world, row, now), stamp),
            (_live(world, row, now), stamp),
            (_schedule(world, row, now), stamp),
            (_today(days, i), day),
        ):
            facts.update({name: (name, value, time) for name, value in part.items()})
        out.append({"twin_id": int(twin_id), "time": stamp, "facts": facts})
    return out


def _identity(world: World, row: int, now: datetime) -> dict[str, Value]:
    """Profile facts: the ``twin`` reply's profile (its shift is a schedule fact) plus household,
    habits and baselines."""
    profile = twin_profile(world, row)
    size = int(world["household_size"][row])
    out: dict[str, Value] = {
        "twin_id": int(world.ids[row]),
        **{
            k: profile[k]
            for k in ("age_y", "sex", "height_cm", "weight_kg", "bmi", "employment", "shift")
        },
        "hypertension": "hypertension" in profile["conditions"],
        "diabetes": "diabetes" in profile["conditions"],
        "household_size": size,
        "household_others": max(size - 1, 0),
        "chronotype": _chronotype(float(world["chronotype_h"][row])),
    }
    for name in ("htn_treated", "has_car", "bikes"):
        out[name] = bool(world[name][row])
    for name in ("n_children", "exercise_habit", "rhr_bpm", "sbp_rest_mmhg", "dbp_rest_mmhg",
                 "glucose_basal_mgdl", *PERSONALITY.names):  # fmt: skip
        out[name] = float(world[name][row])
    return out


def _live(world: World, row: int, now: datetime) -> dict[str, Value]:
    """What the twin is doing and its vitals this tick."""
    activity = int(world["activity"][row])
    since_s = float(world["activity_start_s"][row])
    elapsed_s = world.clock.elapsed_s
    out: dict[str, Value] = {
        "clock": now.strftime("%H:%M"),
        "weekday": WEEKDAYS[now.weekday()],
        "date": now.date().isoformat(),
        "activity": ACTIVITY_NAMES[activity],
        "activity_since": _clock_at(world, since_s),
        "activity_minutes": max(elapsed_s - since_s, 0.0) / 60.0,
        "place": _place(world, row),
        "gut_carbs_g": (float(world["gut1_mg"][row]) + float(world["gut2_mg"][row])) / 1000.0,
    }
    for name in ("hr_bpm", "sbp_mmhg", "dbp_mmhg", "rr_brpm", "spo2_pct", "core_temp_c",
                 "glucose_mgdl", "steps", "energy_kcal", "mets", "sleep_pressure"):  # fmt: skip
        out[name] = float(world[name][row])
    if activity == Activity.TRAVEL:
        out["travel_mode"] = TRAVEL_MODES[int(world["trip_mode"][row])]
    if activity == Activity.SLEEP:
        out["asleep_for_h"] = float(world["sleep_bout_s"][row]) / S_PER_H
    return out


def _schedule(world: World, row: int, now: datetime) -> dict[str, Value]:
    """The twin's work and class timetables and what it does next."""
    out: dict[str, Value] = {}
    for prefix, has in (("work", "employed"), ("school", "student")):
        hours = float(world[f"{prefix}_hours"][row])
        days = int(world[f"{prefix}_days"][row])
        if not bool(world[has][row]) or hours <= 0 or days == 0:
            continue
        start_h = float(world[f"{prefix}_start_h"][row])
        plural = "works" if prefix == "work" else "school"
        out[f"{prefix}_days"] = _days_text(days)
        out[f"{prefix}_start"] = _hhmm(start_h)
        out[f"{prefix}_end"] = _hhmm(start_h + hours)
        out[f"{plural}_today"] = bool(days >> now.weekday() & 1)
        out[f"{plural}_tomorrow"] = bool(days >> (now.weekday() + 1) % 7 & 1)
        if prefix == "work":
            out["work_hours"] = hours
    end_s = float(world["activity_end_s"][row])
    if world.clock.elapsed_s < end_s < world.clock.elapsed_s + 24 * S_PER_H:
        out["activity_until"] = _clock_at(world, end_s)
    if int(world["activity"][row]) == Activity.TRAVEL:
        out["next_activity"] = ACTIVITY_NAMES[int(world["next_activity"][row])]
    return out


def _today(day: Mapping[str, np.ndarray], i: int) -> dict[str, Value]:
    """Today's record so far (row ``i`` of ``today``'s columns): the ``twin`` reply's ``today``
    fields (steps and energy are live). The day's means and maxima only once the day has a
    sample (a day just begun holds zeros: a twin said its blood sugar "peaked at 0 mg/dL today"
    after midnight)."""
    out: dict[str, Value] = {"days_recorded": 0, "sleep_hours": float(day["sleep_hours"][i])}
    if float(day["max_hr"][i]) > 0.0:  # a heart beats: the day has a sample
        for name in ("mean_hr", "max_hr", "sbp_mean", "dbp_mean", "glucose_mean", "glucose_max"):
            out[name] = float(day[name][i])
    resting = float(day["resting_hr"][i])
    if not np.isnan(resting):
        out["resting_hr"] = resting
    for category in CATEGORIES:
        out[f"today_{category}_h"] = float(day[f"min_{category}"][i]) / 60.0
    return out


def _place(world: World, row: int) -> str:
    """The kind of place the twin is at (its destination while travelling); ``friend_home`` for
    a home that is not its own."""
    place = int(world["place"][row])
    kind = int(world.resource(Town).kind[place])
    if kind == PlaceKind.HOME and place != int(world["home_place"][row]):
        return "friend_home"
    return PLACE_KINDS[kind]


def _chronotype(mid_sleep_h: float) -> str:
    if mid_sleep_h < EARLY_BIRD_MID_SLEEP_H:
        return "early bird"
    return "night owl" if mid_sleep_h > NIGHT_OWL_MID_SLEEP_H else "in between"


def _clock_at(world: World, t_s: float) -> str:
    """Local ``HH:MM`` at simulated second ``t_s``."""
    at = world.clock.start + timedelta(seconds=t_s)
    return _hhmm(at.hour + at.minute / 60.0 + at.second / S_PER_H)


def _hhmm(hours: float) -> str:
    """``HH:MM`` of a local hour of day, rounded to the minute (wraps past midnight)."""
    minutes = int(round(hours * 60.0)) % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _days_text(mask: int) -> str:
    """The days of a bitmask (bit 0 = Monday): ``Monday to Friday`` for a run of three or more,
    else ``Monday, Wednesday and Friday``."""
    days = [i for i in range(7) if mask >> i & 1]
    if len(days) >= 3 and days == list(range(days[0], days[-1] + 1)):
        return f"{WEEKDAYS[days[0]]} to {WEEKDAYS[days[-1]]}"
    names = [WEEKDAYS[i] for i in days]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
