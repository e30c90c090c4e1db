"""ChatService: twins' replies composed off the tick, in one worker process.

The simulation thread copies a twin's raw values (``net.chat.read_twin``, a consistent copy of one
row, a fraction of a millisecond) and ``submit``s them with the message; the worker process makes
them facts and runs ``ChatEngine.reply`` (a few milliseconds embedded, up to the language model's
timeout with one configured); the simulation thread collects what is ``finished`` at its next poll
and answers. Replies come back in the order they were asked, and the worker keeps the
conversations.

Why a process, and no helper thread: a worker thread held the GIL for the whole reply, and the
tick waited for it at every turn (measured on 2 shared cores, 1,000 twins at 30 Hz: 25 chats a
second took the tick's p99 from 11 to 28 ms; ``bench/test_chat_serve_bench.py``); a process
pool's manager thread still took the GIL from the tick for every chat. So the simulation thread
itself writes each chat to a pipe and reads the replies from it, never waiting: at most
``IN_FLIGHT`` chats are in the pipe at once (a few kilobytes each, far below the pipe's buffer,
so a write never blocks), the others wait here. The worker is started with ``spawn`` (forking a
process that runs ZeroMQ's threads is unsafe) when the service is made, at a lower priority
(``WORKER_NICENESS``, like the gateway), free to run on any core so that the tick preempts it.
Since the pipe is read and written only when the simulation thread polls, the worker answers at
most ``IN_FLIGHT`` chats a poll (60 a second at 30 Hz): a bound on what chats cost the tick. At
most ``max_pending`` chats wait, run or are done uncollected; beyond that ``submit`` refuses
(the caller answers "busy"). A worker that dies is replaced; the chats it held come back as
errors.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
from collections import deque
from collections.abc import Callable, Hashable, Mapping
from multiprocessing.connection import Connection
from typing import Any

from synthtwin.net.chat import ChatEngine, ChatSettings, TwinSnapshot
from synthtwin.net.chat.past import with_past

__all__ = ["IN_FLIGHT", "WORKER_NICENESS", "ChatService", "WorkerDied"]

WORKER_NICENESS = 10
"""How much lower than the server the worker process runs (``nice``)."""
IN_FLIGHT = 2
"""Chats written to the worker's pipe at once: each at most ~25 kB pickled (a snapshot, four
weeks of daily rows and a message of 2,000 characters), so the pipe's 64 kB buffer never fills
and a write never waits."""
CLOSE_WAIT_S = 1.0
"""How long ``close`` waits for the worker to end before it kills it."""

EngineFactory = Callable[[ChatSettings], ChatEngine]
"""Builds the worker's engine from the settings (``ChatEngine``); it must be importable by name
(a top-level class or function), since the worker process imports it."""


class WorkerDied(RuntimeError):
    """The chat worker process ended while it held this chat."""


def _work(conn: Connection, factory: EngineFactory, settings: ChatSettings) -> None:
    """The worker process: Ctrl-C is the server's to handle, a lower priority, every core; the
    engine (trains ~0.3 s), then ``("ready", pid)``, then one ``("reply", ChatReply.to_dict())``
    or ``("error", exception)`` per ``(twin data, past, message, conversation id)`` read (the
    data of ``net.chat.read_twin``; ``past``: the twin's recorded days,
    ``net.chat.past.fetch_past``, or None), until the pipe closes (the server closed the service:
    the worker ends quietly). The facts are made here, off the tick."""
    with contextlib.suppress(EOFError, BrokenPipeError, ConnectionResetError):
        _serve(conn, factory, settings)


def _serve(conn: Connection, factory: EngineFactory, settings: ChatSettings) -> None:
    """The worker's settings and loop (``_work``); raises EOFError once the pipe is closed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(WORKER_NICENESS)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    engine = factory(settings)
    conn.send(("ready", os.getpid()))
    while True:
        twin, past, message, conversation_id = conn.recv()
        try:
            snap = with_past(TwinSnapshot.from_dict(twin), past)
            answer = ("reply", engine.reply(snap, message, conversation_id).to_dict())
        except Exception as err:  # noqa: BLE001 - handed back to the caller, whatever it is
            answer = ("error", err if _round_trips(err) else _plain(err))
        try:
            conn.send(answer)
        except Exception as err:  # noqa: BLE001 - an error that does not pickle
            conn.send(("error", _plain(err)))


