"""Clean errors for bad configuration, options and population files: one line, exit status 2,
never a traceback, never a bad value accepted in silence (issue #13)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthtwin.engine.app.cli import main
from synthtwin.engine.config import ConfigError, load_config
from synthtwin.engine.synth.population_import import PopulationImportError, load_population

INT64_MAX = 2**63 - 1


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    """``twin ARGV`` in this process: its exit status and what it wrote to stderr."""
    try:
        code = main(list(argv))
    except SystemExit as exit_info:
        code = exit_info.code
    return code, capsys.readouterr().err


def assert_one_clear_line(code: int, err: str, message: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert message in err, err


# --- configuration files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sim = 5\n", "sim = 5 is not a table; expected a [sim] header"),
        ("serve = [1, 2]\n", "serve = [1, 2] is not a table"),
        ("[sim]\nx = " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
        ("[sim]\nx = " + "[" * 20 + "]" * 20 + "\n", "nested too deeply"),
        ("[sim]\ncolour = 1\n", "unknown sim setting(s) ['colour']"),
        ("[sim]\ntwins = 1.5\n", "sim.twins = 1.5: expected a whole number"),
        ("[sim]\ntwins = true\n", "sim.twins = True: expected a whole number"),
        ("[sim]\ntwins = inf\n", "sim.twins = inf: expected a whole number"),
        ("[sim]\ntick_hz = '30'\n", "sim.tick_hz = '30': expected a number"),
        ("[sim]\ntown_seed = -1\n", "town_seed = -1 is out of range"),
        ("[sim]\nstart = [1]\n", "start = [1]: expected a date"),
        ("[serve]\ncheckpoint = 5\n", "serve.checkpoint = 5: expected a file path"),
        ("[serve]\ncheckpoint_every_s = inf\n", "checkpoint_every_s = inf is out of range"),
        ("[serve]\ncheckpoint_every_s = nan\n", "checkpoint_every_s = nan is out of range"),
        ("[serve]\nwebrtc_host_addresses = 5\n", "expected a list of strings"),
        ("[serve]\nhttp_port = 1" + "0" * 400 + "\n", "http_port = "),
        ("[security]\ncurve = 'yes'\n", "security.curve = 'yes': expected true or false"),
    ],
)
def test_a_bad_config_file_gets_one_clear_line(tmp_path, capsys, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value) and f"config file {path}" in str(err.value)
    assert len(str(err.value)) < 400
    code, stderr = run_cli(capsys, "serve", "--config", str(path))
    assert_one_clear_line(code, stderr, message)


def test_a_folder_or_unreadable_file_as_config_gets_one_clear_line(tmp_path, capsys):
    code, err = run_cli(capsys, "serve", "--config", str(tmp_path))
    assert_one_clear_line(code, err, f"config file {tmp_path}: is a folder")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00[sim]")
    code, err = run_cli(capsys, "serve", "--config", str(binary))
    assert_one_clear_line(code, err, "not UTF-8 text")
    code, err = run_cli(capsys, "serve", "--config", str(tmp_path / "none.toml"))
    assert_one_clear_line(code, err, "no such file")


def test_a_bad_file_value_is_reported_even_when_an_option_overrides_it(tmp_path, capsys):
    path = tmp_path / "twin.toml"
    path.write_text("[sim]\ntwins = -5\n")
    with pytest.raises(ConfigError, match=r"config file .*twin.toml: twins = -5 is out of range"):
        load_config(path, twins=5)
    code, err = run_cli(capsys, "simulate", "--config", str(path), "--twins", "5", "--days",
                        "1", "--out", str(tmp_path / "out"), "--quiet")  # fmt: skip
    assert_one_clear_line(code, err, "twins = -5 is out of range")
    path.write_text("[serve]\ncheckpoint_every_s = -1\n")
    with pytest.raises(ConfigError, match="checkpoint_every_s = -1.0 is out of range"):
        load_config(path, serve={"checkpoint_every_s": 10.0})


def test_good_overrides_still_replace_good_file_values(tmp_path):
    path = tmp_path / "twin.toml"
    path.write_text("[sim]\ntwins = 50\n[serve]\ncheckpoint_every_s = 30\n")
    config = load_config(path, twins=7, serve={"checkpoint_every_s": 5.0})
    assert config.sim.twins == 7 and config.serve.checkpoint_every_s == 5.0


def test_checkpoints_default_to_every_minute():
    assert load_config().serve.checkpoint_every_s <= 60


# --- options -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "x"])
def test_vitals_every_must_be_a_positive_number_of_seconds(tmp_path, capsys, value):
    code, err = run_cli(capsys, "simulate", "--twins", "5", "--days", "1", "--out",
                        str(tmp_path), f"--vitals-every={value}", "--quiet")  # fmt: skip
    assert_one_clear_line(code, err, "--vitals-every")
    assert not (tmp_path / "daily.parquet").exists()


@pytest.mark.parametrize("command", ["chat", "history", "query"])
@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_request_commands_refuse_a_timeout_that_is_not_positive(capsys, command, value):
    argv = (
        [command, "7", f"--timeout={value}"]
        if command != "query"
        else [command, "stats", f"--timeout={value}"]
    )
    code, err = run_cli(capsys, *argv)
    assert code == 2 and f"{value} is not a positive number" in err and "Traceback" not in err


def test_run_headless_refuses_a_zero_vitals_interval(make_simulation, tmp_path):
    from synthtwin.engine.app.simulate import run_headless

    sim = make_simulation(twins=5)
    with pytest.raises(ValueError, match="positive number of seconds"):
        run_headless(sim, 1, tmp_path, vitals_every_s=0.0)


# --- population files ----------------------------------------------------------------------------


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def import_problems(path: Path) -> list[str]:
    with pytest.raises(PopulationImportError) as err:
        load_population(path, np.random.default_rng(0))
    return err.value.problems


ID_ALLOWED = "allowed: a whole number from -2^63 to 2^63-1, unique per person (-1: none)"


def test_a_source_id_beyond_int64_is_refused_not_wrapped(tmp_path):
    rows = [["30", "f", str(INT64_MAX + 1)], ["40", "m", "99999999999999999999"],
            ["50", "m", str(-(2**63) - 1)], ["60", "f", str(INT64_MAX)]]  # fmt: skip
    path = write_csv(tmp_path / "p.csv", ["age_y", "sex", "source_id"], rows)
    assert import_problems(path) == [
        f"row 1, column source_id: '{INT64_MAX + 1}' is out of range; {ID_ALLOWED}",
        f"row 2, column source_id: '99999999999999999999' is out of range; {ID_ALLOWED}",
        f"row 3, column source_id: '{-(2**63) - 1}' is out of range; {ID_ALLOWED}",
    ]


def test_ids_beyond_two_to_the_53_are_kept_exactly(tmp_path):
    big = 2**53
    rows = [["30", "f", str(big + 1), str(big + 1)], ["40", "m", str(big), str(big)]]
    header = ["age_y", "sex", "source_id", "household_id"]
    population = load_population(
        write_csv(tmp_path / "p.csv", header, rows), np.random.default_rng(0)
    )
    assert population.columns["source_id"].tolist() == [big + 1, big]
    assert population.columns["household_id"].tolist() == [0, 1]


def test_integer_columns_beyond_their_dtype_are_refused_in_parquet_too(tmp_path):
    table = pa.table({
        "age_y": pa.array([30, 2**62], pa.int64()),
        "sex": ["f", "m"],
        "source_id": pa.array([1, 2**64 - 1], pa.uint64()),
        "household_id": pa.array([1e19, 3.0]),
    })  # fmt: skip
    pq.write_table(table, tmp_path / "p.parquet")
    problems = import_problems(tmp_path / "p.parquet")
    assert problems == [
        "row 1, column household_id: 10000000000000000000 is out of range; allowed: a whole "
        "number from -2^63 to 2^63-1",
        f"row 2, column age_y: {2**62} is out of range; allowed: a number from 18 to 90 (y)",
        f"row 2, column source_id: {2**64 - 1} is out of range; {ID_ALLOWED}",
    ]


def test_a_bad_population_file_exits_with_status_2(tmp_path, capsys):
    path = write_csv(tmp_path / "p.csv", ["age_y", "sex", "source_id"], [["30", "f", "1e30"]])
    code, err = run_cli(capsys, "simulate", "--population", str(path), "--days", "1", "--out",
                        str(tmp_path / "out"), "--quiet")  # fmt: skip
    assert code == 2 and "Traceback" not in err
    assert f"row 1, column source_id: '1e30' is out of range; {ID_ALLOWED}" in err
