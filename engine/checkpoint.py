"""Checkpoints: the whole world in one file, written atomically, checked in full, restored
bit for bit.

Layout: a numpy ``.npz`` archive holding
- ``meta``: UTF-8 JSON bytes (format version, tick, clock, next twin id, random generator state,
  each system's ``state_dict``, each resource's scalar state, and optionally the loop's settings
  and the command journal's position, ``engine.journal``),
- ``col/<name>``: the live rows of every column,
- ``res/<Resource>/<key>``: each checkpointable resource's arrays.

Writing goes to a temporary file in the same folder, is flushed to disk, then renamed over the
target (``os.replace`` is atomic on POSIX), and the folder is flushed: a crash leaves the old
checkpoint or the new one, never a torn file. A run restored from a checkpoint continues
bit-identically to one never stopped.

Reading checks everything before anything changes, so a damaged or hand-edited file is refused with
one ``CheckpointError`` line (the file, the column or field, what is wrong, and the fix) instead of
a traceback or a world that dies on its first tick:

1. the archive: a zip of ``.npy`` members (no pickles), with ``meta`` and its format version;
2. ``meta``: every field of the right type; the clock (start, elapsed seconds, a date that exists),
   the tick and the next twin id sane; the random generator state accepted by PCG64; every
   system's state present with the keys and types its fresh ``state_dict`` has;
3. columns: every column of the world's schema present with its exact dtype and per-twin shape;
   float columns finite; counts and accumulated amounts (units s, step, kcal, ...) not negative;
   coded columns within their tables (``Column.enum``, activities, clips, the places of the
   town); values within ``RANGES`` (a twin's parameters as an import allows them, its state
   within physical limits); a spread system's times done (``TIMES_DONE``) not stepped yet or
   in the clock's past; twin ids unique and below the next twin id; positions within the town;
4. the town (``res/Town``): place kinds within ``PlaceKind``, finite positions, a radius;
5. every checkpointable resource loads into a copy of itself and gives back what was saved (its
   own consistency, e.g. the health record's batch sizes against its columns).
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import esper
import numpy as np

from synthtwin.components.activity import Activity
from synthtwin.components.pose import CLIPS
from synthtwin.components.schema import NOT_STEPPED, Column
from synthtwin.components.town import PlaceKind, Town
from synthtwin.engine.journal import JournalPosition, sync_folder
from synthtwin.engine.schedule import Schedule
from synthtwin.engine.world import World

__all__ = [
    "ADDED_COLUMNS",
    "CheckpointError",
    "CheckpointInfo",
    "Checkpointable",
    "load_checkpoint",
    "read_checkpoint_info",
    "save_checkpoint",
]

FORMAT_VERSION = 1
FIX = "fix: resume from another checkpoint, or start a new world without --resume"
"""The advice every damaged-file error ends with."""
MAX_ELAPSED_S = 1000 * 365.25 * 86_400.0
"""Simulated seconds a world may have run, at most (a thousand years)."""
MAX_ID_GAP = 1 << 24
"""Ids a world may have handed out beyond its highest live twin (the id index is sized by the
next id, so a damaged next id must not allocate gigabytes)."""
TOWN_MARGIN = 1.1
"""Twins and places lie within this factor of the town's radius."""
CODES: dict[str, int] = {
    "activity": len(Activity),
    "next_activity": len(Activity),
    "clip": len(CLIPS),
    "previous_clip": len(CLIPS),
}
"""Coded columns without an ``enum`` in their schema, and the size of their table."""
BITMASKS: dict[str, int] = {"work_days": 0x7F, "school_days": 0x7F}
"""Bitmask columns and the bits they may set (one per weekday)."""
RANGES: dict[str, tuple[float, float]] = {
    # a twin's fixed parameters: what a population file may hold (ALLOWED_RANGE of
    # engine/synth/population_import.py; tests/test_checkpoint_corruption.py keeps them equal)
    "age_y": (18, 90), "height_cm": (120, 220), "weight_kg": (20, 300), "bmi": (12, 80),
    "betas": (-10, 10), "openness": (-6, 6), "conscientiousness": (-6, 6),
    "extraversion": (-6, 6), "agreeableness": (-6, 6), "neuroticism": (-6, 6),
    "household_size": (1, 30), "n_children": (0, 20),
    "work_start_h": (0, 24), "work_hours": (0, 16), "work_days": (0, 127), "work_mets": (0, 10),
    "work_steps_per_min": (0, 80), "school_start_h": (0, 24), "school_hours": (0, 16),
    "school_days": (0, 127), "chronotype_h": (0, 12), "circadian_phase_h": (-12, 12),
    "exercise_habit": (0, 1), "vo2max_mlkgmin": (5, 90), "vo2max_mets": (1.4, 26),
    "rhr_bpm": (30, 140), "hrmax_bpm": (100, 230), "sbp_rest_mmhg": (60, 260),
    "dbp_rest_mmhg": (30, 160), "rr_rest_brpm": (4, 40), "spo2_rest_pct": (70, 100),
    "glucose_basal_mgdl": (40, 600), "insulin_basal_uu_ml": (0.5, 300),
    "insulin_sensitivity": (0.01, 5), "insulin_secretion": (0.01, 5),
    # the state the systems evolve: physical limits, far beyond what a run reaches
    "mets": (0, 30), "cadence_spm": (0, 400), "carbs_g": (0, 5000), "hr_bpm": (0, 400),
    "sbp_mmhg": (0, 500), "dbp_mmhg": (0, 400), "rr_brpm": (0, 200), "spo2_pct": (0, 100),
    "core_temp_c": (20, 50), "glucose_mgdl": (0, 5000), "insulin_uu_ml": (0, 1e5),
    "insulin_action_per_min": (-10, 10), "gut1_mg": (0, 1e7), "gut2_mg": (0, 1e7),
    "sleep_pressure": (-1, 2), "energy_kcal": (0, 1e6), "steps": (0, 1e7), "needs": (-10, 10),
    "speed_mps": (0, 100), "day_hr_max": (0, 400), "day_glucose_max": (0, 5000),
    "clip_phase": (0, 1), "clip_blend": (0, 1),
    "activity_start_s": (-MAX_ELAPSED_S, MAX_ELAPSED_S),
    "activity_end_s": (-MAX_ELAPSED_S, MAX_ELAPSED_S),
}  # fmt: skip
"""What each column may hold. Parameters beyond what an import allows, or state beyond physical
limits, would make kernels run away (the glucose model takes substeps in proportion to insulin
action: a damaged value can make one tick last hours)."""
COUNT_UNITS = ("s", "step", "kcal", "value*s", "1/min*s", "m/s", "person", "mg", "g")
"""Units of counts and accumulated amounts, which are never negative."""
ADDED_COLUMNS = ("physiology_done_s", "health_done_s")
"""Columns newer than format 1's first files: a file without them restores them at their defaults
(``NOT_STEPPED``: the spread systems step every twin from the first tick)."""
TIMESTAMPS = ("activity_start_s", "activity_end_s", "physiology_done_s", "health_done_s")
"""Columns in unit s that are instants of simulated time (before the start is allowed; a spread
system's time done is ``NOT_STEPPED`` before its first step)."""
TIMES_DONE = ("physiology_done_s", "health_done_s")
"""A spread system's time done (``engine.spread``): ``NOT_STEPPED`` or in 0..the clock's elapsed
seconds (a time ahead of the clock would have the twin stepped twice over the difference)."""
POSITIONS = ("position_m", "trip_from_m", "trip_to_m")


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written or read; the message names the file, the reason and the
    fix, on one line."""


class Checkpointable(Protocol):
    """A resource that can be saved: its arrays and its JSON-able scalars."""

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]: ...

    def load_state_dict(self, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class LoopSettings:
    """What a running loop was told by commands: ``time_scale`` (simulated s per wall s) and
    whether it was ``paused``."""

    time_scale: float
    paused: bool


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint says besides the world: its tick, the loop's settings and the journal
    position it holds everything before (None when the writer kept no journal)."""

    tick: int
    loop: LoopSettings | None
    journal: JournalPosition | None


