"""``run_headless`` streams its daily and vitals files: row groups written while the run goes on,
the same rows as one table would hold, and nothing left behind by a run that fails."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from synthtwin.components.activity import CATEGORIES
from synthtwin.engine.app import simulate
from synthtwin.engine.app.simulate import run_headless

TWINS = 12
STEP_S = 600.0
TICKS_PER_DAY = round(86_400 / STEP_S)
DAYS = 2
VITALS_EVERY_S = 3_600.0
SAMPLES_PER_DAY = round(86_400 / VITALS_EVERY_S)


def test_each_day_is_a_row_group_written_before_the_run_ends(make_simulation, tmp_path):
    sim = make_simulation(twins=TWINS, step_s=STEP_S)
    partial = tmp_path / ".daily.parquet.tmp"
    sizes: list[int] = []

    def progress(ticks: int) -> None:
        if sim.world.tick % TICKS_PER_DAY == 1 and sim.world.tick > 1:  # a day into the next
            sizes.append(partial.stat().st_size)

    run_headless(sim, DAYS, tmp_path, progress=progress)
    assert len(sizes) == DAYS - 1 and sizes[0] > 0  # day 1 on disk while day 2 runs
    daily = pq.ParquetFile(tmp_path / "daily.parquet")
    assert daily.metadata.num_row_groups == DAYS
    assert [daily.metadata.row_group(i).num_rows for i in range(DAYS)] == [TWINS] * DAYS
    table = daily.read()
    days = table.column("day").to_pylist()
    assert sorted(set(days)) == days[::TWINS] and len(set(days)) == DAYS
    minutes = sum(table.column(f"min_{c}").to_numpy().astype(float) for c in CATEGORIES)
    np.testing.assert_allclose(minutes, 24 * 60, rtol=1e-4)  # each day whole
    assert sim.record.closed == DAYS and sim.record.batches == []  # written, then released
    assert not partial.exists()


def test_vitals_row_groups_gather_samples_up_to_the_limit(make_simulation, tmp_path, monkeypatch):
    monkeypatch.setattr(simulate, "VITALS_ROW_GROUP_ROWS", 5 * TWINS)
    sim = make_simulation(twins=TWINS, step_s=STEP_S)
    run_headless(sim, 1, tmp_path, vitals_every_s=VITALS_EVERY_S)
    vitals = pq.ParquetFile(tmp_path / "vitals.parquet")
    rows = [vitals.metadata.row_group(i).num_rows for i in range(vitals.metadata.num_row_groups)]
    assert rows == [5 * TWINS] * 4 + [4 * TWINS]  # 24 samples: four groups of 5, then the rest
    table = vitals.read()
    assert table.num_rows == SAMPLES_PER_DAY * TWINS
    assert table["time"].to_pylist() == sorted(table["time"].to_pylist())


def test_a_run_that_samples_nothing_writes_empty_files(make_simulation, tmp_path):
    sim = make_simulation(twins=TWINS, step_s=STEP_S)
    run_headless(sim, 0, tmp_path, vitals_every_s=VITALS_EVERY_S)
    assert pq.read_table(tmp_path / "daily.parquet").num_rows == 0
    assert pq.read_table(tmp_path / "vitals.parquet").column_names == ["twin_id"]


def test_a_failed_run_leaves_no_file_behind(make_simulation, tmp_path):
    sim = make_simulation(twins=TWINS, step_s=STEP_S)

    def progress(ticks: int) -> None:
        if sim.world.tick == TICKS_PER_DAY + 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_headless(sim, DAYS, tmp_path, vitals_every_s=VITALS_EVERY_S, progress=progress)
    assert sorted(Path(tmp_path).iterdir()) == []


def test_a_file_that_cannot_be_put_in_place_is_a_clear_error(
    make_simulation, tmp_path, monkeypatch
):
    sim = make_simulation(twins=TWINS, step_s=STEP_S)
    replace = simulate.os.replace

    def full_disk(src, dst) -> None:
        if Path(dst).name == "daily.parquet":
            raise OSError(28, "No space left on device")
        replace(src, dst)

    monkeypatch.setattr(simulate.os, "replace", full_disk)
    with pytest.raises(simulate.OutputError, match=r"daily\.parquet: No space left on device"):
        run_headless(sim, 0, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["population.parquet"]
