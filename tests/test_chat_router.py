"""The ROUTER ``chat`` op and ``event/chat``: a real server on loopback ZeroMQ, deferred replies,
bad arguments refused with nothing changed, a full worker answered ``rate_limited``."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import msgpack
import pytest
import zmq

from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from synthtwin.net.chat import ChatEngine, numbers_in, take_snapshot
from synthtwin.net.chat_requests import READS_PER_POLL, ChatDone, ChatRequests, Deferred
from synthtwin.net.chat_service import ChatService
from synthtwin.net.requests import Controls, RequestHandler
from synthtwin.net.server import ZmqServer
from synthtwin.net.wire import event, reply, request
from synthtwin.net.wire.chat import MAX_MESSAGE_CHARS, read_event, read_result
from synthtwin.net.wire.curve import CurveKeys
from synthtwin.net.wire.dealer import RequestClient, RequestError
from tests.conftest import small_simulation
from tests.loopback import loopback
from tests.test_zmq_security import credentials, secured_config, start, stop, subscriber

TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def serving(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chat")
    config = load_config(
        None,
        serve={"pub_endpoint": loopback(), "router_endpoint": loopback(),
               "checkpoint": folder / "w.ckpt", "http_enabled": False},
        twins=50, tick_hz=30, time_scale=60,
    )  # fmt: skip
    serving = Serving(config)
    thread = threading.Thread(target=serving.run, daemon=True)
    thread.start()
    yield serving
    serving.stop.set()
    thread.join(timeout=20)
    assert not thread.is_alive()


@pytest.fixture
def client(serving):
    client = RequestClient(serving.config.serve.router_endpoint, TIMEOUT_S)
    yield client
    client.close()


def _live(sub: zmq.Socket, prefix: bytes) -> None:
    """Wait until ``sub`` receives a message of ``prefix``, a topic published all the time: its
    subscriptions (in order, ``prefix`` last) have then reached the XPUB, however loaded the
    machine (a fixed sleep missed the first event now and then)."""
    sub.setsockopt(zmq.SUBSCRIBE, prefix)
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if sub.poll(100) and sub.recv_multipart()[0].startswith(prefix):
            return
    raise AssertionError(f"no {prefix!r} message within {TIMEOUT_S} s")


def _next_event(sub: zmq.Socket, topic: bytes) -> bytes:
    """The payload of the next ``topic`` message (others skipped), waiting ``TIMEOUT_S``."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if sub.poll(100):
            got, payload = sub.recv_multipart()
            if got == topic:
                return payload
    raise AssertionError(f"no {topic!r} message within {TIMEOUT_S} s")


def _chat_events(serving):
    """A SUB of ``event/chat`` on the server's PUB (open access), subscribed for sure."""
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"event/chat")
    sub.connect(serving.config.serve.pub_endpoint)
    _live(sub, b"cell/")
    return sub


def test_a_chat_is_answered_grounded_and_published_as_an_event(serving, client):
    twin = int(serving.sim.world.ids[3])
    sub = _chat_events(serving)
    try:
        first = read_result(client.call("chat", id=twin, message="what is your heart rate?"))
        assert first.intent == "vitals" and first.engine == "embedded"
        said = {str(f.value) for f in first.facts}
        assert numbers_in(first.reply) and set(numbers_in(first.reply)) <= said
        again = client.call(
            "chat",
            id=twin,
            message="and your blood pressure?",
            conversation_id=first.conversation_id,
        )
        follow = read_result(again)
        assert follow.conversation_id == first.conversation_id
        assert {"sbp_mmhg", "dbp_mmhg"} <= {f.name for f in follow.facts}
        published = read_event(event.decode(_next_event(sub, b"event/chat")))
        assert published.twin_id == twin
        assert published.message == "what is your heart rate?" and published.result == first
    finally:
        sub.close()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ({"id": 0}, "bad_request", "missing field 'args.message'"),
        ({"id": 0, "message": 7}, "bad_request", "field 'args.message' must be str, got int"),
        ({"id": 0, "message": "   "}, "out_of_range",
         f"field 'args.message' holds 0 characters, expected 1..{MAX_MESSAGE_CHARS}"),
        ({"id": 0, "message": "x" * (MAX_MESSAGE_CHARS + 1)}, "out_of_range",
         f"field 'args.message' holds {MAX_MESSAGE_CHARS + 1} characters, expected "
         f"1..{MAX_MESSAGE_CHARS}"),
        ({"id": 2**32, "message": "hi"}, "out_of_range",
         "field 'args.id' holds 4294967296, expected 0..4294967295"),
        ({"id": 999_999, "message": "hi"}, "unknown_twin", "twin 999999 does not exist"),
        ({"id": 0, "message": "hi", "conversation_id": "no spaces"}, "bad_request",
         "field 'args.conversation_id' must be 1 to 64 letters, digits, '-' or '_'"),
        ({"id": 0, "message": "hi", "conversation_id": 5}, "bad_request",
         "field 'args.conversation_id' must be str or nil, got int"),
    ],
)  # fmt: skip
def test_bad_arguments_get_a_clear_error_and_change_nothing(serving, client, args, code, message):
    service = serving.server.handler.chat.service
    submitted = service.submitted
    with pytest.raises(RequestError) as caught:
        client.call("chat", **args)
    assert (caught.value.code, caught.value.message) == (code, message)
    assert service.submitted == submitted and service.pending == 0


