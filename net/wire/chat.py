"""``chat``: a message to one twin (the ROUTER op ``chat``), its reply, and ``event/chat``.

The op (``docs/protocol.md`` section 7, ``chat``), args:

=============== =========== ===============================================================
field           type        meaning
=============== =========== ===============================================================
id              int         the twin, 0..4294967295 (``out_of_range`` beyond)
message         str         what the user says: 1..``MAX_MESSAGE_CHARS`` characters once
                            stripped of surrounding white space (``out_of_range`` otherwise)
conversation_id str or nil  optional: continue this conversation (``CONVERSATION_ID``: 1-64
                            of ``A-Z a-z 0-9 - _``; ``bad_request`` otherwise); nil or
                            absent starts one
=============== =========== ===============================================================

Result (and the ``data`` of an ``event/chat`` message, which adds ``message``):

=============== =========== ===============================================================
reply           str         what the twin says, in the first person
conversation_id str         pass it with the next message to follow up
facts           array       the facts the reply rests on, each a map ``name`` str, ``value``
                            (int, float, str or bool), ``unit`` str, ``source`` str (one of
                            ``SOURCES``), ``time`` str or nil (simulated local ISO 8601)
intent          str         what the message was understood to ask
engine          str         who wrote the reply: ``embedded`` or ``llm``
fallback        str or nil  why a configured language model's answer was not used
=============== =========== ===============================================================

Every number in ``reply`` is the value of one of ``facts`` (as it is written there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from synthtwin.net.wire.errors import BAD_VALUE, WRONG_TYPE, WireError, type_name
from synthtwin.net.wire.event import EventMessage
from synthtwin.net.wire.fields import field_path, read_int, read_list, read_str, require
from synthtwin.net.wire.reply import BAD_REQUEST, OUT_OF_RANGE

__all__ = [
    "CHAT",
    "CONVERSATION_ID",
    "ENGINES",
    "MAX_MESSAGE_CHARS",
    "MAX_TWIN_ID",
    "SOURCES",
    "ChatArgs",
    "ChatArgsError",
    "ChatExchange",
    "ChatFact",
    "ChatResult",
    "chat_event",
    "read_args",
    "read_event",
    "read_result",
]

CHAT = "chat"
"""The op's name and the event's type (topic ``event/chat``)."""
MAX_MESSAGE_CHARS = 2000
"""Longest message, in characters once stripped (a few paragraphs; a question is far shorter)."""
MAX_TWIN_ID = 2**32 - 1
CONVERSATION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What a conversation id looks like (the server makes 16 hex digits)."""
SOURCES = ("live", "history", "profile", "schedule")
ENGINES = ("embedded", "llm")


class ChatArgsError(ValueError):
    """Arguments of the right types but outside their range: ``code`` is the reply error code
    (``out_of_range`` or ``bad_request``), ``message`` the reply's message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ChatArgs:
    """A ``chat`` request's arguments.

    Attributes:
        twin_id: the twin (uint32).
        message: what the user says, stripped.
        conversation_id: the conversation to continue; None starts one.
    """

    twin_id: int
    message: str
    conversation_id: str | None = None

    def to_args(self) -> dict[str, Any]:
        """The request's ``args`` map."""
        return {
            "id": self.twin_id,
            "message": self.message,
            "conversation_id": self.conversation_id,
        }


@dataclass(frozen=True)
class ChatFact:
    """One fact a reply rests on (``net.chat.Fact`` on the wire)."""

    name: str
    value: int | float | str | bool
    unit: str
    source: str
    time: str | None


@dataclass(frozen=True)
class ChatResult:
    """A ``chat`` reply's result (see the module's table)."""

    reply: str
    conversation_id: str
    facts: tuple[ChatFact, ...]
    intent: str
    engine: str
    fallback: str | None = None


@dataclass(frozen=True)
class ChatExchange:
    """One ``event/chat``: a message to twin ``twin_id`` and the reply it got."""

    twin_id: int
    message: str
    result: ChatResult


