"""A bounded fuzzer of the ROUTER (issue #13): 2,000 bad, odd and near-valid requests against a
real served world on 127.0.0.1.

Every request gets a reply that decodes, none with ``internal``; the world keeps ticking, drops
few ticks, and the whole run stays under ``LIMIT_S`` on two cores. The cases come from one seeded
``random.Random``: random bytes, valid requests with bytes flipped, cut or inserted, and
structured requests of every op (and unknown ones) whose arguments are drawn from integers past
int64 and uint64, odd floats, long strings, deep lists, array maps of any dtype and shape, and
whose envelope fields are now and then wrong.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import zmq

from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from synthtwin.net.wire import OPS, reply, request
from tests.loopback import loopback

CASES = 2_000
BATCH = 50
"""Requests sent before their replies are read."""
LIMIT_S = 60.0
MAX_DROPPED_TICKS = 60
"""Ticks the loop may drop over the whole run (the issue saw 3,011 over 10,000 requests)."""
SEED = 13

INTS = [0, 1, -1, 7, 255, 10_000, 10_001, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1,
        -(2**63)]  # fmt: skip
FLOATS = [0.0, -0.0, 5e-324, 1e-300, 0.5, 1.0, 600.0, 1e308, math.inf, -math.inf, math.nan]
DTYPES = ["|u1", "<u4", "<i8", "<u8", "<f4", "<f8", ">u4", "S3", "", "x" * 80]
ARG_NAMES = ["cells", "id", "ids", "count", "seed", "scale", "pad", "", "message", "query",
             "conversation_id", "from", "to", "resolution", "date", "group_by"]  # fmt: skip


def _value(rng: random.Random, depth: int = 0) -> Any:
    """One random argument value."""
    kind = rng.randrange(11 if depth < 4 else 7)
    if kind == 0:
        return rng.choice(INTS)
    if kind == 1:
        return rng.choice(FLOATS)
    if kind == 2:
        return rng.choice(["", "x", "é" * 3, "z" * rng.randrange(1, 3000)])
    if kind == 3:
        return rng.choice([None, True, False, b"", bytes(rng.randrange(64))])
    if kind == 4:
        return [[rng.choice(INTS), rng.choice(INTS)] for _ in range(rng.randrange(0, 40))]
    if kind == 5:
        return [rng.choice(INTS) for _ in range(rng.randrange(0, 12_000, 7))]
    if kind == 6:
        return _array(rng)
    if kind == 7:
        return _deep(rng.randrange(2, 200))
    if kind == 8:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(ARG_NAMES): _value(rng, depth + 1) for _ in range(rng.randrange(4))}


def _array(rng: random.Random) -> dict[str, Any]:
    shape = [rng.choice([0, 1, 2, 3, 10_001, 2**32, 2**63]) for _ in range(rng.randrange(4))]
    return {"dtype": rng.choice(DTYPES), "shape": shape, "data": bytes(rng.randrange(0, 80, 4))}


def _deep(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


def _plausible(rng: random.Random, op: str) -> dict[str, Any]:
    """Arguments of the right names and types for ``op``, at or past their ranges."""
    small = [0, 1, 2, 5, 17, 99, 101, 150]
    if op == "snapshot":
        return {"cells": [[rng.randrange(-3, 4), rng.randrange(-3, 4)] for _ in range(5)]}
    if op == "twin":
        return {"id": rng.choice(small + INTS)}
    if op == "spawn":
        return {"count": rng.choice([1, 2, 3, 10_001, 601]), "seed": rng.choice(INTS)}
    if op == "despawn":
        return {"ids": [rng.choice(small + INTS) for _ in range(rng.randrange(1, 4))]}
    if op == "time_scale":
        return {"scale": rng.choice([*FLOATS, 2.0, 60.0])}
    return {}


def _args(rng: random.Random, op: str) -> dict[str, Any]:
    """``op``'s plausible arguments, each one replaced by a random value now and then, and now
    and then one more of a random name."""
    args = {name: _value(rng) if rng.random() < 0.3 else value
            for name, value in _plausible(rng, op).items()}  # fmt: skip
    if rng.random() < 0.15:
        args[rng.choice(ARG_NAMES)] = _value(rng)
    return args


def _structured(rng: random.Random, case: int) -> bytes:
    op = rng.choice([*OPS, *OPS, "", "fly", "x" * 500])
    body: dict[str, Any] = {"id": case if rng.random() < 0.9 else _value(rng), "op": op}
    body["args"] = _args(rng, op) if rng.random() < 0.9 else _value(rng)
    if rng.random() < 0.1:
        body["token"] = _value(rng)
    envelope: dict[str, Any] = {"v": 1, "kind": "request", "tick": 0, "seq": 0, "t": 0.0}
    envelope["body"] = body
    if rng.random() < 0.1:
        envelope[rng.choice(["v", "kind", "tick", "seq", "t", "body"])] = _value(rng)
    return msgpack.packb(envelope, use_bin_type=True)


def _mutated(rng: random.Random, case: int) -> bytes:
    op = rng.choice(OPS)
    data = bytearray(request.encode(request.Request(case, op, {"id": 1, "cells": [[0, 0]]})))
    for _ in range(rng.randrange(1, 4)):
        at = rng.randrange(len(data))
        action = rng.randrange(3)
        if action == 0:
            data[at] = rng.randrange(256)
        elif action == 1:
            del data[at:]
            if not data:
                break
        else:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
    return bytes(data)


def fuzz_cases(seed: int = SEED, count: int = CASES) -> Iterator[bytes]:
    """``count`` request payloads, the same for the same seed."""
    rng = random.Random(seed)
    for case in range(count):
        kind = rng.random()
        if kind < 0.15:
            yield bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        elif kind < 0.35:
            yield _mutated(rng, case)
        else:
            yield _structured(rng, case)


@pytest.fixture(scope="module")
def serving(tmp_path_factory) -> Iterator[Serving]:
    config = load_config(
        None,
        serve={"pub_endpoint": loopback(), "router_endpoint": loopback(), "http_enabled": False,
               "checkpoint": tmp_path_factory.mktemp("fuzz") / "w.ckpt"},
        security={"router_rate_per_s": 1e5, "router_burst": 100_000, "spawn_per_min": 600},
        twins=100, seed=2, tick_hz=30.0,
    )  # fmt: skip
    server = Serving(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server
    server.stop.set()
    thread.join(timeout=20)
    assert not thread.is_alive()


def _exchange(sock: zmq.Socket, batch: list[bytes], deadline: float) -> list[reply.Reply]:
    for payload in batch:
        sock.send(payload)
    answers = []
    while len(answers) < len(batch) and time.monotonic() < deadline:
        if sock.poll(1000):
            answers.append(reply.decode(sock.recv()))
    return answers


def test_two_thousand_fuzzed_requests_get_clean_replies_and_the_world_keeps_ticking(serving):
    start = time.monotonic()
    deadline = start + LIMIT_S
    dropped = serving.sim.loop.stats().dropped_ticks
    codes: dict[str, int] = {}
    cases = list(fuzz_cases())
    with zmq.Context.instance().socket(zmq.DEALER) as sock:
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(serving.server.endpoints["router"])
        for at in range(0, len(cases), BATCH):
            batch = cases[at : at + BATCH]
            answers = _exchange(sock, batch, deadline)
            assert len(answers) == len(batch), f"replies missing after case {at}"
            for answer in answers:
                code = "ok" if answer.ok else answer.error.code
                assert code != "internal", answer.error.message
                codes[code] = codes.get(code, 0) + 1
        for op, args in (("resume", {}), ("time_scale", {"scale": 1.0})):
            sock.send(request.encode(request.Request(0, op, args)))
            assert sock.poll(5000) and reply.decode(sock.recv()).ok
    assert time.monotonic() - start < LIMIT_S
    assert sum(codes.values()) == CASES and codes.get("ok", 0) > 0
    tick = serving.sim.world.tick
    time.sleep(0.5)
    assert serving.sim.world.tick > tick
    assert serving.sim.loop.stats().dropped_ticks - dropped <= MAX_DROPPED_TICKS, codes
