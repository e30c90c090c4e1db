"""Golden vectors of the ``chat`` op and ``event/chat`` (``docs/protocol.md``, ``chat``).

Run from the repository root: ``.venv/bin/python -m tests.golden.chat.make_golden``.
Deterministic; ``tests/test_golden_sets.py`` rebuilds every case in memory and checks the files.

Each ``.json`` names its payload ``file`` and a ``decoder``: ``chat_request`` (a ``request``
whose args ``net.wire.chat.read_args`` reads), ``chat_reply`` (a ``reply`` whose result
``read_result`` reads) or ``chat_event`` (an ``event`` that ``read_event`` reads). A valid case
holds ``payload`` (the msgpack value in JSON form, as ``tests/golden/wire``) and ``values`` (the
decoded arguments, result or exchange); an invalid one the exact ``error`` ``{"code",
"message"}``: a decode error code, or for arguments out of range the reply's error code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from synthtwin.net.wire import event, reply, request
from synthtwin.net.wire.chat import (
    ChatArgs,
    ChatExchange,
    ChatFact,
    ChatResult,
    chat_event,
    read_args,
    read_event,
    read_result,
)
from tests.golden.wire.make_golden import Case, decoded_cases, to_json
from tests.golden.wire.make_golden import write_cases as write_golden

__all__ = ["DECODERS", "HERE", "build_cases", "write_cases"]

HERE = Path(__file__).resolve().parent
TWIN = 7
FACTS = (
    ChatFact("hr_bpm", 72, "1/min", "live", "2026-03-02T08:00:00"),
    ChatFact("spo2_pct", 97.5, "%", "live", "2026-03-02T08:00:00"),
    ChatFact("hypertension", False, "", "profile", None),
)
RESULT = ChatResult(
    "My heart is at 72 bpm and my oxygen at 97.5%.", "3f2a9c0d1e7b4a55", FACTS, "vitals",
    "embedded",
)  # fmt: skip
ARGS = ChatArgs(TWIN, "what is your heart rate?", "3f2a9c0d1e7b4a55")

DECODERS: dict[str, Callable[[bytes], Any]] = {
    "chat_request": lambda data: read_args(request.decode(data).args),
    "chat_reply": lambda data: read_result(reply.decode(data).result),
    "chat_event": lambda data: read_event(event.decode(data)),
}


def _request(args: dict[str, Any]) -> bytes:
    return request.encode(request.Request(12, "chat", args))


def _reply(result: dict[str, Any]) -> bytes:
    return reply.encode(reply.Reply(3600, 900, 120.0, 12, True, result, None))


def _valid() -> dict[str, tuple[str, bytes]]:
    exchange = ChatExchange(TWIN, ARGS.message, RESULT)
    return {
        "chat_request": ("chat_request", _request(ARGS.to_args())),
        "chat_request_new": ("chat_request", _request({"id": TWIN, "message": " hello "})),
        "chat_reply": ("chat_reply", _reply(to_json(RESULT))),
        "chat_event": ("chat_event", event.encode(chat_event(3600, 901, 120.0, exchange))),
    }


def _invalid() -> dict[str, tuple[str, bytes]]:
    bad_source = to_json(RESULT) | {"facts": [to_json(FACTS[0]) | {"source": "guess"}]}
    bad_value = to_json(RESULT) | {"facts": [to_json(FACTS[0]) | {"value": [72]}]}
    return {
        "invalid_chat_message_type": ("chat_request", _request({"id": TWIN, "message": 42})),
        "invalid_chat_message_long": ("chat_request",
                                      _request({"id": TWIN, "message": "x" * 2001})),
        "invalid_chat_conversation": ("chat_request",
                                      _request({"id": TWIN, "message": "hi",
                                                "conversation_id": "../etc"})),
        "invalid_chat_fact_source": ("chat_reply", _reply(bad_source)),
        "invalid_chat_fact_value": ("chat_reply", _reply(bad_value)),
        "invalid_chat_engine": ("chat_reply", _reply(to_json(RESULT) | {"engine": "oracle"})),
        "invalid_chat_event_world": ("chat_event", event.encode(event.EventMessage(
            1, 2, 0.5, "chat", None, {"message": "hi"}))),
    }  # fmt: skip


def build_cases() -> list[Case]:
    """Every chat case, in a fixed order."""
    return decoded_cases(_valid(), _invalid(), DECODERS.__getitem__)


def write_cases(directory: Path = HERE) -> None:
    """Write every case's ``.bin`` and ``.json`` to ``directory``."""
    write_golden(directory, build_cases())


if __name__ == "__main__":
    write_cases()
