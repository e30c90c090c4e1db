"""Crash consistency of the health record: a ``twin serve`` killed with SIGKILL, resumed from its
checkpoint, holds every day and sample the checkpoint covers and nothing from the future.

A real ``twin serve`` process on loopback, a real DuckDB file; every wait is bounded.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import duckdb

from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from tests.loopback import loopback
from tests.test_durability import kill_hard, start_serve
from tests.test_serve import ask

START = datetime(2026, 3, 2, 20, 0)
TIME_SCALE = 7200.0
"""Simulated seconds per wall second: at 30 Hz a tick is 4 simulated minutes, a day 12 s."""
LIVED_S = 6 * 3600.0
"""Simulated time the server lives before the kill: past its first midnight."""
DEADLINE_S = 90.0


def _sim_time(router: str) -> datetime:
    return datetime.fromisoformat(ask(router, "stats").result["sim_time"])


def test_a_resumed_world_finds_its_past_recorded_and_no_future(tmp_path):
    config_file = tmp_path / "serve.toml"
    config_file.write_text(
        f'[sim]\nstart = "{START.isoformat()}"\n[serve]\ncheckpoint_every_s = 1.0\n'
    )
    proc, router = start_serve(
        tmp_path, "--config", str(config_file), "--time-scale", str(TIME_SCALE)
    )
    try:
        deadline = time.monotonic() + DEADLINE_S
        while _sim_time(router) < START + timedelta(seconds=LIVED_S):
            assert time.monotonic() < deadline, "the server did not reach its first midnight"
            time.sleep(0.2)
        time.sleep(0.6)  # between two checkpoints: the store runs ahead of the last one
    finally:
        kill_hard(proc)
    store = tmp_path / "health.duckdb"
    with duckdb.connect(str(store), read_only=True) as db:
        (latest_before,) = db.execute("SELECT max(t) FROM vitals").fetchone()

    config = load_config(
        config_file,
        serve={"pub_endpoint": loopback(), "router_endpoint": loopback(),
               "checkpoint": tmp_path / "w.ckpt", "http_enabled": False},
        twins=30, seed=5, time_scale=TIME_SCALE,
    )  # fmt: skip
    serving = Serving(config, resume=tmp_path / "w.ckpt")
    try:
        world = serving.sim.world
        now = world.clock.now
        assert latest_before > now, "the kill came too soon after a checkpoint to test anything"
        db = serving.recorder.store.cursor()
        # nothing from the future
        assert db.execute("SELECT max(t) FROM vitals").fetchone()[0] <= now
        assert db.execute('SELECT max("end") FROM episodes').fetchone()[0] <= now
        assert db.execute("SELECT max(day) FROM daily").fetchone()[0] < now.date()
        # every sample up to the checkpoint: one per tick (a tick is 4 whole minutes), each of
        # every twin
        times = db.execute("SELECT t, count(*) FROM vitals GROUP BY t ORDER BY t").fetchall()
        assert len(times) == world.tick and {n for _, n in times} == {world.n}
        # every day the checkpoint covers, for every twin; the days stored before it were
        # released (the checkpoint no longer carries them), the rest stored on resume
        record = serving.sim.record
        days = db.execute("SELECT day, count(*) FROM daily GROUP BY day ORDER BY day").fetchall()
        covered = [START.date() + timedelta(days=i) for i in range(record.closed)]
        assert record.closed >= 1 and [day for day, _ in days] == covered
        assert {n for _, n in days} == {world.n} and record.batches == []
    finally:
        serving.stop.set()
        serving.run()
