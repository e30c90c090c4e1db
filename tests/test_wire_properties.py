"""Property tests of every decoder in ``net.wire``: any input gives a value or a ``WireError``.

Three kinds of input (hypothesis): random bytes; random msgpack values; and near-valid payloads,
each golden valid payload with one field replaced by a random value (array maps of any dtype and
shape, integers up to 2**64, deep nesting, long strings), deleted, or joined by an unknown key.
Nothing may escape but ``WireError``: no KeyError, ValueError, OverflowError, RecursionError.
``Replica.receive`` never raises at all (it counts what it rejects).
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable
from typing import Any

import msgpack
import pytest

from synthtwin.net.wire import (
    CrowdDecoder,
    Replica,
    WireError,
    crowd,
    decode_any,
    event,
    meta,
    pose,
    reply,
    request,
    vitals,
)
from synthtwin.net.wire.envelope import unpack_envelope
from synthtwin.net.wire.request import RequestLimits
from tests.golden.wire.make_golden import build_cases

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is in the test extra")
st = pytest.importorskip("hypothesis.strategies")
given, settings, HealthCheck = hypothesis.given, hypothesis.settings, hypothesis.HealthCheck

EXAMPLES = 200
"""Examples per property (under a second each on two cores)."""
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


def _stateful_apply(data: bytes) -> Any:
    return CrowdDecoder().apply(data)


DECODERS: dict[str, Callable[[bytes], Any]] = {
    "envelope": unpack_envelope,
    "any": decode_any,
    "crowd": crowd.decode,
    "crowd_state": _stateful_apply,
    "pose": pose.decode,
    "vitals": vitals.decode,
    "event": event.decode,
    "meta": meta.decode,
    "request": request.decode,
    "request_limited": lambda data: request.decode(data, RequestLimits(10, 2)),
    "reply": reply.decode,
}
VALID = [
    msgpack.unpackb(case.payload, raw=False)
    for case in build_cases()
    if case.payload is not None and not case.name.startswith("invalid_")
]
DTYPES = ["|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8", "<f4", "<f8", ">u4", "x", ""]
KEYS = ["ids", "cell", "base", "changed", "gone", "pos", "rot", "root", "hr_bpm", "type", "twin",
        "data", "id", "op", "args", "token", "ok", "result", "error", "code", "message",
        "retry_after_ms", "epoch", "activities", "clips", "added", "removed", "cells", "dtype",
        "shape", "v", "kind", "tick", "seq", "t", "body"]  # fmt: skip

integers = st.one_of(
    st.integers(-(2**63), 2**64 - 1), st.integers(-2, 40), st.sampled_from([2**63, 2**64 - 1])
)
scalars = st.one_of(
    st.none(), st.booleans(), integers, st.floats(), st.text(max_size=12),
    st.binary(max_size=64), st.sampled_from(["x" * 300, "crowd", "request", "<u4"]),
)  # fmt: skip
DIMS = [0, 1, 2, 3, 4, 24, 2**31, 2**32, 2**63, 2**64 - 1]
"""Shape sizes: small ones, and ones past what numpy's intp holds."""
EDGES = [[0, 2**63], [2**64 - 1, 0], [0] * 65, [1] * 33, [0, 2**32], []]
"""Shapes of no elements that numpy cannot make, or nearly."""


@st.composite
def array_maps(draw) -> dict[str, Any]:
    """An array map of any dtype string and shape (up to 70 dimensions), whose ``data`` is
    random or, when small enough, exactly the size the shape asks for."""
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(st.lists(st.sampled_from(DIMS) | integers, max_size=70) | st.sampled_from(EDGES))
    itemsize = int(dtype[-1]) if dtype[-1:].isdigit() else 1
    size = itemsize * math.prod(shape) if all(d >= 0 for d in shape) else -1
    exact = 0 <= size <= 256 and draw(st.booleans())
    data = bytes(size) if exact else draw(st.binary(max_size=96))
    return {"dtype": dtype, "shape": shape, "data": data}


