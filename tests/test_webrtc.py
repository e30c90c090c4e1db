"""The WebRTC video view against a real ``Serving`` (its gateway process included): aiortc viewers
post offers over HTTP and receive VP8 frames that move; camera messages change the picture; a
click picks the twin under it, whose vitals then arrive at the twin rate; two viewers keep their
own cameras; bad messages get errors and change nothing; a viewer that closes, or freezes, is
removed while the others play on. Loopback only."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from synthtwin.components.town import PlaceKind, Town
from synthtwin.engine.app.assets import crowd_assets
from synthtwin.engine.app.serve import Serving
from synthtwin.net.webrtc import MAX_AHEAD_S, STALL_S, CrowdFeed
from synthtwin.net.wire.clone import Replica
from synthtwin.net.wire.crowd import dead_reckon
from tests.test_clone import EAST, TICK_HZ, WALK_MPS, WEST, Stream
from tests.test_http_api import JSON, running, serve_config
from tests.webrtc_viewer import Viewer, loopback_candidates


@pytest.fixture(scope="module")
def serving(tmp_path_factory) -> Iterator[Serving]:
    config = serve_config(
        tmp_path_factory.mktemp("webrtc"), http_port=0, webrtc_host_addresses=["127.0.0.1"]
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("aioice.ice.get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
        with running(config) as server:
            yield server


def luma(frame) -> np.ndarray:
    return frame.to_ndarray(format="gray").astype(np.float64)


def twin_pixels(frame) -> int:
    """How many pixels of ``frame`` are strongly coloured (chroma over 50 of 255), as the twins'
    activity colours are; the bare ground and its grid are near-grey."""
    rgb = frame.to_ndarray(format="rgb24").astype(np.int16)
    return int(np.count_nonzero(rgb.max(axis=2) - rgb.min(axis=2) > 50))


def viewers(serving: Serving) -> list[dict]:
    return httpx.get(f"{serving.http.url}/api/viewers", timeout=5.0).json()


async def wait_for_viewers(serving: Serving, count: int, timeout_s: float) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while (found := await asyncio.to_thread(viewers, serving)) and len(found) != count:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    return found


def a_walker(serving: Serving) -> int:
    """A twin that stays on the map (any twin: all are in the crowd)."""
    return httpx.get(f"{serving.http.url}/api/twins?limit=1", timeout=5.0).json()["items"][0]["id"]


def test_video_camera_pick_vitals_and_close(serving: Serving) -> None:
    asyncio.run(_one_viewer(serving))


async def _one_viewer(serving: Serving) -> None:
    viewer = Viewer()
    await viewer.connect(serving.http.url)
    (framing,) = await wait_for_viewers(serving, 1, 5)

    first = luma(await asyncio.wait_for(viewer.frames.get(), 15))
    later = luma(await viewer.fresh_frame(1.0))
    assert first.shape == (720, 1280)
    assert np.abs(first - later).mean() > 0, "the video does not move"

    viewer.send({"camera": {"x": -50_000.0, "y": -50_000.0, "distance_m": 50.0}})
    empty = luma(await viewer.fresh_frame())
    viewer.send({"camera": framing["camera"]})  # back over the crowd
    town = luma(await viewer.fresh_frame())
    assert np.abs(town - empty).max() > 50, "moving the camera over the town shows no twin"
    viewer.send({"orbit": {"dyaw_deg": 30.0, "dpitch_deg": -40.0}})
    assert np.abs(luma(await viewer.fresh_frame()) - town).mean() > 0.5, "orbit changed nothing"

    twin = a_walker(serving)
    viewer.send({"follow": twin, "camera": {"distance_m": 12.0, "pitch_deg": 50.0}})
    await viewer.fresh_frame(1.0)
    await asyncio.to_thread(httpx.post, f"{serving.http.url}/api/pause", headers=JSON, timeout=5.0)
    await viewer.fresh_frame(0.5)  # the camera stops on the twin
    asked = time.monotonic()
    viewer.send({"select": None})  # stops following too; the twin stays in the middle
    assert (await viewer.reply("selected", asked))["selected"] is None
    asked = time.monotonic()
    viewer.send({"pick": {"u": 0.5, "v": 0.5}})
    picked = await viewer.reply("selected", asked)
    await asyncio.to_thread(httpx.post, f"{serving.http.url}/api/resume", headers=JSON, timeout=5.0)
    assert picked["selected"] == twin

    await asyncio.sleep(2.0)
    vitals = [at for at, m in viewer.messages if "vitals" in m and m["vitals"]["id"] == twin]
    vitals = [at for at in vitals if at > asked]
    assert len(vitals) >= 5
    assert (len(vitals) - 1) / (vitals[-1] - vitals[0]) >= 5.0
    record = next(m["vitals"] for _, m in reversed(viewer.messages) if "vitals" in m)
    assert 30 <= record["hr_bpm"] <= 220 and record["tick"] > 0
    assert any(m.get("id") == twin and "activity" in m for _, m in viewer.messages)
    (state,) = await asyncio.to_thread(viewers, serving)
    assert state["selected"] == twin and state["follow"] is None and state["frames"] > 24

    asked = time.monotonic()
    viewer.send({"follow": twin})
    assert (await viewer.reply("selected", asked))["selected"] == twin
    asked = time.monotonic()
    viewer.send({"pick": {"u": 0.5, "v": 0.02}})  # the sky of a tilted view: nobody there
    assert (await viewer.reply("selected", asked))["selected"] == twin  # kept, and followed
    (state,) = await asyncio.to_thread(viewers, serving)
    assert state["selected"] == twin and state["follow"] == twin

    await viewer.close()
    assert await wait_for_viewers(serving, 0, 15) == []


def test_bad_messages_get_errors_and_change_nothing(serving: Serving) -> None:
    asyncio.run(_bad_messages(serving))


async def _bad_messages(serving: Serving) -> None:
    viewer = Viewer()
    await viewer.connect(serving.http.url)
    (before,) = await wait_for_viewers(serving, 1, 5)
    bad = [
        "not json",
        "[1, 2]",
        {"zoom": "near"},
        {"zoom": float("inf")},
        {"camera": {"distance_m": -5.0}},
        {"camera": {"height": 3.0}},
        {"pan": {"dx_px": 1.0}},
        {"pick": {"u": 2.0, "v": 0.5}},
        {"select": "seven"},
        {"select": -1},
    ]
    for message in bad:
        asked = time.monotonic()
        viewer.channel.send(message if isinstance(message, str) else json.dumps(message))
        assert "error" in await viewer.reply("error", asked), message
    (after,) = await asyncio.to_thread(viewers, serving)
    assert after["camera"] == before["camera"] and after["selected"] is None
    await viewer.close()
    assert await wait_for_viewers(serving, 0, 15) == []


def test_two_viewers_keep_their_own_cameras(serving: Serving) -> None:
    asyncio.run(_two_viewers(serving))


async def _two_viewers(serving: Serving) -> None:
    near, far = Viewer(), Viewer()
    await asyncio.gather(near.connect(serving.http.url), far.connect(serving.http.url))
    assert len(await wait_for_viewers(serving, 2, 5)) == 2
    far.send({"camera": {"x": 80_000.0, "y": 80_000.0}})
    crowd, ground = await asyncio.gather(near.fresh_frame(), far.fresh_frame())
    assert twin_pixels(crowd) > 100, "the near viewer should see the crowd"
    assert twin_pixels(ground) == 0, "the far viewer should see bare ground"
    later = luma(await near.fresh_frame(1.0))
    assert np.abs(later - luma(crowd)).mean() > 0, "the near viewer's video stopped"
    await asyncio.gather(near.close(), far.close())
    assert await wait_for_viewers(serving, 0, 15) == []


def test_a_frozen_viewer_is_removed_and_the_others_play_on(serving: Serving) -> None:
    frozen = subprocess.Popen(
        [sys.executable, "-m", "tests.webrtc_viewer", serving.http.url],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert frozen.stdout.readline().strip() == "playing"
        asyncio.run(_outlive(serving, frozen))
    finally:
        frozen.kill()
        frozen.wait()


async def _outlive(serving: Serving, frozen: subprocess.Popen) -> None:
    loopback_candidates()
    viewer = Viewer()
    await viewer.connect(serving.http.url)
    assert len(await wait_for_viewers(serving, 2, 5)) == 2
    os.kill(frozen.pid, signal.SIGSTOP)  # no more packets, no goodbye: a vanished viewer
    stopped = time.monotonic()
    remaining = await wait_for_viewers(serving, 1, STALL_S + 10)
    assert len(remaining) == 1, remaining
    assert time.monotonic() - stopped <= STALL_S + 10
    count = viewer.received
    await asyncio.sleep(1.0)
    assert viewer.received - count >= 12, "the other viewer stalled too"
    await viewer.close()
    assert await wait_for_viewers(serving, 0, 15) == []


def test_the_video_shows_the_towns_buildings(serving: Serving) -> None:
    town = serving.sim.world.resource(Town)
    (workplace,) = np.flatnonzero(town.kind == PlaceKind.WORKPLACE)[:1]
    x, y = (float(v) for v in town.xy_m[workplace])
    asyncio.run(_building(serving, x, y + 14.0))  # the footprint's centre: 2 m + half its depth


async def _building(serving: Serving, x: float, y: float) -> None:
    viewer = Viewer()
    await viewer.connect(serving.http.url)
    above = {"distance_m": 120.0, "pitch_deg": 90.0, "yaw_deg": 0.0}
    viewer.send({"camera": {"x": x, "y": y, **above}})
    roof = np.median(luma(await viewer.fresh_frame())[355:366, 635:646])
    viewer.send({"camera": {"x": x + 60_000.0, "y": y, **above}})
    ground = np.median(luma(await viewer.fresh_frame())[355:366, 635:646])
    assert abs(roof - ground) > 8, (roof, ground)
    await viewer.close()
    assert await wait_for_viewers(serving, 0, 15) == []


@pytest.mark.parametrize(
    ("sdp", "detail"),
    [
        ("garbage", "the offer has no video section"),
        ("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n", "the offer has no video section"),
    ],
)
def test_an_offer_without_video_is_400_and_adds_no_viewer(serving: Serving, sdp, detail) -> None:
    answer = httpx.post(
        f"{serving.http.url}/api/webrtc/offer", json={"sdp": sdp, "type": "offer"}, timeout=10
    )
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith(detail)
    assert viewers(serving) == []


async def _an_offer() -> str:
    """A real offer, as the page makes it: a recvonly video transceiver and a data channel."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("control")
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    await pc.close()
    return pc.localDescription.sdp


