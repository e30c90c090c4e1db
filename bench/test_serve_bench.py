"""Serving costs: the tick with stalled subscribers, and publish-to-decoded latency.

- ``test_tick_with_stalled_subscribers``: the realtime tick's p99 (ms) with 20 SUB sockets that
  subscribe to everything and never read, against the same run without them (target: within 10 %).
  Both runs have one subscriber that reads everything, so the server publishes the same topics in
  both: the difference is what stalled readers cost.
- ``test_publish_to_decoded_latency``: 10,000 twins at 30 Hz; a subscriber decodes every crowd
  message; latency is the wall time from the publisher's send to the decoded message (target: p99
  at most 5 ms on loopback).

Numbers go to ``benchmark.extra_info``; run with ``pytest bench/test_serve_bench.py
--benchmark-enable``.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import zmq

from bench.stamped_publisher import stamp
from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from synthtwin.net.wire import decode_any
from tests.loopback import loopback

RUN_S = 4.0
STALL_RUN_S = 10.0


def _endpoints() -> dict[str, str]:
    return {"pub_endpoint": loopback(), "router_endpoint": loopback()}


def _serving(tmp_path, twins: int) -> Serving:
    serve = {**_endpoints(), "checkpoint": tmp_path / "w.ckpt", "http_enabled": False}
    return Serving(load_config(None, serve=serve, twins=twins, tick_hz=30, time_scale=1))


def _run(serving: Serving, seconds: float, during=None) -> None:
    thread = threading.Thread(target=serving.run, daemon=True)
    thread.start()
    try:
        if during is not None:
            during(seconds)
        else:
            time.sleep(seconds)
    finally:
        serving.stop.set()
        thread.join(timeout=30)


def _tick_p99_ms(tmp_path, stalled: int) -> float:
    serving = _serving(tmp_path, 1000)
    ctx = zmq.Context()
    subs = [_subscriber(ctx, serving) for _ in range(stalled)]
    reader = _subscriber(ctx, serving)

    def read_everything(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if reader.poll(50):
                reader.recv_multipart()

    try:
        _run(serving, STALL_RUN_S, read_everything)
        return serving.sim.loop.stats().timings["tick"].p99_ms
    finally:
        for sub in [*subs, reader]:
            sub.close()
        ctx.term()


def _subscriber(ctx: zmq.Context, serving: Serving) -> zmq.Socket:
    """A SUB socket on every topic, holding at most 10 unread messages."""
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVHWM, 10)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(serving.config.serve.pub_endpoint)
    return sub


def test_tick_with_stalled_subscribers(benchmark, tmp_path):
    benchmark.group = "serve-stalled-subscribers"
    results = {}

    def measure() -> None:
        results["without"] = _tick_p99_ms(tmp_path, 0)
        results["with_20_stalled"] = _tick_p99_ms(tmp_path, 20)

    benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update({f"tick_p99_ms_{k}": round(v, 3) for k, v in results.items()})
    benchmark.extra_info["ratio"] = round(results["with_20_stalled"] / results["without"], 3)


def test_publish_to_decoded_latency(benchmark, tmp_path):
    benchmark.group = "serve-latency-10k"
    serving = _serving(tmp_path, 10_000)
    stamp(serving.server.publisher, b"")
    latencies: list[float] = []

    def listen(seconds: float) -> None:
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"cell/")
        sub.connect(serving.config.serve.pub_endpoint)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not sub.poll(100):
                continue
            _, payload = sub.recv_multipart()
            message = decode_any(payload)
            sent = serving.server.publisher.sent_at.get(message.seq)
            if sent is not None:
                latencies.append(time.monotonic() - sent)
        sub.close(linger=0)
        ctx.term()

    benchmark.pedantic(_run, args=(serving, RUN_S, listen), rounds=1, iterations=1)
    ms = np.array(latencies) * 1e3
    benchmark.extra_info.update(
        {
            "messages": int(ms.size),
            "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)),
        }  # fmt: skip
    )
    assert ms.size > 0
