"""LLM engine: an OpenAI-compatible Chat Completions endpoint answers as the twin, with the
twin's facts as tools, and its reply is checked before anyone sees it.

Protocol (the Chat Completions tool-calling loop): POST ``{base_url}/chat/completions`` with the
persona (system), the remembered turns, the message and ``tools.tool_specs()``; while the answer
holds ``tool_calls``, run each (``tools.call_tool``) and send the results back as ``tool``
messages, at most ``max_rounds`` times; the final ``content`` is the reply. It is accepted only
if every number in it is supported by a fact some tool returned (``grounding.ungrounded``);
otherwise, and on any timeout, HTTP or format error, ``LlmError`` says why and the caller falls
back to the embedded engine. Standard library only (``urllib``); the whole exchange shares one
deadline of ``timeout_s``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from synthtwin.net.chat.facts import Fact
from synthtwin.net.chat.grounding import ungrounded
from synthtwin.net.chat.memory import Turn
from synthtwin.net.chat.snapshot import TwinSnapshot
from synthtwin.net.chat.tools import call_tool, tool_specs
from synthtwin.net.chat.voice import Voice

__all__ = ["API_KEY_ENV", "LlmAnswer", "LlmError", "LlmSettings", "api_key_from_env", "ask_llm"]

API_KEY_ENV = "SYNTHTWIN_CHAT_API_KEY"
"""The environment variable the composition root reads the endpoint's API key from."""


@dataclass(frozen=True)
class LlmSettings:
    """An OpenAI-compatible endpoint.

    Attributes:
        base_url: up to and including the version, e.g. ``http://localhost:11434/v1``.
        model: the model name the endpoint knows.
        api_key: sent as ``Authorization: Bearer``; ``None`` sends none (local servers).
        timeout_s: deadline of the whole exchange, tool rounds included.
        max_rounds: requests per reply at most (tool rounds plus the answer).
        temperature: sampling temperature.
    """

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 10.0
    max_rounds: int = 4
    temperature: float = 0.3


@dataclass(frozen=True)
class LlmAnswer:
    """A checked reply and the facts the tools returned for it."""

    text: str
    facts: list[Fact]


class LlmError(Exception):
    """Why the endpoint's answer was not used (timeout, HTTP error, bad format, invented
    numbers)."""


def api_key_from_env(environ: Mapping[str, str]) -> str | None:
    """The API key in ``environ[API_KEY_ENV]``, or ``None``."""
    return environ.get(API_KEY_ENV) or None


def ask_llm(
    settings: LlmSettings,
    snap: TwinSnapshot,
    message: str,
    turns: Sequence[Turn],
    voice: Voice,
) -> LlmAnswer:
    """The endpoint's checked reply as the twin; raises ``LlmError``."""
    deadline = time.monotonic() + settings.timeout_s
    messages: list[dict[str, Any]] = [{"role": "system", "content": persona(voice)}]
    for turn in turns:
        messages += [{"role": "user", "content": turn.message},
                     {"role": "assistant", "content": turn.reply}]  # fmt: skip
    messages.append({"role": "user", "content": message})
    returned: dict[str, Fact] = {}
    for _ in range(settings.max_rounds):
        answer = _complete(settings, messages, deadline)
        calls = answer.get("tool_calls") or []
        if not calls:
            return _checked(answer.get("content"), list(returned.values()))
        messages.append({"role": "assistant", "content": answer.get("content"),
                         "tool_calls": calls})  # fmt: skip
        for call in calls:
            facts = call_tool(snap, _tool_name(call))
            returned.update((f.name, f) for f in facts)
            content = json.dumps({"facts": [f.to_dict() for f in facts]})
            messages.append({"role": "tool", "tool_call_id": call.get("id", ""),
                             "content": content})  # fmt: skip
    raise LlmError(f"no answer after {settings.max_rounds} rounds of tool calls")


def persona(voice: Voice) -> str:
    """The system prompt: who the model plays and the rules it must keep (no numbers in it, so
    every number in a reply has to come from a tool)."""
    talk = {1: "outgoing, warm and chatty", 0: "friendly", -1: "reserved; you answer briefly"}
    worry = {1: "You tend to worry about bad health numbers.", 0: "",
             -1: "You are calm and rarely worry."}  # fmt: skip
    state = " You are tired." if voice.tired else ""
    state += " You were asleep and answer drowsily." if voice.asleep else ""
    return (
        "You are a simulated person, a digital twin living in a small town, chatting in the first "
        f"person. You are {talk[voice.talk]}. {worry[voice.worry]}{state} "
        "Answer only from your tools: get_live_state, get_history, get_schedule, get_profile. "
        "Every number you write must be copied from a tool result, as given; never estimate, "
        "round differently, add up or subtract numbers, and write no number that no tool gave. "
        "You have no record of days before today: say so rather than guess. You cannot run "
        "what-if scenarios or change what you do. If asked about anything but your own life, "
        "body, day and plans, say you don't know. Reply in one to four sentences, without "
        "mentioning tools."
    )


def _complete(
    settings: LlmSettings, messages: list[dict[str, Any]], deadline: float
) -> dict[str, Any]:
    """One Chat Completions request; the assistant message of its first choice."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise LlmError("timeout")
    body = {"model": settings.model, "messages": messages, "tools": tool_specs(),
            "tool_choice": "auto", "temperature": settings.temperature}  # fmt: skip
    headers = {"Content-Type": "application/json"}
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    url = settings.base_url.rstrip("/") + "/chat/completions"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=remaining) as response:
            data = json.loads(response.read())
        message = data["choices"][0]["message"]
    except urllib.error.HTTPError as err:
        raise LlmError(f"HTTP {err.code}") from err
    except (TimeoutError, urllib.error.URLError) as err:
        reason = getattr(err, "reason", err)
        raise LlmError("timeout" if isinstance(reason, TimeoutError) else str(reason)) from err
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise LlmError(f"bad response: {type(err).__name__}") from err
    if not _is_message(message):
        raise LlmError("bad response: not a message")
    return message


def _is_message(message: Any) -> bool:
    """Whether ``message`` is what ``ask_llm`` reads: a map whose ``tool_calls``, if any, is an
    array of maps, each ``function`` a map (a model's malformed answer falls back, never
    raises out of the engine)."""
    if not isinstance(message, dict):
        return False
    calls = message.get("tool_calls") or []
    return isinstance(calls, list) and all(
        isinstance(c, dict) and isinstance(c.get("function") or {}, dict) for c in calls
    )


def _tool_name(call: Mapping[str, Any]) -> str:
    function = call.get("function") or {}
    return str(function.get("name", ""))


def _checked(content: Any, facts: list[Fact]) -> LlmAnswer:
    if not isinstance(content, str) or not content.strip():
        raise LlmError("empty answer")
    invented = ungrounded(content, facts)
    if invented:
        raise LlmError(f"numbers no tool gave: {', '.join(invented)}")
    return LlmAnswer(content.strip(), facts)
