"""WebRTC video view of the crowd: one VP8 video track and one JSON data channel per viewer.

Pattern: a peer registry (aiortc's ``examples/server``) fed by the Clone pattern's state stream.
``WebRtcHub`` lives in the gateway process (``net.gateway``) and never touches the world: the
gateway's ``AsyncCloneClient`` (``net.wire.client``), joined on the first viewer, brings the crowd
(every cell's crowd messages, after a ``snapshot``, merged by ``net.wire.clone.merge_cells`` and
advanced to the present by a ``CrowdFeed``; the town's places, fixed, come once from a ``town``
request) and the vitals of the twins that viewers selected (``twin/<id>/vitals``, subscribed while
somebody watches them, pushed to the viewers the moment they arrive). Each viewer has its own
orbit camera; ``net.render`` draws its frames.

Data channel messages (JSON objects), viewer to server:

=================================================  ============================================
``{"camera": {"x": m, "y": m, "distance_m": m,     set the camera (any subset of
"yaw_deg": deg, "pitch_deg": deg}}``                ``net.render.Camera``'s fields)
``{"pan": {"dx_px": px, "dy_px": px}}``            drag: the ground follows the pointer
``{"orbit": {"dyaw_deg": deg, "dpitch_deg": deg}}``  turn around the camera's target
``{"zoom": factor}``                               magnify: 2 halves the distance
``{"pick": {"u": 0..1, "v": 0..1}}``               select the twin under that point of the
                                                   picture (from its top-left corner); none
                                                   there keeps the selection (and follow)
``{"select": id}`` / ``{"follow": id}``            select a twin (``follow`` also keeps the
                                                   camera on it); ``null`` clears
=================================================  ============================================

Server to viewer: ``{"selected": id}`` after a pick, select or follow (``null``: none);
``{"vitals": {...}}`` each time the selected twin's vitals are published (``twin_hz``; fields of
``net.wire.vitals`` plus ``id``, ``tick``, ``seq``, ``t_s`` and ``activity``), to viewers whose
token holds the analyst role only (health data; ``net.auth``); ``{"activity": name, "id": id}``
when its activity changes; ``{"error": message}`` for a message it could not use.

Each viewer keeps the token and role of its offer (``answer``); its token is checked again every
``WATCH_EVERY_S``, so a viewer whose token is revoked or expires is closed. The feed's own
requests (snapshot, town) carry the token of the newest viewer: it asks on their behalf. At most
``max_viewers`` watch at once (``TooManyViewers`` beyond). A viewer that does not connect within
``CONNECT_TIMEOUT_S``, or whose receiver reports (RTCP) stop for ``STALL_S`` (it vanished, froze
or lost the network), is closed and removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fractions
import itertools
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import aioice.ice
import numpy as np
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
    clock,
)
from aiortc import sdp as sdp_parser
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError

from synthtwin.components.activity import ACTIVITY_NAMES
from synthtwin.components.physiology import VITAL_COLUMNS
from synthtwin.kernels.clips import ClipLibrary
from synthtwin.net.auth import AuthError, Role
from synthtwin.net.render import Camera, CrowdRenderer, CrowdView
from synthtwin.net.render.assets import CrowdAssets
from synthtwin.net.render.flight import Flight
from synthtwin.net.render.town import TownView
from synthtwin.net.wire.client import AsyncCloneClient
from synthtwin.net.wire.clone import Applied, Crowd, Replica
from synthtwin.net.wire.crowd import CrowdState
from synthtwin.net.wire.dealer import ClientClosed, RequestError, RequestTimeout
from synthtwin.net.wire.topics import topic_for
from synthtwin.net.wire.vitals import VitalsMessage

__all__ = [
    "BadOffer",
    "CrowdFeed",
    "CrowdVideoTrack",
    "Peer",
    "TooManyViewers",
    "WebRtcHub",
    "offer_host_addresses",
]

log = logging.getLogger(__name__)

FPS = 24
MAX_LAG_S = 0.25
"""A track behind its frame schedule by up to this catches up (a hiccup costs no frames);
further behind, it drops the missed frames rather than send a burst."""
CONNECT_TIMEOUT_S = 20.0
"""A peer not connected this long after its offer is closed (a stalled negotiation)."""
STALL_S = 6.0
"""A connected peer whose receiver reports stop this long is closed (browsers send them ~1/s)."""
WATCH_EVERY_S = 1.0
MAX_AHEAD_S = 0.5
"""How far past the newest message the feed's present runs on (a paused simulation sends none),
wall seconds: at time scale 60 a cell's turn is 6 sim seconds, so a bound in sim seconds froze the
crowd between turns (the Unity client's ``SimClock.MaxAheadS``)."""
RATE_SPAN_S = 0.2
"""Shortest wall span the sim rate is measured over (messages come every tick, 33 ms at 30 Hz:
a span between two of them said nothing and the rate stayed at its start)."""
VIDEO_CLOCK = 90000
MESSAGE_KEYS = frozenset({"camera", "pan", "orbit", "zoom", "pick", "select", "follow"})
_UNCHANGED = object()


def offer_host_addresses(addresses: Sequence[str]) -> None:
    """Make every peer of this process gather exactly ``addresses`` as ICE host candidates.

    aioice gathers every address of the machine except loopback and has no setting for it; in a
    loopback-only network it would offer none (``shared/notes/webrtc-in-tests.md``). Process-wide
    by nature: the gateway process calls it once, before any peer exists.
    """
    chosen = list(addresses)
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: chosen


class BadOffer(ValueError):
    """A viewer's offer that cannot start a video view; the message says why."""


class TooManyViewers(RuntimeError):
    """An offer while ``max_viewers`` viewers watch; the message says so."""


TokenCheck = Callable[[str | None, Role], Role]
"""``net.http_security.Access.check``: the role of a token if it grants the role asked, else
``net.auth.AuthError``."""


class CrowdFeed:
    """The replica's crowd as the renderer wants it (``latest``), advanced to the present.

    ``latest`` converts ``Replica.crowd`` (every twin once, ``net.wire.clone.merge_cells``) when
    it changed. ``view`` advances each twin from its record to the present, as protocol clients
    do: phase at the clip's own rate (stride per loop for gaits; twins at rest are in no delta, so
    their records age), position dead-reckoned along heading at its speed (protocol 6.1: a
    traveller going straight is in no delta until its next keyframe).
    The present is the newest crowd message's sim time (``on_crowd``) plus the wall time since at
    the rate sim time has been moving (measured over ``RATE_SPAN_S`` or more), for at most
    ``MAX_AHEAD_S`` wall seconds.
    """

    def __init__(self, library: ClipLibrary, replica: Replica) -> None:
        self.library = library
        self.replica = replica
        self._crowd: Crowd | None = None  # the replica's crowd that ``_latest`` was made from
        self._latest = CrowdView.empty()
        self._newest: tuple[float, float] | None = None  # (sim t_s, wall monotonic s)
        self._rate_from: tuple[float, float] | None = None  # where the rate's span starts
        self._sim_rate = 1.0

    def on_crowd(self, state: CrowdState, wall: float | None = None) -> None:
        """Keep the clock: a cell's state after a crowd message the replica applied at ``wall``
        (monotonic s; None: now)."""
        wall = time.monotonic() if wall is None else wall
        start = self._rate_from
        if start is None or state.t_s < start[0]:
            self._rate_from = (state.t_s, wall)
        elif wall - start[1] >= RATE_SPAN_S:
            self._sim_rate = (state.t_s - start[0]) / (wall - start[1])
            self._rate_from = (state.t_s, wall)
        if self._newest is None or state.t_s >= self._newest[0]:
            self._newest = (state.t_s, wall)

    def now_s(self, wall: float | None = None) -> float:
        """The simulation's present as best known here at ``wall`` (monotonic s; None: now),
        sim seconds."""
        if self._newest is None:
            return 0.0
        t_s, newest_wall = self._newest
        wall = time.monotonic() if wall is None else wall
        return t_s + min(wall - newest_wall, MAX_AHEAD_S) * self._sim_rate

    def latest(self) -> CrowdView:
        """Every twin's latest record, ids ascending (a twin just between two cells counts once)."""
        crowd = self.replica.crowd()
        if crowd is not self._crowd:
            self._crowd = crowd
            self._latest = CrowdView(
                crowd.ids, crowd.pos_m, crowd.heading_rad, crowd.activity, crowd.clip, crowd.phase
            )
        return self._latest

    def view(self, wall: float | None = None) -> CrowdView:
        """``latest`` advanced to ``now_s(wall)``."""
        crowd = self.latest()
        if crowd.ids.size == 0:
            return crowd
        now_s = self.now_s(wall)
        age_s = np.maximum(now_s - self._crowd.sample_t_s, 0.0)
        clip = crowd.clip.astype(np.int64)
        stride_m = self.library.stride_m[clip]
        speed = self._crowd.speed_mps
        loops_per_s = np.where(
            stride_m > 0, speed / np.maximum(stride_m, 1e-6), 1.0 / self.library.period_s[clip]
        )
        return dataclasses.replace(
            crowd,
            pos_m=self._crowd.position_at(now_s),
            phase=((crowd.phase + loops_per_s * age_s) % 1.0).astype(np.float32),
        )


class CrowdVideoTrack(VideoStreamTrack):
    """Renders the feed's crowd at ``FPS`` with the hub's renderer, through its peer's camera."""

    def __init__(self, hub: WebRtcHub, camera: Camera) -> None:
        super().__init__()
        self.hub = hub
        self.camera = camera
        self.follow: int | None = None
        self.flight: Flight | None = None  # on the way to the followed twin
        self.selected: int | None = None  # ringed and labelled in the picture
        self._start: float | None = None
        self.frames = 0

    async def recv(self):
        now = time.monotonic()
        if self._start is None or now - self._start > (self.frames + 1) / FPS + MAX_LAG_S:
            self._start = now - self.frames / FPS  # far behind (a stall): skip, not burst
        wait = self._start + (self.frames + 1) / FPS - now
        if wait > 0:
            await asyncio.sleep(wait)
        crowd = self.hub.feed.view()
        at = None if self.follow is None else crowd.position_of(self.follow)
        if at is not None and self.flight is not None and not self.flight.done(now):
            self.camera = self.flight.camera(self.camera, now, at)
        elif at is not None:
            self.camera = dataclasses.replace(self.camera, x=float(at[0]), y=float(at[1]))
        frame = self.hub.renderer().render(crowd, self.camera, self.selected)
        self.frames += 1
        frame.pts = round(self.frames * VIDEO_CLOCK / FPS)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame


class Peer:
    """One viewer: its connection, video sender, data channel, camera, selection, and the token
    and role it came with."""

    def __init__(
        self,
        hub: WebRtcHub,
        number: int,
        pc: RTCPeerConnection,
        camera: Camera,
        token: str | None = None,
        role: Role = Role.ADMIN,
    ) -> None:
        self.hub, self.number, self.pc = hub, number, pc
        self.token, self.role = token, role
        self.track = CrowdVideoTrack(hub, camera)
        self.sender: RTCRtpSender | None = None
        self.channel: Any = None
        self.selected: int | None = None
        self.last_activity: int | None = None
        self.tasks: list[asyncio.Task] = []

    @property
    def sees_vitals(self) -> bool:
        """Whether this viewer may receive health data (the analyst role)."""
        return self.role >= Role.ANALYST

    def send(self, message: dict[str, Any]) -> None:
        channel = self.channel
        if channel is not None and channel.readyState == "open":
            channel.send(json.dumps(message))

    def on_message(self, text: Any) -> None:
        """Apply one viewer message (module docstring); a bad one gets ``{"error": ...}``."""
        try:
            message = json.loads(text)
            if not isinstance(message, dict):
                raise ValueError("a message is a JSON object")
            self._apply(message)
        except (ValueError, TypeError, KeyError) as err:
            self.send({"error": f"{type(err).__name__}: {err}"})

    def _apply(self, message: dict[str, Any]) -> None:
        """Validate the whole message first, then commit it: a bad one changes nothing."""
        unknown = set(message) - MESSAGE_KEYS
        if unknown or not message:
            raise ValueError(f"unknown message {sorted(unknown)}; expected {sorted(MESSAGE_KEYS)}")
        camera, follow = dataclasses.replace(self.track.camera), self.track.follow  # a copy
        if "camera" in message:
            fields = {k: _number(v, k) for k, v in dict(message["camera"]).items()}
            camera = dataclasses.replace(camera, **fields)
            follow = None if "x" in fields or "y" in fields else follow
        if "pan" in message:
            pan = dict(message["pan"])
            dx, dy = _number(pan["dx_px"], "dx_px"), _number(pan["dy_px"], "dy_px")
            camera.pan_pixels(dx, dy, self.hub.size[1])
            follow = None
        if "orbit" in message:
            orbit = dict(message["orbit"])
            camera.orbit(
                _number(orbit.get("dyaw_deg", 0.0), "dyaw_deg"),
                _number(orbit.get("dpitch_deg", 0.0), "dpitch_deg"),
            )
        if "zoom" in message:
            camera.zoom(_number(message["zoom"], "zoom"))
        selection: Any = _UNCHANGED
        if "pick" in message:
            pick = dict(message["pick"])
            u, v = _number(pick["u"], "u"), _number(pick["v"], "v")
            if not (0.0 <= u <= 1.0 and 0.0 <= v <= 1.0):
                raise ValueError("pick u and v are fractions of the picture, 0..1")
            picked = self.hub.renderer().pick(self.hub.feed.view(), camera, u, v)
            selection = self.selected if picked is None else picked  # empty ground: kept
            follow = follow if picked in (None, follow) else None
        for key in ("select", "follow"):
            if key in message:
                selection = None if message[key] is None else _twin_id(message[key])
                follow = selection if key == "follow" else None
        if follow is not None and follow != self.track.follow:  # fly there, not jump
            self.track.flight = Flight(dataclasses.replace(camera), time.monotonic())
        self.track.camera, self.track.follow = camera, follow
        if selection is not _UNCHANGED:
            self.hub.select(self, selection)

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.number,
            "state": self.pc.connectionState,
            "frames": self.track.frames,
            "camera": dataclasses.asdict(self.track.camera),
            "selected": self.selected,
            "follow": self.track.follow,
        }

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.track.stop()
        await _close_quietly(self.pc)


