"""Video viewers against the tick: the realtime tick's p99 with 3 WebRTC viewers attached (aiortc
clients pulling 720p VP8 frames) against the same server with none (target: within 10 %), and the
frames per second each viewer receives.

Numbers go to ``benchmark.extra_info``; run with ``pytest bench/test_webrtc_bench.py
--benchmark-enable``. Loopback only: aioice is allowed to gather 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import threading
import time

import aioice.ice
import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from engine.config import load_config
from engine.serve import Serving
from tests.loopback import free_port, loopback

TWINS = 1000
RUN_S = 8.0
VIEWERS = 3


def _serving(tmp_path) -> Serving:
    serve = {"pub_endpoint": loopback(), "router_endpoint": loopback(),
             "http_port": free_port(), "checkpoint": tmp_path / "w.ckpt"}  # fmt: skip
    return Serving(load_config(None, serve=serve, twins=TWINS, tick_hz=30, time_scale=1))


async def _viewer(url: str, seconds: float) -> float:
    """Watch for ``seconds``; returns the frames per second received."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    received = 0
    done = asyncio.Event()

    @pc.on("track")
    def on_track(track) -> None:
        async def pull() -> None:
            nonlocal received
            while not done.is_set():
                await track.recv()
                received += 1

        asyncio.ensure_future(pull())

    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(base_url=url, timeout=10.0) as client:
        answer = await client.post(
            "/api/webrtc/offer",
            json={"sdp": pc.localDescription.sdp, "type": pc.localDescription.type},
        )
    await pc.setRemoteDescription(RTCSessionDescription(**answer.json()))
    await asyncio.sleep(1.0)
    start = received
    await asyncio.sleep(seconds)
    fps = (received - start) / seconds
    done.set()
    await pc.close()
    return fps


def _tick_p99_ms(tmp_path, viewers: int) -> tuple[float, list[float]]:
    serving = _serving(tmp_path)
    thread = threading.Thread(target=serving.run, daemon=True)
    thread.start()
    fps: list[float] = []
    try:
        time.sleep(1.0)
        if viewers:

            async def watch() -> list[float]:
                views = [_viewer(serving.http.url, RUN_S) for _ in range(viewers)]
                return list(await asyncio.gather(*views))

            fps = asyncio.run(watch())
        else:
            time.sleep(RUN_S + 1.0)
        return serving.sim.loop.stats().timings["tick"].p99_ms, fps
    finally:
        serving.stop.set()
        thread.join(timeout=30)


def test_tick_with_three_video_viewers(benchmark, tmp_path, monkeypatch):
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    benchmark.group = "webrtc-viewers"
    results: dict = {}

    def measure() -> None:
        results["without"], _ = _tick_p99_ms(tmp_path, 0)
        results["with"], results["fps"] = _tick_p99_ms(tmp_path, VIEWERS)

    benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update(
        {
            "tick_p99_ms_without_viewers": round(results["without"], 3),
            f"tick_p99_ms_with_{VIEWERS}_viewers": round(results["with"], 3),
            "ratio": round(results["with"] / results["without"], 3),
            "fps_per_viewer": [round(f, 1) for f in results["fps"]],
        }
    )
    assert all(f > 0 for f in results["fps"]), results