def test_the_tick_goes_on_while_chats_are_answered(serving, client):
    twin = int(serving.sim.world.ids[0])
    tick = serving.sim.world.tick
    for _ in range(5):
        assert client.call("chat", id=twin, message="how did you sleep?")["intent"] == "sleep"
    assert serving.sim.world.tick > tick


# -- the handler alone: a full worker, a server without chats -------------------------------------


@pytest.fixture(scope="module")
def sim():
    sim = small_simulation(twins=10, seed=3)
    sim.loop.run_ticks(60)
    yield sim
    sim.close()


def _payload(op: str, **args) -> bytes:
    return request.encode(request.Request(7, op, args))


def _handler(sim, chat: ChatRequests | None) -> tuple[RequestHandler, ZmqServer]:
    endpoints = {"pub_endpoint": loopback(), "router_endpoint": loopback()}
    server = ZmqServer(load_config(None, serve=endpoints).serve, 1.0)
    controls = Controls(sim.world, sim.loop, sim.spawn, sim.despawn, sim.today)
    return RequestHandler(controls, server.publisher, chat=chat), server


def test_a_full_worker_answers_rate_limited_and_queues_nothing(sim):
    service = ChatService(max_pending=1)  # a chat counts until the handler collects it
    chats = ChatRequests(service, sim.world, sim.today)
    handler, server = _handler(sim, chats)
    try:
        twin = int(sim.world.ids[0])
        assert isinstance(handler.handle(_payload("chat", id=twin, message="hi")), Deferred)
        refused = reply.decode(handler.handle(_payload("chat", id=twin, message="hi")))
        assert refused.id == 7 and refused.error.code == "rate_limited"
        assert refused.error.retry_after_ms > 0 and chats.pending == 1
        deadline = time.monotonic() + TIMEOUT_S
        done = []
        while not done and time.monotonic() < deadline:
            done = handler.deferred_replies()
            time.sleep(0.01)
        ((ticket, payload),) = done
        answered = reply.decode(payload)
        assert answered.ok and answered.id == 7 and answered.result["intent"] == "greeting"
    finally:
        service.close()
        server.close()


def test_a_burst_is_read_a_few_chats_a_poll_and_a_twin_gone_meanwhile_is_unknown(sim):
    service = ChatService()
    chats = ChatRequests(service, sim.world, sim.today)
    try:
        (gone,) = sim.spawn(1).tolist()
        asked = [*sim.world.ids[:4].tolist(), gone]
        tickets = [chats.submit({"id": twin, "message": "hi"}).ticket for twin in asked]
        sim.despawn([gone])  # as a request answered after the chat, at the same poll
        done = chats.finished()
        assert service.submitted == READS_PER_POLL and chats.pending == len(asked) - len(done)
        deadline = time.monotonic() + TIMEOUT_S
        while len(done) < len(asked) and time.monotonic() < deadline:
            done += chats.finished()
            time.sleep(0.01)
        assert sorted(d.ticket for d in done) == tickets and service.submitted == 4
        (refused,) = [d for d in done if d.error is not None]
        assert refused.ticket == tickets[-1] and refused.error.code == "unknown_twin"
    finally:
        service.close()


def test_chats_whose_twins_cannot_be_read_are_answered_internal_not_lost(sim, caplog):
    """A chat is taken off the queue before its twin is read: a read that fails answers each
    such chat ``internal`` (it was lost: its caller waited for ever and the server kept its
    envelope), and the next chats are read as usual."""
    service = ChatService()
    broken = [True]

    def today(rows):
        if broken[0]:
            raise ValueError("daily record unreadable")
        return sim.today(rows)

    chats = ChatRequests(service, sim.world, today)
    try:
        twin = int(sim.world.ids[0])
        tickets = [chats.submit({"id": twin, "message": "hi"}).ticket for _ in range(3)]
        done = chats.finished()
        assert [(d.ticket, d.error.code) for d in done] == [(t, "internal") for t in tickets[:2]]
        assert "ValueError: daily record unreadable" in done[0].error.message
        assert "could not be read" in caplog.text and chats.pending == 1
        broken[0] = False
        deadline = time.monotonic() + TIMEOUT_S
        while chats.pending and time.monotonic() < deadline:
            done += chats.finished()
            time.sleep(0.01)
        assert done[-1].ticket == tickets[2] and done[-1].error is None
        assert chats._asked == {}
    finally:
        service.close()


