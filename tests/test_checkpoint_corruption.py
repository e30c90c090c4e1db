"""Damaged checkpoints: each is refused whole, with one line naming the file, what is wrong and
the fix; never a traceback, never a world that starts and dies on its first tick (issue #13)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from synthtwin.components.schema import NOT_STEPPED
from synthtwin.engine.app.cli import main
from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.checkpoint import (
    ADDED_COLUMNS,
    FIX,
    CheckpointError,
    LoopSettings,
    read_checkpoint_info,
    save_checkpoint,
)
from synthtwin.engine.journal import JournalPosition
from tests.loopback import loopback

Arrays = dict[str, np.ndarray]
Change = Callable[[Arrays, dict], None]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A real checkpoint of 40 twins past their first midnight (the health record has a day),
    and the config that built it."""
    from tests.conftest import small_simulation

    sim = small_simulation(twins=40, seed=3)
    sim.loop.run_ticks(1440 + 180)
    sim.world.despawn([5])
    path = tmp_path_factory.mktemp("ckpt") / "good.ckpt"
    position = JournalPosition("ab12", 3, 7)
    save_checkpoint(sim.world, sim.schedule, path, LoopSettings(60.0, False), position)
    config = sim.config
    sim.close()
    return path, config


def unpack(path: Path) -> tuple[Arrays, dict]:
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return arrays, json.loads(arrays.pop("meta").tobytes())


