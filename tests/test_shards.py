"""Shards on a real local Ray, every Ray end-to-end test in one module: handoffs bit for bit,
lockstep, a killed shard restarted with its gap reported, checkpoints resumed on another shard
count, the sharded headless run's merged output, and ``twin serve --shards 2`` through one
front (late join, handoffs) with its gateway (REST, ``/ws``). One Ray (``ray_session``) serves
each test process; the tests keep worlds small and runs short (each shard actor's start is most
of their time)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
import zmq
from websockets.asyncio.client import connect

from synthtwin.clients.python import CloneClient, RequestClient, RequestError
from synthtwin.components.mesh import MeshRequest
from synthtwin.engine.app.shard import ShardManifest
from synthtwin.engine.app.shard_serve import ShardServing
from synthtwin.engine.app.shard_simulate import run_sharded
from synthtwin.engine.app.shards import ClusterError, ShardCluster
from synthtwin.engine.app.simulate import run_headless
from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.checkpoint import CheckpointError
from synthtwin.engine.config import load_config
from synthtwin.net.websocket import split_frame
from synthtwin.net.wire import meta
from synthtwin.net.wire.crowd import CrowdDecoder
from tests.conftest import MONDAY, small_simulation
from tests.loopback import free_port, loopback
from tests.test_http_api import port_is_free
from tests.test_websocket import control, replies, request_frame

ray = pytest.importorskip("ray")

TWINS = 300
SEED = 5
MORNING = MONDAY.replace(hour=7)
"""Commuting time: twins cross region edges."""

pytestmark = [pytest.mark.timeout(240), pytest.mark.usefixtures("ray_session")]


def _config(shards: int, **cluster):
    return load_config(
        None, twins=TWINS, seed=SEED, tick_hz=1.0, time_scale=60.0, start=MORNING,
        cluster={"shards": shards, **cluster},
    )  # fmt: skip


def _state(cluster: ShardCluster) -> dict[str, np.ndarray]:
    """Every column of every twin, by id."""
    return cluster.twins(np.sort(np.concatenate(cluster.ids())))


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].tobytes() == b[name].tobytes(), name


def test_a_twin_handed_a_to_b_to_a_keeps_every_bit() -> None:
    a, b = small_simulation(twins=50, seed=SEED), small_simulation(twins=50, seed=SEED)
    try:
        a.loop.run_ticks(30)
        b.world.take_twins(b.world.ids.copy())
        ids = a.world.ids[[3, 17, 40]].copy()
        a.world.add_sparse(int(ids[1]), MeshRequest())
        before = {k: a.world[k][a.world.rows_of(ids)].copy() for k in a.world.columns.schema}
        b.world.put_twins(a.world.take_twins(ids))
        assert a.world.n == 47 and b.world.n == 3
        assert b.world.sparse(int(ids[1]), MeshRequest) is not None
        a.world.put_twins(b.world.take_twins(ids))
        after = {k: a.world[k][a.world.rows_of(ids)] for k in a.world.columns.schema}
        for name in before:
            if name != "entity":
                assert before[name].tobytes() == after[name].tobytes(), name
        assert isinstance(a.world.sparse(int(ids[1]), MeshRequest), MeshRequest)
        twins = a.world.take_twins(ids[:1])
        a.world.put_twins(twins)
        with pytest.raises(ValueError, match="already here"):
            a.world.put_twins(twins)
        assert a.world.n == 50
        a.loop.run_ticks(5)  # and the world ticks on with them
    finally:
        a.close()
        b.close()


def test_two_shards_hand_twins_over_bit_for_bit_in_lockstep(tmp_path: Path) -> None:
    """A checkpoint taken with twins in transit holds them too (in their new shards' files)."""
    with ShardCluster(_config(2), tmp_path) as cluster:
        assert cluster.regions.n == 2
        handed = None
        for _ in range(120):
            reports = cluster.step(1)
            assert {r.tick for r in reports} == {cluster.tick}
            assert (
                sum(r.twins for r in reports) + sum(len(t or ()) for t in cluster._inbox) == TWINS
            )
            moving = [t for t in cluster._inbox if t is not None and len(t)]
            if moving:
                handed = moving[0]
                break
        assert handed is not None, "no twin crossed a region edge in two simulated hours"
        manifest = cluster.checkpoint()
        saved = [build_simulation(_config(2), resume=tmp_path / f) for f in manifest.files]
        try:
            assert sum(sim.world.n for sim in saved) == TWINS
        finally:
            for sim in saved:
                sim.close()
        cluster.step(0)
        _assert_same(cluster.twins(handed.ids), handed.columns)
        owner = cluster.regions.shard_of_cells(_cells(handed.columns["position_m"]))
        held = cluster.ids()
        assert all(np.isin(i, held[k]) for i, k in zip(handed.ids, owner, strict=True))
        assert len(cluster.overruns) == 2


def test_one_shard_equals_the_single_process_world() -> None:
    config = _config(1)
    sim = build_simulation(config)
    try:
        sim.loop.run_ticks(45)
        expected = {k: sim.world[k].copy() for k in sim.world.columns.schema if k != "entity"}
    finally:
        sim.close()
    with ShardCluster(config) as cluster:
        cluster.run(45)
        _assert_same(_state(cluster), expected)


def _killed_run(folder: Path) -> dict:
    """2 shards (barriers every 3 ticks, a checkpoint at tick 30) run to tick 48; shard 1 is
    killed there, between two barriers, and Ray restarts it (from the checkpoint) before the
    next; the next barrier finds it behind and the world goes back to tick 30 and on to 48
    again. The states at 30 and 48 (before the kill), after it (at 30, and again at 48), the
    gaps and the folder."""
    found = {"folder": folder}
    with ShardCluster(_config(2, checkpoint_every_ticks=30, barrier_ticks=3), folder) as cluster:
        cluster.run(30)
        found[30] = _state(cluster)
        cluster.run(18)
        found[48], found["handoffs"] = _state(cluster), cluster.handoffs.twins
        ray.kill(cluster.actors[1], no_restart=False)
        _until_restarted(cluster.actors[1], at_tick=30)
        cluster.step(0)  # finds the shard behind: every shard back at tick 30
        found["gaps"], found["back"] = list(cluster.gaps), _state(cluster)
        cluster.run(18)
        found["again"] = _state(cluster)
    return found


def _until_restarted(actor, at_tick: int) -> None:
    """Wait (up to 60 s) until ``actor`` answers from its checkpoint's tick."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            if ray.get(actor.tick.remote(), timeout=5) == at_tick:
                return
        time.sleep(0.1)
    raise AssertionError("the killed shard was not restarted within 60 s")


def test_a_killed_shard_restarts_from_the_checkpoint_and_it_resumes_on_other_counts(
    tmp_path: Path,
) -> None:
    """The gap names the shard and the ticks lost; the world went back to the checkpoint bit for
    bit, and ran on to the same state, twins handed over on the way (lockstep replays exactly).
    Then the checkpoint resumes on another shard count (one run pays for both: shard actors
    take seconds to start)."""
    killed = _killed_run(tmp_path / "two")
    assert killed["handoffs"] > 0
    assert [(g.shard, g.at_tick, g.resumed_tick, g.lost_ticks) for g in killed["gaps"]] == [
        (1, 48, 30, 18)
    ]
    _assert_same(killed["back"], killed[30])
    _assert_same(killed["again"], killed[48])
    _resume_on_other_counts(killed, tmp_path)


def _resume_on_other_counts(killed: dict, tmp_path: Path) -> None:
    """2 shards -> checkpoint (tick 30) -> resumed on 1 -> checkpoint (tick 45) -> resumed on 2:
    every twin's every column as checkpointed, each twin on the shard of its region."""
    states, folder = {30: killed[30]}, killed["folder"]
    for count, tick, into in ((1, 30, tmp_path / "one"), (2, 45, tmp_path / "again")):
        config = _config(count, checkpoint_every_ticks=45)
        with ShardCluster(config, checkpoints=into, resume=folder / "manifest.json") as moved:
            assert moved.tick == tick and moved.regions.n == count
            _assert_same(_state(moved), states[tick])
            held = moved.ids()
            owner = moved.regions.shard_of_cells(_cells(states[tick]["position_m"]))
            for k in range(count):
                assert np.array_equal(np.sort(held[k]), states[tick]["twin_id"][owner == k])
            if count == 1:
                moved.run(15)
                states[45] = _state(moved)
                assert ShardManifest.read(into / "manifest.json").shards == 1
        folder = into


def _cells(position_m: np.ndarray) -> np.ndarray:
    return np.floor(position_m / 2000.0).astype(np.int32)


def test_a_damaged_manifest_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"format": 1, "tick": 3}')
    with pytest.raises(CheckpointError, match="cannot read it"):
        ShardManifest.read(tmp_path / "manifest.json")
    (tmp_path / "manifest.json").write_text(
        '{"format": 1, "tick": 3, "regions": {"edges": [], "bounds": [0, 1, 0, 1]}, '
        '"files": ["tick-3/shard-0-of-1.ckpt"]}'
    )
    with pytest.raises(CheckpointError, match="is missing"):
        ShardManifest.read(tmp_path / "manifest.json")


