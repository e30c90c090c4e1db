"""Receiver: a thread that owns the ROUTER socket, so that reading requests (a flood's too) and
sending replies cost the tick thread next to nothing.

Reading a request off the ROUTER in the tick (``recv_multipart``: about 4 us a message in a
loaded tick, and 20-50 us for the last read that finds none) and sending its reply (about 20 us)
were ~0.3 ms of the ~0.65 ms a ``stats`` flood cost each tick (issue #13: one peer sending 1,000
a second, ~33 a tick, 1,000 twins, 2 loaded cores); the rest is answering the ~7 a tick that the
peer's ``router_rate_per_s`` allows. pyzmq releases the GIL inside ``zmq_msg_recv`` and
``zmq_msg_send``, so a thread does that beside the tick, mostly while the tick thread waits for
the next tick: the request phase (``ZmqServer.poll``) went from ~605 us to ~440 us a tick under
the flood, and from ~125 us to ~85 us on a quiet server (medians of paired windows, loaded).

ZeroMQ sockets are not thread-safe, so the ``Receiver`` does everything on the ROUTER: it reads
the waiting requests into an inbox of at most ``max_waiting`` (beyond, they wait in the socket,
as they did), which the tick thread takes one by one (``take``) and answers as before: decoding,
the per-peer rate limit and its mute (a muted peer's request is dropped unread), the token, the
time budget and ``max_requests_per_tick`` all stay the tick thread's (``net.server``,
``net.requests``). The tick thread hands each reply back (``reply``; a deferred ``chat`` reply
whenever it is ready) and the thread sends it without blocking (a peer that does not read:
``refused``). The thread sleeps in ``zmq.Poller.poll`` on the ROUTER (while the inbox has room)
and an inproc PAIR pipe; ``wake`` (once a poll, when the tick thread took or handed anything)
sends a byte on it, so that replies go out and reading resumes at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque

import zmq

__all__ = ["Receiver", "Request"]

Request = tuple[list[bytes], bytes]
"""A request as read: its envelope (the peer's identity first) and its payload (the last frame)."""
IDLE_MS = 100
"""Longest sleep of the thread between looks at its stop flag, ms."""


class Receiver:
    """A thread that owns a ROUTER socket: reads requests into an inbox, sends replies handed
    back.

    Args:
        context: the context of ``router`` (for the wake pipe).
        router: the bound ROUTER socket; it belongs to this thread until ``close``.
        max_waiting: requests read ahead into the inbox, at most.

    Attributes:
        answered: replies ZeroMQ took; refused: those the ROUTER refused (a peer that does not
            read, at its high-water mark, or gone).
    """

    def __init__(self, context: zmq.Context, router: zmq.Socket, max_waiting: int) -> None:
        self.router = router
        self.max_waiting = max_waiting
        self.answered = 0
        self.refused = 0
        self._inbox: deque[Request] = deque()
        self._outbox: deque[Request] = deque()
        address = f"inproc://synthtwin-receiver-{id(self)}"
        self._woken = context.socket(zmq.PAIR)
        self._woken.bind(address)
        self._waker = context.socket(zmq.PAIR)
        self._waker.connect(address)
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="synthtwin-receiver", daemon=True)
        self._thread.start()

    def __len__(self) -> int:
        """Requests read and not yet taken."""
        return len(self._inbox)

    def take(self) -> Request | None:
        """The oldest request read and not yet taken, or None."""
        return self._inbox.popleft() if self._inbox else None

    def reply(self, envelope: list[bytes], payload: bytes) -> None:
        """Queue a reply to the request of ``envelope`` (sent after the next ``wake``)."""
        self._outbox.append((envelope, payload))

    def wake(self) -> None:
        """Have the thread send the replies queued and read into the room taken; never blocks."""
        with contextlib.suppress(zmq.Again):  # the pipe is full of wakes not read yet: awake
            self._waker.send(b"", zmq.NOBLOCK)

    def close(self) -> None:
        """Stop and join the thread, once it has sent the replies queued (without blocking); then
        the ROUTER may be closed. Closing again does nothing."""
        if self._waker.closed:
            return
        self._stop = True
        self.wake()
        self._thread.join()
        self._waker.close(linger=0)
        self._woken.close(linger=0)

    def _run(self) -> None:
        reading, waiting = zmq.Poller(), zmq.Poller()
        for poller in (reading, waiting):
            poller.register(self._woken, zmq.POLLIN)
        reading.register(self.router, zmq.POLLIN)
        while not self._stop:
            (reading if len(self._inbox) < self.max_waiting else waiting).poll(IDLE_MS)
            self._drain_wakes()
            self._send()
            self._read()
        self._send()

    def _drain_wakes(self) -> None:
        with contextlib.suppress(zmq.Again):
            while True:
                self._woken.recv(zmq.NOBLOCK)

    def _send(self) -> None:
        while self._outbox:
            envelope, payload = self._outbox.popleft()
            try:
                self.router.send_multipart([*envelope, payload], zmq.NOBLOCK)
                self.answered += 1
            except zmq.ZMQError:  # Again: a peer at its high-water mark; else: this reply lost
                self.refused += 1

    def _read(self) -> None:
        for _ in range(self.max_waiting - len(self._inbox)):
            try:
                frames = self.router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._inbox.append((frames[:-1], frames[-1]))
