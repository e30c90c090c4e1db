"""Roles end to end, against a real ``Serving`` with a token file (its gateway process included):
what each role may do over REST, the selected twin's vitals on the video's data channel for
analysts only, the viewer cap, and revocation and expiry reaching the running gateway (REST and
video). Loopback only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from synthtwin.net.auth import RELOAD_S, Role, TokenStore
from tests.loopback import loopback
from tests.test_http_api import running
from tests.webrtc_viewer import Viewer, loopback_candidates

MAX_VIEWERS = 2
TWINS = 150


@pytest.fixture(scope="module")
def tokens(tmp_path_factory) -> TokenStore:
    return TokenStore(tmp_path_factory.mktemp("access") / "tokens.json")


@pytest.fixture(scope="module")
def made(tokens: TokenStore) -> dict[str, str]:
    """One token of each role, by role name."""
    return {role.label: tokens.create(role, role.label) for role in Role}


@pytest.fixture(scope="module")
def serving(tokens: TokenStore, made: dict[str, str]) -> Iterator[Serving]:
    serve = {
        "pub_endpoint": loopback(),
        "router_endpoint": loopback(),
        "http_port": 0,
        "checkpoint": tokens.path.parent / "w.ckpt",  # tokens.json beside it: closed access
        "webrtc_host_addresses": ["127.0.0.1"],
    }
    security = {
        "max_viewers": MAX_VIEWERS,
        "health_pub_endpoint": loopback(),  # the vitals' PUB, for analysts' keys only
        "keys_dir": tokens.path.parent / "keys",  # the gateway's key pair is made there
    }
    config = load_config(None, serve=serve, security=security, twins=TWINS, seed=5)
    assert config.tokens_file == tokens.path
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("aioice.ice.get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
        with running(config, token=made["admin"]) as server:
            yield server


def as_role(serving: Serving, token: str | None) -> httpx.Client:
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=serving.http.url, headers=headers, timeout=10.0)


def a_twin(serving: Serving, token: str) -> int:
    with as_role(serving, token) as api:
        return api.get("/api/twins", params={"limit": 1}).json()["items"][0]["id"]


def test_each_role_does_what_it_may_over_rest(serving, made):
    twin = a_twin(serving, made["viewer"])
    with as_role(serving, None) as nobody:
        assert nobody.get("/api/twins").status_code == 401
        assert nobody.get("/").status_code == 200  # the page itself: its login form
    with as_role(serving, made["viewer"]) as viewer:
        page = viewer.get("/api/twins").json()
        assert page["total"] == TWINS and set(page["items"][0]) == {"id", "cell", "activity",
                                                                     "pos_m"}  # fmt: skip
        assert viewer.get("/api/stats").json()["twins"] == TWINS
        assert viewer.get("/api/legend").status_code == 200
        assert viewer.get(f"/api/twins/{twin}").status_code == 403  # vitals, profile, today
        assert viewer.post("/api/pause").status_code == 403
        assert viewer.get("/api/viewers").status_code == 403
    with as_role(serving, made["analyst"]) as analyst:
        details = analyst.get(f"/api/twins/{twin}").json()
        assert 30 <= details["vitals"]["hr_bpm"] <= 220
        assert analyst.post("/api/twins/spawn", json={"count": 1}).status_code == 403
        assert analyst.put("/api/time-scale", json={"scale": 2.0}).status_code == 403
    with as_role(serving, made["operator"]) as operator:
        try:
            assert operator.post("/api/pause").json() == {"paused": True}
        finally:
            assert operator.post("/api/resume").json() == {"paused": False}
        (new,) = operator.post("/api/twins/spawn", json={"count": 1}).json()["ids"]
        assert operator.delete(f"/api/twins/{new}").json() == {"removed": [new]}


def test_the_data_channel_carries_vitals_to_analysts_only_and_the_view_has_a_cap(serving, made):
    loopback_candidates()
    asyncio.run(_vitals_by_role(serving, made, a_twin(serving, made["viewer"])))


async def _vitals_by_role(serving: Serving, made: dict[str, str], twin: int) -> None:
    viewer, analyst = Viewer(), Viewer()
    await viewer.connect(serving.http.url, made["viewer"])
    await analyst.connect(serving.http.url, made["analyst"])
    try:
        with pytest.raises(httpx.HTTPStatusError) as full:
            await Viewer().connect(serving.http.url, made["admin"])
        assert full.value.response.status_code == 503
        assert full.value.response.headers["retry-after"] == "10"
        assert full.value.response.json()["detail"] == (
            f"the video view is full: {MAX_VIEWERS} viewers watch already "
            "(security.max_viewers); try again later"
        )
        asked = time.monotonic()
        for peer in (viewer, analyst):
            peer.send({"select": twin})
            assert (await peer.reply("selected", asked))["selected"] == twin
        await asyncio.sleep(2.0)
        got = {name: [m for _, m in peer.messages if "vitals" in m]
               for name, peer in (("viewer", viewer), ("analyst", analyst))}  # fmt: skip
        assert len(got["analyst"]) >= 5 and got["analyst"][-1]["vitals"]["id"] == twin
        assert got["viewer"] == [], "a viewer token received health data"
    finally:
        await asyncio.gather(viewer.close(), analyst.close())
    await _until(lambda: _viewers(serving, made) == [], 15)


def _viewers(serving: Serving, made: dict[str, str]) -> list[dict]:
    with as_role(serving, made["operator"]) as operator:
        return operator.get("/api/viewers").json()


async def _until(done: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until ``done()`` (run in a thread) holds; fails after ``timeout_s``."""
    start = time.monotonic()
    while not await asyncio.to_thread(done):
        assert time.monotonic() - start < timeout_s, "timed out"
        await asyncio.sleep(0.2)
    return time.monotonic() - start


