"""``twin simulate --shards N``: a headless run on N Ray shards, one merged output.

The files are those of ``engine.app.simulate`` with the same schemas: the shards' closed days
and vitals samples come back at each barrier and are written merged, ascending twin id within a
day (within a sample); the population file is gathered at the end. A shard that dies sends the
world back to its last checkpoint (``engine.app.shards``); the days and samples written since
are not written twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from synthtwin.engine.app.shard import StepReport
from synthtwin.engine.app.shards import Gap, ShardCluster
from synthtwin.engine.app.simulate import (
    VITALS_ROW_GROUP_ROWS,
    HeadlessRun,
    ParquetStream,
    VitalsSampler,
    check_output_dir,
    write_parquet,
)
from synthtwin.engine.config import Config
from synthtwin.systems.health import HealthRecord

__all__ = ["ShardedRun", "run_sharded"]


@dataclass(frozen=True)
class ShardedRun:
    """A headless run on shards: its files, plus what the cluster measured.

    Attributes:
        run: the files, ticks, twins and days, as a single-process run reports them.
        wall_s: wall seconds of the ticks (after the shards were built).
        handoffs: twins handed from shard to shard.
        handoff_s: wall seconds spent on handoffs (the slowest shard's per barrier, plus
            routing).
        gaps: ticks lost to shard restarts, one entry per restart.
    """

    run: HeadlessRun
    wall_s: float
    handoffs: int
    handoff_s: float
    gaps: tuple[Gap, ...]


def run_sharded(
    config: Config,
    days: int,
    out: Path,
    vitals_every_s: float | None = None,
    progress: Callable[[int], None] | None = None,
    checkpoints: Path | None = None,
) -> ShardedRun:
    """Run ``days`` simulated days of ``config``'s world on ``config.cluster.shards`` shards
    and write the merged outputs to ``out``.

    Raises:
        ValueError: the tick does not divide a day, or the vitals interval is not a positive
            whole number of ticks (before any shard starts).
        ClusterError: Ray or a shard cannot start.
    """
    dt = config.sim.time_scale / config.sim.tick_hz
    ticks_per_day = 86_400.0 / dt
    if abs(ticks_per_day - round(ticks_per_day)) > 1e-9:
        raise ValueError(f"a tick of {dt} s does not divide a day; pick a divisor of 86400 s")
    if vitals_every_s is not None and (
        not vitals_every_s / dt >= 1 or abs(vitals_every_s / dt - round(vitals_every_s / dt)) > 1e-9
    ):
        raise ValueError(
            f"--vitals-every {vitals_every_s} s must be a whole number of ticks of {dt} s"
        )
    check_output_dir(out)
    files = {"population": out / "population.parquet", "daily": out / "daily.parquet"}
    merger = _Merger(files["daily"], out / "vitals.parquet" if vitals_every_s else None)
    if vitals_every_s:
        files["vitals"] = out / "vitals.parquet"
    with ShardCluster(config, checkpoints, vitals_every_s=vitals_every_s) as cluster:
        started = time.perf_counter()
        try:
            cluster.run(days * round(ticks_per_day), merger.on_step(cluster.tick, progress))
            wall_s = time.perf_counter() - started
            population = cluster.population()
            write_parquet(population, files["population"])
            merger.close()
        except BaseException:
            merger.abort()
            raise
        run = HeadlessRun(files, cluster.tick, population.num_rows, days)
        handoffs = cluster.handoffs
        return ShardedRun(run, wall_s, handoffs.twins, handoffs.seconds, tuple(cluster.gaps))


class _Merger:
    """The shards' days and samples into one daily and one vitals stream, each day (sample) once,
    ascending twin id."""

    def __init__(self, daily: Path, vitals: Path | None) -> None:
        self.daily = ParquetStream(daily, 1)
        self.vitals = ParquetStream(vitals, VITALS_ROW_GROUP_ROWS) if vitals else None
        self._last_day = None
        self._last_sample = None

    def on_step(
        self, tick: int, progress: Callable[[int], None] | None
    ) -> Callable[[list[StepReport]], None]:
        """What to do after each barrier of a run that starts at ``tick``."""
        done = [tick]

        def take(reports: list[StepReport]) -> None:
            self._days([t for r in reports for t in r.days])
            if self.vitals is not None:
                self._samples([t for r in reports for t in r.vitals])
            if progress is not None and reports and reports[0].tick > done[0]:
                progress(reports[0].tick - done[0])
                done[0] = reports[0].tick

        return take

    def _days(self, tables: list[pa.Table]) -> None:
        if not tables:
            return
        merged = _by_id(pa.concat_tables(tables))
        for day in sorted(set(merged.column("day").to_pylist())):
            if self._last_day is not None and day <= self._last_day:
                continue  # written before a shard restart sent the world back
            self.daily.append(merged.filter(pc.equal(merged.column("day"), day)))
            self._last_day = day

    def _samples(self, tables: list[pa.Table]) -> None:
        if not tables:
            return
        merged = _by_id(pa.concat_tables(tables))
        for time_ in sorted(set(merged.column("time").to_pylist())):
            if self._last_sample is not None and time_ <= self._last_sample:
                continue
            self.vitals.append(merged.filter(pc.equal(merged.column("time"), time_)))
            self._last_sample = time_

    def close(self) -> None:
        self.daily.close(HealthRecord().to_table())
        if self.vitals is not None:
            self.vitals.close(VitalsSampler.empty_table())

    def abort(self) -> None:
        self.daily.abort()
        if self.vitals is not None:
            self.vitals.abort()


def _by_id(table: pa.Table) -> pa.Table:
    return table.take(pc.sort_indices(table, [("twin_id", "ascending")]))