def _without(sdp: str, line_start: str) -> str:
    return re.sub(re.escape(line_start) + r"[^\r]*\r\n", "", sdp, count=1)


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_a_malformed_or_truncated_offer_is_400_leaks_nothing_and_adds_no_viewer(serving) -> None:
    loopback_candidates()
    offer = asyncio.run(_an_offer())
    bad = {
        "cut in its video line": offer[: offer.index("m=video") + 12],
        "cut before its ICE credentials": offer[: offer.index("a=ice-ufrag")],
        "a NUL byte": offer.replace("a=setup:actpass", "a=setup:\x00"),
        "no port": offer.replace("m=video ", "m=video x"),
        "no VP8": _without(offer, "a=rtpmap:97 "),
        # aiortc half-builds these connections, then fails to close them by itself
        "no mid": _without(offer, "a=mid:0"),
        "no data channel section": _without(offer, "m=application"),
        "no DTLS role": _without(offer, "a=setup:"),
    }
    url = f"{serving.http.url}/api/webrtc/offer"
    gateway = serving.http.process.pid
    httpx.post(url, json={"sdp": bad["no mid"], "type": "offer"}, timeout=10)  # warm up
    files = open_files(gateway)
    for _ in range(3):
        for why, sdp in bad.items():
            answer = httpx.post(url, json={"sdp": sdp, "type": "offer"}, timeout=10)
            assert answer.status_code == 400, (why, answer.text)
            assert answer.json()["detail"].startswith("the offer "), why
    assert open_files(gateway) <= files + 2, "refused offers left sockets open"
    assert viewers(serving) == []


