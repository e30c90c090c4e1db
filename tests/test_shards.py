"""Shards on a real local Ray: handoffs bit for bit, lockstep, checkpoints resumed on another
shard count, a killed shard restarted with its gap reported, and the sharded headless run's
merged output. One Ray session serves the module."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from synthtwin.components.mesh import MeshRequest
from synthtwin.engine.app.shard import ShardManifest
from synthtwin.engine.app.shard_simulate import run_sharded
from synthtwin.engine.app.shards import ClusterError, ShardCluster
from synthtwin.engine.app.simulate import run_headless
from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.checkpoint import CheckpointError
from synthtwin.engine.config import load_config
from tests.conftest import MONDAY, small_simulation

ray = pytest.importorskip("ray")

TWINS = 300
SEED = 5
MORNING = MONDAY.replace(hour=7)
"""Commuting time: twins cross region edges."""

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=200 << 20)  # fmt: skip
    yield
    ray.shutdown()


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


def test_two_shards_hand_twins_over_bit_for_bit_in_lockstep() -> None:
    with ShardCluster(_config(2)) as cluster:
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
        sim.loop.run_ticks(90)
        expected = {k: sim.world[k].copy() for k in sim.world.columns.schema if k != "entity"}
    finally:
        sim.close()
    with ShardCluster(config) as cluster:
        cluster.run(90)
        _assert_same(_state(cluster), expected)


def test_checkpoints_resume_on_another_shard_count(tmp_path: Path) -> None:
    """2 shards -> checkpoint -> resumed on 1 -> checkpoint -> resumed on 2: every twin's every
    column as checkpointed, each twin on the shard of its region."""
    states, folder = {}, tmp_path / "two"
    with ShardCluster(_config(2, checkpoint_every_ticks=20), checkpoints=folder) as cluster:
        cluster.run(20)
        states[20] = _state(cluster)
    for count, tick, into in ((1, 20, tmp_path / "one"), (2, 35, tmp_path / "again")):
        config = _config(count, checkpoint_every_ticks=35)
        with ShardCluster(config, checkpoints=into, resume=folder / "manifest.json") as moved:
            assert moved.tick == tick and moved.regions.n == count
            _assert_same(_state(moved), states[tick])
            held = moved.ids()
            owner = moved.regions.shard_of_cells(_cells(states[tick]["position_m"]))
            for k in range(count):
                assert np.array_equal(np.sort(held[k]), states[tick]["twin_id"][owner == k])
            if count == 1:
                moved.run(15)
                states[35] = _state(moved)
                assert ShardManifest.read(into / "manifest.json").shards == 1
        folder = into


def _cells(position_m: np.ndarray) -> np.ndarray:
    return np.floor(position_m / 2000.0).astype(np.int32)


def test_a_killed_shard_restarts_from_the_checkpoint_and_the_gap_is_reported(
    tmp_path: Path,
) -> None:
    """And two runs of one seed on 2 shards (barriers every 3 ticks) end bit for bit the same,
    one of them despite the kill."""
    config = _config(2, checkpoint_every_ticks=30, barrier_ticks=3)
    with ShardCluster(config, checkpoints=tmp_path / "a") as steady:
        steady.run(48)
        assert steady.handoffs.twins > 0 and steady.gaps == []
        expected = _state(steady)
    with ShardCluster(config, checkpoints=tmp_path / "b") as cluster:
        cluster.run(45)
        ray.kill(cluster.actors[1], no_restart=False)
        cluster.run(3)
        assert [(g.shard, g.at_tick, g.resumed_tick, g.lost_ticks) for g in cluster.gaps] == [
            (1, 45, 30, 15)
        ]
        assert cluster.tick == 48
        _assert_same(_state(cluster), expected)


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


def test_serve_on_two_shards_answers_through_one_front(tmp_path: Path) -> None:
    """``twin serve --shards 2``'s parts: the shards serve today's endpoints, the front merges
    them (every twin in its roster, a twin's request answered by its shard), and stopping saves
    a manifest."""
    from synthtwin.clients.python import RequestClient, RequestError
    from synthtwin.engine.app.shard_serve import ShardServing
    from tests.loopback import loopback

    config = load_config(
        None, twins=TWINS, seed=SEED, tick_hz=10.0, start=MORNING,
        serve={"pub_endpoint": loopback(), "router_endpoint": loopback(),
               "checkpoint": tmp_path / "world.ckpt", "http_enabled": False},
        history={"enabled": False}, cluster={"shards": 2},
    )  # fmt: skip
    serving = ShardServing(config)
    runner = threading.Thread(target=serving.run)
    runner.start()
    try:
        with RequestClient(config.serve.router_endpoint, timeout_s=20.0) as client:
            deadline = time.monotonic() + 60
            roster = {"ids": []}
            while len(roster["ids"]) < TWINS and time.monotonic() < deadline:
                time.sleep(0.2)
                with contextlib.suppress(RequestError):  # until both shards joined the front
                    roster = client.call("roster")
            assert sorted(roster["ids"]) == list(range(1, TWINS + 1))
            twin = client.call("twin", id=int(roster["ids"][-1]))
            assert twin["id"] == int(roster["ids"][-1])
    finally:
        serving.stop.set()
        runner.join(timeout=60)
    assert not runner.is_alive()
    manifest = ShardManifest.read(tmp_path / "world.shards" / "manifest.json")
    assert manifest.shards == 2 and manifest.tick == serving.saved.tick > 0


def test_a_world_too_small_for_its_shards_is_refused_clearly(tmp_path: Path) -> None:
    config = load_config(None, twins=5, seed=SEED, tick_hz=1.0, time_scale=60.0,
                         cluster={"shards": 40})  # fmt: skip
    with pytest.raises(ClusterError, match=r"40 shards, but .* use at most \d+ shards"):
        ShardCluster(config)