def _status(serving: Serving, token: str, path: str) -> int:
    with as_role(serving, token) as api:
        return api.get(path).status_code


def test_revoking_a_token_closes_its_rest_and_video_access(serving, tokens, made):
    loopback_candidates()
    temp = tokens.create(Role.ANALYST, "temp")
    asyncio.run(_revoke(serving, tokens, made, temp))


async def _revoke(serving: Serving, tokens: TokenStore, made: dict[str, str], temp: str) -> None:
    twin = f"/api/twins/{a_twin(serving, made['viewer'])}"
    await _until(lambda: _status(serving, temp, twin) == 200, RELOAD_S + 3)  # the token is seen
    watcher = Viewer()
    await watcher.connect(serving.http.url, temp)
    try:
        await _until(lambda: len(_viewers(serving, made)) == 1, 5)
        tokens.revoke("temp")
        with as_role(serving, temp) as api:
            gone_s = await _until(lambda: api.get("/api/legend").status_code == 401, RELOAD_S + 3)
            assert api.get("/api/legend").json() == {"detail": "unknown or revoked token"}
        video_gone_s = await _until(lambda: _viewers(serving, made) == [], RELOAD_S + 5)
    finally:
        await watcher.close()
    assert gone_s <= RELOAD_S + 1 and video_gone_s <= RELOAD_S + 3


def test_an_expired_token_stops_working_without_a_restart(serving, tokens):
    short = tokens.create(Role.VIEWER, "short", expires_in_s=4.0)
    with as_role(serving, short) as api:
        asyncio.run(_until(lambda: api.get("/api/legend").status_code == 200, RELOAD_S + 3))
        asyncio.run(_until(lambda: api.get("/api/legend").status_code == 401, 8))
        assert api.get("/api/legend").json()["detail"].endswith("(short) has expired")


def test_the_token_file_is_where_the_config_says(serving, tokens):
    assert Path(serving.config.tokens_file) == tokens.path
