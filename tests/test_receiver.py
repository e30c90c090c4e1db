"""The receiver thread (``net.receiver.Receiver``) owns the ROUTER: it reads requests ahead in
order, at most ``max_waiting`` (the rest wait in the socket until the tick takes some), sends the
replies handed back to their peers, and ``close`` sends what was handed over, then stops it.
Real ROUTER and DEALER sockets on 127.0.0.1; every wait is bounded."""

from __future__ import annotations

import time

import pytest
import zmq

from synthtwin.net.receiver import Receiver
from tests.loopback import loopback

WAIT_S = 5.0


class Bench:
    """A ROUTER owned by a receiver thread, and two DEALER peers connected to it."""

    def __init__(self, max_waiting: int) -> None:
        self.context = zmq.Context()
        self.router = self.context.socket(zmq.ROUTER)
        self.router.bind(loopback())
        endpoint = self.router.getsockopt_string(zmq.LAST_ENDPOINT)
        self.dealers = [self.context.socket(zmq.DEALER) for _ in range(2)]
        for number, dealer in enumerate(self.dealers):
            dealer.setsockopt(zmq.IDENTITY, b"peer-%d" % number)
            dealer.connect(endpoint)
        self.receiver = Receiver(self.context, self.router, max_waiting)

    def waiting(self, count: int) -> int:
        """Requests read ahead once ``count`` are, or ``WAIT_S`` passed."""
        deadline = time.monotonic() + WAIT_S
        while len(self.receiver) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        return len(self.receiver)

    def close(self) -> None:
        self.receiver.close()
        for sock in (*self.dealers, self.router):
            sock.close(linger=0)
        self.context.term()


@pytest.fixture
def bench():
    made = Bench(max_waiting=4)
    yield made
    made.close()


def test_requests_are_read_ahead_in_order_with_their_peers(bench):
    bench.dealers[0].send(b"a")
    bench.dealers[1].send(b"b")
    bench.dealers[0].send_multipart([b"", b"c"])  # a REQ-style envelope: the last frame counts
    assert bench.waiting(3) == 3
    assert [bench.receiver.take() for _ in range(3)] == [
        ([b"peer-0"], b"a"), ([b"peer-1"], b"b"), ([b"peer-0", b""], b"c")
    ]  # fmt: skip
    assert bench.receiver.take() is None


def test_replies_go_back_to_their_peers_once_woken(bench):
    bench.dealers[1].send(b"question")
    bench.waiting(1)
    envelope, payload = bench.receiver.take()
    bench.receiver.reply(envelope, payload + b"?")
    bench.receiver.wake()
    assert bench.dealers[1].poll(int(WAIT_S * 1000)), "the reply did not arrive"
    assert bench.dealers[1].recv() == b"question?"
    assert not bench.dealers[0].poll(50)
    assert bench.receiver.answered == 1 and bench.receiver.refused == 0


def test_at_most_max_waiting_are_read_ahead_and_reading_resumes_when_taken(bench):
    for number in range(10):
        bench.dealers[0].send(bytes([number]))
    assert bench.waiting(4) == 4
    time.sleep(0.1)  # the six others wait in the socket
    assert len(bench.receiver) == 4
    taken = [bench.receiver.take()[1] for _ in range(4)]
    bench.receiver.wake()
    assert bench.waiting(4) == 4
    taken += [bench.receiver.take()[1] for _ in range(4)]
    bench.receiver.wake()
    assert bench.waiting(2) == 2
    taken += [bench.receiver.take()[1] for _ in range(2)]
    assert taken == [bytes([number]) for number in range(10)]


def test_close_sends_the_replies_handed_over_then_stops_the_thread(bench):
    bench.receiver.reply([b"peer-0"], b"last")
    bench.receiver.close()  # and again in the fixture: closing twice is harmless
    assert not bench.receiver._thread.is_alive()
    assert bench.dealers[0].poll(int(WAIT_S * 1000)) and bench.dealers[0].recv() == b"last"