class _Finished:
    """A deferred source (``ChatRequests``, ``HistoryRequests``) that hands back ``done`` once,
    or raises."""

    def __init__(self, done: list | None) -> None:
        self.done = done

    def submit(self, args: dict) -> Deferred:
        return Deferred(args["id"])

    def finished(self) -> list:
        if self.done is None:
            raise RuntimeError("broken")
        done, self.done = self.done, []
        return done


def test_deferred_replies_never_raise_out_of_the_poll(sim, caplog):
    """``deferred_replies`` runs in the simulation thread's poll, where an exception ends
    serving: a result that does not encode is answered ``internal``, a source that raises is
    logged and the other's replies still go."""
    handler, server = _handler(sim, _Finished([ChatDone(1, {"x": object()}, None)]))
    handler.history = _Finished(None)
    try:
        assert handler.handle(_payload("chat", id=1, message="hi")) == Deferred(1)
        ((ticket, payload),) = handler.deferred_replies()
        answered = reply.decode(payload)
        assert ticket == 1 and answered.id == 7 and answered.error.code == "internal"
        assert "collecting the finished _Finished requests failed" in caplog.text
        assert handler.deferred_replies() == []
    finally:
        server.close()


def test_an_event_that_cannot_be_published_loses_only_the_event(sim, caplog):
    twin = int(sim.world.ids[0])
    answer = ChatEngine().reply(take_snapshot(sim.world, twin, sim.today), "hi").to_dict()
    service = SimpleNamespace(finished=lambda: [(1, answer), (2, answer)])

    def publish(topic, payload_at):
        raise RuntimeError("socket closed")

    chats = ChatRequests(service, sim.world, sim.today, publish)
    chats._asked.update({1: (twin, "hi"), 2: (twin, "hi")})
    done = chats.finished()
    assert [(d.ticket, d.result == answer) for d in done] == [(1, True), (2, True)]
    assert f"event/chat of twin {twin} could not be published" in caplog.text


def test_a_server_without_chats_says_so(sim):
    handler, server = _handler(sim, None)
    try:
        answer = reply.decode(handler.handle(_payload("chat", id=0, message="hi")))
        assert answer.error.code == "unknown_op" and "does not chat" in answer.error.message
    finally:
        server.close()


def test_health_data_goes_nowhere_once_the_health_topics_stopped(sim):
    handler, server = _handler(sim, None)
    try:
        assert server.publish_health(b"event/chat", lambda seq: msgpack.packb(seq))
        seq = server.publisher.seq
        server.access_control = True  # a token file appeared; no health PUB was bound
        assert not server.publish_health(b"event/chat", lambda seq: msgpack.packb(seq))
        assert server.publisher.seq == seq
    finally:
        server.close()


# -- access control: the exchange is health data ------------------------------------------------


def test_with_access_control_event_chat_goes_to_analyst_keys_on_the_health_pub(tmp_path):
    _, tokens, secrets = credentials(tmp_path)
    serving, thread = start(secured_config(tmp_path))
    server_key = tmp_path / "keys" / "server.key"
    analyst = CurveKeys.load(server_key, secrets["analyst"])
    viewer = CurveKeys.load(server_key, secrets["viewer"])
    health = serving.server.endpoints["health"]
    subs = [subscriber(health, analyst, b"event/chat"), subscriber(health, viewer, b"event/"),
            subscriber(serving.server.endpoints["pub"], None, b"event/chat")]  # fmt: skip
    try:
        _live(subs[0], b"cell/")  # the analyst's CURVE handshake and subscriptions are done
        twin = int(serving.sim.world.ids[0])
        router = serving.server.endpoints["router"]
        with RequestClient(router, TIMEOUT_S, token=tokens["viewer"]) as client:
            with pytest.raises(RequestError) as caught:
                client.call("chat", id=twin, message="hi")
            assert caught.value.code == "forbidden"
        with RequestClient(router, TIMEOUT_S, token=tokens["analyst"]) as client:
            asked = client.call("chat", id=twin, message="how are you?")
        analyst_sub, viewer_sub, open_sub = subs
        exchange = read_event(event.decode(_next_event(analyst_sub, b"event/chat")))
        assert exchange.twin_id == twin and exchange.result.reply == asked["reply"]
        assert not viewer_sub.poll(500) and not open_sub.poll(0)
    finally:
        for sub in subs:
            sub.close()
        stop(serving, thread)
