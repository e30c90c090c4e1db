"""Headless runs (``twin simulate``): the realtime systems, ticked back to back, results to files.

Output files (Parquet, one row per ...):
- ``population.parquet``: twin; ``twin_id`` then every population attribute.
- ``daily.parquet``: twin and simulated day (``systems.health.DAILY_FIELDS``).
- ``vitals.parquet`` (with ``vitals_every_s``): twin and sample time (``VITALS_FIELDS``).
Files are written to a temporary name and renamed, so a reader never sees half a file.

The daily and vitals files are streamed: each closed day, and each ``VITALS_ROW_GROUP_ROWS``
vitals rows, is written as a Parquet row group while the run goes on, then leaves memory (a written
day is released from the health system's ``HealthRecord``), so the run's memory does not grow
with the days it runs or the vitals it samples (docs/architecture.md, memory per twin).

With a ``Recorder`` (``twin simulate --store FILE``) the run also writes the health record
(``engine.health_store``) that ``twin serve`` keeps: the same rows by the same system
(``systems.recording``), the writer waited for instead of dropping, all of it stored when the
run returns.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from synthtwin.components.activity import ACTIVITIES, CATEGORIES, Activity
from synthtwin.components.pose import CLIPS
from synthtwin.engine.app.record import Recorder
from synthtwin.engine.app.simulation import Simulation
from synthtwin.engine.synth.population import COLUMNS as POPULATION_COLUMNS
from synthtwin.engine.synth.population import Population
from synthtwin.kernels.animation import quat_to_axis_angle
from synthtwin.kernels.clips import ClipLibrary
from synthtwin.systems.health import HealthRecord

__all__ = [
    "VITALS_FIELDS",
    "VITALS_ROW_GROUP_ROWS",
    "HeadlessRun",
    "OutputError",
    "ParquetStream",
    "VitalsSampler",
    "check_output_dir",
    "run_headless",
    "write_parquet",
]

VITALS_FIELDS = {
    "hr_bpm": "1/min",
    "sbp_mmhg": "mmHg",
    "dbp_mmhg": "mmHg",
    "rr_brpm": "1/min",
    "spo2_pct": "%",
    "core_temp_c": "degC",
    "glucose_mgdl": "mg/dL",
    "steps": "step today",
    "energy_kcal": "kcal today",
    "mets": "MET",
}
"""Vitals sampled into ``vitals.parquet`` (besides twin_id, time, activity, category, x, y)."""
VITALS_ROW_GROUP_ROWS = 100_000
"""Vitals rows gathered into one row group of ``vitals.parquet`` (~37 MB with their poses)."""


class OutputError(OSError):
    """The output folder cannot be created or written."""


@dataclass(frozen=True)
class HeadlessRun:
    """What a headless run produced: its files and how long it took."""

    files: dict[str, Path]
    ticks: int
    twins: int
    days: int


def check_output_dir(out: Path) -> None:
    """Create ``out`` if needed and prove it writable, before any simulation work."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".synthtwin-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise OutputError(f"cannot write to output folder {out}: {err.strerror or err}") from None


def run_headless(
    sim: Simulation,
    days: int,
    out: Path,
    vitals_every_s: float | None = None,
    progress: Callable[[int], None] | None = None,
    recorder: Recorder | None = None,
) -> HeadlessRun:
    """Tick ``sim`` for ``days`` simulated days and write its outputs to ``out`` (each day is
    closed into the daily record by its last tick).

    Args:
        progress: called with the number of ticks just run (for a progress bar).
        recorder: the health record ``sim`` was built with (``build_simulation(record=...)``);
            flushed at the end and listed as ``store``.

    Raises:
        ValueError: the tick does not divide a day, or the vitals interval is not a positive
            whole number of ticks.
    """
    dt = sim.loop.dt_s
    ticks_per_day = 86_400.0 / dt
    if abs(ticks_per_day - round(ticks_per_day)) > 1e-9:
        raise ValueError(f"a tick of {dt} s does not divide a day; pick a divisor of 86400 s")
    sampler = VitalsSampler(sim, vitals_every_s) if vitals_every_s is not None else None
    check_output_dir(out)
    files = {"population": out / "population.parquet", "daily": out / "daily.parquet"}
    streams = {"daily": ParquetStream(files["daily"], 1)}
    if sampler is not None:
        files["vitals"] = out / "vitals.parquet"
        streams["vitals"] = ParquetStream(files["vitals"], VITALS_ROW_GROUP_ROWS)
    try:
        _run_days(sim, days, round(ticks_per_day), sampler, streams, progress)
        write_parquet(population_table(sim), files["population"])
        streams["daily"].close(HealthRecord().to_table())
        if sampler is not None:
            streams["vitals"].close(VitalsSampler.empty_table())
    except BaseException:
        for stream in streams.values():
            stream.abort()
        raise
    if recorder is not None:
        recorder.flush()
        files["store"] = recorder.store.path
    return HeadlessRun(files, sim.world.tick, sim.world.n, days)


def _run_days(
    sim: Simulation,
    days: int,
    ticks_per_day: int,
    sampler: VitalsSampler | None,
    streams: dict[str, ParquetStream],
    progress: Callable[[int], None] | None,
) -> None:
    """Tick ``days`` days, streaming each closed day and each vitals sample into ``streams``;
    a day written leaves the record (the recording system, if any, queued it in its tick)."""
    days_written = 0
    for _ in range(days):
        for _ in range(ticks_per_day):
            sim.loop.step()
            sample = sampler.maybe_sample() if sampler is not None else None
            if sample is not None:
                streams["vitals"].append(sample)
            if progress is not None:
                progress(1)
        record = sim.record
        for batch in record.since(days_written):
            streams["daily"].append(HealthRecord([batch]).to_table())
        days_written = record.closed
        record.release()


