"""The HTTP REST API against a real ``Serving`` on loopback: list, search, detail, stats, every
mutation and its errors, OpenAPI docs, a silent simulation (503), a port in use, clean stops."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import zmq

from synthtwin.components.activity import ACTIVITY_NAMES
from synthtwin.engine.app.assets import crowd_assets
from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import ConfigError, load_config
from synthtwin.net.gateway import Gateway, GatewaySpec
from synthtwin.net.server import ServerError
from tests.loopback import free_port, loopback

TWIN = str(Path(sys.executable).with_name("twin"))
TWINS = 200
TICK_HZ = 30.0
UNKNOWN_ID = 999_999
SPAWN_BATCH = 3


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def serve_config(tmp_path: Path, **serve):
    settings = {
        "pub_endpoint": loopback(),
        "router_endpoint": loopback(),
        "http_port": free_port(),
        "checkpoint": tmp_path / "w.ckpt",
        **serve,
    }
    return load_config(None, serve=settings, twins=TWINS, seed=3, tick_hz=TICK_HZ)


@contextmanager
def running(config, token: str | None = None) -> Iterator[Serving]:
    """A ``Serving`` of ``config`` in a background thread, answering once 10 ticks have run
    (asked with ``token``, if the server has tokens); stopped on exit, its thread joined and its
    HTTP port free again."""
    server = Serving(config)
    thread = threading.Thread(target=server.run, name="serve")
    thread.start()
    port = server.http.port
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=server.http.url, timeout=5.0, headers=headers) as client:
            _wait_for_ticks(client, 10, deadline=time.monotonic() + 60)
        yield server
    finally:
        server.stop.set()
        thread.join(timeout=20)
    assert not thread.is_alive()
    assert port_is_free(port)


def _wait_for_ticks(client: httpx.Client, ticks: int, deadline: float) -> None:
    """Ask ``/api/stats`` until the tick passes ``ticks``; fails at ``deadline`` (monotonic s).
    A gateway still starting may not answer in time (a loaded machine): it is asked again."""
    while time.monotonic() < deadline:
        try:
            answer = client.get("/api/stats")
        except httpx.TransportError:  # not listening yet, or too slow to answer
            time.sleep(0.2)
            continue
        assert answer.status_code in (200, 503), answer.text
        if answer.status_code == 200 and answer.json()["tick"] >= ticks:
            return
        time.sleep(0.05)
    raise AssertionError(f"the server had not run {ticks} ticks by the deadline")


@pytest.fixture(scope="module")
def serving(tmp_path_factory) -> Iterator[Serving]:
    """200 twins at 30 Hz in a background thread, its HTTP API answering when the tests start."""
    with running(serve_config(tmp_path_factory.mktemp("http"))) as server:
        yield server


JSON = {"content-type": "application/json"}
"""What state-changing calls carry (as the page does): a form post from another site cannot."""


@pytest.fixture
def api(serving: Serving) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=serving.http.url, timeout=10.0, headers=JSON) as client:
        yield client


def twins(api: httpx.Client) -> int:
    return api.get("/api/stats").json()["twins"]


def all_ids(api: httpx.Client, **params) -> list[int]:
    page = api.get("/api/twins", params={"limit": 500, **params}).json()
    assert page["total"] <= 500
    return [item["id"] for item in page["items"]]


# -- reading ------------------------------------------------------------------------------------


def test_the_list_pages_through_every_twin(api):
    total = twins(api)
    first = api.get("/api/twins").json()
    assert (first["total"], first["offset"], first["limit"]) == (total, 0, 50)
    assert len(first["items"]) == 50
    item = first["items"][0]
    assert item.keys() == {"id", "cell", "activity", "pos_m"}
    assert item["activity"] in ACTIVITY_NAMES and len(item["pos_m"]) == 2
    second = api.get("/api/twins", params={"offset": 50, "limit": 50}).json()["items"]
    ids = all_ids(api)
    assert ids == sorted(ids) and len(ids) == total
    assert [i["id"] for i in first["items"] + second] == ids[:100]
    past_the_end = api.get("/api/twins", params={"offset": total}).json()
    assert past_the_end["items"] == [] and past_the_end["total"] == total


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"offset": -1}])
def test_a_bad_page_is_422(api, params):
    assert api.get("/api/twins", params=params).status_code == 422


def test_search_by_id_prefix_and_by_activity(api):
    ids = all_ids(api, q="1")
    assert 1 in ids and 10 in ids and 100 in ids and 2 not in ids
    page = api.get("/api/twins", params={"limit": 500}).json()
    doing = page["items"][0]["activity"]
    for item in api.get("/api/twins", params={"activity": doing, "limit": 500}).json()["items"]:
        assert item["activity"] == doing
    for item in api.get("/api/twins", params={"q": doing[:3].upper(), "limit": 500}).json()[
        "items"
    ]:
        assert doing[:3] in item["activity"] or str(item["id"]).startswith(doing[:3])
    answer = api.get("/api/twins", params={"activity": "flying"})
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("activity 'flying' is not one of sleep, ")


def test_a_twins_detail(api):
    twin_id = all_ids(api)[0]
    details = api.get(f"/api/twins/{twin_id}").json()
    assert details["id"] == twin_id
    assert details["activity_name"] == ACTIVITY_NAMES[details["activity"]]
    assert {"hr_bpm", "spo2_pct", "glucose_mgdl"} <= details["vitals"].keys()
    assert details["profile"]["sex"] in ("female", "male")
    assert {"steps", "mean_hr", "minutes"} <= details["today"].keys()


def test_an_unknown_twin_is_404(api):
    answer = api.get(f"/api/twins/{UNKNOWN_ID}")
    assert answer.status_code == 404
    assert answer.json() == {"detail": f"twin {UNKNOWN_ID} does not exist"}
    assert api.get("/api/twins/-1").status_code == 422


def test_stats(api):
    stats = api.get("/api/stats").json()
    assert stats["tick_hz"] == TICK_HZ and stats["tick"] > 0
    assert {"measured_hz", "time_scale", "paused", "sim_time", "overruns", "systems"} <= set(stats)


def test_openapi_docs_are_served(api):
    docs = api.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = api.get("/openapi.json").json()
    assert set(spec["paths"]) == {
        "/api/twins", "/api/twins/{twin_id}", "/api/twins/spawn", "/api/twins/despawn",
        "/api/twins/{twin_id}/chat",
        "/api/twins/{twin_id}/history", "/api/twins/{twin_id}/timeline",
        "/api/twins/{twin_id}/baselines", "/api/population/daily", "/api/alerts",
        "/api/alerts/{alert_id}/ack",
        "/api/twins/{twin_id}/scenarios", "/api/twins/{twin_id}/scenarios/{scenario_id}",
        "/api/stats", "/api/time-scale", "/api/pause", "/api/resume", "/api/webrtc/offer",
        "/api/viewers", "/api/legend", "/api/login", "/api/logout", "/api/session",
    }  # fmt: skip
    assert {"TwinPage", "TwinDetail", "Stats", "ErrorDetail"} <= spec["components"][
        "schemas"
    ].keys()


# -- changing the world -----------------------------------------------------------------------


def test_spawn_then_despawn(api):
    before, old_ids = twins(api), all_ids(api)
    spawned = api.post("/api/twins/spawn", json={"count": SPAWN_BATCH, "seed": 1}).json()["ids"]
    assert len(spawned) == SPAWN_BATCH and min(spawned) > max(old_ids)
    assert api.get("/api/twins").json()["total"] == before + SPAWN_BATCH
    assert api.get(f"/api/twins/{spawned[0]}").json()["id"] == spawned[0]

    assert api.delete(f"/api/twins/{spawned[0]}").json() == {"removed": [spawned[0]]}
    assert api.get(f"/api/twins/{spawned[0]}").status_code == 404
    assert api.delete(f"/api/twins/{spawned[0]}").status_code == 404
    answer = api.post("/api/twins/despawn", json={"ids": [spawned[1], UNKNOWN_ID]})
    assert answer.status_code == 404
    assert answer.json() == {"detail": f"twin {UNKNOWN_ID} does not exist"}
    assert api.get(f"/api/twins/{spawned[1]}").status_code == 200  # nothing was removed
    removed = api.post("/api/twins/despawn", json={"ids": spawned[1:]}).json()["removed"]
    assert removed == spawned[1:]
    assert twins(api) == before and spawned[2] not in all_ids(api)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"count": 0}, "field 'args.count' holds 0, expected 1..10000"),
        ({"count": "3"}, None),
        ({"count": 3, "seed": -1}, None),
        ({"count": 3, "colour": "red"}, None),
        ({}, None),
    ],
)
def test_bad_spawns_are_422_and_change_nothing(api, body, detail):
    before = twins(api)
    answer = api.post("/api/twins/spawn", json=body)
    assert answer.status_code == 422
    if detail is not None:
        assert answer.json() == {"detail": detail}
    assert twins(api) == before


def test_despawning_nothing_is_422(api):
    answer = api.post("/api/twins/despawn", json={"ids": []})
    assert answer.status_code == 422
    assert answer.json() == {"detail": "field 'args.ids' holds 0 ids, expected 1..10000 ids"}


def test_time_scale_and_its_range(api):
    assert api.put("/api/time-scale", json={"scale": 2}).json() == {"scale": 2.0, "previous": 1.0}
    try:
        answer = api.put("/api/time-scale", json={"scale": 0.0})
        assert answer.status_code == 422
        assert answer.json() == {"detail": "field 'args.scale' holds 0.0, expected 0.01..18000"}
        assert api.get("/api/stats").json()["time_scale"] == 2.0
    finally:
        assert api.put("/api/time-scale", json={"scale": 1.0}).json()["previous"] == 2.0


def test_pause_and_resume_show_in_stats(api):
    try:
        assert api.post("/api/pause").json() == {"paused": True}
        assert api.get("/api/stats").json()["paused"] is True
    finally:
        assert api.post("/api/resume").json() == {"paused": False}
    assert api.get("/api/stats").json()["paused"] is False


def test_malformed_json_is_422_and_changes_nothing(api):
    before = api.get("/api/stats").json()
    answer = api.put(
        "/api/time-scale", content=b'{"scale": 2', headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == "json_invalid"
    after = api.get("/api/stats").json()
    assert (after["time_scale"], after["twins"]) == (before["time_scale"], before["twins"])


# -- failures and lifecycle ---------------------------------------------------------------------


def test_a_silent_simulation_is_503():
    with zmq.Context() as ctx, ctx.socket(zmq.ROUTER) as deaf:  # bound, never answers
        deaf.setsockopt(zmq.LINGER, 0)
        port = deaf.bind_to_random_port("tcp://127.0.0.1")
        spec = GatewaySpec(f"tcp://127.0.0.1:{port}", loopback(), crowd_assets(), timeout_s=0.2)
        http = Gateway(spec, "127.0.0.1", 0)
        http.start()
        try:
            # the child's start (imports, at lower priority) can take seconds on a loaded machine
            assert httpx.get(f"{http.url}/openapi.json", timeout=60.0).status_code == 200
            answer = httpx.get(f"{http.url}/api/stats", timeout=20.0)
        finally:
            http.stop()
    assert port_is_free(http.port)
    assert answer.status_code == 503
    assert answer.json() == {"detail": "the simulation did not answer 'stats' within 0.2 s"}


def test_an_http_port_in_use_is_a_server_error(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        config = serve_config(tmp_path, http_port=port)
        with pytest.raises(ServerError, match=rf"cannot bind http://127\.0\.0\.1:{port} \(HTTP"):
            Serving(config)
        serve = config.serve
        with zmq.Context() as ctx, ctx.socket(zmq.PUB) as pub, ctx.socket(zmq.ROUTER) as router:
            pub.bind(serve.pub_endpoint)  # the ZeroMQ endpoints were released
            router.bind(serve.router_endpoint)
            pub.setsockopt(zmq.LINGER, 0)
            router.setsockopt(zmq.LINGER, 0)
        (tmp_path / "twin.toml").write_text(f"[serve]\nhttp_port = {port}\n")
        done = subprocess.run(
            [TWIN, "serve", "--config", str(tmp_path / "twin.toml"), "--pub", loopback(),
             "--router", loopback()],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 2
    assert f"cannot bind http://127.0.0.1:{port} (HTTP API): Address already in use" in done.stderr


def test_the_http_api_can_be_turned_off(tmp_path):
    server = Serving(serve_config(tmp_path, http_enabled=False))
    assert server.http is None
    server.stop.set()
    server.run()  # returns at once: checkpoint and close
    assert (tmp_path / "w.ckpt").is_file()


@pytest.mark.parametrize(
    ("serve", "message"),
    [
        ({"http_port": 65_536}, "http_port = 65536 is out of range"),
        ({"http_enabled": "false"}, "serve.http_enabled = 'false': expected true or false"),
        ({"http_host": ""}, "http_host = '' is out of range"),
    ],
)
def test_bad_http_settings_get_a_clear_error(serve, message):
    with pytest.raises(ConfigError) as err:
        load_config(None, serve=serve)
    assert message in str(err.value)


def test_the_gateway_runs_in_a_process_of_its_own_at_lower_priority(serving):
    gateway = serving.http.process
    assert gateway is not None and gateway.poll() is None
    assert gateway.pid != os.getpid()
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    for task in Path(f"/proc/{gateway.pid}/task").iterdir():  # numpy's threads too
        assert os.getpriority(os.PRIO_PROCESS, int(task.name)) >= ours + 10, task


def test_the_gateway_exits_when_its_parent_closes_the_pipe():
    with zmq.Context() as ctx, ctx.socket(zmq.ROUTER) as router:
        router.setsockopt(zmq.LINGER, 0)
        port = router.bind_to_random_port("tcp://127.0.0.1")
        http = Gateway(
            GatewaySpec(f"tcp://127.0.0.1:{port}", loopback(), crowd_assets()), "127.0.0.1", 0
        )
        http.start()
        assert httpx.get(f"{http.url}/openapi.json", timeout=60.0).status_code == 200
        http.process.stdin.close()  # as when the simulation's process dies
        assert http.process.wait(timeout=20) == 0
        http.listener.close()


def test_inproc_endpoints_cannot_reach_the_gateway():
    with pytest.raises(ServerError, match="cannot reach inproc://sim"):
        GatewaySpec("inproc://sim", loopback(), crowd_assets())


def test_the_legend_names_the_videos_colours(api):
    legend = api.get("/api/legend").json()
    assert [entry["name"] for entry in legend["activities"]] == list(ACTIVITY_NAMES)
    assert [entry["name"] for entry in legend["places"]][:2] == ["home", "workplace"]
    assert all(re.fullmatch(r"#[0-9a-f]{6}", e["rgb"]) for e in legend["activities"])
    assert len({e["rgb"] for e in legend["activities"]}) == len(ACTIVITY_NAMES)
