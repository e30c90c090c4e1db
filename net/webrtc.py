"""WebRTC video view of the crowd: one VP8 video track and one JSON data channel per viewer.

``WebRtcHub`` is the peer registry that the HTTP API's ``POST /api/webrtc/offer`` feeds. Like the
REST calls it never touches the world: ``CrowdFeed`` keeps the latest crowd (a ``snapshot`` from
the ROUTER first, then the PUB socket's ``cell/`` crowd messages applied to a ``CrowdDecoder``; when
no PUB endpoint is known it polls ``snapshot`` instead), and the selected twin's vitals come from
the ROUTER's ``twin`` operation.

Data channel messages (JSON), viewer to server: ``{"camera": {"x": m, "y": m, "zoom": m_per_px}}``
(any subset), ``{"select": id}`` or ``{"follow": id}`` (follow also keeps the camera on the twin;
``null`` clears). Server to viewer: ``{"vitals": {...}}`` of the selected twin at ``VITALS_HZ``,
``{"activity": name}`` when its activity changes, ``{"error": message}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import logging
import threading
import time
from typing import Any

import numpy as np
import zmq
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)

from net.publisher import ACTIVITY_NAMES
from net.render import Camera, CrowdRenderer
from net.wire.crowd import CrowdDecoder, CrowdState

__all__ = ["CrowdFeed", "CrowdVideoTrack", "Peer", "WebRtcHub"]

log = logging.getLogger(__name__)

FPS = 24
VITALS_HZ = 8.0
CONNECT_TIMEOUT_S = 20.0
"""A peer not connected this long after its offer is closed (a stalled negotiation)."""
SNAPSHOT_POLL_S = 1 / 15
VIDEO_CLOCK = 90000


class CrowdFeed:
    """The latest crowd, merged over cells: ``latest()`` gives ``(ids, pos_m, activity)``."""

    def __init__(self, router: Any, pub_endpoint: str | None, context: zmq.Context | None) -> None:
        self.router = router
        self.pub_endpoint = pub_endpoint
        self.context = context or zmq.Context.instance()
        self._lock = threading.Lock()
        self._states: dict[tuple[int, int], CrowdState] = {}
        self._decoder = CrowdDecoder()
        self._merged: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="crowd-feed", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _apply(self, payload: bytes) -> None:
        try:
            state = self._decoder.apply(payload)
        except Exception:  # unknown_base, stale: the next keyframe repairs it
            return
        with self._lock:
            self._states[state.cell] = state
            self._merged = None

    def _snapshot(self, fresh: bool) -> None:
        try:
            payloads = self.router.call("snapshot")["crowd"]
        except Exception as err:  # the simulation is stopping or slow: try again later
            log.debug("snapshot failed: %s", err)
            return
        if fresh:
            self._decoder = CrowdDecoder()
            with self._lock:
                self._states = {}
        for payload in payloads:
            self._apply(payload)

    def _run(self) -> None:
        if self.pub_endpoint is None:
            while not self._stop.is_set():
                self._snapshot(fresh=True)
                self._stop.wait(SNAPSHOT_POLL_S)
            return
        sub = self.context.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"cell/")
        try:
            sub.connect(self.pub_endpoint)
            self._snapshot(fresh=True)
            while not self._stop.is_set():
                if not sub.poll(100):
                    continue
                while True:
                    try:
                        topic, payload = sub.recv_multipart(zmq.NOBLOCK)[:2]
                    except zmq.Again:
                        break
                    if topic.endswith(b"/crowd"):
                        self._apply(payload)
        except zmq.ZMQError as err:
            log.debug("crowd feed stopped: %s", err)
        finally:
            sub.close(linger=0)

    def latest(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``ids (N,) int64`` ascending, ``pos_m (N, 2)``, ``activity (N,)``; a twin in two cells'
        states (just moved) counts once, by its latest record."""
        with self._lock:
            if self._merged is not None:
                return self._merged
            states = list(self._states.values())
        if not states:
            merged = (np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0, np.uint8))
        else:
            ids = np.concatenate([s.ids for s in states]).astype(np.int64)
            t = np.concatenate([s.sample_t_s for s in states])
            order = np.lexsort((t, ids))
            last = order[np.r_[ids[order][1:] != ids[order][:-1], True]]
            merged = (
                ids[last],
                np.concatenate([s.pos_m for s in states])[last],
                np.concatenate([s.activity for s in states])[last],
            )
        with self._lock:
            self._merged = merged
        return merged

    def position_of(self, twin_id: int) -> np.ndarray | None:
        ids, pos, _ = self.latest()
        at = int(np.searchsorted(ids, twin_id))
        return pos[at] if at < ids.size and ids[at] == twin_id else None


class CrowdVideoTrack(VideoStreamTrack):
    """Renders the feed's latest crowd at ``FPS`` with the hub's renderer and its own camera."""

    def __init__(self, hub: WebRtcHub, camera: Camera) -> None:
        super().__init__()
        self.hub = hub
        self.camera = camera
        self.follow: int | None = None
        self._start: float | None = None
        self._count = 0
        self.frames = 0

    async def recv(self):
        if self._start is None:
            self._start = time.monotonic()
        self._count += 1
        wait = self._start + self._count / FPS - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        if self.follow is not None:
            at = self.hub.feed.position_of(self.follow)
            if at is not None:
                self.camera.x, self.camera.y = float(at[0]), float(at[1])
        _, pos, activity = self.hub.feed.latest()
        frame = self.hub.renderer().render(pos, activity, self.camera)
        frame.pts = round(self._count * VIDEO_CLOCK / FPS)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self.frames += 1
        return frame