def test_simulate_on_two_shards_writes_one_merged_output(tmp_path: Path) -> None:
    config = load_config(
        None, twins=TWINS, seed=SEED, tick_hz=1.0, time_scale=600.0, start=MONDAY,
        cluster={"shards": 2, "barrier_ticks": 6},
    )  # fmt: skip
    sharded = run_sharded(config, 1, tmp_path / "two", vitals_every_s=3600.0)
    sim = build_simulation(config)
    try:
        single = run_headless(sim, 1, tmp_path / "one", vitals_every_s=3600.0)
    finally:
        sim.close()
    assert sharded.run.ticks == single.ticks == 144
    assert sharded.handoffs > 0
    for name in ("population", "daily", "vitals"):
        two = pq.read_table(sharded.run.files[name])
        one = pq.read_table(single.files[name])
        assert two.schema == one.schema, name
        assert two.num_rows == one.num_rows, name
    population = pq.read_table(sharded.run.files["population"])
    assert population.equals(pq.read_table(single.files["population"]))
    daily = pq.read_table(sharded.run.files["daily"]).to_pydict()
    assert sorted(set(zip(daily["twin_id"], daily["day"], strict=True))) == sorted(
        zip(daily["twin_id"], daily["day"], strict=True)
    )


def test_simulate_shards_bad_input_is_refused_before_any_shard_starts(
    tmp_path: Path, capsys
) -> None:
    from synthtwin.engine.app.cli import main

    out = str(tmp_path / "out")
    assert main(["simulate", "--days", "1", "--out", out, "--shards", "2", "--store",
                 str(tmp_path / "h.duckdb")]) == 2  # fmt: skip
    assert "--store is not available with --shards" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["simulate", "--days", "1", "--out", out, "--shards", "0"])
    assert "--shards" in capsys.readouterr().err
    manifest = str(tmp_path / "world.shards" / "manifest.json")
    assert main(["serve", "--no-http", "--resume", manifest]) == 2
    assert "is a shard manifest: resume it with --shards N" in capsys.readouterr().err


