"""Links: how the publisher's messages reach its XPUB sockets, in the tick thread or beside it.

libzmq hands each message to every matching subscriber's pipe in the *sending* thread: with 200
subscribers of everything, each of a tick's ~50 messages costs ~200 pipe writes, all in the tick
(issue #13: the tick's p99 1.25x with 200 stalled subscribers). A ``Sender`` moves that work to a
thread of its own; pyzmq releases the GIL inside ``zmq_msg_send``, so it runs beside the next
tick (or while the tick thread waits between ticks).

ZeroMQ sockets are not thread-safe, so a ``Sender`` does everything on its sockets: it sends the
messages each tick hands over (``hand_over``: queued, at most ``SENDER_TICKS`` ticks; past that
the oldest tick is dropped whole and counted, ``dropped``, so that the tick never blocks), and it
reads the sockets' subscription messages, which the tick thread takes (``subscriptions``) and
applies to its own ``TwinFollows``: the follow state is only ever touched by the tick thread.

Cores: the sender thread is one of the process's threads that ``cores_for_the_gateway``
(``engine.app.serve``) pins to the simulation's cores (only ZeroMQ's own ``ZMQbg*`` threads are
left free): its Python part needs the GIL the tick thread holds, so another core would gain it
little, and the gateway's cores stay the gateway's. It sends as soon as a tick hands over, mostly
while the tick thread waits for the next tick.

An outbox may also hold *encodings*: a function that returns messages, called by the link in its
thread where it stands in the outbox, its messages sent in its place. The publisher hands over the
per-twin messages this way (poses, shapes, each twin's own vitals: a state gathered in the tick,
the poses sampled and all encoded here), so that a client following many twins costs the tick
the gather alone. The encoding's seqs are taken in the tick, so the wire order is the tick's.
An encoding that fails (a bug) is skipped, counted (``failed``) and logged, and the thread goes
on; its seqs never go out.

A ``DirectLink`` sends in the calling thread, as the publisher did before: for a publisher used
without a server (tests, benchmarks), whose caller owns the sockets.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

import zmq

__all__ = ["SENDER_TICKS", "DirectLink", "Encoding", "Message", "Outbox", "Sender"]

log = logging.getLogger(__name__)

Message = tuple[bytes, bytes]
"""``(topic, payload)``."""
Encoding = Callable[[], list[Message]]
"""Messages encoded by the link's thread, when it reaches them."""
Outbox = list[Message | Encoding]
"""A tick's messages for one socket, in order: each a message or an encoding of some."""
SENDER_TICKS = 8
"""Ticks' messages waiting for the sender thread, at most (about 0.27 s at 30 Hz)."""
LOG_FAILED_EVERY = 1000
"""A failing encoding is logged the first time and every this many failures after."""
IDLE_S = 0.1
"""Wall seconds the sender waits for a tick before it reads the subscriptions anyway (a paused
server); a ticking one has them read after each tick's sends, once a tick as before, without
waking the thread (and taking the GIL) between ticks."""