class Peer:
    """One viewer: its connection, track, data channel and vitals task."""

    def __init__(self, hub: WebRtcHub, pc: RTCPeerConnection, track: CrowdVideoTrack) -> None:
        self.hub, self.pc, self.track = hub, pc, track
        self.channel: Any = None
        self.selected: int | None = None
        self.tasks: list[asyncio.Task] = []

    def send(self, message: dict[str, Any]) -> None:
        channel = self.channel
        if channel is not None and channel.readyState == "open":
            channel.send(json.dumps(message))

    def on_message(self, text: Any) -> None:
        try:
            message = json.loads(text)
            if not isinstance(message, dict):
                raise ValueError("a message is a JSON object")
            if "camera" in message:
                camera = message["camera"]
                for key in ("x", "y", "zoom"):
                    if key in camera:
                        value = float(camera[key])
                        if not np.isfinite(value) or (key == "zoom" and value <= 0):
                            raise ValueError(f"bad camera {key}")
                        setattr(self.track.camera, key, value)
                if "x" in camera or "y" in camera:
                    self.track.follow = None
            for key in ("select", "follow"):
                if key in message:
                    twin = message[key]
                    twin = None if twin is None else int(twin)
                    self.selected = twin
                    self.track.follow = twin if key == "follow" else None
        except (ValueError, TypeError, KeyError) as err:
            self.send({"error": str(err)})

    async def vitals_loop(self) -> None:
        last_activity: str | None = None
        last_twin: int | None = None
        while True:
            await asyncio.sleep(1 / VITALS_HZ)
            twin = self.selected
            if twin is None:
                last_twin = None
                continue
            try:
                details = await asyncio.to_thread(self.hub.router.call, "twin", id=twin)
            except Exception as err:
                self.send({"error": str(err)})
                await asyncio.sleep(1.0)
                continue
            vitals = {k: float(v) for k, v in details["vitals"].items()}
            code = int(details["activity"])
            name = ACTIVITY_NAMES[code] if code < len(ACTIVITY_NAMES) else str(code)
            self.send({"vitals": {"id": twin, **vitals}})
            if name != last_activity or twin != last_twin:
                self.send({"activity": name, "id": twin})
                last_activity, last_twin = name, twin

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.track.stop()
        await self.pc.close()


class WebRtcHub:
    """The registry of viewers (``peers``): ``answer`` adds one, ``close`` ends them all."""

    def __init__(
        self,
        router: Any,
        pub_endpoint: str | None = None,
        context: zmq.Context | None = None,
        width: int = 1280,
        height: int = 720,
    ) -> None:
        self.router = router
        self.feed = CrowdFeed(router, pub_endpoint, context)
        self.size = (width, height)
        self.peers: set[Peer] = set()
        self._renderer: CrowdRenderer | None = None
        self._closed = False

    def renderer(self) -> CrowdRenderer:
        """The shared renderer, made on first use in the event loop's thread (its GL context)."""
        if self._renderer is None:
            self._renderer = CrowdRenderer(*self.size)
        return self._renderer

    async def answer(self, sdp: str, kind: str) -> RTCSessionDescription:
        """Accept a viewer's offer; returns the answer (ICE candidates included)."""
        if self._closed:
            raise RuntimeError("the WebRTC hub is closed")
        self.feed.start()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        track = CrowdVideoTrack(self, self._initial_camera())
        peer = Peer(self, pc, track)
        self.peers.add(peer)

        @pc.on("datachannel")
        def on_datachannel(channel: Any) -> None:
            peer.channel = channel
            channel.on("message", peer.on_message)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.remove(peer)

        try:
            transceiver = pc.addTransceiver(track, direction="sendonly")
            vp8 = [
                c for c in RTCRtpSender.getCapabilities("video").codecs if c.name == "VP8"
            ]  # fmt: skip
            transceiver.setCodecPreferences(vp8)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception:
            await self.remove(peer)
            raise
        peer.tasks.append(asyncio.ensure_future(peer.vitals_loop()))
        peer.tasks.append(asyncio.ensure_future(self._watch(peer)))
        return pc.localDescription

    def _initial_camera(self) -> Camera:
        _, pos, _ = self.feed.latest()
        if pos.shape[0]:
            lo, hi = pos.min(axis=0), pos.max(axis=0)
            centre = (lo + hi) / 2
            zoom = max((hi[0] - lo[0]) / self.size[0], (hi[1] - lo[1]) / self.size[1], 0.05) * 1.1
            return Camera(float(centre[0]), float(centre[1]), float(zoom))
        return Camera(0.0, 0.0, 2.0)

    async def _watch(self, peer: Peer) -> None:
        """Close a peer that does not connect in time, or that stops taking frames (stalled)."""
        await asyncio.sleep(CONNECT_TIMEOUT_S)
        if peer.pc.connectionState != "connected":
            await self.remove(peer)
            return
        while True:
            frames = peer.track.frames
            await asyncio.sleep(CONNECT_TIMEOUT_S)
            if peer.track.frames == frames or peer.pc.connectionState != "connected":
                await self.remove(peer)
                return

    async def remove(self, peer: Peer) -> None:
        if peer in self.peers:
            self.peers.discard(peer)
            current = asyncio.current_task()
            peer.tasks = [t for t in peer.tasks if t is not current]
            await peer.close()

    async def close(self) -> None:
        """Close every peer, stop the feed, free the renderer."""
        self._closed = True
        for peer in list(self.peers):
            with contextlib.suppress(Exception):
                await self.remove(peer)
        await asyncio.to_thread(self.feed.stop)
        if self._renderer is not None:
            self._renderer.release()
            self._renderer = None
