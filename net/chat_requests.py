"""The ROUTER ``chat`` op: a twin's reply composed off the tick and answered at a later poll.

Pattern: a deferred reply (a ROUTER keeps the caller's envelope and answers when the work is done;
ZeroMQ guide, chapter 3, "asynchronous server"). In a tick's INPUT phase the request handler
(``net.requests``) hands the op's args to ``ChatRequests.submit``: it checks them
(``net.wire.chat.read_args``), copies the twin's raw values there, in the simulation thread
(``net.chat.read_twin``: a consistent copy of one row, a fraction of a millisecond; the worker
makes them facts) and queues them; the handler returns the ``Deferred`` ticket, under which the
server (``net.server``) keeps the caller's envelope. Where the server keeps a health record, the
twin's recorded past days are read first, on the record's query thread (``fetch``:
``net.history_requests.HistoryRequests.fetch`` runs ``net.chat.past.fetch_past``, never on the
tick); a chat goes to the ``ChatService`` worker with its snapshot and its past at the first poll
after its read is done (in the order asked; a read that fails leaves the chat without a past, and
the reply says it has no record). At every poll ``finished`` hands back the chats the worker has
done, each with its result or error, and publishes each exchange as ``event/chat`` through
``publish`` (health data: ``net.server.ZmqServer.publish_health`` sends it on the health PUB under
access control). The server polls once a tick, so a reply goes out within a tick or two of the
worker finishing; the tick itself never waits for a chat."""

from __future__ import annotations

import itertools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

from synthtwin.engine.world import UnknownTwinError, World
from synthtwin.net.chat import ChatInputError, TodayReader, read_twins
from synthtwin.net.chat.past import fetch_past
from synthtwin.net.chat_service import ChatService
from synthtwin.net.wire import event, reply, topics
from synthtwin.net.wire.chat import (
    CHAT,
    ChatArgsError,
    ChatExchange,
    chat_event,
    read_args,
    read_result,
)
from synthtwin.net.wire.errors import clip
from synthtwin.net.wire.reply import ReplyError

__all__ = ["BUSY_RETRY_MS", "CHAT_TOPIC", "ChatDone", "ChatRefused", "ChatRequests", "Deferred"]

log = logging.getLogger(__name__)

BUSY_RETRY_MS = 100
"""``retry_after_ms`` of a chat refused because ``max_pending`` chats wait (an embedded reply
takes a few milliseconds, so the queue drains within it)."""
CHAT_TOPIC = topics.topic_for("event", event_type=CHAT)
"""``event/chat``."""
PAST_TTL_S = 30.0
"""Seconds a twin's read of its recorded days serves its next chats (of the same simulated day):
a conversation asks again and again, and the record's past days change only when a day closes
(a read just after midnight may miss the day being written, for at most this long)."""
READS_PER_POLL = 2
"""Chats whose twin is read at one poll, at most (about 0.2 ms each on the tick; 60 a second at
30 Hz, the worker's pace, ``net.chat_service.IN_FLIGHT``): a burst of chats spreads over the
next polls instead of lengthening one tick."""
PAST_CACHE = 1024
"""Twins whose last read is kept (least recently asked dropped first; ~3 kB each)."""

Publish = Callable[[bytes, Callable[[int], bytes]], bool]
"""``publish(topic, payload_at)``: send the payload ``payload_at(seq)`` encodes with its sequence
number (``net.server.ZmqServer.publish_health``); whether it went out."""
Fetch = Callable[[Callable[[Any], dict[str, Any]]], "Future[Any]"]
"""``fetch(query)``: run ``query(connection)`` on the health record's query thread; its future
(``net.history_requests.HistoryRequests.fetch``)."""


@dataclass(frozen=True)
class _Reading:
    """A chat whose twin's past days are being read."""

    ticket: int
    twin: dict[str, Any]
    message: str
    conversation_id: str | None
    past: Future[Any]


@dataclass(frozen=True)
class Deferred:
    """A request answered at a later poll: the server keeps its envelope under ``ticket``."""

    ticket: int