def test_serve_on_two_shards_answers_through_one_front_and_its_gateway(tmp_path: Path) -> None:
    """``twin serve --shards 2`` (``ShardServing``) at commuting time, twins crossing region
    edges: the front merges the shards (every twin in its roster, a twin's request answered by
    its shard); the gateway, attached to the front, lists every twin of both shards (REST) and
    delivers the crowd over ``/ws``; a late-joining Clone client through the front holds every
    twin, applies the live stream without an error and hears no twin removed (a handoff is not
    a despawn); stopping saves a manifest and frees the gateway's port."""
    config = load_config(
        None, twins=TWINS, seed=SEED, tick_hz=10.0, time_scale=30.0, start=MORNING,
        serve={"pub_endpoint": loopback(), "router_endpoint": loopback(),
               "http_port": free_port(), "checkpoint": tmp_path / "world.ckpt"},
        history={"enabled": False}, cluster={"shards": 2},
    )  # fmt: skip
    serving = ShardServing(config)
    runner = threading.Thread(target=serving.run)
    runner.start()
    port = serving.http.port
    try:
        roster = _roster_of_both(config.serve.router_endpoint)
        assert roster == list(range(1, TWINS + 1))
        with RequestClient(config.serve.router_endpoint, timeout_s=20.0) as client:
            assert client.call("twin", id=roster[-1])["id"] == roster[-1]
        assert _listed(serving.http.url) == roster
        asyncio.run(asyncio.wait_for(_crowd_over_ws(serving.http.url, roster), 60))
        _late_joiner_follows_handoffs(serving, roster)
    finally:
        serving.stop.set()
        runner.join(timeout=60)
    assert not runner.is_alive()
    assert port_is_free(port)
    manifest = ShardManifest.read(tmp_path / "world.shards" / "manifest.json")
    assert manifest.shards == 2 and manifest.tick == serving.saved.tick > 0


