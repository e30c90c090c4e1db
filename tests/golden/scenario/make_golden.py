"""Golden vectors of the ``scenario`` op (``docs/protocol.md``, ``scenario``).

Run from the repository root: ``.venv/bin/python -m tests.golden.scenario.make_golden``.
Deterministic; ``tests/test_golden_sets.py`` rebuilds every case in memory and checks the files.

Each ``.json`` names its payload ``file`` and a ``decoder``: ``scenario_request`` (a
``request`` whose args ``net.scenario_requests.check`` turns into ``values``, the command it
journals, on a world whose clock started ``START`` and stands ``NOW_S`` seconds later, with twin
``TWIN`` alive and scenario 1 on it) or ``scenario_reply`` (a ``reply``; ``values`` are its
result). A valid case holds ``payload`` (the msgpack value in JSON form, as
``tests/golden/wire``) and ``values``; an invalid one the exact ``error`` ``{"code",
"message"}``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from synthtwin.components.scenario import Scenarios
from synthtwin.engine.world import UnknownTwinError
from synthtwin.net.scenario_requests import Context, check, described
from synthtwin.net.wire import reply, request
from tests.golden.wire.make_golden import Case, decoded_cases
from tests.golden.wire.make_golden import write_cases as write_golden

__all__ = ["DECODERS", "HERE", "build_cases", "write_cases"]

HERE = Path(__file__).resolve().parent
START = datetime(2026, 3, 2)
NOW_S = 3 * 86_400.0 + 8 * 3600.0  # Thursday 08:00
TWIN = 7
START_ARGS = {"action": "start", "twin": TWIN, "kind": "illness", "days": 5.0,
              "severity": "severe"}  # fmt: skip


def _alive(twin: int) -> None:
    if twin != TWIN:
        raise UnknownTwinError(twin)


def _context() -> Context:
    scenarios = Scenarios()
    scenarios.add(TWIN, "short_night", NOW_S, NOW_S + 86_400.0, {"hours": 5.0})
    return Context(START, NOW_S, scenarios, _alive)


def _checked(data: bytes) -> dict[str, Any]:
    return check(_context(), request.decode(data).args)


DECODERS: dict[str, Callable[[bytes], Any]] = {
    "scenario_request": _checked,
    "scenario_reply": lambda data: reply.decode(data).result,
}


def _request(args: dict[str, Any]) -> bytes:
    return request.encode(request.Request(31, "scenario", args))


def _valid() -> dict[str, tuple[str, bytes]]:
    medication = {
        "action": "start",
        "twin": TWIN,
        "kind": "medication",
        "days": 28.0,
        "drug": "antihypertensive",
        "classes": 2,
        "start": "2026-03-06T08:00:00",
    }
    scenario = _context().scenarios.add(
        TWIN, "illness", NOW_S, NOW_S + 5 * 86_400.0, {"severity": "severe"}
    )
    result = {"scenario": described(START, NOW_S, scenario)}
    return {
        "scenario_request": ("scenario_request", _request(START_ARGS)),
        "scenario_request_medication": ("scenario_request", _request(medication)),
        "scenario_request_list": ("scenario_request", _request({"action": "list", "twin": TWIN})),
        "scenario_request_stop": ("scenario_request", _request({"action": "stop", "id": 1})),
        "scenario_reply": ("scenario_reply",
                           reply.encode(reply.Reply(9600, 2400, NOW_S, 31, True, result, None))),
    }  # fmt: skip


def _invalid() -> dict[str, tuple[str, bytes]]:
    return {
        "invalid_scenario_action": ("scenario_request", _request({"action": "pause"})),
        "invalid_scenario_kind": ("scenario_request", _request(START_ARGS | {"kind": "flu"})),
        "invalid_scenario_days": ("scenario_request", _request(START_ARGS | {"days": 400.0})),
        "invalid_scenario_start": ("scenario_request",
                                   _request(START_ARGS | {"start": "2026-03-01T00:00:00"})),
        "invalid_scenario_severity": ("scenario_request",
                                      _request(START_ARGS | {"severity": "grave"})),
        "invalid_scenario_drug": ("scenario_request",
                                  _request(START_ARGS | {"kind": "medication"})),
        "invalid_scenario_twin": ("scenario_request", _request(START_ARGS | {"twin": "7"})),
        "invalid_scenario_stop": ("scenario_request", _request({"action": "stop", "id": 2})),
    }  # fmt: skip


def build_cases() -> list[Case]:
    """Every scenario case, in a fixed order."""
    return decoded_cases(_valid(), _invalid(), DECODERS.__getitem__)


def write_cases(directory: Path = HERE) -> None:
    """Write every case's ``.bin`` and ``.json`` to ``directory``."""
    write_golden(directory, build_cases())


if __name__ == "__main__":
    write_cases()
