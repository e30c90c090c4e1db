"""The chat messages on the wire (``net.wire.chat``): round trips, and the engine's reply read
back as the protocol says (the golden vectors: tests/test_golden_sets.py)."""

from __future__ import annotations

from synthtwin.net.chat import ChatEngine, take_snapshot
from synthtwin.net.wire import event
from synthtwin.net.wire.chat import (
    ChatArgs,
    ChatExchange,
    chat_event,
    read_args,
    read_event,
    read_result,
)
from tests.conftest import small_simulation


def test_the_engines_reply_reads_back_and_travels_as_an_event():
    sim = small_simulation(twins=5, seed=1)
    try:
        sim.loop.run_ticks(30)
        twin = int(sim.world.ids[2])
        answer = ChatEngine().reply(take_snapshot(sim.world, twin, sim.today), "how old are you?")
    finally:
        sim.close()
    result = read_result(answer.to_dict())
    assert result.reply == answer.reply and len(result.facts) == len(answer.facts)
    exchange = ChatExchange(twin, "how old are you?", result)
    assert read_event(event.decode(event.encode(chat_event(1, 2, 3.0, exchange)))) == exchange


def test_arguments_round_trip_stripped():
    args = ChatArgs(3, "hello", None).to_args()
    assert read_args({**args, "message": "  hello \n"}) == ChatArgs(3, "hello", None)
    assert read_args({"id": 3, "message": "hi"}).conversation_id is None
