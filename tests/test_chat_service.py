"""ChatService: replies composed in a worker process, collected in order, bounded, and a worker
that dies replaced."""

from __future__ import annotations

import os
import time

import pytest

from synthtwin.net.chat import ChatEngine, TwinSnapshot, read_twin
from synthtwin.net.chat_service import WORKER_NICENESS, ChatService, WorkerDied
from tests.chat.engines import RELEASE, Broken, Garbled, Mortal, Slow
from tests.conftest import small_simulation


@pytest.fixture(scope="module")
def sim():
    sim = small_simulation(twins=20, seed=2)
    sim.loop.run_ticks(9 * 60)
    yield sim
    sim.close()


def _collect(service: ChatService, count: int) -> list:
    done: list = []
    deadline = time.monotonic() + 30
    while len(done) < count and time.monotonic() < deadline:
        done += service.finished()
        time.sleep(0.005)
    return done


def test_replies_come_back_in_order_with_the_engines_own_answers(sim):
    service = ChatService()
    try:
        ids = sim.world.ids[:3].tolist()
        twins = [read_twin(sim.world, i, sim.today) for i in ids]
        for i, twin in zip(ids, twins, strict=True):
            assert service.submit(i, twin, "what is your heart rate?", f"c{i}")
        done = _collect(service, 3)
        assert [key for key, _ in done] == ids and service.submitted == 3
        for (key, reply), twin in zip(done, twins, strict=True):
            assert reply["intent"] == "vitals"
            snapshot = TwinSnapshot.from_dict(twin)
            direct = ChatEngine().reply(snapshot, "what is your heart rate?", f"c{key}")
            assert reply == direct.to_dict(), "the worker makes the facts as the engine does"
        follow = read_twin(sim.world, ids[0], sim.today)
        service.submit("again", follow, "and your blood pressure?", f"c{ids[0]}")
        ((_, reply),) = _collect(service, 1)
        assert reply["intent"] == "vitals", "the worker keeps the conversation"
    finally:
        service.close()


def test_the_worker_runs_below_the_server_and_a_slow_engine_never_blocks(
    sim, tmp_path, monkeypatch
):
    monkeypatch.setenv(RELEASE, str(tmp_path / "go"))
    service = ChatService(max_pending=2, engine=Slow)
    try:
        worker = service.ready(timeout_s=30)
        assert os.getpriority(os.PRIO_PROCESS, worker) - os.getpriority(os.PRIO_PROCESS, 0) == (
            WORKER_NICENESS
        )
        snapshot = read_twin(sim.world, int(sim.world.ids[0]), sim.today)
        started = time.perf_counter()
        assert service.submit("a", snapshot, "hello", None)
        assert service.submit("b", snapshot, "hello", None)
        assert not service.submit("c", snapshot, "hello", None), "a third waits for room"
        assert service.finished() == [] and time.perf_counter() - started < 0.1
        (tmp_path / "go").touch()
        assert [key for key, _ in _collect(service, 2)] == ["a", "b"]
        assert service.pending == 0
    finally:
        service.close()


def test_an_engine_error_is_handed_back_not_raised(sim):
    service = ChatService(engine=Broken)
    try:
        snapshot = read_twin(sim.world, int(sim.world.ids[0]), sim.today)
        service.submit("x", snapshot, "hello", None)
        ((key, error),) = _collect(service, 1)
        assert key == "x" and isinstance(error, ValueError) and str(error) == "no"
    finally:
        service.close()


def test_a_worker_that_dies_is_replaced(sim):
    service = ChatService(engine=Mortal)
    try:
        snapshot = read_twin(sim.world, int(sim.world.ids[0]), sim.today)
        service.submit("dead", snapshot, "die", None)
        ((_, error),) = _collect(service, 1)
        assert isinstance(error, WorkerDied) and "exit code 1" in str(error)
        assert service.submit("alive", snapshot, "hello", None)
        ((key, reply),) = _collect(service, 1)
        assert key == "alive" and reply["intent"] == "greeting"
    finally:
        service.close()


def test_a_reply_the_server_cannot_read_is_handed_back_as_an_error(sim):
    """An error that pickles in the worker but does not unpickle here (``__init__`` with other
    arguments than its ``args``) fails its own chat only: ``finished`` never raises (it runs in
    the simulation thread's poll), and the next chat is answered."""
    service = ChatService(engine=Garbled)
    try:
        snapshot = read_twin(sim.world, int(sim.world.ids[0]), sim.today)
        service.submit("garbled", snapshot, "garble", None)
        service.submit("fine", snapshot, "hello", None)
        (key, error), (after, reply) = _collect(service, 2)
        assert key == "garbled" and isinstance(error, RuntimeError)
        assert "_TwoArgs" in str(error) and "bad: reply" in str(error)
        assert after == "fine" and reply["intent"] == "greeting"
    finally:
        service.close()