async def _close_quietly(pc: RTCPeerConnection) -> None:
    """Close ``pc``, even one that a bad offer left half-built: aiortc's ``close`` then trips
    over the parts it never made (no socket was opened yet: gathering starts with the answer)."""
    try:
        await pc.close()
    except Exception:
        log.info("closing a half-built connection", exc_info=True)


def _check_offer(sdp: str) -> None:
    """Raise ``BadOffer`` unless ``sdp`` parses as SDP with a video section."""
    try:
        media = [m.kind for m in sdp_parser.SessionDescription.parse(sdp).media]
    except Exception as err:  # aiortc's parser raises whatever a bad line makes it raise
        raise BadOffer(f"the offer is not valid SDP: {type(err).__name__}: {err}") from None
    if "video" not in media:
        raise BadOffer(
            "the offer has no video section: offer a recvonly video transceiver and a data "
            "channel, as clients/web/video.js does"
        )


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _twin_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise ValueError(f"a twin id is an integer in 0..4294967295, got {value!r}")
    return value


class WebRtcHub:
    """The registry of viewers (``peers``): ``answer`` adds one, ``close`` ends them all.

    Args:
        clone: the gateway's Clone client, following every cell's crowd and no cell's vitals
            (``cell_vitals=False``); the hub joins it on the first viewer and owns its stream
            from then on (its ``requests`` stay shared).
        assets: the body and clips the video is drawn with.
        width, height: video size in pixels (even).
        max_viewers: viewers at once; an offer beyond is refused (``TooManyViewers``).
        check: checks a viewer's token again every ``WATCH_EVERY_S`` (None: never; open access).
    """

    def __init__(
        self,
        clone: AsyncCloneClient,
        assets: CrowdAssets,
        width: int = 1280,
        height: int = 720,
        max_viewers: int = 8,
        check: TokenCheck | None = None,
    ) -> None:
        self.clone = clone
        self.size = (width, height)
        self.max_viewers = max_viewers
        self.check = check
        self.assets = assets
        self.feed = CrowdFeed(assets.library(), clone.replica)
        self.peers: set[Peer] = set()
        self._numbers = itertools.count(1)
        self._watching: Counter[int] = Counter()
        self._receiver: asyncio.Task | None = None
        self._renderer: CrowdRenderer | None = None
        self._town: tuple[np.ndarray, np.ndarray] | None = None
        """The ``town`` reply's ``(kind, xy_m)``, kept until the renderer is made."""
        self._starting = asyncio.Lock()
        self._closed = False

    def renderer(self) -> CrowdRenderer:
        """The shared renderer, made on first use in the event loop's thread (its GL context)."""
        if self._renderer is None:
            self._renderer = CrowdRenderer(self.feed.library, self.assets.body(), *self.size)
            if self._town is not None:
                self._renderer.set_town(*self._town)
        return self._renderer

    def _set_town(self, reply: dict[str, Any]) -> None:
        """Draw the places of a ``town`` reply (fixed while the server runs: fetched until one
        arrives); raises ValueError on bad places."""
        TownView.from_places(reply["kind"], reply["xy_m"])  # bad places fail here, not later
        self._town = (reply["kind"], reply["xy_m"])
        if self._renderer is not None:
            self._renderer.set_town(*self._town)

    async def _start_feed(self) -> None:
        """Join the Clone client (subscribe to the crowd, then take a snapshot: no message between
        is lost) and follow its stream; and the town while it is not known yet. Offers arriving
        together wait for the first to finish."""
        async with self._starting:
            if self._receiver is None:
                try:
                    self._on_applied(await self.clone.join())
                except (RequestTimeout, RequestError, ClientClosed) as err:
                    log.warning("no crowd snapshot: %s", err)  # the keyframes will fill the feed
                self._receiver = asyncio.ensure_future(self._receive())
            if self._town is None:
                try:
                    self._set_town(await self.clone.requests.call("town"))
                except Exception as err:  # the next offer asks again; meanwhile bare ground
                    log.warning("no town yet: %s", err)

    async def _receive(self) -> None:
        """Apply the stream's messages as they come; a failure is logged and the stream goes on."""
        while True:
            try:
                applied = await self.clone.poll(None)
            except ClientClosed:  # the gateway is stopping
                return
            except (RequestTimeout, RequestError) as err:  # a lost keyframe's snapshot failed
                log.warning("crowd snapshot skipped: %s", err)
                continue
            self._on_applied(applied)

    def _on_applied(self, applied: list[Applied]) -> None:
        for message in applied:
            try:
                if isinstance(message, CrowdState):
                    self.feed.on_crowd(message)
                elif isinstance(message, VitalsMessage):
                    self._on_vitals(message)
            except Exception:
                log.exception("message seq %d skipped", message.seq)

    def _on_vitals(self, message: VitalsMessage) -> None:
        for row, twin in enumerate(message.ids.tolist()):
            values = {name: float(getattr(message, name)[row]) for name in VITAL_COLUMNS}
            code = int(message.activity[row])
            record = {"id": twin, "tick": message.tick, "seq": message.seq, "t_s": message.t_s,
                      **values, "activity": ACTIVITY_NAMES[code]}  # fmt: skip
            for peer in self.peers:
                if peer.selected == twin:
                    if peer.sees_vitals:
                        peer.send({"vitals": record})
                    if peer.last_activity != code:
                        peer.send({"activity": ACTIVITY_NAMES[code], "id": twin})
                        peer.last_activity = code

    def select(self, peer: Peer, twin: int | None) -> None:
        """Make ``twin`` the peer's selection; subscribe to its vitals while anybody selects it."""
        if twin != peer.selected:
            if peer.selected is not None:
                self._watch_twin(peer.selected, -1)
            if twin is not None:
                self._watch_twin(twin, +1)
            peer.selected, peer.last_activity = twin, None
            peer.track.selected = twin
        peer.send({"selected": twin})

    def _watch_twin(self, twin: int, change: int) -> None:
        self._watching[twin] += change
        topic = topic_for("vitals", twin_id=twin)
        if change > 0 and self._watching[twin] == 1:
            self.clone.subscribe(topic)
        elif self._watching[twin] <= 0:
            del self._watching[twin]
            self.clone.unsubscribe(topic)

    async def answer(
        self, sdp: str, kind: str, token: str | None = None, role: Role = Role.ADMIN
    ) -> RTCSessionDescription:
        """Accept a viewer's offer, made with ``token`` holding ``role``; returns the answer (ICE
        candidates included).

        Raises:
            BadOffer: the offer cannot make a video view (not SDP, no video section, or aiortc
                refuses it); nothing is kept of it.
            TooManyViewers: ``max_viewers`` watch already.
        """
        if self._closed:
            raise RuntimeError("the WebRTC hub is closed")
        _check_offer(sdp)
        self._check_room()
        self._feed_as(token)
        await self._start_feed()
        self._check_room()  # offers that waited for the feed: no await from here to ``add``
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        crowd = self.feed.latest()
        camera = Camera.framing(crowd.pos_m, self.aspect)
        peer = Peer(self, next(self._numbers), pc, camera, token, role)
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
            transceiver = pc.addTransceiver(peer.track, direction="sendonly")
            vp8 = [
                c for c in RTCRtpSender.getCapabilities("video").codecs if c.name == "VP8"
            ]  # fmt: skip
            transceiver.setCodecPreferences(vp8)
            peer.sender = transceiver.sender
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
            await pc.setLocalDescription(await pc.createAnswer())
        except (ValueError, InvalidAccessError, InvalidStateError, OperationError) as err:
            await self.remove(peer)
            raise BadOffer(f"the offer was refused: {err}") from err
        except (LookupError, TypeError, AttributeError) as err:  # aiortc on SDP it misreads
            await self.remove(peer)
            log.info("offer refused", exc_info=True)
            raise BadOffer(f"the offer was refused: {type(err).__name__}: {err}") from err
        except Exception:
            await self.remove(peer)
            raise
        peer.tasks.append(asyncio.ensure_future(self._watch(peer)))
        return pc.localDescription

    def _feed_as(self, token: str | None) -> None:
        """Send the feed's requests (snapshot, town) with ``token``, a viewer's."""
        self.clone.requests.correlator.token = token

    def _check_room(self) -> None:
        if len(self.peers) >= self.max_viewers:
            raise TooManyViewers(
                f"the video view is full: {self.max_viewers} viewers watch already "
                "(security.max_viewers); try again later"
            )

    @property
    def aspect(self) -> float:
        return self.size[0] / self.size[1]

    def viewers(self) -> list[dict[str, Any]]:
        """Each viewer's state, in order of arrival (``GET /api/viewers``)."""
        return [peer.describe() for peer in sorted(self.peers, key=lambda p: p.number)]

    async def _watch(self, peer: Peer) -> None:
        """Close a peer that does not connect in time, whose receiver reports stop, or whose
        token no longer holds (revoked or expired)."""
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while peer.pc.connectionState != "connected":
            if time.monotonic() > deadline:
                await self.remove(peer)
                return
            await asyncio.sleep(WATCH_EVERY_S / 4)
        heard = clock.current_datetime()
        while True:
            await asyncio.sleep(WATCH_EVERY_S)
            if not self._still_allowed(peer):
                await self.remove(peer)
                return
            stats = await peer.sender.getStats()
            reports = [s.timestamp for s in stats.values() if s.type == "remote-inbound-rtp"]
            heard = max([heard, *reports])
            silent_s = (clock.current_datetime() - heard).total_seconds()
            if silent_s > STALL_S or peer.pc.connectionState != "connected":
                log.info("viewer %d removed: silent for %.1f s", peer.number, silent_s)
                await self.remove(peer)
                return

    def _still_allowed(self, peer: Peer) -> bool:
        """Whether the peer's token still opens the video view (its role cannot change)."""
        if self.check is None:
            return True
        try:
            self.check(peer.token, Role.VIEWER)
        except AuthError as err:
            log.info("viewer %d removed: %s", peer.number, err)
            return False
        return True

    async def remove(self, peer: Peer) -> None:
        if peer in self.peers:
            self.peers.discard(peer)
            if self.peers:
                self._feed_as(max(self.peers, key=lambda p: p.number).token)
            if peer.selected is not None:
                self._watch_twin(peer.selected, -1)
            current = asyncio.current_task()
            peer.tasks = [t for t in peer.tasks if t is not current]
            await peer.close()

    async def close(self) -> None:
        """Close every peer, stop following the stream and release the renderer (the Clone
        client is its owner's to close)."""
        self._closed = True
        for peer in list(self.peers):
            with contextlib.suppress(Exception):
                await self.remove(peer)
        if self._receiver is not None:
            self._receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._receiver
        if self._renderer is not None:
            self._renderer.release()
            self._renderer = None
