"""The sender thread (``net.sender.Sender``) owns the XPUB sockets: what the tick hands over goes
out in order on the right socket, subscriptions come back to the tick thread, a sender that falls
behind drops whole old ticks and counts them, and ``close`` stops it. Real XPUB and SUB sockets
on 127.0.0.1; every wait is bounded. A served world reports the dropped ticks in ``stats``
(``unsent_ticks``)."""

from __future__ import annotations

import threading
import time

import pytest
import zmq

from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from synthtwin.net.sender import SENDER_TICKS, Sender
from synthtwin.net.wire.dealer import RequestClient
from tests.loopback import loopback

WAIT_S = 5.0


class Pair:
    """A main and a health XPUB, a sender thread owning them, and a SUB of everything on each."""

    def __init__(self) -> None:
        self.context = zmq.Context()
        self.xpubs = [self.context.socket(zmq.XPUB) for _ in range(2)]
        self.subs = [self.context.socket(zmq.SUB) for _ in range(2)]
        for xpub, sub in zip(self.xpubs, self.subs, strict=True):
            xpub.bind(loopback())
            sub.connect(xpub.getsockopt_string(zmq.LAST_ENDPOINT))
            sub.subscribe(b"")
        self.sender = Sender(*self.xpubs, max_subscriptions=100)

    def subscriptions(self, health: bool, count: int) -> list[bytes]:
        """The next ``count`` subscription messages the sender read from one socket."""
        got: list[bytes] = []
        deadline = time.monotonic() + WAIT_S
        while len(got) < count and time.monotonic() < deadline:
            got += self.sender.subscriptions(health)
            time.sleep(0.005)
        return got

    def receive(self, health: bool, count: int) -> list[list[bytes]]:
        sub = self.subs[health]
        frames = []
        for _ in range(count):
            assert sub.poll(int(WAIT_S * 1000)), "a handed-over message did not arrive"
            frames.append(sub.recv_multipart())
        return frames

    def close(self) -> None:
        self.sender.close()
        for sock in (*self.subs, *self.xpubs):
            sock.close(linger=0)
        self.context.term()


@pytest.fixture
def pair():
    made = Pair()
    # both SUBs' subscriptions have reached the XPUBs (read by the thread) before anything is sent
    assert made.subscriptions(False, 1) == [b"\x01"]
    assert made.subscriptions(True, 1) == [b"\x01"]
    yield made
    made.close()


def test_each_tick_goes_out_in_order_on_its_socket(pair):
    pair.sender.hand_over([(b"a", b"1"), (b"b", b"2")], [(b"v", b"3")])
    pair.sender.hand_over([(b"c", b"4")], [])
    assert pair.receive(False, 3) == [[b"a", b"1"], [b"b", b"2"], [b"c", b"4"]]
    assert pair.receive(True, 1) == [[b"v", b"3"]]
    deadline = time.monotonic() + WAIT_S  # counted just after the send the SUB saw
    while pair.sender.sent < 4 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert pair.sender.sent == 4 and pair.sender.dropped == 0


def test_the_lists_handed_over_may_be_reused_at_once(pair):
    outbox = [(b"a", b"1")]
    pair.sender.hand_over(outbox, [])
    outbox.clear()
    outbox.append((b"b", b"2"))
    pair.sender.hand_over(outbox, [])
    assert pair.receive(False, 2) == [[b"a", b"1"], [b"b", b"2"]]


def test_an_encoding_runs_in_the_sender_thread_and_its_messages_go_in_its_place(pair):
    threads = []

    def encoding() -> list[tuple[bytes, bytes]]:
        threads.append(threading.current_thread())
        return [(b"e", b"1"), (b"e", b"2")]

    pair.sender.hand_over([(b"a", b"0"), encoding, (b"z", b"3")], [encoding])
    assert pair.receive(False, 4) == [[b"a", b"0"], [b"e", b"1"], [b"e", b"2"], [b"z", b"3"]]
    assert pair.receive(True, 2) == [[b"e", b"1"], [b"e", b"2"]]
    assert threads == [pair.sender._thread] * 2


