"""The chat messages on the wire (``net.wire.chat``): golden vectors (valid, invalid, truncated),
round trips, and the engine's reply read back as the protocol says."""

from __future__ import annotations

import json

import msgpack
import pytest

from synthtwin.net.chat import ChatEngine, take_snapshot
from synthtwin.net.wire import event
from synthtwin.net.wire.chat import (
    ChatArgs,
    ChatArgsError,
    ChatExchange,
    chat_event,
    read_args,
    read_event,
    read_result,
)
from synthtwin.net.wire.errors import WireError
from tests.conftest import small_simulation
from tests.golden.chat.make_golden import DECODERS, HERE, build_cases
from tests.golden.wire.make_golden import assert_current, to_json

CASES = sorted(p.name for p in HERE.glob("*.json"))


def test_golden_files_are_current():
    assert_current(HERE, build_cases())


@pytest.mark.parametrize("name", [c for c in CASES if not c.startswith("invalid_")])
def test_golden_valid(name):
    doc = json.loads((HERE / name).read_text())
    data = (HERE / doc["file"]).read_bytes()
    assert to_json(msgpack.unpackb(data, raw=False)) == doc["payload"]
    assert to_json(DECODERS[doc["decoder"]](data)) == doc["values"]


@pytest.mark.parametrize("name", [c for c in CASES if c.startswith("invalid_")])
def test_golden_invalid(name):
    doc = json.loads((HERE / name).read_text())
    with pytest.raises((WireError, ChatArgsError)) as caught:
        DECODERS[doc["decoder"]]((HERE / doc["file"]).read_bytes())
    assert (caught.value.code, caught.value.message) == (
        doc["error"]["code"],
        doc["error"]["message"],
    )


def test_every_truncation_raises_only_wire_error():
    for case in build_cases():
        if case.name.startswith("invalid_"):
            continue
        for end in range(len(case.payload)):
            with pytest.raises(WireError):
                DECODERS[case.doc["decoder"]](case.payload[:end])


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
