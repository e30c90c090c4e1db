"""ChatService: replies composed on a worker thread, collected in order, bounded."""

from __future__ import annotations

import threading
import time

import pytest

from synthtwin.net.chat import ChatEngine, ChatReply, take_snapshot
from synthtwin.net.chat_service import ChatService
from tests.conftest import small_simulation


@pytest.fixture(scope="module")
def sim():
    sim = small_simulation(twins=20, seed=2)
    sim.loop.run_ticks(9 * 60)
    yield sim
    sim.close()


def _collect(service: ChatService, count: int) -> list:
    done: list = []
    deadline = time.monotonic() + 10
    while len(done) < count and time.monotonic() < deadline:
        done += service.finished()
        time.sleep(0.005)
    return done


def test_replies_come_back_in_order_with_the_engines_own_answers(sim):
    engine = ChatEngine()
    service = ChatService(engine)
    ids = sim.world.ids[:3].tolist()
    snapshots = [take_snapshot(sim.world, i, sim.today) for i in ids]
    for i, snapshot in zip(ids, snapshots, strict=True):
        assert service.submit(i, snapshot, "what is your heart rate?", f"c{i}")
    done = _collect(service, 3)
    assert [key for key, _ in done] == ids
    for (key, reply), snapshot in zip(done, snapshots, strict=True):
        assert isinstance(reply, ChatReply) and reply.intent == "vitals"
        direct = ChatEngine().reply(snapshot, "what is your heart rate?", f"c{key}")
        assert reply.reply == direct.reply
    service.close()


def test_a_slow_engine_never_blocks_the_caller_and_the_queue_is_bounded(sim):
    release = threading.Event()

    class Slow(ChatEngine):
        def reply(self, *args, **kwargs):
            release.wait(5)
            return super().reply(*args, **kwargs)

    service = ChatService(Slow(), max_pending=2)
    snapshot = take_snapshot(sim.world, int(sim.world.ids[0]), sim.today)
    started = time.perf_counter()
    assert service.submit("a", snapshot, "hello", None)
    assert service.submit("b", snapshot, "hello", None)
    assert not service.submit("c", snapshot, "hello", None), "a third waits for room"
    assert service.finished() == [] and time.perf_counter() - started < 0.1
    release.set()
    assert [key for key, _ in _collect(service, 2)] == ["a", "b"]
    assert service.pending == 0
    service.close()


def test_an_engine_error_is_handed_back_not_raised(sim):
    class Broken(ChatEngine):
        def reply(self, *args, **kwargs):
            raise ValueError("no")

    service = ChatService(Broken())
    snapshot = take_snapshot(sim.world, int(sim.world.ids[0]), sim.today)
    service.submit("x", snapshot, "hello", None)
    ((key, error),) = _collect(service, 1)
    assert key == "x" and isinstance(error, ValueError)
    service.close()