def read_args(args: dict[str, Any]) -> ChatArgs:
    """The checked arguments of a ``chat`` request, in table order.

    Raises:
        WireError: a field missing or of the wrong type (the reply's ``bad_request``).
        ChatArgsError: a value outside its range or form.
    """
    twin_id = read_int(args, "id", "args")
    if not 0 <= twin_id <= MAX_TWIN_ID:
        raise ChatArgsError(
            OUT_OF_RANGE, f"field 'args.id' holds {twin_id}, expected 0..{MAX_TWIN_ID}"
        )
    message = read_str(args, "message", "args").strip()
    if not 1 <= len(message) <= MAX_MESSAGE_CHARS:
        raise ChatArgsError(
            OUT_OF_RANGE,
            f"field 'args.message' holds {len(message)} characters, expected "
            f"1..{MAX_MESSAGE_CHARS}",
        )
    conversation_id = _optional_str(args, "conversation_id", "args")
    if conversation_id is not None and not CONVERSATION_ID.fullmatch(conversation_id):
        raise ChatArgsError(
            BAD_REQUEST,
            "field 'args.conversation_id' must be 1 to 64 letters, digits, '-' or '_'",
        )
    return ChatArgs(twin_id, message, conversation_id)


def read_result(result: dict[str, Any], prefix: str = "result") -> ChatResult:
    """The ``ChatResult`` in a reply's result (or an event's data, ``prefix`` ``body.data``).

    Raises:
        WireError: missing_field, wrong_type, or bad_value (an unknown ``source`` or ``engine``).
    """
    reply = read_str(result, "reply", prefix)
    conversation_id = read_str(result, "conversation_id", prefix)
    facts = read_list(result, "facts", prefix)
    checked = tuple(_fact(f, f"{field_path(prefix, 'facts')}[{i}]") for i, f in enumerate(facts))
    intent = read_str(result, "intent", prefix)
    engine = _one_of(read_str(result, "engine", prefix), ENGINES, field_path(prefix, "engine"))
    fallback = _optional_str(result, "fallback", prefix)
    return ChatResult(reply, conversation_id, checked, intent, engine, fallback)


def chat_event(tick: int, seq: int, t_s: float, exchange: ChatExchange) -> EventMessage:
    """The ``event/chat`` message of ``exchange``."""
    result = exchange.result
    data = {
        "message": exchange.message,
        "reply": result.reply,
        "conversation_id": result.conversation_id,
        "facts": [_fact_map(fact) for fact in result.facts],
        "intent": result.intent,
        "engine": result.engine,
        "fallback": result.fallback,
    }
    return EventMessage(tick, seq, t_s, CHAT, int(exchange.twin_id), data)


def _fact_map(fact: ChatFact) -> dict[str, Any]:
    """A fact as its map (written out: ``dataclasses.asdict`` recurses and deep-copies, ~10x
    slower, and every chat's event is encoded on the tick)."""
    return {"name": fact.name, "value": fact.value, "unit": fact.unit, "source": fact.source,
            "time": fact.time}  # fmt: skip


def read_event(message: EventMessage) -> ChatExchange:
    """The exchange an ``event/chat`` message carries.

    Raises:
        WireError: not a chat event about a twin, or its data as ``read_result`` (and
            ``message``) says.
    """
    if message.type != CHAT or message.twin_id is None:
        raise WireError(BAD_VALUE, "expected an event of type 'chat' about a twin")
    text = read_str(message.data, "message", "body.data")
    return ChatExchange(message.twin_id, text, read_result(message.data, "body.data"))


def _fact(value: Any, path: str) -> ChatFact:
    fact = value if isinstance(value, dict) else None
    if fact is None:
        raise WireError(WRONG_TYPE, f"field '{path}' must be map, got {type_name(value)}")
    name = read_str(fact, "name", path)
    raw = require(fact, "value", path)
    if not isinstance(raw, int | float | str | bool):
        got = type_name(raw)
        raise WireError(
            WRONG_TYPE, f"field '{path}.value' must be int, float, str or bool, got {got}"
        )
    unit = read_str(fact, "unit", path)
    source = _one_of(read_str(fact, "source", path), SOURCES, f"{path}.source")
    return ChatFact(name, raw, unit, source, _optional_str(fact, "time", path))


def _optional_str(m: dict[str, Any], key: str, prefix: str) -> str | None:
    """A str-or-nil field; an absent key reads as nil."""
    value = m.get(key)
    if value is not None and not isinstance(value, str):
        path = field_path(prefix, key)
        raise WireError(WRONG_TYPE, f"field '{path}' must be str or nil, got {type_name(value)}")
    return value


def _one_of(value: str, allowed: tuple[str, ...], path: str) -> str:
    if value not in allowed:
        raise WireError(BAD_VALUE, f"field '{path}' must be one of {', '.join(allowed)}")
    return value
