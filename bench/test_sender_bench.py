"""What handing a tick's messages over costs the tick thread, with 200 stalled subscribers (issue
#13): sent in the tick (``DirectLink``, the peer: libzmq writes each message to every subscriber's
pipe in the sending thread) against handed to the sender thread (``Sender``).

An XPUB on 127.0.0.1, 200 SUB sockets of everything in another process that never read (their
pipes full, as in ``bench/test_serve_security_bench.py``'s ``stalled_200``) and one tick's
``MESSAGES`` messages of ``PAYLOAD_BYTES``. Each round hands one tick over while the sender is
idle, as a 30 Hz tick finds it (the round's setup waits until it has sent the tick before).

Run: ``.venv/bin/python -m pytest bench/test_sender_bench.py --benchmark-enable``.
"""

from __future__ import annotations

import time

import pytest
import zmq

from bench.test_serve_security_bench import _client, _stop
from synthtwin.net.sender import DirectLink, Sender
from tests.loopback import loopback

MESSAGES = 50
"""Messages of one tick at 1,000 twins, about."""
PAYLOAD_BYTES = 400
STALLED = 200
SETTLE_S = 1.0
"""Wall seconds for the stalled subscribers' pipes to fill, over ``WARM_TICKS`` ticks."""
WARM_TICKS = 100


@pytest.fixture(scope="module")
def stalled_xpub():
    """A bound XPUB with ``STALLED`` subscribers of everything that never read."""
    context = zmq.Context()
    xpub = context.socket(zmq.XPUB)
    xpub.setsockopt(zmq.LINGER, 0)
    xpub.bind(loopback())
    clients = [_client("stalled", xpub.getsockopt_string(zmq.LAST_ENDPOINT), 120, STALLED)]
    try:
        yield xpub
    finally:
        _stop(clients)
        xpub.close(linger=0)
        context.term()


@pytest.mark.parametrize("kind", ["direct", "sender"])
def test_handing_a_tick_over(benchmark, stalled_xpub, kind):
    benchmark.group = "sender-hand-over"
    tick = [(b"cell/%d/0/crowd" % i, bytes(PAYLOAD_BYTES)) for i in range(MESSAGES)]
    link = (Sender if kind == "sender" else DirectLink)(stalled_xpub, None, 100)
    handed = [0]

    def hand_over() -> None:
        handed[0] += 1
        link.hand_over(tick, [])

    def idle() -> None:
        """Until the ticks handed over went out (at once with ``DirectLink``)."""
        deadline = time.monotonic() + 1.0
        while link.sent < MESSAGES * handed[0] and time.monotonic() < deadline:
            time.sleep(0.0002)

    try:
        for _ in range(WARM_TICKS):  # the pipes fill, as a stalled subscriber's do
            hand_over()
            time.sleep(SETTLE_S / WARM_TICKS)
        idle()
        benchmark.pedantic(hand_over, setup=idle, rounds=3 if benchmark.disabled else 300)
        idle()
    finally:
        link.close()
    assert link.sent == MESSAGES * handed[0], "a tick handed over did not go out"
