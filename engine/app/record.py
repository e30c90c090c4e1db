"""Recorder: the health record of one simulation, composed: store, queue and writer thread.

The composition root's side of ``engine.health_store``: ``twin serve`` and ``twin simulate
--store`` build one before the simulation (its ``sink`` feeds ``systems.recording``), ``align``
it with the built world before the first tick, ``flush`` it before each checkpoint and ``close``
it last. Crash consistency (a world resumed from a checkpoint after a kill -9): ``align`` deletes
what the world has not lived yet (samples and episodes after its clock, days it has not closed)
and adds the closed days the checkpoint holds that the store lacks; the flush before every
checkpoint puts every sample up to it in the store. So the record holds every day the checkpoint
covers and nothing from the future, and the resumed world records the rest again. A store
written by another world (other people under the same ids) is refused rather than mixed.

Memory: a closed day leaves the world's ``HealthRecord`` (and so its checkpoints) once the writer
has stored it: the recorder releases the days the writer lists on the simulation's thread, at
each ``sink`` call (about every tick) and after each ``flush``; ``align`` releases the days it
filled in. A day the store does not have (dropped at a full queue, a failed write) stays held,
and is stored by ``align`` when the world is resumed from a checkpoint.
"""

from __future__ import annotations

import logging
from pathlib import Path

from synthtwin.engine.config import AlertsConfig, HistoryConfig
from synthtwin.engine.health_store import HealthStore, StoreError
from synthtwin.engine.record_queue import RecordBatch, RecordQueue
from synthtwin.engine.record_writer import RecordWriter
from synthtwin.engine.world import World
from synthtwin.systems.health import HealthRecord

__all__ = ["FLUSH_TIMEOUT_S", "Recorder"]

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 30.0
"""Longest wait for the writer before a checkpoint, wall seconds (serving)."""
CLOSE_TIMEOUT_S = 30.0
"""Longest wait for the writer to store what is queued at shutdown, wall seconds (serving)."""


class Recorder:
    """A health record being written (module docstring).

    Args:
        path: the DuckDB file.
        config: resolution, minute data kept, queue size (``[history]``).
        blocking: wait for room in a full queue instead of dropping (headless runs: their
            alerts are stored, not kept for publishing, since nothing publishes them).
        alerts: the rules checked on each closed day (``[alerts]``); None: none.

    Raises:
        StoreError: the file cannot be opened (another process writes it, not a DuckDB file).
    """

    def __init__(
        self,
        path: Path,
        config: HistoryConfig,
        blocking: bool = False,
        alerts: AlertsConfig | None = None,
    ) -> None:
        self.config = config
        self.store = HealthStore(path)
        self.queue = RecordQueue(config.queue_rows)
        self.writer = RecordWriter(
            self.store, self.queue, config.minute_days, alerts, config.minute_s,
            deliver=not blocking,
        )  # fmt: skip
        self._blocking = blocking
        self._record: HealthRecord | None = None

    def sink(self, batch: RecordBatch) -> bool:
        """Hand one batch to the writer (``systems.recording``'s sink, on the simulation's
        thread), after releasing the days the writer has stored."""
        self._release_stored()
        if self._blocking:
            self.queue.put(batch)
            return True
        return self.queue.offer(batch)

    def align(self, world: World) -> None:
        """Make the store agree with ``world`` before its first tick (module docstring).

        Raises:
            StoreError: the store holds other people under the ids of ``world``'s twins (it was
                written by another world: a new one of another seed or size, not resumed), so
                their days would be mixed under one id.
        """
        profiles = {"twin_id": world.ids, "age_y": world["age_y"], "sex": world["sex"]}
        other = self.store.other_twins(profiles)
        if other is not None:
            raise StoreError(
                f"the health record {self.store.path} was written by another world: its twin "
                f"{other} is another person (age, sex) than this world's; resume that world "
                "(--resume), or move the file away or set [history] path"
            )
        self._record = world.resource(HealthRecord)
        deleted = self.store.truncate_after(world.clock.now)
        added = self.store.fill_days(self._record.columns())
        self._record.release()
        if any(deleted.values()) or added:
            log.info(
                "health record %s aligned with the world at %s: deleted %s, added %d days",
                self.store.path, world.clock.now, deleted, added,
            )  # fmt: skip

    def flush(self) -> None:
        """Wait until everything recorded so far is stored: at most ``FLUSH_TIMEOUT_S`` when
        serving (a checkpoint waits in the tick), as long as it takes headless (the run's
        record must be whole when it ends)."""
        timeout_s = None if self._blocking else FLUSH_TIMEOUT_S
        if self.writer.flush(timeout_s):
            self._release_stored()
        else:
            log.error(
                "the health record's writer is behind by more than %g s; a checkpoint goes on "
                "without its latest rows",
                FLUSH_TIMEOUT_S,
            )

    def _release_stored(self) -> None:
        """Drop from the world's record the days the writer has stored since the last call."""
        stored = self.writer.stored_days
        days = {stored.popleft() for _ in range(len(stored))}
        if days and self._record is not None:
            self._record.release(days)

    def close(self) -> None:
        """Store what is queued, stop the writer and close the file (headless: however long the
        writer takes; serving: the file stays open under a writer that did not stop in time,
        rather than close beneath its transaction)."""
        if self.writer.close(None if self._blocking else CLOSE_TIMEOUT_S):
            self.store.close()