def repack(arrays: Arrays, meta: dict, path: Path) -> Path:
    with path.open("wb") as f:  # a file: np.savez would add .npz to a path
        np.savez(f, **arrays, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    return path


def column(name: str, change: Callable[[np.ndarray], np.ndarray | None]) -> Change:
    """A change of one column: ``change`` edits it in place or returns its replacement."""

    def apply(arrays: Arrays, meta: dict) -> None:
        out = change(arrays[f"col/{name}"])
        if out is not None:
            arrays[f"col/{name}"] = out

    return apply


def set_item(array: np.ndarray, row: int, value) -> None:
    array[row] = value


def meta_set(*keys: str, value) -> Change:
    def apply(arrays: Arrays, meta: dict) -> None:
        target = meta
        for key in keys[:-1]:
            target = target[key]
        if value is KeyError:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value

    return apply


def drop(key: str) -> Change:
    return lambda arrays, meta: arrays.pop(key)


def res(key: str, change: Callable[[np.ndarray], np.ndarray | None]) -> Change:
    def apply(arrays: Arrays, meta: dict) -> None:
        out = change(arrays[f"res/{key}"])
        if out is not None:
            arrays[f"res/{key}"] = out

    return apply


ARCHIVE_CASES = {
    "truncated file": (lambda data: data[: len(data) // 2], "not a SynthTwin checkpoint"),
    "truncated by one byte": (lambda data: data[:-1], "not a SynthTwin checkpoint"),
    "empty file": (lambda data: b"", "not a SynthTwin checkpoint"),
    "not a zip": (
        lambda data: b"\x89PNG\r\n" + bytes(range(256)) * 8,
        "not a SynthTwin checkpoint",
    ),
    "a flipped byte inside a column": (
        lambda data: data[:4000] + bytes([data[4000] ^ 0xFF]) + data[4001:],
        "damaged or not a SynthTwin checkpoint",
    ),
}


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


MEMBER_CASES = {
    "a zip of other files": ({"readme.txt": b"hello"}, "damaged or not a SynthTwin checkpoint"),
    "a pickled member": (
        {"meta.npy": b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': "
         b"(1,), }" + b" " * 52 + b"\n" + b"\x80\x04N."},
        "damaged or not a SynthTwin checkpoint",
    ),
}  # fmt: skip

CASES: dict[str, tuple[Change, str]] = {
    "meta not JSON": (
        lambda a, m: None,  # replaced in the test: meta bytes are not JSON
        "damaged or not a SynthTwin checkpoint",
    ),
    "other format": (meta_set("format", value=99), "has format 99, this build reads 1"),
    "missing column": (drop("col/hr_bpm"), "column(s) ['hr_bpm'] missing"),
    "a time done ahead of the clock": (
        column("physiology_done_s", lambda c: set_item(c, 2, c.max() + 60.0)),
        "column 'physiology_done_s' holds",
    ),
    "a negative time done": (
        column("health_done_s", lambda c: set_item(c, 2, -5.0)),
        "expected -1 (not stepped) or a time in 0..",
    ),
    "wrong dtype": (
        column("hr_bpm", lambda c: c.astype(np.float32)),
        "column 'hr_bpm' holds float32[39], expected float64[39]",
    ),
    "wrong dtype of a code": (
        column("activity", lambda c: c.astype(np.int64)),
        "column 'activity' holds int64[39], expected uint8[39]",
    ),
    "wrong shape": (
        column("position_m", lambda c: np.zeros((len(c), 3), np.float32)),
        "column 'position_m' holds float32[39, 3], expected float32[39, 2]",
    ),
    "a short column": (
        column("steps", lambda c: c[:-1]),
        "column 'steps' holds float64[38], expected float64[39]",
    ),
    "NaN position": (
        column("position_m", lambda c: set_item(c, 4, np.nan)),
        "column 'position_m' holds [nan nan] in row 4",
    ),
    "infinite heart rate": (
        column("hr_bpm", lambda c: set_item(c, 0, np.inf)),
        "column 'hr_bpm' holds inf in row 0 (twin 1), expected a finite number",
    ),
    "activity code 200": (
        column("activity", lambda c: set_item(c, 2, 200)),
        "column 'activity' holds 200 in row 2 (twin 3), expected a code 0..14",
    ),
    "next activity beyond the table": (
        column("next_activity", lambda c: set_item(c, 1, 15)),
        "column 'next_activity' holds 15 in row 1 (twin 2), expected a code 0..14",
    ),
    "clip code 50": (
        column("clip", lambda c: set_item(c, 3, 50)),
        "column 'clip' holds 50 in row 3 (twin 4), expected a code 0..9",
    ),
    "sex 2": (column("sex", lambda c: set_item(c, 0, 2)), "column 'sex' holds 2 in row 0"),
    "trip mode 9": (
        column("trip_mode", lambda c: set_item(c, 6, 9)),
        "column 'trip_mode' holds 9 in row 6",
    ),
    "duplicate ids": (
        column("twin_id", lambda c: set_item(c, 1, c[0])),
        "column 'twin_id' holds twin 1 twice (rows [0, 1]), expected unique ids",
    ),
    "id at the next id": (
        column("twin_id", lambda c: set_item(c, 0, 41)),
        "column 'twin_id' holds ids 2..41, expected 1..40",
    ),
    "id zero": (column("twin_id", lambda c: set_item(c, 0, 0)), "holds ids 0..40"),
    "negative steps": (
        column("steps", lambda c: set_item(c, 7, -3.0)),
        "column 'steps' holds -3. in row 7 (twin 8), expected a count >= 0",
    ),
    "negative seconds today": (
        column("day_category_s", lambda c: set_item(c, 2, -1.0)),
        "column 'day_category_s' holds",
    ),
    "home beyond the town": (
        column("home_place", lambda c: set_item(c, 0, 10**6)),
        "column 'home_place' holds 1000000 in row 0 (twin 1), expected a place of the town",
    ),
    "current place beyond the town": (
        column("place", lambda c: set_item(c, 9, 2**32 - 1)),
        "column 'place' holds 4294967295",
    ),
    "position far outside the town": (
        column("position_m", lambda c: set_item(c, 3, 1e7)),
        "expected a point within 13200 m of the town's centre",
    ),
    "clip phase 5": (
        column("clip_phase", lambda c: set_item(c, 0, 5.0)),
        "column 'clip_phase' holds 5. in row 0 (twin 1), expected a value in 0..1",
    ),
    "a parameter no import allows": (
        column("insulin_basal_uu_ml", lambda c: set_item(c, 8, 2**31)),
        "column 'insulin_basal_uu_ml' holds 2.147484e+09 in row 8 (twin 9), expected a value in "
        "0.5..300 uU/mL",
    ),
    "a state beyond physical limits": (
        column("insulin_action_per_min", lambda c: set_item(c, 2, 1e6)),
        "column 'insulin_action_per_min' holds 1000000. in row 2 (twin 3), expected a value in "
        "-10..10 1/min",
    ),
    "work days beyond a week": (
        column("work_days", lambda c: set_item(c, 0, 200)),
        "column 'work_days' holds 200 in row 0 (twin 1), expected a bitmask within 0x7f",
    ),
    "negative tick": (meta_set("tick", value=-1), "meta tick = -1 is not a count"),
    "tick as text": (meta_set("tick", value="12"), "meta tick = 12 is not a count"),
    "no clock": (meta_set("clock_start", value=KeyError), "meta clock None + "),
    "clock start not a date": (meta_set("clock_start", value="tuesday"), "meta clock tuesday"),
    "elapsed NaN": (meta_set("clock_elapsed_s", value=float("nan").hex()), "meta clock"),
    "elapsed beyond year 9999": (
        meta_set("clock_elapsed_s", value=(3e11).hex()),
        "is not a date and elapsed simulated seconds",
    ),
    "broken random state": (
        meta_set("rng", "state", "state", value="x"),
        "meta rng is not a PCG64 random generator state",
    ),
    "missing system state": (
        meta_set("systems", "PhysiologySystem", value=KeyError),
        "meta systems lacks the state of PhysiologySystem",
    ),
    "system state of the wrong type": (
        meta_set("systems", "HealthSystem", "day_index", value="one"),
        "meta systems.HealthSystem.day_index = one, expected a int",
    ),
    "next id far beyond the twins": (
        meta_set("next_twin_id", value=2**31),
        "meta next_twin_id = 2147483648 is far beyond the highest twin id 40",
    ),
    "next id beyond uint32": (meta_set("next_twin_id", value=2**40), "is out of range 1..2**32"),
    "town place kind 9": (
        res("Town/kind", lambda k: set_item(k, 0, 9)),
        "resource Town holds a place kind outside 0..6",
    ),
    "town place at NaN": (
        res("Town/xy_m", lambda xy: set_item(xy, 0, np.nan)),
        "resource Town holds a place beyond its radius",
    ),
    "town without radius": (
        meta_set("resources", "Town", "radius_m", value=KeyError),
        "resource Town radius_m = None",
    ),
    "town without places": (drop("res/Town/kind"), "resource Town lacks its place kinds"),
    "negative batch size in the health record": (
        res("HealthRecord/batch_sizes", lambda b: np.array([-2, 41], np.int64)),
        "resource HealthRecord is inconsistent (array 'batch_sizes' does not read back)",
    ),
    "health record without a column": (
        drop("res/HealthRecord/mean_hr"),
        "resource HealthRecord cannot be read (KeyError",
    ),
    "loop time scale NaN": (
        meta_set("loop", "time_scale", value=float("nan")),
        "meta loop = {'time_scale': nan, 'paused': False} is not a time scale",
    ),
    "journal position of the wrong type": (
        meta_set("journal", "entries", value=-4),
        "meta journal: not a journal position",
    ),
}


def assert_refused(path: Path, config, fragment: str) -> None:
    with pytest.raises(CheckpointError) as err:
        sim = build_simulation(config, resume=path)
        sim.close()
    message = str(err.value)
    assert fragment in message, message
    assert str(path) in message and "\n" not in message and len(message) < 400, message
    assert message.endswith(FIX) or "fix:" in message, message


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_damaged_checkpoint_is_refused_with_one_line(saved, tmp_path, case):
    good, config = saved
    change, fragment = CASES[case]
    arrays, meta = unpack(good)
    change(arrays, meta)
    path = repack(arrays, meta, tmp_path / "bad.ckpt")
    if case == "meta not JSON":
        with path.open("wb") as f:
            np.savez(f, **arrays, meta=np.frombuffer(b"{not json", np.uint8))
    assert_refused(path, config, fragment)


@pytest.mark.parametrize("case", sorted(ARCHIVE_CASES))
def test_a_damaged_archive_is_refused_with_one_line(saved, tmp_path, case):
    good, config = saved
    damage, fragment = ARCHIVE_CASES[case]
    path = tmp_path / "bad.ckpt"
    path.write_bytes(damage(good.read_bytes()))
    assert_refused(path, config, fragment)


@pytest.mark.parametrize("case", sorted(MEMBER_CASES))
def test_an_archive_of_other_members_is_refused(saved, tmp_path, case):
    _, config = saved
    members, fragment = MEMBER_CASES[case]
    path = tmp_path / "bad.ckpt"
    path.write_bytes(zip_of(members))
    assert_refused(path, config, fragment)


def test_a_folder_as_checkpoint_is_refused(saved, tmp_path):
    _, config = saved
    assert_refused(tmp_path, config, "is a folder")


def test_the_good_checkpoint_restores_and_ticks(saved):
    good, config = saved
    sim = build_simulation(config, resume=good)
    try:
        sim.loop.run_ticks(30)
        assert sim.world.n == 39 and np.isfinite(sim.world["position_m"]).all()
    finally:
        sim.close()
    info = read_checkpoint_info(good)
    assert info.loop == LoopSettings(60.0, False)
    assert info.journal == JournalPosition("ab12", 3, 7)
    assert info.tick == 1620


def test_a_checkpoint_from_before_the_spread_columns_restores_and_ticks(saved, tmp_path):
    """A file written before ``physiology_done_s`` and ``health_done_s`` existed restores them
    as not stepped: the first tick steps every twin from its start."""
    good, config = saved
    arrays, meta = unpack(good)
    for name in ADDED_COLUMNS:
        del arrays[f"col/{name}"]
    sim = build_simulation(config, resume=repack(arrays, meta, tmp_path / "old.ckpt"))
    try:
        assert (sim.world["physiology_done_s"] == NOT_STEPPED).all()
        sim.loop.run_ticks(1)
        for name in ADDED_COLUMNS:
            np.testing.assert_array_equal(sim.world[name], sim.world.clock.elapsed_s)
    finally:
        sim.close()


def test_the_cli_refuses_a_damaged_checkpoint_with_status_2(saved, tmp_path, capsys):
    good, _ = saved
    arrays, meta = unpack(good)
    arrays["col/activity"][0] = 200
    path = repack(arrays, meta, tmp_path / "bad.ckpt")
    code = main(["serve", "--resume", str(path), "--no-http", "--pub", loopback(), "--router",
                 loopback(), "--checkpoint", str(tmp_path / "w.ckpt")])  # fmt: skip
    err = capsys.readouterr()
    assert code == 2
    assert err.err.startswith(f"twin serve: error: checkpoint {path}: column 'activity' holds 200")
    assert len(err.err.strip().splitlines()) == 1 and "ROUTER" not in err.out
    assert not (tmp_path / "w.ckpt").exists()


def test_parameter_ranges_are_those_an_import_allows():
    from synthtwin.engine.checkpoint import RANGES
    from synthtwin.engine.synth.population_import import ALLOWED_RANGE

    assert {name: RANGES[name] for name in ALLOWED_RANGE} == ALLOWED_RANGE
