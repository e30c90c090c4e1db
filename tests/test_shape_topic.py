"""``twin/<id>/shape`` (net.wire.shape): the codec and its exact errors, and a live publisher on
loopback that sends a followed twin's body model and betas when it becomes followed and every
``vitals_hz`` after, which the Python client's ``Replica`` keeps."""

from __future__ import annotations

import numpy as np
import pytest
import zmq

from synthtwin.net.publisher import TwinFollows
from synthtwin.net.wire import shape, topics
from synthtwin.net.wire.clone import Replica
from synthtwin.net.wire.errors import WireError
from tests.followed import TICK_HZ, receive_all


def message(ids=(3, 9), model=(0, 1), betas=None) -> shape.ShapeMessage:
    betas = (
        np.arange(10 * len(ids), dtype=np.float32).reshape(len(ids), 10) / 7
        if betas is None
        else betas
    )
    return shape.ShapeMessage(
        12, 40, 1.5, np.array(ids, np.uint32), np.array(model, np.uint8), betas
    )


def test_a_shape_decodes_to_what_was_encoded_and_each_twins_payload_is_its_own_message():
    msg = message()
    back = shape.decode(shape.encode(msg))
    assert (back.tick, back.seq, back.t_s) == (12, 40, 1.5)
    np.testing.assert_array_equal(back.ids, msg.ids)
    np.testing.assert_array_equal(back.model, msg.model)
    np.testing.assert_array_equal(back.betas, msg.betas)
    for i, payload in enumerate(shape.encode_each(msg)):
        one = shape.ShapeMessage(
            12, 40 + i, 1.5, msg.ids[i : i + 1], msg.model[i : i + 1], msg.betas[i : i + 1]
        )
        assert payload == shape.encode(one)
    assert shape.bodies(back)[9].model == "male"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"model": (0, 3)}, "model codes must be < 3, got 3"),
        ({"ids": (9, 3)}, "field 'body.ids' must be strictly ascending"),
        ({"betas": np.full((2, 10), np.nan, np.float32)}, "betas must be finite"),
    ],
)
def test_the_encoder_refuses_what_the_protocol_forbids(change, error):
    with pytest.raises((ValueError, WireError), match=error):
        shape.encode(message(**change))


def shapes(sub: zmq.Socket, timeout_s: float = 0.5) -> list[tuple[bytes, bytes]]:
    """Every ``shape`` message the SUB holds within ``timeout_s`` (others skipped)."""
    return [(t, p) for t, p in receive_all(sub, timeout_s) if t.endswith(b"/shape")]


def test_a_followed_twin_gets_its_body_at_once_and_the_client_keeps_it(followed):
    twin = int(followed.sim.world.ids[2])
    sub = followed.follow(twin, b"meta")
    followed.tick()  # the first tick after the subscription: the shape, whatever the slot
    received = shapes(sub)
    assert [t for t, _ in received] == [topics.topic_for("shape", twin_id=twin)]
    replica = Replica()
    replica.receive(list(received[0]))
    row = followed.sim.world.rows_of([twin])[0]
    body = replica.body(twin)
    assert body.model == ("female", "male")[int(followed.sim.world["sex"][row])]
    np.testing.assert_array_equal(body.betas, followed.sim.world["betas"][row])
    assert replica.body(int(followed.sim.world.ids[3])) is None, "no other twin's"


def test_a_second_client_of_the_same_twin_gets_it_within_a_second(followed):
    twin = int(followed.sim.world.ids[1])
    first = followed.follow(twin, b"meta")
    followed.tick()
    assert len(shapes(first)) == 1
    late = followed.follow(twin, b"event/")  # twin/<id>/ again: the XPUB does not pass it on
    ticks_a_second = int(TICK_HZ)
    for _ in range(ticks_a_second):
        followed.tick()
    assert len(shapes(late)) == 1, "repeated at vitals_hz: once in a second of ticks"
    assert len(shapes(first)) == 1


def test_twins_waiting_for_their_first_shape_are_among_those_followed():
    """The health socket's follows never have their ``started`` taken (shapes go on the main
    socket): churn over ever new ids must not grow it (it grew by every id ever followed)."""
    follows = TwinFollows(cap=4)
    for twin in range(1000):
        follows.apply(b"\x01twin/%d/" % twin)
        follows.apply(b"\x00twin/%d/" % twin)
    follows.apply(b"\x01twin/7/vitals")
    follows.apply(b"\x01twin/7/")
    follows.apply(b"\x00twin/7/vitals")
    assert follows.started == {7} and set(follows.twins) == {7}