def save_checkpoint(
    world: World,
    schedule: Schedule,
    path: Path,
    loop: LoopSettings | None = None,
    journal: JournalPosition | None = None,
) -> None:
    """Write ``world``, the state of ``schedule``'s systems, and optionally the loop's settings
    and the journal position the world holds, to ``path`` atomically.

    Raises:
        CheckpointError: the file cannot be written (the old one, if any, is intact).
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {f"col/{k}": v for k, v in world.columns.snapshot().items()}
    resources: dict[str, Any] = {}
    for name, resource in _checkpointable(world).items():
        res_arrays, scalars = resource.state_dict()
        arrays.update({f"res/{name}/{k}": v for k, v in res_arrays.items()})
        resources[name] = scalars
    meta = {
        "format": FORMAT_VERSION,
        "tick": world.tick,
        "next_twin_id": world.next_twin_id,
        "clock_start": world.clock.start.isoformat(),
        "clock_elapsed_s": world.clock.elapsed_s.hex(),
        "rng": world.rng.bit_generator.state,
        "systems": {s.name: s.state_dict() for s in schedule.systems},
        "resources": resources,
    }
    if loop is not None:
        meta["loop"] = {"time_scale": loop.time_scale, "paused": loop.paused}
    if journal is not None:
        meta["journal"] = journal.to_json()
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    _write_atomically(path, arrays)


def _write_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise CheckpointError(f"cannot write checkpoint {path}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        sync_folder(path.parent)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise CheckpointError(
                f"cannot write checkpoint {path}: {err.strerror or err}"
            ) from None
        raise


def load_checkpoint(world: World, schedule: Schedule, path: Path) -> CheckpointInfo:
    """Restore a checkpoint into a freshly built ``world`` that has no twins yet, and its systems'
    state into ``schedule``, after checking all of it (module docstring).

    The world must be built from the same configuration (same columns, systems and resources).

    Returns:
        the tick, loop settings and journal position the checkpoint recorded.

    Raises:
        CheckpointError: missing, unreadable, damaged or incompatible file; the world is left
            unchanged.
    """
    path = Path(path)
    if world.n:
        raise CheckpointError("restore needs an empty world: build it with no population")
    arrays, raw_meta = _read(path)
    meta = _Meta.parse(raw_meta, path)
    columns = {k[4:]: v for k, v in arrays.items() if k.startswith("col/")}
    count = _check_columns(world, columns, path)
    town = _check_town(world, arrays, meta, path)
    _check_values(world.columns.schema, columns, meta, town, path)
    _check_systems(schedule, meta, path)
    resources = _check_resources(world, arrays, meta, path)
    _restore(world, schedule, columns, count, meta, resources)
    return meta.info


def read_checkpoint_info(path: Path) -> CheckpointInfo:
    """The tick, loop settings and journal position of a checkpoint, from its meta alone.

    Raises:
        CheckpointError: as ``load_checkpoint`` for the archive and its meta.
    """
    _, raw_meta = _read(Path(path), only_meta=True)
    return _Meta.parse(raw_meta, Path(path)).info


def _restore(
    world: World,
    schedule: Schedule,
    columns: dict[str, np.ndarray],
    count: int,
    meta: _Meta,
    resources: dict[str, tuple[dict[str, np.ndarray], dict[str, Any]]],
) -> None:
    """Everything checked: the world and systems take the checkpoint's state."""
    with world.ecs():
        columns["entity"] = np.array([esper.create_entity() for _ in range(count)], dtype=np.int64)
    world.columns.append({k: v for k, v in columns.items() if k in world.columns}, count)
    world.tick = meta.tick
    world.next_twin_id = meta.next_twin_id
    world.clock.start = meta.clock_start
    world.clock.elapsed_s = meta.elapsed_s
    world.rng.bit_generator.state = meta.rng
    world.rebuild_index()
    for system in schedule.systems:
        system.load_state_dict(meta.systems.get(system.name, {}))
    for name, resource in _checkpointable(world).items():
        resource.load_state_dict(*resources[name])


