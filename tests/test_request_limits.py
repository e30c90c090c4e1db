"""Bounded work on the ROUTER (issue #13): every finding of the issue as a regression test.

Most run the request handler directly on a small simulation (no sockets, no waits); the size
limit and the rate limit also run against a real server on 127.0.0.1. The limits' own parts
(token buckets, the time budget, twin follows, the ZAP answers) are tested on their own.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator

import msgpack
import numpy as np
import pytest
import zmq

from synthtwin.engine.app.serve import Serving
from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.config import SecurityConfig, load_config
from synthtwin.net import requests as requests_module
from synthtwin.net.auth import Role, TokenStore
from synthtwin.net.limits import (
    IGNORED_WAIT_MUTE_S,
    MAX_DEBT_BUDGETS,
    PeerBuckets,
    TimeBudget,
    TokenBucket,
)
from synthtwin.net.publisher import Publisher, TwinFollows
from synthtwin.net.requests import STATS_EVERY_S, Controls, RequestHandler
from synthtwin.net.wire import reply, request
from synthtwin.net.wire.dealer import RequestClient, RequestError
from synthtwin.net.zap import ZapHandler
from tests.conftest import MONDAY
from tests.loopback import loopback

SHORT_REPLY_BYTES = 512
"""An error reply, whatever the request, stays below this."""


@pytest.fixture(scope="module")
def world():
    """50 twins, one tick a simulated minute, published (so snapshots hold crowd payloads)."""
    context = zmq.Context()
    xpub = context.socket(zmq.XPUB)
    xpub.bind("inproc://limits")
    publisher = Publisher(xpub, 1.0, 30, 1.0, 1.0, 1.0)
    config = load_config(None, twins=50, seed=4, tick_hz=1.0, time_scale=60.0, start=MONDAY)
    sim = build_simulation(config, replicator=publisher)
    publisher.epoch_iso = sim.world.clock.start.isoformat()
    sim.loop.run_ticks(2)
    yield sim, publisher
    xpub.close(linger=0)
    context.term()
    sim.close()


def make_handler(world, tokens: TokenStore | None = None, **security) -> RequestHandler:
    sim, publisher = world
    controls = Controls(sim.world, sim.loop, sim.spawn, sim.despawn, sim.today)
    return RequestHandler(controls, publisher, SecurityConfig(**security).validate(), tokens)


def ask(handler: RequestHandler, op: str, peer: bytes | None = None, token=None, **args):
    payload = request.encode(request.Request(7, op, args, token=token))
    return ask_raw(handler, payload, peer)


def ask_raw(handler: RequestHandler, payload: bytes, peer: bytes | None = None) -> reply.Reply:
    answer = handler.handle(payload, peer)
    decoded = reply.decode(answer)
    if not decoded.ok:
        assert len(answer) < SHORT_REPLY_BYTES, decoded.error
        assert decoded.error.code != reply.INTERNAL, decoded.error
    return decoded


def error_of(answer: reply.Reply) -> tuple[str, str]:
    assert not answer.ok
    return answer.error.code, answer.error.message


def packed_request(op: str, args: dict) -> bytes:
    """A request packed without the encoder's conversions (any msgpack value as args)."""
    body = {"id": 7, "op": op, "args": args}
    envelope = {"v": 1, "kind": "request", "tick": 0, "seq": 0, "t": 0.0, "body": body}
    return msgpack.packb(envelope, use_bin_type=True)


def deep_request(depth: int) -> bytes:
    """A snapshot whose ``cells`` is ``depth`` nested arrays (deeper than msgpack packs: the
    request ends with ``cells``' nil, replaced by the arrays' bytes)."""
    payload = packed_request("snapshot", {"cells": None})
    return payload[:-1] + b"\x91" * depth + b"\xc0"


# -- the findings -------------------------------------------------------------------


def test_a_million_cells_is_refused_from_its_header_in_no_time(world):
    handler = make_handler(world)
    payload = packed_request("snapshot", {"cells": [[0, 0]] * 1_000_000})  # 3 MB
    took_s = []
    for _ in range(3):  # the best of three: a shared machine stalls now and then
        start = time.perf_counter()
        answer = ask_raw(handler, payload)
        took_s.append(time.perf_counter() - start)
    assert min(took_s) < 0.05
    assert error_of(answer) == (
        "bad_request", "payload holds an array of 1000000 items, more than 10000"
    )  # fmt: skip