def test_the_feed_draws_each_twin_once_where_the_newest_message_put_it() -> None:
    """The video's crowd is the replica's (one merge rule): twin 7, held by both cells after it
    stepped back east, is drawn once, where the east cell's newer message has it."""
    replica = Replica()
    feed = CrowdFeed(crowd_assets().library(), replica)
    assert len(feed.latest()) == 0
    west, east = Stream(WEST), Stream(EAST)
    standing = (2010.0, 1000.0, 0.0)
    messages = [
        east.publish(1, {7: standing, 8: (3000.0, 1000.0, WALK_MPS)}),
        west.publish(2, {1: (1000.0, 1000.0, 0.0), 7: (1995.0, 1000.0, 0.0)}),
        east.publish(3, {8: (3001.0, 1000.0, WALK_MPS)}),
        east.publish(4, {7: standing, 8: (3002.0, 1000.0, WALK_MPS)}),
    ]
    for frames in messages:
        for state in replica.receive(frames):
            feed.on_crowd(state)
    crowd = feed.latest()
    assert crowd.ids.tolist() == [1, 7, 8] and feed.latest() is crowd
    assert crowd.pos_m[1].tolist() == pytest.approx([2010.0, 1000.0])
    ahead = feed.view()  # 8 walks on east (heading 0) past its record, at most MAX_AHEAD_S
    assert 0.0 <= ahead.pos_m[2, 0] - crowd.pos_m[2, 0] <= WALK_MPS * MAX_AHEAD_S + 1e-9
    assert ahead.pos_m[1].tolist() == pytest.approx([2010.0, 1000.0])  # 7 stands