def _round_trips(err: BaseException) -> bool:
    """Whether ``err`` pickles and unpickles (an exception whose ``__init__`` takes other
    arguments than its ``args`` pickles, then fails to load on the server's side)."""
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:  # noqa: BLE001 - any failure means: send it plain
        return False
    return True


def _plain(err: BaseException) -> RuntimeError:
    """``err`` as a ``RuntimeError`` that names its type and message (always pickles)."""
    return RuntimeError(f"{type(err).__name__}: {err}")


def _loads(data: bytes) -> tuple[str, Any]:
    """One message of the worker; one that cannot be read is that chat's error (``finished``
    runs in the simulation thread's poll: it must never raise)."""
    try:
        return pickle.loads(data)
    except Exception as err:  # noqa: BLE001 - whatever the worker wrote
        return "error", RuntimeError(f"the chat worker's answer could not be read: {_plain(err)}")


class ChatService:
    """One worker process that answers chats in order; used from one thread (the simulation's).

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
        self._waiting: deque[tuple[Hashable, tuple[Any, ...]]] = deque()
        self._sent: deque[Hashable] = deque()
        self._done: list[tuple[Hashable, dict[str, Any] | BaseException]] = []
        self._pid: int | None = None
        self._start_worker()

    def _start_worker(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_work, args=(child, self.factory, self.settings), name="synthtwin-chat",
            daemon=True,
        )  # fmt: skip
        self._process.start()
        child.close()
        self._pid = None

    def submit(
        self,
        key: Hashable,
        twin: Mapping[str, Any],
        message: str,
        conversation_id: str | None,
        past: dict[str, Any] | None = None,
    ) -> bool:
        """Queue a chat under ``key`` about ``twin`` (its data: ``net.chat.read_twin`` or
        ``TwinSnapshot.to_dict``), with its recorded days (``past``, from
        ``net.chat.past.fetch_past``; None: no record kept); False (nothing queued) when
        ``max_pending`` are waiting. Never blocks."""
        if self.pending >= self.max_pending:
            return False
        self._waiting.append((key, (twin, past, message, conversation_id)))
        self.submitted += 1
        self._pump()
        return True

    def finished(self) -> list[tuple[Hashable, dict[str, Any] | BaseException]]:
        """The chats done since the last call, oldest first, each with its reply
        (``ChatReply.to_dict``) or the error the engine raised (``WorkerDied`` if the worker
        ended); never blocks."""
        self._pump()
        done, self._done = self._done, []
        return done

    def ready(self, timeout_s: float) -> int:
        """The worker's process id once it has built its engine (waits at most ``timeout_s``).

        Raises:
            TimeoutError: it is not ready yet.
        """
        if self._pid is None and self._conn.poll(timeout_s):
            self._pump()
        if self._pid is None:
            raise TimeoutError(f"the chat worker is not ready after {timeout_s:g} s")
        return self._pid

    @property
    def pending(self) -> int:
        return len(self._waiting) + len(self._sent) + len(self._done)

    def _pump(self) -> None:
        """Read every reply the worker has written, then write waiting chats up to
        ``IN_FLIGHT``; a worker that ended is replaced."""
        try:
            while self._conn.poll():
                kind, value = _loads(self._conn.recv_bytes())
                if kind == "ready":
                    self._pid = value
                else:
                    self._done.append((self._sent.popleft(), value))
            while self._waiting and len(self._sent) < IN_FLIGHT:
                key, chat = self._waiting[0]
                self._conn.send(chat)
                self._waiting.popleft()
                self._sent.append(key)
        except (EOFError, OSError):
            self._replace_worker()

    def _replace_worker(self) -> None:
        """The worker ended: its chats fail, a new worker takes the waiting ones."""
        self._stop_worker()
        died = WorkerDied(f"the chat worker ended (exit code {self._process.exitcode})")
        self._done += [(key, died) for key in self._sent]
        self._sent.clear()
        self._start_worker()

    def _stop_worker(self) -> None:
        self._conn.close()
        self._process.join(CLOSE_WAIT_S)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def close(self) -> None:
        """Stop the worker; chats not answered yet are dropped."""
        self._stop_worker()
        self._waiting.clear()
        self._sent.clear()
        self._done.clear()
