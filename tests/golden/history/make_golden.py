"""Golden vectors of the ``history`` op (``docs/protocol.md``, ``history``).

Run from the repository root: ``.venv/bin/python -m tests.golden.history.make_golden``.
Deterministic; ``tests/test_golden_sets.py`` rebuilds every case in memory and checks the files.

Each ``.json`` names its payload ``file`` and a ``decoder``: ``history_request`` (a ``request``
whose args ``net.history_requests.parse_query`` accepts; ``values`` are the args) or
``history_reply`` (a ``reply``; ``values`` are its result, made by ``engine.health_query`` on a
two-day store of one twin) or ``alert_event`` (an ``event/alert``). A valid case holds
``payload`` (the msgpack value in JSON form, as ``tests/golden/wire``) and ``values``; an
invalid one the exact ``error`` ``{"code", "message"}``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from synthtwin.engine.health_query import DayRange, twin_history
from synthtwin.engine.health_store import HealthStore
from synthtwin.net.history_requests import alert_event, parse_query
from synthtwin.net.wire import event, reply, request
from tests.golden.wire.make_golden import Case, decoded_cases
from tests.golden.wire.make_golden import write_cases as write_golden

__all__ = ["DECODERS", "HERE", "TODAY", "build_cases", "write_cases"]

HERE = Path(__file__).resolve().parent
TWIN = 7
TODAY = date(2026, 3, 4)
ALERT = {"alert_id": 41, "twin_id": TWIN, "day": "2026-03-03", "rule": "resting_tachycardia",
         "value": 104.5}  # fmt: skip
ARGS = {"query": "history", "id": TWIN, "resolution": "day", "from": "2026-03-02",
        "to": "2026-03-03"}  # fmt: skip


def _checked_args(data: bytes) -> dict[str, Any]:
    args = request.decode(data).args
    parse_query(args, TODAY)
    return args


DECODERS: dict[str, Callable[[bytes], Any]] = {
    "history_request": _checked_args,
    "history_reply": lambda data: reply.decode(data).result,
    "alert_event": event.decode,
}


def _request(args: dict[str, Any]) -> bytes:
    return request.encode(request.Request(21, "history", args))


def _daily_result() -> dict[str, Any]:
    """``twin_history`` of two days of one twin (a resting HR missing on the second)."""
    with tempfile.TemporaryDirectory() as folder:
        store = HealthStore(Path(folder) / "golden.duckdb")
        store.write("twins", {"twin_id": np.array([TWIN], np.uint32)})
        store.write("daily", {
            "twin_id": np.array([TWIN, TWIN], np.uint32),
            "day": np.array(["2026-03-02", "2026-03-03"], "datetime64[D]"),
            "steps": np.array([8042, 11210], np.int32),
            "sleep_hours": np.array([7.25, 6.5], np.float32),
            "resting_hr": np.array([61.5, np.nan], np.float32),
        })  # fmt: skip
        days = DayRange(date(2026, 3, 2), date(2026, 3, 3))
        result = twin_history(store.cursor(), TWIN, days, "day")
        store.close()
    return result


def _valid() -> dict[str, tuple[str, bytes]]:
    timeline = {"query": "timeline", "id": TWIN, "date": "2026-03-03"}
    population = {"query": "population", "from": "2026-02-02", "to": "2026-03-03",
                  "group_by": "age_band"}  # fmt: skip
    result = reply.Reply(7200, 1800, 172800.0, 21, True, _daily_result(), None)
    return {
        "history_request": ("history_request", _request(ARGS)),
        "history_request_timeline": ("history_request", _request(timeline)),
        "history_request_population": ("history_request", _request(population)),
        "history_request_baselines": (
            "history_request",
            _request({"query": "baselines", "id": TWIN}),
        ),
        "history_reply": ("history_reply", reply.encode(result)),
        "alert_event": ("alert_event", event.encode(alert_event(7250, 1802, 173100.0, ALERT))),
    }


def _invalid() -> dict[str, tuple[str, bytes]]:
    return {
        "invalid_history_date": ("history_request", _request(ARGS | {"from": "yesterday"})),
        "invalid_history_range": ("history_request",
                                  _request(ARGS | {"resolution": "minute", "from": "2026-02-02"})),
        "invalid_history_backwards": ("history_request",
                                      _request(ARGS | {"from": "2026-03-05"})),
        "invalid_history_id": ("history_request", _request(ARGS | {"id": "7"})),
        "invalid_history_query": ("history_request", _request({"query": "all"})),
    }  # fmt: skip


def build_cases() -> list[Case]:
    """Every history case, in a fixed order."""
    return decoded_cases(_valid(), _invalid(), DECODERS.__getitem__)


def write_cases(directory: Path = HERE) -> None:
    """Write every case's ``.bin`` and ``.json`` to ``directory``."""
    write_golden(directory, build_cases())


if __name__ == "__main__":
    write_cases()
