"""Conversation memory: the last turns of each conversation, bounded twice (an LRU of
conversations, a window of turns each), safe to use from several worker threads.

A conversation belongs to one twin: an id used with another twin starts afresh. Ids are chosen by
the store (``new_id``) or by the caller (letters, digits, ``-`` and ``_``, up to 64).
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from synthtwin.net.chat.understand import Understanding
from synthtwin.net.wire.chat import CONVERSATION_ID

__all__ = ["Context", "ConversationStore", "Turn", "valid_id"]

MAX_CONVERSATIONS = 1000
MAX_TURNS = 20


@dataclass(frozen=True)
class Turn:
    """One exchange: the message, what it was understood as, the reply and who wrote it."""

    message: str
    understanding: Understanding
    reply: str
    engine: str


@dataclass(frozen=True)
class Context:
    """What a new turn knows of its conversation (a copy: safe outside the lock).

    Attributes:
        conversation_id: the conversation.
        turn: index of the new turn (0 for the first; keeps counting past the window).
        turns: the remembered turns, oldest first.
    """

    conversation_id: str
    turn: int
    turns: tuple[Turn, ...] = ()

    @property
    def previous(self) -> Understanding | None:
        """The last turn's understanding, if any."""
        return self.turns[-1].understanding if self.turns else None


@dataclass
class _Conversation:
    twin_id: int
    count: int = 0
    turns: deque[Turn] = field(default_factory=lambda: deque(maxlen=MAX_TURNS))


def valid_id(conversation_id: str) -> bool:
    """Whether a caller-chosen conversation id is acceptable."""
    return bool(CONVERSATION_ID.fullmatch(conversation_id))


class ConversationStore:
    """Conversations by id, least recently used dropped first."""

    def __init__(self, max_conversations: int = MAX_CONVERSATIONS, max_turns: int = MAX_TURNS):
        self.max_conversations = max_conversations
        self.max_turns = max_turns
        self._conversations: OrderedDict[str, _Conversation] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._conversations)

    @staticmethod
    def new_id() -> str:
        return secrets.token_hex(8)

    def context(self, conversation_id: str, twin_id: int) -> Context:
        """The conversation as a new turn sees it (empty when unknown, evicted or another
        twin's)."""
        with self._lock:
            found = self._conversations.get(conversation_id)
            if found is None or found.twin_id != twin_id:
                return Context(conversation_id, 0)
            self._conversations.move_to_end(conversation_id)
            return Context(conversation_id, found.count, tuple(found.turns))

    def record(self, conversation_id: str, twin_id: int, turn: Turn) -> None:
        """Append a turn, starting the conversation (or restarting it for another twin)."""
        with self._lock:
            found = self._conversations.get(conversation_id)
            if found is None or found.twin_id != twin_id:
                found = _Conversation(twin_id, turns=deque(maxlen=self.max_turns))
                self._conversations[conversation_id] = found
            found.turns.append(turn)
            found.count += 1
            self._conversations.move_to_end(conversation_id)
            while len(self._conversations) > self.max_conversations:
                self._conversations.popitem(last=False)
