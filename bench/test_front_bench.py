"""The front's added latency (issue 14, item 5): publish -> decoded, direct vs through the front.

One server (a shard: 10,000 twins at 30 Hz from Monday 08:00, in this process, its
publisher stamped with each message's send time, ``bench.stamped_publisher``) and a front for it
(``net.front``, one region, in a child process, as it runs beside Ray shards). One subscriber in
this process follows every ``cell/`` topic twice, on the shard's PUB and on the front's, and
decodes every crowd message. A message is the same on both paths by its ``(topic, tick)`` (the
front changes only ``seq`` and ``base``). Latency is from the shard's send to the decoded
message, p50/p99 on each path, and the front's added p50/p99 (matched messages).

``test_front_restamp_crowd`` against ``test_client_decode_crowd``: the front's work for one
crowd delta of a cell of 1,000 walking twins (decode the envelope, map the seq and base, track
the cell's membership, encode again) beside what every client does with it (decode it).

Numbers go to ``benchmark.extra_info``; run with ``pytest bench/test_front_bench.py
--benchmark-enable`` (with benchmarks disabled every benchmark runs once, as a smoke test).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime

import numpy as np
import zmq

from bench.stamped_publisher import stamp
from bench.test_wire_bench import CELL, SEED, _advance, _walkers
from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from synthtwin.engine.regions import RegionMap
from synthtwin.net.front import shard_security
from synthtwin.net.front_stream import FrontStream, unpack
from synthtwin.net.wire import CrowdEncoder, crowd
from tests.loopback import loopback

RUN_S = 4.0
TWINS = 10_000
BUSY = datetime(2026, 3, 2, 8, 0)
"""Monday 08:00: people walk to work, so most cells publish every turn."""
FRONT = textwrap.dedent(
    """
    import sys
    from synthtwin.engine.config import load_config
    from synthtwin.engine.regions import RegionMap
    from synthtwin.net.front import ShardEndpoints, run_front

    shard_pub, shard_router, pub, router = sys.argv[1:5]
    config = load_config(None, serve={"pub_endpoint": pub, "router_endpoint": router})
    front = run_front([ShardEndpoints(shard_pub, shard_router)], RegionMap.single(), config)
    print("ready", flush=True)
    sys.stdin.read()  # until the parent closes it
    front.close()
    """
)


def _shard(tmp_path) -> Serving:
    serve = {"pub_endpoint": loopback(), "router_endpoint": loopback(),
             "checkpoint": tmp_path / "w.ckpt", "http_enabled": False}  # fmt: skip
    config = load_config(None, serve=serve, twins=TWINS, tick_hz=30, time_scale=1, start=BUSY)
    config = dataclasses.replace(config, security=shard_security(config.security))
    return Serving(config)


def _sub(ctx: zmq.Context, endpoint: str) -> zmq.Socket:
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"cell/")
    sub.connect(endpoint)
    return sub


def _listen(endpoints: dict[str, str], seconds: float) -> dict[str, dict]:
    """``{path: {(topic, tick): (seq, decoded monotonic s)}}`` of the crowd messages of each
    path (``direct``, ``front``) within ``seconds``."""
    ctx = zmq.Context()
    subs = {path: _sub(ctx, endpoint) for path, endpoint in endpoints.items()}
    poller = zmq.Poller()
    for sub in subs.values():
        poller.register(sub, zmq.POLLIN)
    seen: dict[str, dict] = {path: {} for path in subs}
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            ready = dict(poller.poll(100))
            for path, sub in subs.items():
                while sub in ready:
                    try:
                        topic, payload = sub.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    if topic.endswith(b"/crowd"):
                        message = crowd.decode(payload)
                        seen[path][(topic, message.tick)] = (message.seq, time.monotonic())
    finally:
        for sub in subs.values():
            sub.close()
        ctx.term()
    return seen


def test_front_added_latency(benchmark, tmp_path):
    benchmark.group = "front-latency-10k"
    shard = _shard(tmp_path)
    sent_at = stamp(shard.server.publisher, b"cell/")
    front_endpoints = (loopback(), loopback())
    serve = shard.config.serve
    child = subprocess.Popen(
        [sys.executable, "-c", FRONT, serve.pub_endpoint, serve.router_endpoint, *front_endpoints],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    thread = threading.Thread(target=shard.run, daemon=True)
    seen: dict[str, dict] = {}
    try:
        assert child.stdout.readline().strip() == "ready"
        thread.start()
        time.sleep(1.0)  # the front joins the shard; both subscriptions take effect
        paths = {"direct": serve.pub_endpoint, "front": front_endpoints[0]}
        benchmark.pedantic(lambda: seen.update(_listen(paths, RUN_S)), rounds=1, iterations=1)
    finally:
        shard.stop.set()
        if thread.is_alive():  # not started when the front never got ready
            thread.join(timeout=30)
        child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:  # never left behind
            child.kill()
            child.wait(timeout=10)
    direct = seen["direct"]
    latency_ms = {"direct": [], "front": [], "added": []}
    for key, (seq, decoded_s) in direct.items():
        sent = sent_at.get(seq)
        if sent is None:
            continue
        latency_ms["direct"].append((decoded_s - sent) * 1e3)
        if key in seen["front"]:
            front_decoded_s = seen["front"][key][1]
            latency_ms["front"].append((front_decoded_s - sent) * 1e3)
            latency_ms["added"].append((front_decoded_s - decoded_s) * 1e3)
    for path, values in latency_ms.items():
        ms = np.array(values)
        benchmark.extra_info[f"{path}_messages"] = int(ms.size)
        if ms.size:
            benchmark.extra_info[f"{path}_p50_ms"] = round(float(np.percentile(ms, 50)), 3)
            benchmark.extra_info[f"{path}_p99_ms"] = round(float(np.percentile(ms, 99)), 3)
    assert latency_ms["front"], "no crowd message came through the front"


def _keyframe_and_delta(n: int = 1_000) -> tuple[bytes, bytes]:
    """A cell's keyframe of ``n`` walking twins and a delta 1/10 s later."""
    rng = np.random.default_rng(SEED)
    twins = _walkers(n, rng)
    encoder = CrowdEncoder(CELL)
    keyframe = encoder.encode(0, 1, 0.0, **twins)
    _advance(twins, 0.1, np.ones(n, bool), rng)
    return keyframe, encoder.encode(3, 2, 0.1, **twins)


def test_front_restamp_crowd(benchmark):
    benchmark.group = "front-crowd-1k"
    keyframe, delta = _keyframe_and_delta()
    stream = FrontStream(RegionMap.single())
    topic = b"cell/2/5/crowd"
    key_seq = crowd.decode(stream.receive(0, topic, unpack(keyframe))[-1][1]).seq
    published = benchmark(lambda: stream.receive(0, topic, unpack(delta)))
    assert crowd.decode(published[-1][1]).base == key_seq and stream.dropped_deltas == 0


def test_client_decode_crowd(benchmark):
    benchmark.group = "front-crowd-1k"
    _, delta = _keyframe_and_delta()
    assert benchmark(crowd.decode, delta).seq == 2