@pytest.mark.parametrize(
    "cells",
    [[[[0, 0]] * 9_999] * 35, [[[]] * 9_999] * 105, [[{}] * 9_999] * 105, [[0] * 9_999] * 105],
    ids=["pairs", "empty-arrays", "empty-maps", "ints"],
)
def test_a_megabyte_of_small_items_is_refused_after_a_bounded_count(world, cells):
    """Within every list's 10,000 items, a 1 MiB request of tiny items still costs at most
    50,000 items of reading (it cost 0.8-1.8 s to decode before the count)."""
    handler = make_handler(world)
    payload = packed_request("snapshot", {"cells": cells})
    assert len(payload) > 2**19
    took_s = []
    for _ in range(3):  # the best of three: a shared machine stalls now and then
        start = time.perf_counter()
        answer = ask_raw(handler, payload)
        took_s.append(time.perf_counter() - start)
    assert min(took_s) < 0.1
    assert error_of(answer) == ("bad_request", "payload holds more than 50000 items in all")


def test_the_largest_snapshot_a_client_may_ask_is_answered(world):
    handler = make_handler(world)
    cells = [[ix, iy] for ix in range(-50, 50) for iy in range(-50, 50)]
    assert ask(handler, "snapshot", cells=cells).ok


def test_repeated_cells_are_answered_once(world):
    handler = make_handler(world)
    cells = handler.controls.world["position_m"][:1] // 2000
    cell = [int(c) for c in cells[0]]
    once = ask(handler, "snapshot", cells=[cell]).result["crowd"]
    many = ask(handler, "snapshot", cells=[cell] * 10_000).result["crowd"]
    assert len(many) == len(once) >= 1


def test_ten_million_ids_are_refused_and_a_bad_last_id_is_not_echoed(world):
    handler = make_handler(world)
    answer = ask_raw(handler, packed_request("despawn", {"ids": [0] * 10_000_000}))
    assert error_of(answer)[1] == "payload holds an array of 10000000 items, more than 10000"
    answer = ask_raw(handler, packed_request("despawn", {"ids": [0] * 9_999 + ["x" * 100_000]}))
    assert error_of(answer) == ("bad_request", "field 'args.ids[9999]' must be int, got str")


@pytest.mark.parametrize(
    ("op", "args", "message"),
    [
        ("twin", {"id": 2**64 - 1}, "field 'args.id' holds 18446744073709551615, "
                                    "expected 0..4294967295"),
        ("twin", {"id": 2**63}, "field 'args.id' holds 9223372036854775808, "
                                "expected 0..4294967295"),
        ("despawn", {"ids": [1, 2**63]}, "field 'args.ids[1]' holds 9223372036854775808, "
                                         "expected 0..4294967295"),
        ("spawn", {"count": 2**64 - 1}, "field 'args.count' holds 18446744073709551615, "
                                        "expected 1..10000"),
        ("spawn", {"count": 1, "seed": 2**64 - 1}, "field 'args.seed' holds "
                                                   "18446744073709551615, expected "
                                                   "0..9223372036854775807"),
        ("snapshot", {"cells": [[2**63, 0]]}, "field 'args.cells[0][0]' holds "
                                              "9223372036854775808, expected "
                                              "-2147483648..2147483647"),
        ("time_scale", {"scale": 5e-324}, "field 'args.scale' holds 5e-324, expected "
                                          "0.01..600"),
        ("time_scale", {"scale": float("nan")}, "field 'args.scale' holds nan, expected "
                                                "0.01..600"),
    ],
)  # fmt: skip
def test_integers_and_scales_out_of_range_are_clean_errors(world, op, args, message):
    handler = make_handler(world)
    assert error_of(ask_raw(handler, packed_request(op, args))) == ("out_of_range", message)


def test_despawn_ids_as_an_array_beyond_uint32_are_out_of_range(world):
    handler = make_handler(world)
    ids = np.array([3, 2**40], np.uint64)
    assert error_of(ask(handler, "despawn", ids=ids)) == (
        "out_of_range", "field 'args.ids[1]' holds 1099511627776, expected 0..4294967295"
    )  # fmt: skip


@pytest.mark.parametrize("depth", [9, 500, 2000])
def test_deep_args_are_too_large_not_a_recursion_error(world, depth):
    handler = make_handler(world)
    code, message = error_of(ask_raw(handler, deep_request(depth)))
    assert code == "bad_request"
    assert message in (
        "field 'body.args' nests deeper than 8 levels", "payload nests deeper than 1024 levels"
    )  # fmt: skip