# --- reading -------------------------------------------------------------------------------------


def _read(path: Path, only_meta: bool = False) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The archive's arrays and its meta (a JSON object of the format this build reads)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path}: no such file") from None
    except IsADirectoryError:
        raise CheckpointError(
            f"checkpoint {path} is a folder; fix: name the checkpoint file in it (world.ckpt)"
        ) from None
    except OSError as err:
        raise CheckpointError(f"checkpoint {path}: cannot read it ({err.strerror})") from None
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise CheckpointError(f"checkpoint {path} is not a SynthTwin checkpoint (not a zip); {FIX}")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            names = ["meta"] if only_meta else npz.files
            arrays = {k: npz[k] for k in names}
        meta = json.loads(arrays.pop("meta").tobytes())
    except Exception as err:  # noqa: BLE001 - a damaged archive fails in zipfile, zlib, numpy or json
        reason = f"{type(err).__name__}: {err}"[:200]
        raise CheckpointError(
            f"checkpoint {path} is damaged or not a SynthTwin checkpoint ({reason}); {FIX}"
        ) from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {path}: meta is not a JSON object; {FIX}")
    if meta.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format {str(meta.get('format'))[:40]}, this build reads "
            f"{FORMAT_VERSION}; fix: resume it with the SynthTwin version that wrote it"
        )
    return arrays, meta