class DirectLink:
    """Sends each hand-over at once in the calling thread, and reads the subscriptions when asked.

    Args:
        socket: the main XPUB socket.
        health_socket: the XPUB socket of the health topics, or None.
        max_subscriptions: subscription messages read from one socket per call, at most.

    Attributes:
        sent: messages ZeroMQ took; refused: those it refused (only with ``ZMQ_XPUB_NODROP``;
            by default it drops at the high-water mark without a word).
        dropped: ticks dropped whole unsent; always 0 here (each is sent when handed over).
        failed: encodings that raised (their messages unsent: their seqs never go out).
    """

    def __init__(
        self, socket: zmq.Socket, health_socket: zmq.Socket | None, max_subscriptions: int
    ) -> None:
        self.sockets = (socket, health_socket)
        self.max_subscriptions = max_subscriptions
        self.sent = 0
        self.refused = 0
        self.dropped = 0
        self.failed = 0

    def hand_over(self, main: Outbox, health: Outbox, between_ticks: bool = False) -> None:
        """Send ``main`` on the main socket and ``health`` on the health socket (the lists are
        not kept: the caller may clear them). ``between_ticks``: see ``Sender.hand_over``."""
        self._send(main, health)

    def subscriptions(self, health: bool) -> list[bytes]:
        """The subscription messages waiting on the (``health``) socket, at most
        ``max_subscriptions``."""
        socket = self.sockets[health]
        return [] if socket is None else _receive(socket, self.max_subscriptions)

    def close(self) -> None:
        """Nothing to stop: the caller closes the sockets."""

    def _send(self, main: Outbox, health: Outbox) -> None:
        for socket, outbox in zip(self.sockets, (main, health), strict=True):
            for entry in outbox:
                for topic, payload in self._messages(entry):
                    try:
                        socket.send_multipart([topic, payload], flags=zmq.NOBLOCK, copy=False)
                        self.sent += 1
                    except zmq.Again:
                        self.refused += 1

    def _messages(self, entry: Message | Encoding) -> list[Message] | tuple[Message]:
        """The messages of an outbox entry: itself, or what the encoding returns; none if it
        raises (a bug: logged with its traceback the first time and every ``LOG_FAILED_EVERY``
        after, not 30 times a second, and the sends go on)."""
        if not callable(entry):
            return (entry,)
        try:
            return entry()
        except Exception:
            self.failed += 1
            if self.failed % LOG_FAILED_EVERY == 1:
                log.exception("encodings handed to the sender failed (%d so far); their "
                              "messages are not sent", self.failed)  # fmt: skip
            return []


class Sender(DirectLink):
    """A thread that owns the XPUB sockets: sends the ticks handed over, reads subscriptions.

    Args: as ``DirectLink``'s; the sockets belong to this thread until ``close``.

    Attributes:
        dropped: ticks dropped whole because ``SENDER_TICKS`` were already waiting (the
            ``stats`` op's ``unsent_ticks``).
    """

    def __init__(
        self, socket: zmq.Socket, health_socket: zmq.Socket | None, max_subscriptions: int
    ) -> None:
        super().__init__(socket, health_socket, max_subscriptions)
        self._ticks: deque[tuple[Outbox, Outbox]] = deque()
        self._inbox: tuple[deque[bytes], deque[bytes]] = (deque(), deque())
        self._ready = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="synthtwin-sender", daemon=True)
        self._thread.start()

    def hand_over(self, main: Outbox, health: Outbox, between_ticks: bool = False) -> None:
        """Queue a tick's messages (copied) for the thread; never blocks: with ``SENDER_TICKS``
        waiting, the oldest is dropped. ``between_ticks``: messages sent between ticks (health
        data, one at a time) join the newest tick still waiting, so that a burst of them
        cannot push ticks out."""
        with self._ready:
            if between_ticks and self._ticks:
                self._ticks[-1][0].extend(main)
                self._ticks[-1][1].extend(health)
            else:
                if len(self._ticks) >= SENDER_TICKS:
                    self._ticks.popleft()
                    self.dropped += 1
                self._ticks.append((list(main), list(health)))
            self._ready.notify()

    def subscriptions(self, health: bool) -> list[bytes]:
        """The subscription messages the thread read from the (``health``) socket since the last
        call, in order (at most ``max_subscriptions``: the thread reads no more until taken)."""
        inbox = self._inbox[health]
        return [inbox.popleft() for _ in range(len(inbox))]

    def close(self) -> None:
        """Stop and join the thread, once it has sent what was handed over (without blocking);
        then the sockets may be closed."""
        with self._ready:
            self._stop = True
            self._ready.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._ready:
                if not self._ticks and not self._stop:
                    self._ready.wait(IDLE_S)
                ticks, stop = list(self._ticks), self._stop
                self._ticks.clear()
            for main, health in ticks:
                self._send(main, health)
            if stop:
                return
            self._read()

    def _read(self) -> None:
        for socket, inbox in zip(self.sockets, self._inbox, strict=True):
            if socket is not None:
                inbox.extend(_receive(socket, self.max_subscriptions - len(inbox)))


def _receive(socket: zmq.Socket, most: int) -> list[bytes]:
    """At most ``most`` waiting subscription messages of ``socket`` (empty ones skipped)."""
    messages = []
    for _ in range(most):
        try:
            message = socket.recv(zmq.NOBLOCK)
        except zmq.Again:
            break
        if message:
            messages.append(message)
    return messages