def test_long_input_is_never_echoed(world):
    handler = make_handler(world)
    op = "x" * 100_000
    assert error_of(ask(handler, op)) == ("unknown_op", f"unknown op '{'x' * 61}...'")
    answer = ask_raw(handler, packed_request("twin", {"k" * 5000: {"dtype": "q" * 5000}}))
    assert answer.error.code == "bad_request" and len(answer.error.message) <= 256


def test_spawns_beyond_spawn_per_min_are_rate_limited(world):
    handler = make_handler(world, spawn_per_min=10)
    assert error_of(ask(handler, "spawn", count=11)) == (
        "out_of_range", "field 'args.count' holds 11, expected 1..10"
    )  # fmt: skip
    spawned = ask(handler, "spawn", count=8, seed=1).result["ids"]
    answer = ask(handler, "spawn", count=5, seed=2)
    assert answer.error.code == "rate_limited" and answer.error.retry_after_ms > 1000
    assert answer.error.message.startswith("more than 10 twins spawned a minute; retry in ")
    ask(handler, "despawn", ids=spawned)


def test_a_peer_beyond_its_rate_is_told_when_to_retry_and_dropped_until_then(world):
    handler = make_handler(world, router_rate_per_s=10.0, router_burst=5)
    codes = [ask(handler, "stats", peer=b"flood").ok for _ in range(5)]
    limited = ask(handler, "stats", peer=b"flood")
    assert codes == [True] * 5
    assert limited.error.code == "rate_limited" and 1 <= limited.error.retry_after_ms <= 100
    assert ask(handler, "stats", peer=b"other").ok  # each peer has its own bucket
    assert ask(handler, "stats").ok  # no peer, no limit
    time.sleep(limited.error.retry_after_ms / 1000 + 0.01)
    assert ask(handler, "stats", peer=b"flood").ok  # it waited: answered again
    while ask(handler, "stats", peer=b"flood").ok:  # the bucket empties again: refused
        pass
    stats = request.encode(request.Request(8, "stats"))
    for _ in range(6):  # more than its burst of 5 sent before its time: it ignores refusals
        assert handler.handle(stats, b"flood") is None  # dropped, unanswered
    time.sleep(limited.error.retry_after_ms / 1000 + 0.01)
    assert handler.handle(stats, b"flood") is None  # muted for longer than it was told
    world[0].loop.step()  # stats' figures are the tick's
    assert ask(handler, "stats").result["rate_limited"] == 9


def test_stats_is_encoded_once_a_tick_and_answers_each_request_under_its_own_id(world):
    sim, _ = world
    handler = make_handler(world)
    first, second = ask(handler, "stats"), ask(handler, "stats")
    assert first.result == second.result
    payload = request.encode(request.Request(2**40, "stats"))
    answer = handler.handle(payload)
    expected = reply.encode(
        reply.Reply(
            sim.world.tick,
            handler.publisher.seq,
            sim.world.clock.elapsed_s,
            2**40,
            True,
            first.result,
        )
    )
    assert answer == expected  # byte for byte what encoding it afresh gives
    spawned = ask(handler, "spawn", count=2, seed=3).result["ids"]
    assert ask(handler, "stats").result["twins"] == first.result["twins"] + 2  # a command: anew
    ask(handler, "despawn", ids=spawned)
    sim.loop.step()
    assert ask(handler, "stats").tick == first.tick + 1  # a tick: anew


def test_prepare_encodes_the_stats_reply_between_ticks_once_stats_is_asked_for(world, monkeypatch):
    sim, _ = world
    handler = make_handler(world)
    monkeypatch.setattr(requests_module, "STATS_EVERY_S", math.inf)  # no new window meanwhile
    encoded = []
    build = handler._stats
    monkeypatch.setattr(handler, "_stats", lambda args: encoded.append(1) or build(args))
    handler.prepare()
    assert encoded == []  # nobody asked: nothing made
    first = ask(handler, "stats")
    sim.loop.step()
    handler.prepare()  # between ticks: the next tick's answer, made ahead
    assert len(encoded) == 2
    answer = ask(handler, "stats")
    assert len(encoded) == 2 and answer.tick == first.tick + 1  # the tick's, not made again


