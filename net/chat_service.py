"""ChatService: twins' replies composed off the tick, in one worker process.

The simulation thread takes a twin's snapshot (``net.chat.take_snapshot``, a consistent copy of
one row, well under a millisecond) and ``submit``s it with the message; the worker process runs
``ChatEngine.reply`` (a few milliseconds embedded, up to the language model's timeout with one
configured); the simulation thread collects what is ``finished`` at its next poll and answers.
Replies come back in the order they were asked, and the worker keeps the conversations.

Why a process, not a thread: a worker thread held the GIL for the whole reply, and the tick
waited for it at every turn (measured on 2 shared cores, 1,000 twins at 30 Hz: 25 chats a second
took the tick's p99 from 11 to 28 ms; ``bench/test_chat_serve_bench.py``). The process is
started with ``spawn`` (forking a process that runs ZeroMQ's threads is unsafe), at a lower
priority (``WORKER_NICENESS``, like the gateway) and free to run on any core, so the tick
preempts it. Only the snapshot (``TwinSnapshot.to_dict``) and the reply cross over, a few
kilobytes. At most ``max_pending`` chats wait at once, counted until ``finished`` hands them
back; beyond that ``submit`` refuses (the caller answers "busy"). A worker that dies is replaced
at the next ``submit``; the chats it held come back as errors.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from synthtwin.net.chat import ChatEngine, ChatReply, ChatSettings, TwinSnapshot

__all__ = ["WORKER_NICENESS", "ChatService"]

WORKER_NICENESS = 10
"""How much lower than the server the worker process runs (``nice``)."""

EngineFactory = Callable[[ChatSettings], ChatEngine]
"""Builds the worker's engine from the settings (``ChatEngine``); it must be importable by name
(a top-level class or function), since the worker process imports it."""

_engine: ChatEngine | None = None
"""The worker process's engine (set by ``_start``)."""


def _start(factory: EngineFactory, settings: ChatSettings) -> None:
    """The worker's initializer: Ctrl-C is the server's to handle (it closes the worker), lower
    priority, every core, then the engine (trains ~0.3 s)."""
    global _engine
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(WORKER_NICENESS)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    _engine = factory(settings)


def _reply(snapshot: dict[str, Any], message: str, conversation_id: str | None) -> ChatReply:
    """In the worker: the engine's reply to ``message`` for the snapshot ``to_dict`` wrote."""
    return _engine.reply(TwinSnapshot.from_dict(snapshot), message, conversation_id)


def _pid() -> int:
    """In the worker, once its engine is built: the worker's process id."""
    return os.getpid()


class ChatService:
    """One worker process that answers chats in order.

    Args:
        settings: the engine's settings (``[chat]``); None: the defaults (embedded only).
        max_pending: chats waiting, running or done but not collected, at most.
        engine: what builds the worker's engine (tests pass engines that misbehave).

    Attributes:
        submitted: chats queued so far.
    """

    def __init__(
        self,
        settings: ChatSettings | None = None,
        max_pending: int = 64,
        engine: EngineFactory = ChatEngine,
    ) -> None:
        self.settings = settings or ChatSettings()
        self.max_pending = max_pending
        self.factory = engine
        self.submitted = 0
        self._pending: deque[tuple[Hashable, Future[ChatReply]]] = deque()
        self._worker = self._start_worker()

    def _start_worker(self) -> ProcessPoolExecutor:
        """A new worker process, started now (not by the first chat, in the tick)."""
        worker = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start, initargs=(self.factory, self.settings),
        )  # fmt: skip
        self._started = worker.submit(_pid)
        return worker

    def submit(
        self, key: Hashable, snapshot: TwinSnapshot, message: str, conversation_id: str | None
    ) -> bool:
        """Queue a chat under ``key``; False (nothing queued) when ``max_pending`` are waiting."""
        if len(self._pending) >= self.max_pending:
            return False
        args = (snapshot.to_dict(), message, conversation_id)
        try:
            future = self._worker.submit(_reply, *args)
        except BrokenProcessPool:  # the worker died: a new one answers from now on
            self._worker.shutdown(wait=False, cancel_futures=True)
            self._worker = self._start_worker()
            future = self._worker.submit(_reply, *args)
        self._pending.append((key, future))
        self.submitted += 1
        return True

    def finished(self) -> list[tuple[Hashable, ChatReply | BaseException]]:
        """The chats done since the last call, oldest first, each with its reply or the error
        the engine raised; never blocks."""
        done = []
        while self._pending and self._pending[0][1].done():
            key, future = self._pending.popleft()
            error = future.exception()
            done.append((key, error if error is not None else future.result()))
        return done

    def ready(self, timeout_s: float) -> int:
        """The worker's process id once it has built its engine (waits at most ``timeout_s``).

        Raises:
            TimeoutError: it is not ready yet.
        """
        return self._started.result(timeout=timeout_s)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        """Stop the worker; chats not started are dropped."""
        self._worker.shutdown(wait=False, cancel_futures=True)
        self._pending.clear()
