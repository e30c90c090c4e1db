"""The chat engine: a message to one twin, answered from its snapshot in its own voice.

``ChatEngine.reply`` is pure with respect to the world (it reads only the snapshot) and safe to
call from worker threads (the conversation store locks itself). The embedded engine always
writes a reply; with an LLM endpoint configured, the endpoint answers first and the embedded
reply stands in whenever its answer fails the checks (``llm``), so a reply never waits longer
than ``llm_timeout_s`` and never states a number the twin's facts do not hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from synthtwin.net.chat.answers import HANDLERS
from synthtwin.net.chat.draft import Draft, Phrasing
from synthtwin.net.chat.facts import Fact
from synthtwin.net.chat.llm import LlmError, LlmSettings, ask_llm
from synthtwin.net.chat.memory import ConversationStore, Turn, valid_id
from synthtwin.net.chat.snapshot import TwinSnapshot
from synthtwin.net.chat.understand import Understander, Understanding
from synthtwin.net.chat.voice import speak, voice_of
from synthtwin.net.wire.chat import MAX_MESSAGE_CHARS

__all__ = ["ChatEngine", "ChatInputError", "ChatReply", "ChatSettings", "MAX_MESSAGE_CHARS"]


Engine = Literal["embedded", "llm"]


@dataclass(frozen=True)
class ChatSettings:
    """How the engine answers (a ``[chat]`` table of the config maps onto it).

    Attributes:
        seed: varies the embedded engine's choice of phrasings (deterministic per seed).
        max_conversations: conversations remembered (least recently used dropped first).
        max_turns: turns remembered per conversation.
        llm_base_url, llm_model: an OpenAI-compatible endpoint; both set enable the LLM engine.
        llm_api_key: its key (``llm.api_key_from_env`` reads ``SYNTHTWIN_CHAT_API_KEY``).
        llm_timeout_s: the LLM's deadline per reply, tool rounds included.
    """

    seed: int = 0
    max_conversations: int = 1000
    max_turns: int = 20
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = field(default=None, repr=False)
    llm_timeout_s: float = 10.0

    @property
    def llm(self) -> LlmSettings | None:
        """The endpoint, or ``None`` when the embedded engine answers alone."""
        if not (self.llm_base_url and self.llm_model):
            return None
        return LlmSettings(self.llm_base_url, self.llm_model, self.llm_api_key, self.llm_timeout_s)


@dataclass(frozen=True)
class ChatReply:
    """The twin's answer.

    Attributes:
        reply: what the twin says.
        conversation_id: the conversation (pass it with the next message to follow up).
        facts: the facts the reply rests on; every number in ``reply`` is one of their values.
        intent: what the message was understood to ask (``understand.INTENTS``).
        engine: ``embedded`` or ``llm``: who wrote ``reply``.
        fallback: why the configured LLM's answer was not used (``None`` when it was, or when no
            LLM is configured).
    """

    reply: str
    conversation_id: str
    facts: list[Fact]
    intent: str
    engine: Engine
    fallback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The reply as JSON/msgpack-ready data (the REST body, the ``chat`` op's result)."""
        return {
            "reply": self.reply,
            "conversation_id": self.conversation_id,
            "facts": [fact.to_dict() for fact in self.facts],
            "intent": self.intent,
            "engine": self.engine,
            "fallback": self.fallback,
        }


class ChatInputError(ValueError):
    """A message or conversation id the engine refuses (empty, too long, malformed)."""


class ChatEngine:
    """Answers messages to twins; one per process, shared by its worker threads.

    Building it trains the intent classifier on the shipped paraphrases (about half a second).
    """

    def __init__(
        self, settings: ChatSettings | None = None, understander: Understander | None = None
    ) -> None:
        self.settings = settings or ChatSettings()
        self.understander = understander or Understander()
        self.conversations = ConversationStore(
            self.settings.max_conversations, self.settings.max_turns
        )

    def reply(
        self, snapshot: TwinSnapshot, message: str, conversation_id: str | None = None
    ) -> ChatReply:
        """The twin's reply to ``message``.

        Args:
            snapshot: the twin's facts (``take_snapshot``, taken in the simulation thread).
            message: what the user said (1 to ``MAX_MESSAGE_CHARS`` characters).
            conversation_id: continue this conversation; ``None`` starts one.

        Raises:
            ChatInputError: an empty or too long message, or a malformed conversation id.
        """
        message = _checked_message(message)
        cid = self.conversations.new_id() if conversation_id is None else conversation_id
        if not valid_id(cid):
            raise ChatInputError("conversation_id must be 1-64 letters, digits, '-' or '_'")
        context = self.conversations.context(cid, snapshot.twin_id)
        understanding = self.understander.understand(message, context.previous)
        text, facts = self._embedded(snapshot, understanding, context.turn)
        engine: Engine = "embedded"
        fallback = None
        llm = self.settings.llm
        if llm is not None:
            try:
                answer = ask_llm(llm, snapshot, message, context.turns, voice_of(snapshot))
                text, facts, engine = answer.text, answer.facts, "llm"
            except LlmError as err:
                fallback = str(err)
        turn = Turn(message, understanding, text, engine)
        self.conversations.record(cid, snapshot.twin_id, turn)
        return ChatReply(text, cid, facts, understanding.intent, engine, fallback)

    def _embedded(
        self, snapshot: TwinSnapshot, understanding: Understanding, turn: int
    ) -> tuple[str, list[Fact]]:
        """The embedded engine's reply and its facts."""
        phrasing = Phrasing(self.settings.seed, snapshot.twin_id, turn)
        draft = Draft(snapshot, phrasing)
        HANDLERS[understanding.intent](draft, understanding)
        return speak(draft, voice_of(snapshot)), list(draft.facts.values())


def _checked_message(message: str) -> str:
    if not isinstance(message, str):
        raise ChatInputError("message must be text")
    message = message.strip()
    if not message:
        raise ChatInputError("message is empty")
    if len(message) > MAX_MESSAGE_CHARS:
        raise ChatInputError(f"message is longer than {MAX_MESSAGE_CHARS} characters")
    return message