def test_stats_of_a_paused_server_are_no_older_than_stats_every_s(world):
    """Paused, no tick passes and nothing is published: the stats answer encoded once must
    still show a refusal that came after it, once ``STATS_EVERY_S`` has passed."""
    handler = make_handler(world, router_rate_per_s=1.0, router_burst=1)
    assert ask(handler, "pause").ok
    try:
        before = ask(handler, "stats").result["rate_limited"]
        assert ask(handler, "stats", peer=b"one").ok
        assert ask(handler, "stats", peer=b"one").error.code == "rate_limited"
        time.sleep(STATS_EVERY_S + 0.01)
        assert ask(handler, "stats").result["rate_limited"] == before + 1
    finally:
        assert ask(handler, "resume").ok


def test_roles_are_checked_before_the_op_runs(world, tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    viewer = store.create(Role.VIEWER, "v")
    handler = make_handler(world, store)
    n = handler.controls.world.n
    assert error_of(ask(handler, "spawn", token=viewer, count=1))[0] == "forbidden"
    assert error_of(ask(handler, "despawn", ids=[0]))[0] == "unauthorized"
    assert error_of(ask(handler, "twin", token=viewer, id=0))[0] == "forbidden"
    assert handler.controls.world.n == n


# -- the parts --------------------------------------------------------------------------------


def test_a_token_bucket_refills_at_its_rate_up_to_its_burst():
    bucket = TokenBucket(rate_per_s=2.0, burst=3)
    assert [bucket.take(0.0) for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]
    assert bucket.take(0.5) == 0.0 and bucket.take(0.5) == 0.5
    assert bucket.level(100.0) == 3


def test_a_peer_that_keeps_sending_while_muted_is_muted_a_second_from_its_last_request():
    peers = PeerBuckets(rate_per_s=10.0, burst=2)
    assert peers.take(b"flood", 0.0) == 0.0 and peers.take(b"flood", 0.0) == 0.0
    assert peers.take(b"flood", 0.0) == pytest.approx(0.1)  # refused: retry in 100 ms
    assert peers.muted(b"flood", 0.01) and peers.muted(b"flood", 0.02)  # in flight, maybe
    assert peers.muted(b"flood", 0.03)  # beyond its burst: it ignores the refusal
    assert peers.muted(b"flood", 0.5)  # until 1.03
    assert not peers.muted(b"flood", 0.03 + IGNORED_WAIT_MUTE_S)
    assert peers.take(b"flood", 1.1) == 0.0


def test_requests_in_flight_at_a_refusal_do_not_keep_a_paced_peer_muted():
    peers = PeerBuckets(rate_per_s=10.0, burst=2)
    assert peers.take(b"paced", 0.0) == 0.0 and peers.take(b"paced", 0.0) == 0.0
    assert peers.take(b"paced", 0.0) == pytest.approx(0.1)
    assert peers.muted(b"paced", 0.001) and peers.muted(b"paced", 0.002)  # sent before it knew
    assert not peers.muted(b"paced", 0.1)  # then it waited as told: answered again
    assert peers.take(b"paced", 0.1) == 0.0


def test_peer_buckets_forget_full_buckets_first():
    peers = PeerBuckets(rate_per_s=1.0, burst=2, max_peers=3)
    for peer in (b"a", b"b", b"c"):
        peers.take(peer, 0.0)
    peers.take(b"c", 0.0)
    peers.take(b"d", 10.0)  # a, b and c are full again: forgotten
    assert len(peers) == 1


def test_the_time_budget_carries_overspending_over_a_bounded_number_of_ticks():
    budget = TimeBudget(0.004)
    budget.spent(0.001)
    assert budget.allowance_s() == 0.004
    budget.spent(1.0)  # one slow request
    assert budget.debt_s == pytest.approx(MAX_DEBT_BUDGETS * 0.004)
    ticks = 0
    while budget.allowance_s() <= 0:
        budget.spent(0.0)
        ticks += 1
    assert ticks == MAX_DEBT_BUDGETS


def test_twin_follows_keep_to_their_cap_and_count_the_rest():
    follows = TwinFollows(cap=2)
    for twin in (1, 2, 3, 3):
        follows.apply(b"\x01" + f"twin/{twin}/".encode())
    follows.apply(b"\x01twin/")
    follows.apply(b"\x01twin/" + b"9" * 5000 + b"/")  # not an id: ignored, no int() of it
    assert sorted(follows.twins) == [1, 2] and follows.ignored == 2 and follows.all == 1
    follows.apply(b"\x00twin/3/")
    follows.apply(b"\x00twin/3/")
    follows.apply(b"\x00twin/1/")
    follows.apply(b"\x01twin/4/")
    assert sorted(follows.twins) == [2, 4]


def test_the_zap_handler_answers_only_filed_curve_keys(tmp_path):
    import zmq.auth

    (tmp_path / "clients" / "analyst").mkdir(parents=True)
    public, _ = zmq.auth.create_certificates(tmp_path / "clients" / "analyst", "ana")
    key = zmq.utils.z85.decode(zmq.auth.load_certificate(public)[0])
    context = zmq.Context()
    zap = ZapHandler(context, tmp_path)
    try:

        def status(domain: bytes, credential: bytes, mechanism: bytes = b"CURVE") -> bytes:
            frames = [b"1.0", b"7", domain, b"127.0.0.1", b"", mechanism, credential]
            return zap.answer(frames)[2]

        assert status(b"health", key) == b"200" and status(b"main", key) == b"200"
        assert status(b"health", bytes(32)) == b"400"
        assert status(b"other", key) == b"400"
        assert status(b"health", key, b"NULL") == b"400"
        assert zap.answer([b"junk"])[2] == b"400"
        assert zap.answer([b"1.0", b"7", b"health", b"", b"", b"CURVE", key])[4] == b"analyst"
    finally:
        zap.close()
        context.term()


# -- against a real server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def serving(tmp_path_factory) -> Iterator[Serving]:
    config = load_config(
        None,
        serve={"pub_endpoint": loopback(), "router_endpoint": loopback(), "http_enabled": False,
               "checkpoint": tmp_path_factory.mktemp("limits") / "w.ckpt"},
        security={"max_request_bytes": 64 * 1024, "router_rate_per_s": 20.0, "router_burst": 10},
        twins=50, tick_hz=30.0,
    )  # fmt: skip
    server = Serving(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server
    server.stop.set()
    thread.join(timeout=20)


def dealer(endpoint: str) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    return sock


def test_a_request_over_max_request_bytes_drops_its_peer_and_nothing_else(serving: Serving):
    router = serving.server.endpoints["router"]
    with dealer(router) as big, dealer(router) as small:
        big.send(packed_request("snapshot", {"pad": "x" * 100_000}))
        assert not big.poll(1000)  # ZeroMQ dropped the peer: no reply
        small.send(request.encode(request.Request(1, "stats")))
        assert small.poll(5000)
        assert reply.decode(small.recv()).ok
    tick = serving.sim.world.tick
    time.sleep(0.3)
    assert serving.sim.world.tick > tick


def test_a_flooding_peer_is_refused_once_then_dropped_and_the_tick_goes_on(serving: Serving):
    router = serving.server.endpoints["router"]
    payload = request.encode(request.Request(1, "stats"))
    tick, dropped = serving.sim.world.tick, serving.server.handler.rate_limited
    with dealer(router) as flood:
        for _ in range(200):
            flood.send(payload)
        codes = []
        while flood.poll(1500):  # until the server has nothing more to say
            answer = reply.decode(flood.recv())
            codes.append(answer.error.code if not answer.ok else "ok")
        assert 10 <= codes.count("ok") < 40 and 1 <= codes.count("rate_limited") < 10
        assert len(codes) < 50  # the rest was dropped unanswered
        time.sleep(IGNORED_WAIT_MUTE_S)  # it ignored its refusal: muted until 1 s after its last
        flood.send(payload)  # after that wait, the peer is answered again
        assert flood.poll(5000) and reply.decode(flood.recv()).ok
    assert serving.server.handler.rate_limited - dropped >= 150
    assert serving.sim.world.tick > tick  # what the flood costs the tick: bench/ measures it


def test_the_served_loop_prepares_the_stats_reply_between_ticks(serving: Serving, monkeypatch):
    handler = serving.server.handler
    prepared = []
    prepare = handler.prepare
    monkeypatch.setattr(handler, "prepare", lambda: prepared.append(1) or prepare())
    with RequestClient(serving.server.endpoints["router"], timeout_s=5.0) as client:
        assert client.call("stats")["twins"] == 50
    deadline = time.monotonic() + 5.0
    while len(prepared) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(prepared) >= 3, "Serving did not call prepare between its ticks"


def test_the_request_client_waits_as_told_instead_of_going_unanswered(serving: Serving):
    with RequestClient(serving.server.endpoints["router"], timeout_s=5.0) as client:
        refused = None
        for _ in range(200):  # calls one after another, faster than router_rate_per_s
            try:
                client.call("stats")
            except RequestError as err:
                refused = err
                break
        assert refused is not None and refused.code == "rate_limited"
        started = time.monotonic()
        with pytest.raises(RequestError, match="rate_limited"):
            client.call("stats")  # held back here, not sent to be dropped and time out
        assert time.monotonic() - started < 0.5
        time.sleep(refused.retry_after_ms / 1000 + 0.05)
        assert client.call("stats")["tick"] >= 0


def test_a_paced_client_refuses_beyond_its_pace_itself_and_the_server_never_mutes_it(
    serving: Serving,
):
    refused_before = serving.server.handler.rate_limited
    with RequestClient(serving.server.endpoints["router"], 5.0, pace=(5.0, 3)) as client:
        assert [client.call_reply("stats").ok for _ in range(3)] == [True] * 3
        with pytest.raises(RequestError, match="rate_limited") as refused:
            client.call("stats")  # a fourth at once: beyond its pace, never sent
        assert 1 <= refused.value.retry_after_ms <= 200
        time.sleep(refused.value.retry_after_ms / 1000 + 0.01)
        assert client.call_reply("stats").ok
    assert serving.server.handler.rate_limited == refused_before


# -- the write-ahead journal -------------------------------------------------------------------


class FakeJournal:
    """Records what it is given; fails while ``broken``."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, dict]] = []
        self.broken = False

    def record(self, op: str, args: dict) -> None:
        from synthtwin.engine.journal import JournalError

        if self.broken:
            raise JournalError("journal j.wal: cannot record spawn (No space left on device)")
        self.entries.append((op, args))


def test_commands_are_journaled_checked_with_their_drawn_seed_and_replay_alike(world):
    journal = FakeJournal()
    handler = make_handler(world)
    handler.journal = journal
    twins = handler.controls.world
    spawned = ask(handler, "spawn", count=2).result["ids"]
    people = twins["age_y"][twins.rows_of(spawned)].copy()
    assert error_of(ask(handler, "despawn", ids=[999_999]))[0] == "unknown_twin"
    assert ask(handler, "despawn", ids=[int(i) for i in spawned] * 2).ok
    assert [op for op, _ in journal.entries] == ["spawn", "despawn"]  # checked ones only
    (_, spawn), (_, despawn) = journal.entries
    assert spawn["count"] == 2 and isinstance(spawn["seed"], int)
    assert despawn == {"ids": sorted(int(i) for i in spawned)}
    again = handler.apply("spawn", spawn)["ids"]  # the replay makes the same people
    np.testing.assert_array_equal(twins["age_y"][twins.rows_of(again)], people)
    handler.apply("despawn", {"ids": again.tolist()})


def test_a_command_the_journal_cannot_record_is_not_carried_out(world):
    journal = FakeJournal()
    handler = make_handler(world)
    handler.journal, journal.broken = journal, True
    n = handler.controls.world.n
    answer = reply.decode(handler.handle(request.encode(request.Request(1, "spawn", {"count": 3}))))
    assert answer.error.code == "internal" and "No space left on device" in answer.error.message
    assert handler.controls.world.n == n


def test_only_the_peer_rate_refusal_holds_a_client_back():
    """The server mutes a peer only past its rate; a spawn over spawn_per_min (up to a minute
    to wait), a busy chat or history worker refuses that one request: the client's other
    requests (a roster, a snapshot) must still be sent."""
    from synthtwin.net.wire.dealer import Correlator

    def refused(message: str, retry_ms: int) -> list[bytes]:
        error = reply.ReplyError(reply.RATE_LIMITED, message, retry_ms)
        return [reply.encode(reply.Reply(1, 1, 0.0, 1, False, error=error))]

    correlator = Correlator("tcp://127.0.0.1:1", 5.0)
    for message in (
        "more than 10 twins spawned a minute; retry in 60000 ms",
        "64 chats are being answered; retry in 50 ms",
        "8 history queries are running; retry in 50 ms",
    ):
        correlator.reply_of(refused(message, 60_000))
        assert correlator.held([2]) is None, message
    correlator.reply_of(refused("more than 200 requests a second; retry in 800 ms", 800))
    (held,) = correlator.held([3])
    assert held.id == 3 and held.error.code == "rate_limited" and held.error.retry_after_ms > 700