def test_a_failing_encoding_is_counted_logged_once_and_the_rest_still_goes(pair, caplog):
    def broken() -> list[tuple[bytes, bytes]]:
        raise ValueError("root translation must be finite")

    for _ in range(3):  # as a bad row would, every tick
        pair.sender.hand_over([broken, (b"z", b"1")], [])
    pair.sender.hand_over([(b"y", b"2")], [])
    assert pair.receive(False, 4) == [[b"z", b"1"]] * 3 + [[b"y", b"2"]]
    assert pair.sender._thread.is_alive() and pair.sender.failed == 3
    assert caplog.text.count("encodings handed to the sender failed") == 1
    assert "(1 so far)" in caplog.text and "root translation must be finite" in caplog.text


def test_subscriptions_come_back_in_order_for_the_tick_thread(pair):
    sub = pair.context.socket(zmq.SUB)
    try:
        sub.connect(pair.xpubs[0].getsockopt_string(zmq.LAST_ENDPOINT))
        sub.subscribe(b"twin/7/")
        sub.subscribe(b"twin/8/")
        sub.unsubscribe(b"twin/7/")
        assert pair.subscriptions(False, 3) == [b"\x01twin/7/", b"\x01twin/8/", b"\x00twin/7/"]
        assert pair.sender.subscriptions(True) == []
    finally:
        sub.close(linger=0)


def test_a_sender_behind_drops_whole_old_ticks_and_never_blocks(pair):
    extra = 3
    with pair.sender._ready:  # the thread cannot take anything while the test holds its lock
        for tick in range(SENDER_TICKS + extra):
            pair.sender.hand_over([(b"t", bytes([tick])), (b"u", bytes([tick]))], [])
    assert pair.sender.dropped == extra
    kept = [bytes([tick]) for tick in range(extra, SENDER_TICKS + extra) for _ in range(2)]
    assert [payload for _, payload in pair.receive(False, 2 * SENDER_TICKS)] == kept
    assert not pair.subs[0].poll(100), "a dropped tick went out"


def test_messages_between_ticks_join_the_newest_tick_waiting_and_push_none_out(pair):
    with pair.sender._ready:
        for tick in range(SENDER_TICKS):
            pair.sender.hand_over([(b"t", bytes([tick]))], [])
        for alert in range(3 * SENDER_TICKS):
            pair.sender.hand_over([], [(b"a", bytes([alert]))], between_ticks=True)
    assert pair.sender.dropped == 0
    ticks = [payload for _, payload in pair.receive(False, SENDER_TICKS)]
    assert ticks == [bytes([tick]) for tick in range(SENDER_TICKS)]
    alerts = [payload for _, payload in pair.receive(True, 3 * SENDER_TICKS)]
    assert alerts == [bytes([alert]) for alert in range(3 * SENDER_TICKS)]


def test_close_sends_what_was_handed_over_then_stops_the_thread(pair):
    pair.sender.hand_over([(b"a", b"1")], [(b"v", b"2")])
    pair.sender.close()  # and again in the fixture: closing twice is harmless
    assert not pair.sender._thread.is_alive()
    assert pair.receive(False, 1) == [[b"a", b"1"]]
    assert pair.receive(True, 1) == [[b"v", b"2"]]


def test_a_served_world_reports_the_ticks_its_sender_dropped_in_stats(tmp_path):
    serve = {"pub_endpoint": loopback(), "router_endpoint": loopback(), "http_enabled": False,
             "checkpoint": tmp_path / "w.ckpt"}  # fmt: skip
    serving = Serving(load_config(None, serve=serve, twins=20, tick_hz=30.0))
    thread = threading.Thread(target=serving.run, daemon=True)
    thread.start()
    try:
        sender = serving.server.publisher.link
        with RequestClient(serving.server.endpoints["router"], timeout_s=WAIT_S) as client:
            assert client.call("stats")["unsent_ticks"] == 0
            extra = 3
            with sender._ready:  # the thread takes nothing (and the tick waits) meanwhile
                expected = sender.dropped + len(sender._ticks) + extra
                for tick in range(SENDER_TICKS + extra):
                    sender.hand_over([(b"test/", bytes([tick]))], [])
            assert sender.dropped == expected
            deadline = time.monotonic() + WAIT_S  # a stats of the same tick may be cached
            while client.call("stats")["unsent_ticks"] != expected:
                assert time.monotonic() < deadline, "stats never reported the dropped ticks"
                time.sleep(0.05)
    finally:
        serving.stop.set()
        thread.join(timeout=20)