def _roster_of_both(router: str) -> list[int]:
    """The front's roster once both shards joined it (every twin), ids ascending."""
    with RequestClient(router, timeout_s=20.0) as client:
        deadline = time.monotonic() + 60
        roster = {"ids": []}
        while len(roster["ids"]) < TWINS and time.monotonic() < deadline:
            time.sleep(0.2)
            with contextlib.suppress(RequestError):  # until both shards joined the front
                roster = client.call("roster")
    return sorted(int(i) for i in roster["ids"])


def _listed(url: str) -> list[int]:
    """GET /api/twins through the gateway (asked again while it starts); one twin's details
    and the stats answer too."""
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=url, timeout=10.0) as api:
        while True:
            try:
                page = api.get("/api/twins", params={"limit": 500})
            except httpx.TransportError:  # not listening yet
                page = None
            if page is not None and page.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert page is not None and page.status_code == 200, page and page.text
    assert page.json()["total"] == TWINS
    with httpx.Client(base_url=url, timeout=10.0) as api:
        twin = page.json()["items"][-1]["id"]
        assert api.get(f"/api/twins/{twin}").json()["id"] == twin  # from the shard holding it
        assert api.get("/api/stats").json()["twins"] == TWINS  # merged over the shards
    return [item["id"] for item in page.json()["items"]]


async def _crowd_over_ws(url: str, roster: list[int]) -> None:
    """/ws: the crowd's snapshot and live messages after it hold every twin of the roster."""
    async with connect(url.replace("http://", "ws://") + "/ws") as ws:
        assert (await control(ws, "subscribe", "cell/"))["op"] == "subscribed"
        await ws.send(request_frame(1, "snapshot"))
        live: list = []
        snapshot = (await replies(ws, 1, live))[1]
        decoder = CrowdDecoder()
        for payload in snapshot.result["crowd"]:
            decoder.apply(payload)
        seen = 0
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            live.append(split_frame(await asyncio.wait_for(ws.recv(), 10.0)))
        for topic, payload in live:
            if topic.endswith(b"/crowd") and decoder.apply(payload).seq > snapshot.seq:
                seen += 1  # raises unknown_base on a lost keyframe
        assert seen, "no crowd message arrived after the snapshot"
        ids = np.concatenate([decoder._cells[c].state.ids for c in decoder._cells])
        assert sorted(ids.tolist()) == roster


def _late_joiner_follows_handoffs(serving: ShardServing, roster: list[int]) -> None:
    """A Clone client joining now sees twins cross region edges (their old shard still
    publishes them in the new region's cells, which the front ignores), none removed, and
    every twin held between two handoffs (one in transit is in no cell for about a tick:
    protocol 16, item 2)."""
    serve = serving.config.serve
    metas = zmq.Context.instance().socket(zmq.SUB)
    metas.setsockopt(zmq.LINGER, 0)
    metas.connect(serve.pub_endpoint)
    metas.subscribe(b"meta")
    removed: list[int] = []
    with metas, CloneClient(serve.pub_endpoint, serve.router_endpoint, timeout_s=10.0) as sub:
        front = serving.front.stream
        crossed = front.foreign_cells
        deadline = time.monotonic() + 60
        while front.foreign_cells < crossed + 5 and time.monotonic() < deadline:
            sub.poll(0.2)
            while metas.poll(0):
                removed += meta.decode(metas.recv_multipart()[1]).removed.tolist()
        assert front.foreign_cells >= crossed + 5
        assert removed == []  # handed over, never despawned
        deadline = time.monotonic() + 10
        while len(sub.crowd().ids) < TWINS and time.monotonic() < deadline:
            sub.poll(0.05)
        np.testing.assert_array_equal(sub.crowd().ids, roster)
        np.testing.assert_array_equal(sub.roster, roster)
        assert sub.rejected == 0 and front.dropped_deltas == 0
        stats = sub.requests.call("stats")
        assert sum(s["twins"] for s in stats["shards"]) == TWINS


def test_a_world_too_small_for_its_shards_is_refused_clearly(tmp_path: Path) -> None:
    config = load_config(None, twins=5, seed=SEED, tick_hz=1.0, time_scale=60.0,
                         cluster={"shards": 40})  # fmt: skip
    with pytest.raises(ClusterError, match=r"40 shards, but .* use at most \d+ shards"):
        ShardCluster(config)