values = st.recursive(
    scalars | array_maps(),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), inner, max_size=5)
    ),
    max_leaves=25,
)


def _nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


values = values | st.integers(1, 400).map(_nested)  # msgpack packs at most 511 levels
deep_payloads = (st.sampled_from([9, 33, 500, 1000, 1024, 1025, 3000]) | st.integers(1, 3000)).map(
    lambda depth: packed_request_prefix() + b"\x91" * depth + b"\xc0"
)
"""Requests whose ``args.cells`` nests ``depth`` arrays, beyond what msgpack packs or reads."""


def packed_request_prefix() -> bytes:
    """A request's bytes up to its last value, ``args.cells`` (a nil, left off)."""
    body = {"id": 1, "op": "snapshot", "args": {"cells": None}}
    envelope = {"v": 1, "kind": "request", "tick": 0, "seq": 0, "t": 0.0, "body": body}
    return msgpack.packb(envelope)[:-1]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into ``value`` (keys and indices), the root excluded."""
    found = []
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return found
    for key, child in items:
        found.append((*prefix, key))
        found += _paths(child, (*prefix, key))
    return found


@st.composite
def near_valid(draw) -> bytes:
    """A golden valid payload with one field replaced, deleted, or one unknown key added."""
    envelope = copy.deepcopy(draw(st.sampled_from(VALID)))
    path = draw(st.sampled_from(_paths(envelope)))
    parent = envelope
    for key in path[:-1]:
        parent = parent[key]
    action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(values)
    elif action == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.sampled_from(KEYS))] = draw(values)
    return msgpack.packb(envelope, use_bin_type=True)


def _decodes_or_wire_error(decode: Callable[[bytes], Any], data: bytes) -> None:
    with contextlib.suppress(WireError):  # a value or a WireError; anything else fails
        decode(data)


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_random_bytes_decode_or_raise_wire_error(name):
    @SETTINGS
    @given(st.binary(max_size=512))
    def check(data: bytes) -> None:
        _decodes_or_wire_error(DECODERS[name], data)

    check()


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_random_msgpack_values_decode_or_raise_wire_error(name):
    @SETTINGS
    @given(values)
    def check(value: Any) -> None:
        _decodes_or_wire_error(DECODERS[name], msgpack.packb(value, use_bin_type=True))

    check()


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_near_valid_payloads_decode_or_raise_wire_error(name):
    @SETTINGS
    @given(near_valid() | deep_payloads)
    def check(data: bytes) -> None:
        _decodes_or_wire_error(DECODERS[name], data)

    check()


@pytest.mark.parametrize("kind", ["request", "reply", "event"])
def test_array_maps_anywhere_decode_or_raise_wire_error(kind):
    """Every array map reaches ``from_wire``: in a request's args, a reply's result, an
    event's data."""
    field = {"request": "args", "reply": "result", "event": "data"}[kind]
    template = next(v for v in VALID if v["kind"] == kind and field in v["body"])

    @SETTINGS
    @given(array_maps(), st.sampled_from(["x", "ids", "dtype"]))
    def check(array: dict[str, Any], key: str) -> None:
        envelope = copy.deepcopy(template)
        envelope["body"][field] = {key: array, "nested": [array]}
        _decodes_or_wire_error(decode_any, msgpack.packb(envelope, use_bin_type=True))

    check()


def test_a_replica_never_raises_on_what_a_pub_delivers():
    @SETTINGS
    @given(st.lists(st.tuples(st.binary(max_size=16), near_valid() | st.binary(max_size=64))))
    def check(messages: list[tuple[bytes, bytes]]) -> None:
        replica = Replica()
        for topic, payload in messages:
            replica.receive([topic, payload])
        replica.receive([b"only one frame"])
        replica.crowd()

    check()