def test_the_feeds_view_dead_reckons_the_moving_twins_and_keeps_the_others() -> None:
    replica, east = Replica(), Stream(EAST)
    feed = CrowdFeed(crowd_assets().library(), replica)
    walkers = {8: (3000.0, 1000.0, WALK_MPS), 9: (2990.0, 1010.0, 0.0), 10: (3010.0, 990.0, 2.0)}
    for state in replica.receive(east.publish(30, walkers)):
        feed.on_crowd(state, wall=0.0)
    crowd, at = replica.crowd(), feed.view(0.3)
    want = dead_reckon(
        crowd.pos_m, crowd.heading_rad, crowd.speed_mps, crowd.sample_t_s, feed.now_s(0.3)
    )
    np.testing.assert_array_equal(at.pos_m, want)
    assert at.pos_m[1].tolist() == crowd.pos_m[1].tolist()  # 9 stands
    assert (at.pos_m[[0, 2], 0] > crowd.pos_m[[0, 2], 0] + 0.2).all()


def test_the_feeds_present_runs_at_time_scale_60_between_messages_and_stops_when_they_do() -> None:
    """At time scale 60 with a message every tick (1/30 wall s, 2 sim s): the feed measures the
    rate (a span between two messages is too short to, and it stayed at 1) and runs the present
    on for wall, not sim, seconds past the newest message, so a walker moves on between messages
    (a 0.25 sim s bound froze it for most of a 6 sim s turn) and stops when the messages do."""
    replica, east = Replica(), Stream(EAST)
    feed = CrowdFeed(crowd_assets().library(), replica)
    start_x, start_t = 3000.0, 2.0
    for k in range(1, 41):  # t = 2k sim s at wall k / 30 s; a new twin each time: never empty
        t = 2.0 * k
        walker = (start_x + WALK_MPS * (t - start_t), 1000.0, WALK_MPS)
        for state in replica.receive(
            east.publish(round(t * TICK_HZ), {8: walker, 100 + k: (2900.0, 1000.0, 0)})
        ):
            feed.on_crowd(state, wall=k / 30)
    newest_wall = 40 / 30
    assert feed.now_s(newest_wall + 0.05) == pytest.approx(80.0 + 3.0)
    assert feed.now_s(newest_wall + 60.0) == pytest.approx(80.0 + 60.0 * MAX_AHEAD_S)
    at = feed.view(newest_wall + 0.05)
    walker_x = at.pos_m[at.ids.tolist().index(8), 0]
    assert walker_x == pytest.approx(start_x + WALK_MPS * (83.0 - start_t), abs=0.5)