def _fail(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {path}: {what}; {FIX}")


@dataclass(frozen=True)
class _Meta:
    """The checked fields of a checkpoint's meta."""

    tick: int
    next_twin_id: int
    clock_start: datetime
    elapsed_s: float
    rng: dict[str, Any]
    systems: dict[str, dict[str, Any]]
    resources: dict[str, dict[str, Any]]
    loop: LoopSettings | None
    journal: JournalPosition | None

    @property
    def info(self) -> CheckpointInfo:
        return CheckpointInfo(self.tick, self.loop, self.journal)

    @classmethod
    def parse(cls, meta: dict[str, Any], path: Path) -> _Meta:
        """Every field checked (rule 2 of the module docstring)."""
        tick = _meta_count(meta, "tick", path)
        next_id = _meta_count(meta, "next_twin_id", path)
        if not 1 <= next_id <= 2**32:
            raise _fail(path, f"meta next_twin_id = {next_id} is out of range 1..2**32")
        start, elapsed_s = _clock(meta, path)
        systems = _meta_table(meta, "systems", path)
        resources = _meta_table(meta, "resources", path)
        for name, state in {**systems, **resources}.items():
            if not isinstance(state, dict):
                raise _fail(path, f"meta state of {name[:40]} is not a JSON object")
        return cls(
            tick,
            next_id,
            start,
            elapsed_s,
            _rng(meta, path),
            systems,
            resources,
            _loop(meta, path),
            _journal(meta, path),
        )


def _meta_count(meta: dict[str, Any], key: str, path: Path) -> int:
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise _fail(path, f"meta {key} = {str(value)[:40]} is not a count")
    return value


def _meta_table(meta: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = meta.get(key)
    if not isinstance(value, dict):
        raise _fail(path, f"meta {key} is missing or not a JSON object")
    return value


def _clock(meta: dict[str, Any], path: Path) -> tuple[datetime, float]:
    """The clock's start and elapsed simulated seconds; a date both ends of which exist."""
    try:
        start = datetime.fromisoformat(meta["clock_start"])
        elapsed_s = float.fromhex(meta["clock_elapsed_s"])
        ok = math.isfinite(elapsed_s) and 0 <= elapsed_s <= MAX_ELAPSED_S
        ok = ok and start + timedelta(seconds=elapsed_s + 2 * 86_400) > start
    except (KeyError, TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        shown = f"{str(meta.get('clock_start'))[:40]} + {str(meta.get('clock_elapsed_s'))[:40]}"
        raise _fail(path, f"meta clock {shown} is not a date and elapsed simulated seconds")
    return start.replace(tzinfo=None), elapsed_s


def _rng(meta: dict[str, Any], path: Path) -> dict[str, Any]:
    state = meta.get("rng")
    try:
        np.random.PCG64().state = state
    except (TypeError, ValueError, KeyError, OverflowError):
        raise _fail(path, "meta rng is not a PCG64 random generator state") from None
    return state


def _loop(meta: dict[str, Any], path: Path) -> LoopSettings | None:
    loop = meta.get("loop")
    if loop is None:
        return None
    scale = loop.get("time_scale") if isinstance(loop, dict) else None
    paused = loop.get("paused") if isinstance(loop, dict) else None
    number = isinstance(scale, int | float) and not isinstance(scale, bool)
    if not (number and math.isfinite(scale) and scale > 0 and isinstance(paused, bool)):
        raise _fail(path, f"meta loop = {str(loop)[:80]} is not a time scale and a pause flag")
    return LoopSettings(float(scale), paused)


def _journal(meta: dict[str, Any], path: Path) -> JournalPosition | None:
    if meta.get("journal") is None:
        return None
    try:
        return JournalPosition.from_json(meta["journal"])
    except ValueError as err:
        raise _fail(path, f"meta journal: {err}") from None


# --- columns -------------------------------------------------------------------------------------


def _check_columns(world: World, columns: dict[str, np.ndarray], path: Path) -> int:
    """Every column of the schema, with its exact dtype and ``(count, *shape)``; the count.
    ``ADDED_COLUMNS`` a file lacks are added to ``columns`` with their defaults."""
    schema = {k: c for k, c in world.columns.schema.items() if k != "entity"}
    ids = columns.get("twin_id")
    for name in ADDED_COLUMNS:
        if name not in columns and name in schema and ids is not None and ids.ndim == 1:
            columns[name] = schema[name].allocate(len(ids))
    missing = sorted(set(schema) - set(columns))
    if missing:
        raise _fail(path, f"column(s) {missing[:8]} missing")
    count = len(columns["twin_id"]) if columns["twin_id"].ndim else -1
    for name, col in schema.items():
        array = columns[name]
        if array.dtype != np.dtype(col.dtype) or array.shape != (count, *col.shape):
            raise _fail(
                path,
                f"column {name!r} holds {array.dtype}{list(array.shape)}, expected "
                f"{col.dtype}{[max(count, 0), *col.shape]}",
            )
    return count


def _check_values(
    schema: Mapping[str, Column],
    columns: dict[str, np.ndarray],
    meta: _Meta,
    town: Town | None,
    path: Path,
) -> None:
    """Finite, non-negative, coded, unique and placed where the schema and the town say."""
    ids = columns["twin_id"]
    for name, col in schema.items():
        if name in columns and name != "entity":
            _check_column(name, col, columns[name], ids, path)
    _check_ids(ids, meta.next_twin_id, path)
    _check_times_done(columns, ids, meta.elapsed_s, path)
    if town is not None:
        _check_places(schema, columns, town, path)


def _check_column(name: str, col: Column, array: np.ndarray, ids: np.ndarray, path: Path) -> None:
    """One column's values against its schema (rule 3)."""
    rows = array.reshape(len(array), -1)  # (N, prod(shape))
    if array.dtype.kind == "f":
        _rows_fail(name, ~np.isfinite(rows).all(axis=1), array, ids, "a finite number", path)
        if col.unit in COUNT_UNITS and name not in TIMESTAMPS:
            _rows_fail(name, (rows < 0).any(axis=1), array, ids, "a count >= 0", path)
    limit = len(col.enum) if col.enum else CODES.get(name)
    if limit is not None:
        _rows_fail(name, (rows >= limit).any(axis=1), array, ids, f"a code 0..{limit - 1}", path)
    if name in BITMASKS:
        bad = (rows.astype(np.int64) & ~BITMASKS[name]).any(axis=1)
        _rows_fail(name, bad, array, ids, f"a bitmask within {BITMASKS[name]:#x}", path)
    if name in RANGES:
        low, high = RANGES[name]
        bad = ((rows < low) | (rows > high)).any(axis=1)
        unit = f" {col.unit}" if col.unit else ""
        _rows_fail(name, bad, array, ids, f"a value in {low:g}..{high:g}{unit}", path)


def _check_times_done(
    columns: dict[str, np.ndarray], ids: np.ndarray, elapsed_s: float, path: Path
) -> None:
    """Each of ``TIMES_DONE`` ``NOT_STEPPED`` or in 0..``elapsed_s`` (an ulp's slack: a tick's
    end summed another way)."""
    latest_s = elapsed_s * (1.0 + 1e-12) + 1e-9
    expected = f"{NOT_STEPPED:g} (not stepped) or a time in 0..{elapsed_s:g} s (the clock)"
    for name in (name for name in TIMES_DONE if name in columns):
        done = columns[name]
        bad = (done != NOT_STEPPED) & ~((done >= 0.0) & (done <= latest_s))
        _rows_fail(name, bad, done, ids, expected, path)


def _rows_fail(
    name: str, bad: np.ndarray, array: np.ndarray, ids: np.ndarray, expected: str, path: Path
) -> None:
    """Raise for the first row flagged in ``bad`` ``(N,) bool``, if any."""
    rows = np.flatnonzero(bad)
    if rows.size == 0:
        return
    row = int(rows[0])
    more = f" (and {rows.size - 1} more rows)" if rows.size > 1 else ""
    value = np.array2string(array[row], threshold=6, precision=6)
    raise _fail(
        path,
        f"column {name!r} holds {value} in row {row} (twin {ids[row]}){more}, expected {expected}",
    )


def _check_ids(ids: np.ndarray, next_twin_id: int, path: Path) -> None:
    unique, first, counts = np.unique(ids, return_index=True, return_counts=True)
    if (counts > 1).any():
        twin = int(unique[counts > 1][0])
        rows = np.flatnonzero(ids == twin)[:2].tolist()
        raise _fail(
            path, f"column 'twin_id' holds twin {twin} twice (rows {rows}), expected unique ids"
        )
    top = int(ids.max(initial=0))
    if ids.size and (int(ids.min()) < 1 or top >= next_twin_id):
        raise _fail(
            path,
            f"column 'twin_id' holds ids {int(ids.min())}..{top}, expected "
            f"1..{next_twin_id - 1} (below meta next_twin_id)",
        )
    if next_twin_id - top > MAX_ID_GAP:
        raise _fail(
            path,
            f"meta next_twin_id = {next_twin_id} is far beyond the highest twin "
            f"id {top}, expected at most {MAX_ID_GAP} more",
        )


def _check_places(
    schema: Mapping[str, Column], columns: dict[str, np.ndarray], town: Town, path: Path
) -> None:
    """Place indices within the town's places; positions within its radius (with margin)."""
    ids = columns["twin_id"]
    places = len(town.kind)
    for name in (n for n in schema if n == "place" or n.endswith("_place")):
        bad = columns[name] >= places
        _rows_fail(name, bad, columns[name], ids, f"a place of the town, 0..{places - 1}", path)
    limit_m = TOWN_MARGIN * town.radius_m
    for name in (n for n in POSITIONS if n in columns):
        bad = np.hypot(columns[name][:, 0], columns[name][:, 1]) > limit_m
        _rows_fail(
            name,
            bad,
            columns[name],
            ids,
            f"a point within {limit_m:g} m of the town's centre",
            path,
        )


def _check_town(
    world: World, arrays: dict[str, np.ndarray], meta: _Meta, path: Path
) -> Town | None:
    """The checkpoint's town (rule 4); None when the world has no town."""
    if not any(isinstance(r, Town) for r in world.resources()):
        return None
    kind, xy_m = arrays.get("res/Town/kind"), arrays.get("res/Town/xy_m")
    radius_m = meta.resources.get("Town", {}).get("radius_m")
    if kind is None or xy_m is None or kind.ndim != 1 or xy_m.shape != (len(kind), 2):
        raise _fail(path, "resource Town lacks its place kinds (P,) and positions (P, 2)")
    if kind.dtype.kind not in "iu" or xy_m.dtype.kind != "f" or len(kind) == 0:
        raise _fail(path, f"resource Town holds {kind.dtype} kinds and {xy_m.dtype} positions")
    number = isinstance(radius_m, int | float) and not isinstance(radius_m, bool)
    if not (number and math.isfinite(radius_m) and radius_m > 0):
        raise _fail(path, f"resource Town radius_m = {str(radius_m)[:40]}, expected metres > 0")
    if ((kind < 0) | (kind >= len(PlaceKind))).any():
        raise _fail(path, f"resource Town holds a place kind outside 0..{len(PlaceKind) - 1}")
    if not np.isfinite(xy_m).all() or np.hypot(*xy_m.T).max() > TOWN_MARGIN * radius_m:
        raise _fail(path, f"resource Town holds a place beyond its radius {radius_m:g} m")
    return Town(kind, xy_m, float(radius_m))


def _check_systems(schedule: Schedule, meta: _Meta, path: Path) -> None:
    """Each system's saved state has the keys and JSON types of its fresh state."""
    for system in schedule.systems:
        fresh = system.state_dict()
        saved = meta.systems.get(system.name)
        if not fresh:
            continue
        if saved is None:
            raise _fail(path, f"meta systems lacks the state of {system.name}")
        for key, value in fresh.items():
            if type(saved.get(key)) is not type(value):
                shown = str(saved.get(key))[:40]
                what = f"meta systems.{system.name}.{key} = {shown}"
                raise _fail(path, f"{what}, expected a {type(value).__name__}")


def _check_resources(
    world: World, arrays: dict[str, np.ndarray], meta: _Meta, path: Path
) -> dict[str, tuple[dict[str, np.ndarray], dict[str, Any]]]:
    """Each resource's saved state, once it has loaded into a copy and read back as saved."""
    states = {}
    for name, resource in _checkpointable(world).items():
        prefix = f"res/{name}/"
        saved = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        scalars = meta.resources.get(name, {})
        trial = copy.deepcopy(resource)
        try:
            trial.load_state_dict(saved, scalars)
            back, back_scalars = trial.state_dict()
        except Exception as err:  # noqa: BLE001 - any failure of a resource's own reader
            raise _fail(
                path, f"resource {name} cannot be read ({type(err).__name__}: {str(err)[:80]})"
            ) from None
        differs = _first_difference(saved, back)
        if differs is not None or back_scalars != scalars:
            what = f"array {differs!r}" if differs is not None else "its scalars"
            raise _fail(path, f"resource {name} is inconsistent ({what} does not read back)")
        states[name] = (saved, scalars)
    return states


def _first_difference(saved: dict[str, np.ndarray], back: dict[str, np.ndarray]) -> str | None:
    for key in sorted(set(saved) | set(back)):
        a, b = saved.get(key), back.get(key)
        if a is None or b is None or a.dtype != b.dtype or a.shape != b.shape:
            return key
        same = np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        if not same:
            return key
    return None


def _checkpointable(world: World) -> dict[str, Checkpointable]:
    return {
        type(r).__name__: r
        for r in world.resources()
        if hasattr(r, "state_dict") and hasattr(r, "load_state_dict")
    }