def population_table(sim: Simulation) -> pa.Table:
    """``twin_id`` plus every population attribute of the live twins (``age_y`` as ``age``)."""
    world = sim.world
    table = Population({name: world[name] for name in POPULATION_COLUMNS}).to_table()
    names = ["age" if name == "age_y" else name for name in table.column_names]
    return table.rename_columns(names).add_column(0, "twin_id", pa.array(world.ids))


def write_parquet(table: pa.Table, path: Path) -> None:
    """``table`` to ``path`` as one Parquet file, put in place whole (written to a temporary
    name, then renamed; shared by ``twin simulate`` and ``--shards``).

    Raises:
        OutputError: it cannot be written (the temporary file is removed).
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {err.strerror or err}") from None


class ParquetStream:
    """A Parquet file written while it grows: appended tables are gathered into row groups of at
    least ``min_rows`` rows (the last one may hold fewer) and written to a temporary name, which
    ``close`` renames to ``path`` (a reader never sees half a file) and ``abort`` removes.
    Shared by ``twin simulate`` and its sharded run (``engine.app.shard_simulate``)."""

    def __init__(self, path: Path, min_rows: int) -> None:
        self.path = path
        self.min_rows = min_rows
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | None = None

    def append(self, table: pa.Table) -> None:
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= self.min_rows:
            self._write_pending()

    def close(self, empty: pa.Table) -> None:
        """Write what is pending and put the file in place; ``empty`` (no rows) gives the schema
        of a file nothing was appended to."""
        if self._writer is None and not self._pending:
            self._pending.append(empty)
        self._write_pending()
        try:
            self._writer.close()
            os.replace(self._tmp, self.path)
        except OSError as err:
            self.abort()
            raise OutputError(f"cannot write {self.path}: {err.strerror or err}") from None

    def abort(self) -> None:
        """Close and remove the temporary file, if any (best effort: a run is failing)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(OSError):
                writer.close()
        self._tmp.unlink(missing_ok=True)

    def _write_pending(self) -> None:
        """The pending tables, if any, as one row group."""
        if not self._pending:
            return
        table = pa.concat_tables(self._pending)
        self._pending, self._pending_rows = [], 0
        try:
            if self._writer is None:
                self._writer = pq.ParquetWriter(self._tmp, table.schema)
            self._writer.write_table(table)
        except OSError as err:
            self.abort()
            raise OutputError(f"cannot write {self.path}: {err.strerror or err}") from None


class VitalsSampler:
    """Samples every twin's vitals every ``every_s`` simulated seconds (of a whole simulation,
    or of one shard's part of it: ``engine.app.shard``).

    Raises:
        ValueError: ``every_s`` is not a positive whole number of ticks.
    """

    def __init__(self, sim: Simulation, every_s: float) -> None:
        if not every_s > 0 or every_s == float("inf"):
            raise ValueError(f"--vitals-every {every_s} s must be a positive number of seconds")
        every_ticks = every_s / sim.loop.dt_s
        if every_ticks < 1 or abs(every_ticks - round(every_ticks)) > 1e-9:
            raise ValueError(
                f"--vitals-every {every_s} s must be a whole number of ticks of {sim.loop.dt_s} s"
            )
        self.sim = sim
        self.every_ticks = round(every_ticks)

    def maybe_sample(self) -> pa.Table | None:
        """Every twin's vitals now, at a sampling tick; None at the others."""
        world = self.sim.world
        if world.tick % self.every_ticks:
            return None
        time = np.datetime64(world.clock.start + timedelta(seconds=world.clock.elapsed_s), "s")
        return self._table(
            {
                "twin_id": world.ids.copy(),
                "time": np.full(world.n, time),
                "activity": world["activity"].copy(),
                **{name: world[name].astype(np.float32) for name in VITALS_FIELDS},
                "x_m": world["position_m"][:, 0].copy(),
                "y_m": world["position_m"][:, 1].copy(),
                "clip": world["clip"].copy(),
                "pose": self._poses(world),
            }
        )

    @staticmethod
    def _poses(world) -> np.ndarray:
        """``(N, 72) float32`` SMPL axis-angle pose of every twin, from its animation state."""
        library = world.resource(ClipLibrary)
        quat = library.poses(
            world["clip"], world["previous_clip"], world["clip_phase"], world["clip_blend"]
        )
        return quat_to_axis_angle(quat).reshape(len(quat), -1).astype(np.float32)

    @staticmethod
    def empty_table() -> pa.Table:
        """The file of a run that took no sample."""
        return pa.table({"twin_id": pa.array([], pa.uint32())})

    @staticmethod
    def _table(cols: dict[str, np.ndarray]) -> pa.Table:
        """One sample's rows, activities, categories and clips named."""
        names = [a.name.lower() for a in Activity]
        categories = [CATEGORIES[ACTIVITIES[a].category] for a in Activity]
        act, clip, poses = cols.pop("activity"), cols.pop("clip"), cols.pop("pose")
        return pa.table(
            {
                "twin_id": cols.pop("twin_id"),
                "time": pa.array(cols.pop("time")),
                "activity": pa.array(np.asarray(names)[act]),
                "category": pa.array(np.asarray(categories)[act]),
                **cols,
                "clip": pa.array(np.asarray(CLIPS)[clip]),
                "pose": pa.FixedSizeListArray.from_arrays(pa.array(poses.reshape(-1)), 72),
            }
        )
