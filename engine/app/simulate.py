"""Headless runs (``twin simulate``): the realtime systems, ticked back to back, results to files.

Output files (Parquet, one row per ...):
- ``population.parquet``: twin; ``twin_id`` then every population attribute.
- ``daily.parquet``: twin and simulated day (``systems.health.DAILY_FIELDS``).
- ``vitals.parquet`` (with ``vitals_every_s``): twin and sample time (``VITALS_FIELDS``).
Files are written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

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
from synthtwin.engine.app.simulation import Simulation
from synthtwin.engine.synth.population import COLUMNS as POPULATION_COLUMNS
from synthtwin.engine.synth.population import Population
from synthtwin.kernels.animation import quat_to_axis_angle
from synthtwin.kernels.clips import ClipLibrary

__all__ = ["VITALS_FIELDS", "HeadlessRun", "OutputError", "check_output_dir", "run_headless"]

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
) -> HeadlessRun:
    """Tick ``sim`` for ``days`` simulated days and write its outputs to ``out`` (each day is
    closed into the daily record by its last tick).

    Args:
        progress: called with the number of ticks just run (for a progress bar).

    Raises:
        ValueError: the tick does not divide a day, or the vitals interval is not a positive
            whole number of ticks.
    """
    dt = sim.loop.dt_s
    ticks_per_day = 86_400.0 / dt
    if abs(ticks_per_day - round(ticks_per_day)) > 1e-9:
        raise ValueError(f"a tick of {dt} s does not divide a day; pick a divisor of 86400 s")
    sampler = _VitalsSampler(sim, vitals_every_s) if vitals_every_s is not None else None
    check_output_dir(out)
    for _ in range(days):
        for _ in range(round(ticks_per_day)):
            sim.loop.step()
            if sampler is not None:
                sampler.maybe_sample()
            if progress is not None:
                progress(1)
    files = {
        "population": out / "population.parquet",
        "daily": out / "daily.parquet",
    }
    _write(population_table(sim), files["population"])
    _write(sim.record.to_table(), files["daily"])
    if sampler is not None:
        files["vitals"] = out / "vitals.parquet"
        _write(sampler.table(), files["vitals"])
    return HeadlessRun(files, sim.world.tick, sim.world.n, days)


def population_table(sim: Simulation) -> pa.Table:
    """``twin_id`` plus every population attribute of the live twins (``age_y`` as ``age``)."""
    world = sim.world
    table = Population({name: world[name] for name in POPULATION_COLUMNS}).to_table()
    names = ["age" if name == "age_y" else name for name in table.column_names]
    return table.rename_columns(names).add_column(0, "twin_id", pa.array(world.ids))


def _write(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {err.strerror or err}") from None


class _VitalsSampler:
    """Samples every twin's vitals every ``every_s`` simulated seconds."""

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
        self.rows: list[dict[str, np.ndarray]] = []

    def maybe_sample(self) -> None:
        world = self.sim.world
        if world.tick % self.every_ticks:
            return
        time = np.datetime64(world.clock.start + timedelta(seconds=world.clock.elapsed_s), "s")
        act = world["activity"]
        self.rows.append(
            {
                "twin_id": world.ids.copy(),
                "time": np.full(world.n, time),
                "activity": act.copy(),
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

    def table(self) -> pa.Table:
        names = [a.name.lower() for a in Activity]
        categories = [CATEGORIES[ACTIVITIES[a].category] for a in Activity]
        cols = (
            {k: np.concatenate([r[k] for r in self.rows]) for k in self.rows[0]}
            if self.rows
            else {}
        )
        if not cols:
            return pa.table({"twin_id": pa.array([], pa.uint32())})
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
