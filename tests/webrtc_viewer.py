"""A video viewer in Python: aiortc's peer connection against ``POST /api/webrtc/offer``, as the
browser page does it, for the WebRTC tests and benchmarks (loopback only).

``python -m tests.webrtc_viewer URL`` watches until killed, printing ``playing`` after the first
frame: the stalled-viewer test freezes such a process with SIGSTOP. ``python -m
tests.webrtc_viewer URL SECONDS TWIN`` selects the twin, watches for SECONDS after a second's
settling, and prints one JSON line: ``fps`` and ``vitals``, ``[seq, monotonic s]`` of each vitals
message on arrival (the benchmark's viewers, in processes of their own as real viewers are).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aioice.ice
import av
import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

__all__ = ["Viewer", "loopback_candidates"]


def loopback_candidates() -> None:
    """Gather 127.0.0.1 as this process's ICE host candidate (aioice skips loopback)."""
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


class Viewer:
    """One viewer: ``frames`` receives decoded video frames, ``messages`` the data channel's
    ``(monotonic s, message)``; ``send`` writes to the data channel once it is open."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.channel = self.pc.createDataChannel("control")
        self.opened = asyncio.Event()
        self.frames: asyncio.Queue[av.VideoFrame] = asyncio.Queue()
        self.received = 0
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.channel.on("open", self.opened.set)
        self.channel.on("message", self._on_message)
        self.pc.on("track", self._on_track)
        self._pull: asyncio.Task | None = None

    def _on_message(self, text: str) -> None:
        self.messages.append((time.monotonic(), json.loads(text)))

    def _on_track(self, track: Any) -> None:
        async def pull() -> None:
            while True:
                frame = await track.recv()
                self.received += 1
                self.frames.put_nowait(frame)
                if self.frames.qsize() > 48:
                    self.frames.get_nowait()

        self._pull = asyncio.ensure_future(pull())

    async def connect(self, url: str, token: str | None = None) -> None:
        """Offer (with ``token`` as a bearer token, if any), answer, and wait for the data
        channel to open; raises ``httpx.HTTPStatusError`` if the offer is refused."""
        self.pc.addTransceiver("video", direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = {"sdp": self.pc.localDescription.sdp, "type": self.pc.localDescription.type}
        headers = {} if token is None else {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, timeout=10.0, headers=headers) as client:
            answer = await client.post("/api/webrtc/offer", json=offer)
        answer.raise_for_status()
        await self.pc.setRemoteDescription(RTCSessionDescription(**answer.json()))
        await asyncio.wait_for(self.opened.wait(), 15)

    def send(self, message: dict[str, Any]) -> None:
        self.channel.send(json.dumps(message))

    async def fresh_frame(self, settle_s: float = 0.5) -> av.VideoFrame:
        """A frame rendered at least ``settle_s`` from now (after a camera message took effect)."""
        await asyncio.sleep(settle_s)
        while not self.frames.empty():
            self.frames.get_nowait()
        return await asyncio.wait_for(self.frames.get(), 10)

    async def reply(self, key: str, since: float, timeout_s: float = 5.0) -> dict[str, Any]:
        """The first message holding ``key`` received after ``since`` (monotonic s)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for at, message in self.messages:
                if at >= since and key in message:
                    return message
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no {key!r} message within {timeout_s} s")

    async def close(self) -> None:
        if self._pull is not None:
            self._pull.cancel()
        await self.pc.close()


async def _watch_forever(url: str) -> None:
    viewer = Viewer()
    await viewer.connect(url)
    await asyncio.wait_for(viewer.frames.get(), 15)
    print("playing", flush=True)
    await asyncio.Event().wait()


async def _watch_for(url: str, seconds: float, twin: int) -> dict[str, Any]:
    viewer = Viewer()
    await viewer.connect(url)
    viewer.send({"select": twin})
    await asyncio.sleep(1.0)
    start, since = viewer.received, time.monotonic()
    await asyncio.sleep(seconds)
    fps = (viewer.received - start) / seconds
    vitals = [[m["vitals"]["seq"], at] for at, m in viewer.messages if "vitals" in m]
    vitals = [[seq, at] for seq, at in vitals if at >= since]
    await viewer.close()
    return {"fps": fps, "vitals": vitals}


if __name__ == "__main__":
    loopback_candidates()
    if len(sys.argv) == 2:
        asyncio.run(_watch_forever(sys.argv[1]))
    else:
        found = asyncio.run(_watch_for(sys.argv[1], float(sys.argv[2]), int(sys.argv[3])))
        print(json.dumps(found), flush=True)
