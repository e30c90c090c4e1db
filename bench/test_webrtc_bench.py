"""Video viewers against the tick, and the data channel's latency.

With the default 1,000 twins: the realtime tick's p99 with 3 WebRTC viewers attached (aiortc
clients pulling 720p VP8 frames, each with a twin selected) against the same server with none
(target: within 10 %), the frames per second each viewer receives (target: 24), and the latency of
the selected twins' vitals from the moment the simulation publishes them to their arrival at the
viewer over the data channel (target: p99 <= 100 ms). The gateway process (HTTP, rendering, VP8,
WebRTC) runs beside the simulation, as under ``twin serve``.

Numbers go to ``benchmark.extra_info``; run with ``pytest bench/test_webrtc_bench.py
--benchmark-enable``. Loopback only.
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import numpy as np

from engine.config import load_config
from engine.serve import Serving
from net.publisher import Publisher
from tests.loopback import free_port, loopback
from tests.webrtc_viewer import Viewer, loopback_candidates

TWINS = 1000
RUN_S = 8.0
VIEWERS = 3


class _StampedPublisher(Publisher):
    """The publisher, recording the monotonic time each sequence number is sent."""

    sent_at: dict[int, float]

    def _send(self, topic: bytes, payload: bytes) -> None:
        self.sent_at[self.seq] = time.monotonic()
        super()._send(topic, payload)


def _serving(tmp_path) -> Serving:
    serve = {"pub_endpoint": loopback(), "router_endpoint": loopback(),
             "http_port": free_port(), "checkpoint": tmp_path / "w.ckpt",
             "webrtc_host_addresses": ["127.0.0.1"]}  # fmt: skip
    serving = Serving(load_config(None, serve=serve, twins=TWINS, tick_hz=30, time_scale=1))
    serving.server.publisher.__class__ = _StampedPublisher
    serving.server.publisher.sent_at = {}
    return serving


async def _watch(serving: Serving, twin: int, seconds: float) -> tuple[float, list[float]]:
    """One viewer selecting ``twin``: frames per second, and each vitals message's latency (s)."""
    viewer = Viewer()
    await viewer.connect(serving.http.url)
    viewer.send({"select": twin})
    await asyncio.sleep(1.0)
    start, since = viewer.received, time.monotonic()
    await asyncio.sleep(seconds)
    fps = (viewer.received - start) / seconds
    sent_at = serving.server.publisher.sent_at
    latencies = [
        at - sent_at[m["vitals"]["seq"]]
        for at, m in viewer.messages
        if at >= since and "vitals" in m and m["vitals"]["seq"] in sent_at
    ]
    await viewer.close()
    return fps, latencies


def _run(tmp_path, viewers: int) -> dict:
    serving = _serving(tmp_path)
    thread = threading.Thread(target=serving.run, daemon=True)
    thread.start()
    try:
        time.sleep(2.0)
        if viewers:
            items = httpx.get(f"{serving.http.url}/api/twins?limit={viewers}", timeout=10).json()

            async def watch() -> list[tuple[float, list[float]]]:
                return await asyncio.gather(
                    *(_watch(serving, item["id"], RUN_S) for item in items["items"])
                )

            watched = asyncio.run(watch())
        else:
            watched = []
            time.sleep(RUN_S + 1.0)
        return {
            "tick_p99_ms": serving.sim.loop.stats().timings["tick"].p99_ms,
            "fps": [fps for fps, _ in watched],
            "latency_s": [s for _, latencies in watched for s in latencies],
        }
    finally:
        serving.stop.set()
        thread.join(timeout=30)


def test_tick_and_vitals_latency_with_three_video_viewers(benchmark, tmp_path):
    loopback_candidates()
    benchmark.group = "webrtc-viewers"
    results: dict = {}

    def measure() -> None:
        results["without"] = _run(tmp_path, 0)
        results["with"] = _run(tmp_path, VIEWERS)

    benchmark.pedantic(measure, rounds=1, iterations=1)
    without, with_viewers = results["without"], results["with"]
    latency_ms = np.array(with_viewers["latency_s"]) * 1000
    benchmark.extra_info.update(
        {
            "tick_p99_ms_without_viewers": round(without["tick_p99_ms"], 3),
            f"tick_p99_ms_with_{VIEWERS}_viewers": round(with_viewers["tick_p99_ms"], 3),
            "ratio": round(with_viewers["tick_p99_ms"] / without["tick_p99_ms"], 3),
            "fps_per_viewer": [round(f, 1) for f in with_viewers["fps"]],
            "vitals_messages": int(latency_ms.size),
            "vitals_latency_ms_p50": round(float(np.percentile(latency_ms, 50)), 2),
            "vitals_latency_ms_p99": round(float(np.percentile(latency_ms, 99)), 2),
        }
    )
    assert all(f > 0 for f in with_viewers["fps"]), results
    assert latency_ms.size > 0, results
