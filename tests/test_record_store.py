"""The health record: the store's round trips, the bounded queue, and what the recording system
writes from a real simulation into a real DuckDB file."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from synthtwin.engine.app.cli import main
from synthtwin.engine.app.record import Recorder
from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.checkpoint import save_checkpoint
from synthtwin.engine.config import load_config
from synthtwin.engine.health_store import HealthStore, StoreError
from synthtwin.engine.record_queue import RecordBatch, RecordQueue
from synthtwin.engine.record_writer import RecordWriter
from synthtwin.systems.health import DAILY_FIELDS

EVENING = datetime(2026, 3, 2, 21, 0)
"""Three hours before midnight: a short run closes one (partial) day."""


def _vitals(ids: list[int], minute: int) -> dict[str, np.ndarray]:
    t = np.datetime64("2026-03-02T00:00", "us") + np.timedelta64(minute, "m")
    return {
        "twin_id": np.asarray(ids, np.uint32),
        "t": np.full(len(ids), t),
        "hr_bpm": np.arange(len(ids), dtype=np.float32) + minute,
    }


def _days(ids: list[int], day: str) -> dict[str, np.ndarray]:
    return {
        "twin_id": np.asarray(ids, np.uint32),
        "day": np.full(len(ids), np.datetime64(day, "D")),
        "steps": np.asarray(ids, np.int32) * 100,
    }


def test_rows_written_come_back_with_their_types(tmp_path):
    store = HealthStore(tmp_path / "deep" / "h.duckdb")
    store.write("vitals", _vitals([1, 2], 5))
    store.write("daily", _days([1, 2], "2026-03-02"))
    store.close()
    db = duckdb.connect(str(tmp_path / "deep" / "h.duckdb"), read_only=True)
    rows = db.execute("SELECT twin_id, t, hr_bpm FROM vitals ORDER BY twin_id").fetchall()
    assert rows == [(1, datetime(2026, 3, 2, 0, 5), 5.0), (2, datetime(2026, 3, 2, 0, 5), 6.0)]
    types = dict(db.execute("SELECT column_name, data_type FROM duckdb_columns()").fetchall())
    assert types["twin_id"] == "UINTEGER" and types["day"] == "DATE" and types["t"] == "TIMESTAMP"
    db.close()


def test_twins_are_replaced_and_unknown_tables_refused(tmp_path):
    store = HealthStore(tmp_path / "h.duckdb")
    store.write("twins", {"twin_id": np.array([1, 2], np.uint32), "age_y": np.array([30.0, 40])})
    store.write("twins", {"twin_id": np.array([2], np.uint32), "age_y": np.array([41.0])})
    assert store.db.execute("SELECT * FROM twins ORDER BY twin_id").fetchall() == [
        (1, 30.0),
        (2, 41.0),
    ]
    with pytest.raises(ValueError, match="unknown table 'people'"):
        store.write("people", {"twin_id": np.array([1], np.uint32)})
    store.close()


def test_truncate_after_removes_the_future_and_fill_days_the_missing(tmp_path):
    store = HealthStore(tmp_path / "h.duckdb")
    for minute in (10, 20, 30):
        store.write("vitals", _vitals([1, 2], minute))
    store.write("daily", _days([1, 2], "2026-03-01"))
    store.write("daily", _days([1, 2], "2026-03-02"))
    deleted = store.truncate_after(datetime(2026, 3, 2, 0, 20))
    assert deleted == {"vitals": 2, "daily": 2}
    assert store.db.execute("SELECT max(t) FROM vitals").fetchall() == [
        (datetime(2026, 3, 2, 0, 20),)
    ]
    assert store.fill_days(_days([1, 2, 3], "2026-03-01")) == 1
    assert store.db.execute("SELECT count(*) FROM daily").fetchall() == [(3,)]
    store.prune_vitals(datetime(2026, 3, 3).date())
    assert store.db.execute("SELECT count(*) FROM vitals").fetchall() == [(0,)]
    store.close()


def test_a_store_another_process_writes_is_refused_with_one_line(tmp_path):
    path = tmp_path / "h.duckdb"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=f"cannot open the health record {path}: ") as err:
        HealthStore(path)
    assert "\n" not in str(err.value)


def test_a_full_queue_drops_and_counts_and_a_barrier_follows_the_rest():
    queue = RecordQueue(max_rows=3)
    assert queue.offer(RecordBatch("vitals", _vitals([1, 2], 0)))
    assert not queue.offer(RecordBatch("vitals", _vitals([1, 2], 1)))
    assert (queue.dropped_rows, queue.dropped_batches, queue.waiting_rows) == (2, 1, 2)
    barrier = queue.barrier()
    items = queue.take(0.0)
    assert [type(i).__name__ for i in items] == ["RecordBatch", "Barrier"]
    assert items[1] is barrier and queue.waiting_rows == 0
    assert queue.take(0.0) == []


def _recorded_run(path: Path, ticks: int, minute_s: float = 60.0):
    config = load_config(
        None, twins=12, seed=3, tick_hz=1.0, time_scale=60.0, start=EVENING,
        history={"minute_s": minute_s},
    )  # fmt: skip
    recorder = Recorder(path, config.history, blocking=True)
    sent: list[RecordBatch] = []

    def sink(batch: RecordBatch) -> bool:
        sent.append(batch)
        return recorder.sink(batch)

    sim = build_simulation(config, record=sink)
    recorder.align(sim.world)
    sim.loop.run_ticks(ticks)
    return sim, recorder, sent


def test_a_simulation_records_twins_days_episodes_and_vitals(tmp_path):
    sim, recorder, sent = _recorded_run(tmp_path / "h.duckdb", ticks=200, minute_s=120.0)
    recorder.flush()
    db = recorder.store.db
    ids = sorted(sim.world.ids.tolist())
    assert [r[0] for r in db.execute("SELECT twin_id FROM twins ORDER BY 1").fetchall()] == ids
    # vitals: every twin at every even minute from 21:02 to 00:20, nothing in between
    times = db.execute("SELECT t, count(*) FROM vitals GROUP BY t ORDER BY t").fetchall()
    assert times[0][0] == datetime(2026, 3, 2, 21, 2) and times[-1][0] == datetime(
        2026, 3, 3, 0, 20
    )
    assert {count for _, count in times} == {len(ids)} and len(times) == 100
    # the day closed at midnight, exactly as the simulation's record sent it, which then let
    # it go (stored, it is in neither memory nor checkpoints)
    daily = db.execute("SELECT * FROM daily ORDER BY twin_id").fetchnumpy()
    (expected,) = [batch.columns for batch in sent if batch.table == "daily"]
    assert sim.record.closed == 1 and sim.record.batches == []
    assert list(daily) == list(DAILY_FIELDS)
    assert np.array_equal(daily["twin_id"], np.sort(expected["twin_id"]))
    order = np.argsort(expected["twin_id"])
    assert np.allclose(daily["steps"], expected["steps"][order])
    # episodes: each twin's follow one another without gap or overlap, and the last one ends
    # where the twin's current activity began
    moved = 0
    for twin in ids:
        rows = db.execute(
            'SELECT start, "end", activity FROM episodes WHERE twin_id = ? ORDER BY start', [twin]
        ).fetchall()
        assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(rows, rows[1:], strict=False))
        began_s = float(sim.world["activity_start_s"][sim.world.row_of(twin)])
        if began_s > 0:  # else asleep since before the start: no episode has ended
            assert rows[-1][1] == EVENING + timedelta(seconds=began_s)
            moved += 1
    assert moved >= len(ids) // 2
    recorder.close()
    sim.close()


def test_a_checkpoint_after_a_flush_carries_no_stored_day_and_resumes_counting_it(tmp_path):
    sim, recorder, _ = _recorded_run(tmp_path / "h.duckdb", ticks=200)  # past midnight
    recorder.flush()  # as before every checkpoint of a server
    assert (sim.record.closed, sim.record.batches) == (1, [])
    path = tmp_path / "w.ckpt"
    save_checkpoint(sim.world, sim.schedule, path)
    recorder.close()
    sim.close()
    resumed = build_simulation(sim.config, resume=path)
    try:
        assert (resumed.record.closed, resumed.record.batches) == (1, [])
        resumed.loop.run_ticks(24 * 60)  # the next midnight: held until a store has it
        assert resumed.record.closed == 2 and len(resumed.record.batches) == 1
    finally:
        resumed.close()


def test_despawned_twins_end_their_episode_and_spawned_ones_are_profiled(tmp_path):
    sim, recorder, _ = _recorded_run(tmp_path / "h.duckdb", ticks=5)
    gone = int(sim.world.ids[0])
    sim.despawn([gone])
    born = sim.spawn(2, seed=1)
    sim.loop.run_ticks(1)
    recorder.flush()
    db = recorder.store.db
    ended = db.execute('SELECT max("end") FROM episodes WHERE twin_id = ?', [gone]).fetchall()
    assert ended == [(EVENING.replace(minute=6),)]
    profiled = db.execute("SELECT twin_id FROM twins WHERE twin_id IN (?, ?)", born.tolist())
    assert sorted(r[0] for r in profiled.fetchall()) == sorted(born.tolist())
    recorder.close()
    sim.close()


def test_twin_simulate_store_writes_the_record_ending_today(tmp_path):
    store = tmp_path / "h.duckdb"
    argv = ["simulate", "--twins", "8", "--days", "1", "--step-s", "300", "--quiet",
            "--out", str(tmp_path / "out"), "--store", str(store)]  # fmt: skip
    assert main(argv) == 0
    yesterday = date.today() - timedelta(days=1)
    daily = pq.read_table(tmp_path / "out" / "daily.parquet")
    with duckdb.connect(str(store), read_only=True) as db:
        days = db.execute("SELECT DISTINCT day FROM daily").fetchall()
        assert days == [(yesterday,)]
        assert db.execute("SELECT count(*) FROM daily").fetchone()[0] == daily.num_rows
        samples = db.execute("SELECT count(DISTINCT t), count(*) FROM vitals").fetchone()
        assert samples == (288, 288 * daily.num_rows)  # every 5 minutes of the day, every twin


def test_the_writer_stores_what_waits_and_reports_what_the_tick_dropped(tmp_path, caplog):
    store = HealthStore(tmp_path / "h.duckdb")
    queue = RecordQueue(max_rows=1000)
    assert queue.offer(RecordBatch("vitals", _vitals(list(range(1, 601)), 0)))
    assert not queue.offer(RecordBatch("vitals", _vitals(list(range(1, 601)), 1)))  # full
    writer = RecordWriter(store, queue, minute_days=30)  # its first take reports the drop
    assert writer.flush(10.0)
    writer.close()
    assert writer.written_rows == 600 and writer.failed_rows == 0
    assert "600 rows dropped at a full queue (600 in all)" in caplog.text
    assert store.db.execute("SELECT count(*) FROM vitals").fetchone()[0] == 600
    store.close()


@pytest.mark.parametrize("blocking", [False, True])
def test_fired_alerts_are_kept_for_publishing_only_when_serving(tmp_path, blocking):
    """A server takes its fired alerts at every poll; a headless run (``blocking``) has nobody
    to take them, so its writer stores them and keeps none (it held every one before)."""
    from synthtwin.engine.config import AlertsConfig, HistoryConfig

    rules = AlertsConfig(tachycardia_bpm=1.0)  # every day with a resting HR fires
    recorder = Recorder(tmp_path / "h.duckdb", HistoryConfig(), blocking=blocking, alerts=rules)
    day = _days([1, 2, 3], "2026-03-02")
    for name, value in (("resting_hr", 60.0), ("sbp_mean", 120.0), ("dbp_mean", 80.0),
                        ("sleep_hours", 7.5)):  # fmt: skip
        day[name] = np.full(3, value, np.float32)
    recorder.sink(RecordBatch("daily", day))
    recorder.flush()
    kept = recorder.writer.take_alerts()
    stored = recorder.store.db.execute("SELECT count(*) FROM alerts").fetchone()[0]
    recorder.close()
    assert stored == 3
    assert [a["twin_id"] for a in kept] == ([] if blocking else [1, 2, 3])


def test_a_headless_record_waits_for_a_slow_writer_however_long(tmp_path, monkeypatch):
    """``twin simulate --store`` flushes and closes without a time limit (a large population's
    last day may take the writer longer than a serving checkpoint would wait): every row is in
    the file when the run ends, none lost to a store closed under its writer."""
    import synthtwin.engine.app.record as record

    monkeypatch.setattr(record, "FLUSH_TIMEOUT_S", 0.01)
    monkeypatch.setattr(record, "CLOSE_TIMEOUT_S", 0.01)
    write = HealthStore.write

    def slow(self, table, columns):
        time.sleep(0.2)
        write(self, table, columns)

    monkeypatch.setattr(HealthStore, "write", slow)
    from synthtwin.engine.config import HistoryConfig

    recorder = Recorder(tmp_path / "h.duckdb", HistoryConfig(), blocking=True)
    recorder.sink(RecordBatch("vitals", _vitals([1, 2], 0)))
    recorder.flush()
    assert recorder.store.db.execute("SELECT count(*) FROM vitals").fetchone()[0] == 2
    recorder.sink(RecordBatch("daily", _days([1, 2], "2026-03-02")))
    recorder.close()
    with duckdb.connect(str(tmp_path / "h.duckdb"), read_only=True) as db:
        assert db.execute("SELECT count(*) FROM daily").fetchone()[0] == 2


def test_a_store_of_another_world_is_refused_not_mixed(tmp_path, capsys):
    """Two new worlds of other seeds share twin ids, not people: the second refuses the first's
    record (its days would join another person's under one id); the same world again (same
    seed and size: the same people) records on."""
    store = tmp_path / "h.duckdb"

    def simulate(seed: int, start: str, out: str) -> int:
        return main(["simulate", "--twins", "5", "--days", "1", "--step-s", "300", "--quiet",
                     "--start", start, "--seed", str(seed), "--out", str(tmp_path / out),
                     "--store", str(store)])  # fmt: skip

    assert simulate(1, "2026-03-02", "a") == 0
    assert simulate(2, "2026-03-05", "b") == 2
    assert "was written by another world: its twin 1 is another person" in capsys.readouterr().err
    assert simulate(1, "2026-03-05", "c") == 0
    with duckdb.connect(str(store), read_only=True) as db:
        days = db.execute("SELECT DISTINCT day FROM daily ORDER BY day").fetchall()
    assert days == [(date(2026, 3, 2),), (date(2026, 3, 5),)]


def test_a_record_of_an_older_version_takes_a_new_column(tmp_path):
    """A daily field or vital sign added by a newer version: the table gains the column (NULL in
    the rows before) instead of refusing every later write of that table."""
    path = tmp_path / "h.duckdb"
    store = HealthStore(path)
    store.write("daily", _days([1, 2], "2026-03-02"))
    store.close()
    store = HealthStore(path)  # reopened, as by a newer version
    newer = {**_days([1, 2], "2026-03-03"), "hrv_ms": np.array([41.5, 52.0], np.float32)}
    store.write("daily", newer)
    store.write("daily", _days([1], "2026-03-04"))  # without it again
    rows = store.db.execute("SELECT day, twin_id, steps, hrv_ms FROM daily ORDER BY 1, 2")
    assert [(str(d), t, s, h) for d, t, s, h in rows.fetchall()] == [
        ("2026-03-02", 1, 100, None), ("2026-03-02", 2, 200, None),
        ("2026-03-03", 1, 100, 41.5), ("2026-03-03", 2, 200, 52.0),
        ("2026-03-04", 1, 100, None),
    ]  # fmt: skip
    store.close()
