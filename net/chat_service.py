"""ChatService: twins' replies composed off the tick, on one worker thread.

The simulation thread takes a twin's snapshot (``net.chat.take_snapshot``, a consistent copy of
one row, well under a millisecond) and ``submit``s it with the message; the worker runs
``ChatEngine.reply`` (about a millisecond embedded, up to the language model's timeout with one
configured); the simulation thread collects what is ``finished`` at its next poll and answers.
So a chat never delays the tick, and replies come back in the order they were asked. At most
``max_pending`` chats wait at once; beyond that ``submit`` refuses (the caller answers "busy").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from concurrent.futures import Future, ThreadPoolExecutor

from synthtwin.net.chat import ChatEngine, ChatReply, TwinSnapshot

__all__ = ["ChatService"]


class ChatService:
    """One worker thread that answers chats in order.

    Args:
        engine: the chat engine (embedded, or with a language model).
        max_pending: chats waiting or running at once, at most.
    """

    def __init__(self, engine: ChatEngine, max_pending: int = 64) -> None:
        self.engine = engine
        self.max_pending = max_pending
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat")
        self._pending: deque[tuple[Hashable, Future[ChatReply]]] = deque()

    def submit(
        self, key: Hashable, snapshot: TwinSnapshot, message: str, conversation_id: str | None
    ) -> bool:
        """Queue a chat under ``key``; False (nothing queued) when ``max_pending`` are waiting."""
        if len(self._pending) >= self.max_pending:
            return False
        future = self._worker.submit(self.engine.reply, snapshot, message, conversation_id)
        self._pending.append((key, future))
        return True

    def finished(self) -> list[tuple[Hashable, ChatReply | Exception]]:
        """The chats done since the last call, oldest first, each with its reply or the error
        the engine raised; never blocks."""
        done = []
        while self._pending and self._pending[0][1].done():
            key, future = self._pending.popleft()
            error = future.exception()
            done.append((key, error if error is not None else future.result()))
        return done

    @property
    def pending(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        """Stop the worker; chats not started are dropped."""
        self._worker.shutdown(wait=False, cancel_futures=True)
        self._pending.clear()
