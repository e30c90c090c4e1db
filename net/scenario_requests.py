"""The ``scenario`` op (``docs/protocol.md``, ``scenario``): start, list and stop what-if
scenarios (``components.scenario``) on twins.

``check`` turns a request's arguments into a command to journal (``start``: the twin, kind,
its checked arguments and its span in simulated seconds; ``stop``: the scenario and the instant
it stops) or a read (``list``); ``apply`` carries a command out on the world's ``Scenarios``
(also when a resumed server replays its journal); ``described`` is a scenario as replies carry
it. Checks run in this order: ``action``; then for ``start`` ``twin`` (alive, else
``unknown_twin``), ``kind``, ``days``, ``start``, the kind's arguments; for ``stop`` ``id`` and
the optional ``twin`` (the scenario must be that twin's); for ``list`` the optional ``twin``. A
wrong type is ``bad_request``, a value outside its range or set ``out_of_range``, with the
protocol's templates (section 10).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from synthtwin.components.scenario import MAX_DAYS, Scenario, ScenarioError, Scenarios
from synthtwin.components.scenario import scenario_args as kind_args
from synthtwin.engine.world import World
from synthtwin.net.wire import fields, reply
from synthtwin.net.wire.errors import clip

__all__ = ["ACTIONS", "MAX_ID", "Context", "apply", "check", "described"]

ACTIONS = ("start", "list", "stop")
MAX_ID = 2**32 - 1
S_PER_DAY = 86_400.0
TIME_FORMAT = "YYYY-MM-DDTHH:MM:SS"


@dataclass(frozen=True)
class Context:
    """What checking a request reads: the clock's ``start`` and ``now_s`` (simulated seconds
    since it), the world's ``scenarios``, and ``alive(twin)``, which raises
    ``UnknownTwinError`` for a twin that does not exist."""

    start: datetime
    now_s: float
    scenarios: Scenarios
    alive: Callable[[int], object]

    @classmethod
    def of(cls, world: World) -> Context:
        clock = world.clock
        return cls(clock.start, clock.elapsed_s, world.resource(Scenarios), world.row_of)


def check(context: Context, args: dict[str, Any]) -> dict[str, Any]:
    """The checked command of ``args``: ``{"action": "start", "twin", "kind", "args",
    "start_s", "end_s"}``, ``{"action": "stop", "id", "at_s"}`` or ``{"action": "list",
    "twin"}`` (``twin`` None: every twin's).

    Raises:
        WireError: a missing field or a wrong type (``bad_request``).
        ScenarioError: a value out of range (``out_of_range``) or a wrong kind argument.
        UnknownTwinError: the twin to start a scenario on does not exist.
    """
    action = fields.read_str(args, "action", "args")
    if action not in ACTIONS:
        raise ScenarioError(reply.OUT_OF_RANGE, f"field 'args.action' holds '{clip(action)}', "
                            f"expected one of {', '.join(ACTIONS)}")  # fmt: skip
    now_s = context.now_s
    if action == "stop":
        scenario_id = _id(args, "id")
        scenario = context.scenarios.items.get(scenario_id)
        twin = _id(args, "twin") if "twin" in args else None
        if scenario is None or twin not in (None, scenario.twin_id):
            of_twin = "" if twin is None else f" of twin {twin}"
            raise ScenarioError(reply.OUT_OF_RANGE, f"no scenario {scenario_id}{of_twin}")
        return {"action": "stop", "id": scenario_id, "at_s": now_s}
    if action == "list":
        twin = _id(args, "twin") if "twin" in args else None
        return {"action": "list", "twin": twin}
    twin = _id(args, "twin")
    context.alive(twin)  # UnknownTwinError
    kind = fields.read_str(args, "kind", "args")
    days = fields.read_float(args, "days", "args")
    if not 0 < days <= MAX_DAYS:
        raise ScenarioError(reply.OUT_OF_RANGE, f"field 'args.days' holds {days}, expected "
                            f"more than 0, at most {MAX_DAYS:g}")  # fmt: skip
    start_s = _start_s(context, args)
    end_s = start_s + days * S_PER_DAY
    try:
        _time(context.start, end_s)  # replies and lists name its end
    except OverflowError:
        start, last = clip(str(args.get("start", "now"))), f"{datetime.max:%Y-%m-%dT%H:%M:%S}"
        message = f"field 'args.start' holds {start}, expected a scenario that ends by {last}"
        raise ScenarioError(reply.OUT_OF_RANGE, message) from None
    checked = kind_args(kind, args)
    return {"action": "start", "twin": twin, "kind": kind, "args": checked,
            "start_s": start_s, "end_s": end_s}  # fmt: skip


def apply(world: World, command: dict[str, Any]) -> dict[str, Any]:
    """Carry out a checked (or journaled) command of ``check``; its result: ``scenario`` (the
    one started or stopped) or ``scenarios`` (those listed, by id)."""
    scenarios = world.resource(Scenarios)
    clock = world.clock
    action = command["action"]
    if action == "list":
        listed = scenarios.of_twin(command["twin"])
        return {"scenarios": [described(clock.start, clock.elapsed_s, s) for s in listed]}
    if action == "stop":
        scenario = scenarios.stop(command["id"], command["at_s"])
    else:
        scenario = scenarios.add(
            command["twin"], command["kind"], command["start_s"], command["end_s"],
            dict(command["args"]),
        )  # fmt: skip
    return {"scenario": described(clock.start, clock.elapsed_s, scenario)}


def described(start: datetime, now_s: float, scenario: Scenario) -> dict[str, Any]:
    """A scenario as replies carry it: ``id``, ``twin``, ``kind``, ``args``, ``start``,
    ``end`` (simulated local times), ``stopped``, ``state`` (``planned``, ``active``,
    ``ended``) at ``now_s``; times from the clock's ``start``."""
    state = ("planned" if now_s < scenario.start_s
             else "active" if now_s < scenario.end_s else "ended")  # fmt: skip
    return {
        "id": scenario.id, "twin": scenario.twin_id, "kind": scenario.kind,
        "args": dict(scenario.args), "start": _time(start, scenario.start_s),
        "end": _time(start, scenario.end_s), "stopped": scenario.stopped, "state": state,
    }  # fmt: skip


def _time(start: datetime, elapsed_s: float) -> str:
    return (start + timedelta(seconds=elapsed_s)).isoformat(timespec="seconds")


def _id(args: dict[str, Any], key: str) -> int:
    value = fields.read_int(args, key, "args")
    if not 0 <= value <= MAX_ID:
        raise ScenarioError(reply.OUT_OF_RANGE,
                            f"field 'args.{key}' holds {value}, expected 0..{MAX_ID}")  # fmt: skip
    return value


def _start_s(context: Context, args: dict[str, Any]) -> float:
    """``start`` (optional simulated local time) as simulated seconds; now when absent. The
    past cannot be changed: a start before now is ``out_of_range``."""
    now_s = context.now_s
    if "start" not in args:
        return now_s
    text = fields.read_str(args, "start", "args")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        when = None
    if when is None or when.tzinfo is not None:
        raise ScenarioError(reply.BAD_REQUEST, f"args.start '{clip(text)}': expected a "
                            f"simulated local time {TIME_FORMAT}")  # fmt: skip
    start_s = (when - context.start).total_seconds()
    if start_s < now_s:
        now = _time(context.start, now_s)
        raise ScenarioError(reply.OUT_OF_RANGE, f"field 'args.start' holds {clip(text)}, "
                            f"expected {now} or later (simulated now)")  # fmt: skip
    return start_s