@dataclass(frozen=True)
class ChatDone:
    """A finished chat: its ``result`` (the op's result map) or its ``error``."""

    ticket: int
    result: dict[str, Any] | None
    error: ReplyError | None


class ChatRefused(Exception):
    """A chat not queued: bad arguments, or ``rate_limited`` while the worker is full; ``error``
    is the reply's error."""

    def __init__(self, error: ReplyError) -> None:
        super().__init__(error.message)
        self.error = error


class ChatRequests:
    """Chats between the ROUTER and the ``ChatService`` worker (simulation thread only).

    Args:
        service: the worker that composes replies.
        world: the running world (snapshots are taken from it).
        today: ``today(rows)``, the daily record so far (``Simulation.today``).
        publish: where each exchange goes as ``event/chat``; None: nowhere.
        fetch: reads from the health record off the tick (``HistoryRequests.fetch``); None: no
            record kept (replies say so).
    """

    def __init__(
        self,
        service: ChatService,
        world: World,
        today: TodayReader,
        publish: Publish | None = None,
        fetch: Fetch | None = None,
    ) -> None:
        self.service, self.world, self.today, self.publish = service, world, today, publish
        self.fetch = fetch
        self._tickets = itertools.count(1)
        self._asked: dict[int, tuple[int, str]] = {}
        self._queued: deque[tuple[int, int, str, str | None]] = deque()
        """Chats asked and not read yet: (ticket, twin, message, conversation id)."""
        self._reading: deque[_Reading] = deque()
        self._pasts: OrderedDict[int, tuple[date, float, Future[Any]]] = OrderedDict()
        """Twin -> (simulated day, monotonic time, read) of its last read of the record."""

    def submit(self, args: dict[str, Any]) -> Deferred:
        """Check ``args`` and queue the chat (its twin is read at this poll or a next one,
        ``finished``); the ticket of its reply.

        Raises:
            WireError: a missing or mistyped argument; ChatRefused: a value out of range or
            form, or the worker is full; UnknownTwinError: no such twin. Nothing is queued then.
        """
        try:
            checked = read_args(args)
        except ChatArgsError as err:
            raise ChatRefused(ReplyError(err.code, err.message)) from None
        if self.pending >= self.service.max_pending:
            pending = self.service.max_pending
            text = f"{pending} chats are being answered; retry in {BUSY_RETRY_MS} ms"
            raise ChatRefused(ReplyError(reply.RATE_LIMITED, text, BUSY_RETRY_MS))
        self.world.row_of(checked.twin_id)  # an unknown twin is refused now
        ticket = next(self._tickets)
        message, cid = checked.message, checked.conversation_id
        self._queued.append((ticket, checked.twin_id, message, cid))
        self._asked[ticket] = (checked.twin_id, message)
        return Deferred(ticket)

    @property
    def pending(self) -> int:
        """Chats queued, being read or with the worker."""
        return len(self._queued) + len(self._reading) + self.service.pending

    def _read_queued(self) -> list[ChatDone]:
        """Read the twins of up to ``READS_PER_POLL`` queued chats (oldest first, in one read of
        today's record) and start reading their past; the chats whose twin is gone since, as
        ``unknown_twin`` errors, and all of them as ``internal`` errors if the read fails (their
        callers would wait for ever, the server keeping their envelopes)."""
        chats = [self._queued.popleft() for _ in range(min(READS_PER_POLL, len(self._queued)))]
        gone = [c for c in chats if not self._alive(c[1])]
        chats = [c for c in chats if c not in gone]
        refused = [self._refuse(c[0], reply.UNKNOWN_TWIN, f"twin {c[1]} does not exist")
                   for c in gone]  # fmt: skip
        try:
            twins = read_twins(self.world, [c[1] for c in chats], self.today) if chats else []
        except Exception as err:  # noqa: BLE001 - popped, so answered now or never
            log.exception("the twins of chats %s could not be read", [c[0] for c in chats])
            text = f"{type(err).__name__}: {clip(err)}"
            return refused + [self._refuse(c[0], reply.INTERNAL, text) for c in chats]
        for (ticket, twin_id, message, cid), twin in zip(chats, twins, strict=True):
            past = self._read_past(twin_id)
            if past is None:
                self.service.submit(ticket, twin, message, cid)
            else:
                self._reading.append(_Reading(ticket, twin, message, cid, past))
        return refused

    def _refuse(self, ticket: int, code: str, message: str) -> ChatDone:
        """A chat answered with an error before it reached the worker."""
        del self._asked[ticket]
        return ChatDone(ticket, None, ReplyError(code, message))

    def _alive(self, twin_id: int) -> bool:
        try:
            self.world.row_of(twin_id)
        except UnknownTwinError:  # despawned by a request answered after the chat's
            return False
        return True

    def _read_past(self, twin_id: int) -> Future[Any] | None:
        """The read of the twin's past days: the one made for it in the last ``PAST_TTL_S``
        seconds of the same simulated day, else a new one started off the tick; None without a
        record."""
        if self.fetch is None:
            return None
        today, now = self.world.clock.date, time.monotonic()
        cached = self._pasts.get(twin_id)
        if cached is not None and cached[0] == today and now - cached[1] < PAST_TTL_S:
            self._pasts.move_to_end(twin_id)
            return cached[2]
        try:
            past = self.fetch(partial(fetch_past, twin_id=twin_id, today=today))
        except RuntimeError:  # the record's queries are closed (the server is stopping)
            return None
        self._pasts[twin_id] = (today, now, past)
        self._pasts.move_to_end(twin_id)
        if len(self._pasts) > PAST_CACHE:
            self._pasts.popitem(last=False)
        return past

    def _hand_over(self) -> None:
        """Queue on the worker the chats whose past has been read, in the order asked."""
        while self._reading and self._reading[0].past.done():
            chat = self._reading.popleft()
            past = None
            if chat.past.cancelled() or chat.past.exception() is not None:
                error = "cancelled" if chat.past.cancelled() else repr(chat.past.exception())
                log.error("the past days of a chat could not be read: %s", error)
                self._pasts.pop(chat.twin["twin_id"], None)  # read again next time
            else:
                past = chat.past.result()
            self.service.submit(chat.ticket, chat.twin, chat.message, chat.conversation_id,
                                past)  # fmt: skip

    def finished(self) -> list[ChatDone]:
        """The chats done since the last call, oldest first; each exchange published. Hands the
        chats whose past has been read to the worker first."""
        done = self._read_queued()
        self._hand_over()
        for ticket, outcome in self.service.finished():
            twin_id, message = self._asked.pop(ticket)
            if isinstance(outcome, ChatInputError):
                done.append(ChatDone(ticket, None, ReplyError(reply.BAD_REQUEST, str(outcome))))
            elif isinstance(outcome, Exception):
                log.error("chat with twin %d failed: %r", twin_id, outcome)
                text = f"{type(outcome).__name__}: {clip(outcome)}"
                done.append(ChatDone(ticket, None, ReplyError(reply.INTERNAL, text)))
            else:
                done.append(ChatDone(ticket, outcome, None))
                try:
                    self._publish(twin_id, message, outcome)
                except Exception:  # noqa: BLE001 - the reply still goes; only the event is lost
                    log.exception("event/chat of twin %d could not be published", twin_id)
        return done

    def _publish(self, twin_id: int, message: str, answer: dict[str, Any]) -> None:
        """``event/chat`` of one exchange (``answer``: the reply's result), at the world's
        current tick."""
        if self.publish is None:
            return
        exchange = ChatExchange(twin_id, message, read_result(answer))
        tick, t_s = self.world.tick, self.world.clock.elapsed_s

        def payload_at(seq: int) -> bytes:
            return event.encode(chat_event(tick, seq, t_s, exchange))

        self.publish(CHAT_TOPIC, payload_at)
