"""``twin simulate``: the files it writes, their schema, and clear failures with exit code 2."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from synthtwin.components.activity import CATEGORIES
from synthtwin.engine.app.cli import main
from synthtwin.systems.health import DAILY_FIELDS


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    code = main(
        [
            "simulate",
            "--twins",
            "60",
            "--days",
            "2",
            "--seed",
            "3",
            "--out",
            str(out),
            "--start",
            "2026-03-06",
            "--vitals-every",
            "600",
            "--quiet",
        ]
    )
    assert code == 0
    return out


def test_population_file_has_one_row_per_twin_with_labelled_attributes(run_dir):
    table = pq.read_table(run_dir / "population.parquet")
    assert table.num_rows == 60
    for name in (
        "twin_id",
        "age",
        "sex",
        "height_cm",
        "weight_kg",
        "bmi",
        "employed",
        "hypertension",
        "diabetes",
        "chronotype_h",
        "rhr_bpm",
        "household_id",
    ):
        assert name in table.column_names, name
    assert set(table["sex"].to_pylist()) <= {"female", "male"}
    assert str(table.schema.field("employed").type) == "bool"
    assert table.schema.field("height_cm").metadata[b"unit"] == b"cm"


def test_daily_file_has_a_row_per_twin_per_day_with_the_documented_columns(run_dir):
    table = pq.read_table(run_dir / "daily.parquet")
    assert table.column_names == list(DAILY_FIELDS)
    assert table.num_rows == 120
    days = sorted({d.isoformat() for d in table["day"].to_pylist()})
    assert days == ["2026-03-06", "2026-03-07"]
    assert sorted(set(table["weekday"].to_pylist())) == [4, 5]
    minutes = sum(table[f"min_{c}"].to_numpy().astype(np.float64) for c in CATEGORIES)
    np.testing.assert_allclose(minutes, 1440.0)


def test_vitals_file_samples_every_twin_at_the_interval(run_dir):
    table = pq.read_table(run_dir / "vitals.parquet")
    assert table.num_rows == 60 * 2 * 144
    assert {"twin_id", "time", "activity", "category", "hr_bpm", "glucose_mgdl", "x_m"} <= set(
        table.column_names
    )
    assert set(table["category"].to_pylist()) <= set(CATEGORIES)


def test_same_seed_writes_identical_daily_files(tmp_path):
    for name in ("a", "b"):
        main(
            [
                "simulate",
                "--twins",
                "30",
                "--days",
                "1",
                "--seed",
                "9",
                "--out",
                str(tmp_path / name),
                "--start",
                "2026-03-02",
                "--quiet",
            ]
        )
    a = pq.read_table(tmp_path / "a" / "daily.parquet")
    b = pq.read_table(tmp_path / "b" / "daily.parquet")
    assert a.equals(b)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--twins", "0", "--days", "1"], "is not a positive integer"),
        (["--twins", "5", "--days", "x"], "invalid _positive_int value"),
        (["--twins", "5", "--days", "1", "--start", "2026-13-01"], "is not a date"),
        (["--twins", "5", "--days", "1", "--vitals-every", "90"], "whole number of ticks"),
        (["--twins", "5", "--days", "1", "--step-s", "7"], "does not divide a day"),
        (["--twins", "5", "--days", "1", "--population", "/no/such.csv"], "no such file"),
        (["--days", "1"], "the following arguments are required: --out"),
    ],
)
def test_bad_arguments_exit_with_status_2_and_a_clear_message(tmp_path, capsys, args, message):
    if "--days" in args and "--out" not in args and "required: --out" not in message:
        args = [*args, "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as exit_info:
        code = main(["simulate", *args, "--quiet"])
        raise SystemExit(code)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_an_unwritable_output_folder_exits_with_status_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(
        ["simulate", "--twins", "5", "--days", "1", "--out", str(blocker / "sub"), "--quiet"]
    )
    assert code == 2
    assert "cannot write to output folder" in capsys.readouterr().err


def test_the_console_script_runs_and_shows_a_progress_bar(tmp_path):
    twin = Path(sys.executable).with_name("twin")
    done = subprocess.run(
        [str(twin), "simulate", "--twins", "10", "--days", "1", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "1440/1440" in done.stderr
    assert "daily:" in done.stdout


def test_vitals_carry_poses_that_follow_the_activity(run_dir):
    table = pq.read_table(run_dir / "vitals.parquet")
    assert table.schema.field("pose").type.list_size == 72
    activity = np.array(table["activity"].to_pylist())
    clip = np.array(table["clip"].to_pylist())
    assert set(clip[activity == "sleep"]) == {"lie"}
    assert set(clip[activity == "tv"]) == {"sit"}
    pose = np.stack(table["pose"].to_numpy(zero_copy_only=False))
    asleep = pose[activity == "sleep"]
    sitting = pose[activity == "tv"]
    assert not np.allclose(asleep.mean(axis=0), sitting.mean(axis=0), atol=0.1)


def test_the_config_file_is_honoured_and_options_override_it(tmp_path):
    config = tmp_path / "twin.toml"
    config.write_text("[sim]\ntwins = 12\nseed = 5\nstart = 2026-06-01\n")
    assert main(["simulate", "--config", str(config), "--days", "1", "--out",
                 str(tmp_path / "a"), "--quiet"]) == 0  # fmt: skip
    daily = pq.read_table(tmp_path / "a" / "daily.parquet")
    assert daily.num_rows == 12
    assert {d.isoformat() for d in daily["day"].to_pylist()} == {"2026-06-01"}
    assert main(["simulate", "--config", str(config), "--twins", "7", "--days", "1", "--out",
                 str(tmp_path / "b"), "--quiet"]) == 0  # fmt: skip
    assert pq.read_table(tmp_path / "b" / "daily.parquet").num_rows == 7
