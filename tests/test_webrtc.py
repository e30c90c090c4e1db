"""The WebRTC video view against a real ``Serving``: a Python aiortc viewer posts its offer over
HTTP, receives VP8 frames that move, pans with a camera message, gets vitals of a selected twin,
and is removed from the registry when it closes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import aioice.ice
import httpx
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from engine.serve import Serving
from tests.test_http_api import running, serve_config


@pytest.fixture(scope="module")
def serving(tmp_path_factory) -> Iterator[Serving]:
    config = serve_config(tmp_path_factory.mktemp("webrtc"), http_port=0)
    with pytest.MonkeyPatch.context() as mp:
        # loopback only: aioice skips 127.0.0.1 by itself (shared/notes/webrtc-in-tests.md)
        mp.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
        with running(config) as server:
            yield server


def luma(frame) -> np.ndarray:
    return frame.to_ndarray(format="gray").astype(np.float64)


def test_video_camera_vitals_and_close(serving: Serving) -> None:
    asyncio.run(_viewer(serving))


async def _viewer(serving: Serving) -> None:
    hub = serving.http.server.config.app.state.webrtc
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel = pc.createDataChannel("control")
    messages: list[tuple[float, dict]] = []
    channel.on("message", lambda text: messages.append((time.monotonic(), json.loads(text))))
    opened = asyncio.Event()
    channel.on("open", opened.set)
    frames: asyncio.Queue = asyncio.Queue()

    @pc.on("track")
    def on_track(track) -> None:
        async def pull() -> None:
            while True:
                frames.put_nowait(await track.recv())

        asyncio.ensure_future(pull())

    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(base_url=serving.http.url, timeout=10.0) as client:
        answer = await client.post(
            "/api/webrtc/offer",
            json={"sdp": pc.localDescription.sdp, "type": pc.localDescription.type},
        )
        assert answer.status_code == 200, answer.text
        items = (await client.get("/api/twins?limit=5")).json()["items"]
        ids = [t["id"] for t in items]
        x, y = items[0]["pos_m"]
    await pc.setRemoteDescription(RTCSessionDescription(**answer.json()))
    assert len(hub.peers) == 1

    received = [await asyncio.wait_for(frames.get(), 15) for _ in range(10)]
    more = [await asyncio.wait_for(frames.get(), 15) for _ in range(24)]
    first, last = luma(received[0]), luma(more[-1])
    assert first.shape == (720, 1280)
    assert np.abs(first - last).mean() > 0

    await asyncio.wait_for(opened.wait(), 10)
    before = luma(more[-1])
    channel.send(json.dumps({"camera": {"x": -50_000.0, "y": -50_000.0, "zoom": 0.5}}))
    await asyncio.sleep(0.5)
    while not frames.empty():
        frames.get_nowait()
    empty = luma(await asyncio.wait_for(frames.get(), 10))
    assert empty.std() < 1.0  # only ground, far from the town
    assert np.abs(before - empty).max() > 50  # the town's twins are gone
    channel.send(json.dumps({"camera": {"x": x, "y": y, "zoom": 0.5}}))
    await asyncio.sleep(0.5)
    while not frames.empty():
        frames.get_nowait()
    after = luma(await asyncio.wait_for(frames.get(), 10))
    assert np.abs(empty - after).max() > 50  # back in the town: twins again

    channel.send(json.dumps({"select": ids[0]}))
    await asyncio.sleep(2.0)
    vitals = [t for t, m in messages if "vitals" in m and m["vitals"]["id"] == ids[0]]
    assert len(vitals) >= 5
    assert (len(vitals) - 1) / (vitals[-1] - vitals[0]) >= 5.0
    assert "hr_bpm" in next(m for _, m in messages if "vitals" in m)["vitals"]
    assert any("activity" in m for _, m in messages)

    await pc.close()
    deadline = time.monotonic() + 15
    while hub.peers and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert not hub.peers
