"""RecordWriter: one thread that moves the record's rows from the queue into the store.

Pattern: a single writer behind a bounded queue (``engine.record_queue``). The thread takes
everything waiting at once, joins consecutive batches of one table and writes each run in one
transaction (``HealthStore.write``: one bulk insert from Arrow), so the store sees few large
writes whatever the tick rate. After a daily batch it rewrites that day's vitals in twin order
(``HealthStore.compact_vitals``: a one-twin query of a past day then reads one row group, not
the day's hundred) and deletes the vitals samples older than ``minute_days`` days before it. A
write that fails is logged and counted; the thread goes on. ``flush`` waits until everything
queued before it is stored (a checkpoint calls it first, so the record holds every minute the
checkpoint covers).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import numpy as np

from synthtwin.engine.health_store import HealthStore
from synthtwin.engine.record_queue import Barrier, RecordBatch, RecordQueue

__all__ = ["RecordWriter"]

log = logging.getLogger(__name__)

TAKE_WAIT_S = 0.5
"""Longest wait of the idle writer for a batch, wall seconds."""


class RecordWriter:
    """The writer thread of one store (module docstring).

    Args:
        store: where rows go.
        queue: where they come from.
        minute_days: simulated days of vitals samples kept.

    Attributes:
        written_rows: rows stored so far.
        failed_rows: rows whose write failed (logged).
    """

    def __init__(self, store: HealthStore, queue: RecordQueue, minute_days: int) -> None:
        self.store = store
        self.queue = queue
        self.minute_days = minute_days
        self.written_rows = 0
        self.failed_rows = 0
        self._thread = threading.Thread(target=self._run, name="record-writer", daemon=True)
        self._thread.start()

    def flush(self, timeout_s: float) -> bool:
        """Wait until every batch queued so far is stored; False if ``timeout_s`` passed first."""
        return self.queue.barrier().done.wait(timeout_s)

    def close(self, timeout_s: float = 30.0) -> None:
        """Store what is queued, then stop the thread (waiting at most ``timeout_s``)."""
        self.queue.close()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.error("the health record's writer did not finish within %g s", timeout_s)

    def _run(self) -> None:
        while True:
            items = self.queue.take(TAKE_WAIT_S)
            pending: list[RecordBatch] = []
            for item in items:
                if isinstance(item, RecordBatch):
                    if pending and pending[-1].table != item.table:
                        self._write(pending)
                        pending = []
                    pending.append(item)
                    continue
                self._write(pending)
                pending = []
                if isinstance(item, Barrier):
                    item.done.set()
                else:  # None: closed
                    return
            self._write(pending)

    def _write(self, batches: list[RecordBatch]) -> None:
        """Store a run of batches of one table in one transaction."""
        if not batches:
            return
        table = batches[0].table
        columns = {
            name: np.concatenate([b.columns[name] for b in batches]) for name in batches[0].columns
        }
        rows = sum(b.rows for b in batches)
        try:
            self.store.write(table, columns)
            if table == "daily":
                newest = columns["day"].max().astype(object)
                self.store.compact_vitals(newest)
                self.store.prune_vitals(newest - timedelta(days=self.minute_days - 1))
        except Exception as err:  # noqa: BLE001 - a failed write must not stop the record
            self.failed_rows += rows
            log.error("the health record could not store %d %s rows: %s", rows, table, err)
            return
        self.written_rows += rows
