"""RecordWriter: one thread that moves the record's rows from the queue into the store.

Pattern: a single writer behind a bounded queue (``engine.record_queue``). The thread takes
everything waiting at once, joins consecutive batches of one table and writes each run in one
transaction (``HealthStore.write``: one bulk insert from Arrow), so the store sees few large
writes whatever the tick rate. After a daily batch it rewrites that day's vitals in twin order
(``HealthStore.compact_vitals``: a one-twin query of a past day then reads one row group, not
the day's hundred), deletes the vitals samples older than ``minute_days`` days before it and
checks the alert rules on the day (``engine.alerts``; ``take_alerts`` hands them on), and
lists the day in ``stored_days``. A write that fails is logged and counted; the thread goes on.
``flush`` waits until everything queued before it is stored (a checkpoint calls it first, so the
record holds every minute the checkpoint covers).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import timedelta

import numpy as np

from synthtwin.engine.alerts import evaluate_day
from synthtwin.engine.config import AlertsConfig
from synthtwin.engine.health_store import HealthStore
from synthtwin.engine.record_queue import Barrier, RecordBatch, RecordQueue
from synthtwin.engine.timings import RollingTimings

__all__ = ["RecordWriter"]

log = logging.getLogger(__name__)

TAKE_WAIT_S = 0.5
"""Longest wait of the idle writer for a batch, wall seconds."""
ALERT_TIMINGS = 64
"""Closed days whose alert checks ``RecordWriter.timings`` keeps."""


class RecordWriter:
    """The writer thread of one store (module docstring).

    Args:
        store: where rows go.
        queue: where they come from.
        minute_days: simulated days of vitals samples kept.
        alerts: the rules checked on each closed day (``engine.alerts``); None: none.
        minute_s: simulated seconds between two samples (how long a run of samples lasts).
        deliver: keep the fired alerts for ``take_alerts`` (a server publishes them); False: store
            them only (a headless run, where nothing takes them, would hold every one).

    Attributes:
        written_rows: rows stored so far.
        failed_rows: rows whose write failed (logged).
        timings: wall time of each check of the alert rules on a closed day (``"alerts"``),
            over the last ``ALERT_TIMINGS`` days.
    """

    def __init__(
        self,
        store: HealthStore,
        queue: RecordQueue,
        minute_days: int,
        alerts: AlertsConfig | None = None,
        minute_s: float = 60.0,
        deliver: bool = True,
    ) -> None:
        self.store = store
        self.queue = queue
        self.minute_days = minute_days
        self.alerts = alerts
        self.minute_s = minute_s
        self.deliver = deliver
        self._reported_drops = 0
        self.fired: deque[dict] = deque()
        """Alerts stored and not yet taken for delivery (``take_alerts``), oldest first."""
        self.written_rows = 0
        self.failed_rows = 0
        self.timings = RollingTimings(ALERT_TIMINGS)
        self.stored_days: deque[np.datetime64] = deque()
        """Days whose daily rows the store now holds (``datetime64[D]``), for the simulation's
        thread to take (``Recorder``: they leave its memory)."""
        self._thread = threading.Thread(target=self._run, name="record-writer", daemon=True)
        self._thread.start()

    def flush(self, timeout_s: float | None) -> bool:
        """Wait until every batch queued so far is stored; False if ``timeout_s`` passed first
        (None: no limit)."""
        return self.queue.barrier().done.wait(timeout_s)

    def close(self, timeout_s: float | None = 30.0) -> bool:
        """Store what is queued, then stop the thread (waiting at most ``timeout_s``; None: no
        limit); whether it stopped."""
        self.queue.close()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.error("the health record's writer did not finish within %g s", timeout_s)
            return False
        return True

    def _run(self) -> None:
        while True:
            items = self.queue.take(TAKE_WAIT_S)
            self._report_drops()
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

    def _report_drops(self) -> None:
        """Log the rows the tick dropped at a full queue since the last report."""
        dropped = self.queue.dropped_rows
        if dropped > self._reported_drops:
            log.warning(
                "the health record is behind: %d rows dropped at a full queue (%d in all); "
                "raise [history] queue_rows or lower the time scale",
                dropped - self._reported_drops, dropped,
            )  # fmt: skip
            self._reported_drops = dropped

    def take_alerts(self) -> list[dict]:
        """The alerts fired since the last call (``alert_id``, ``twin_id``, ``day``, ``rule``,
        ``value`` each), oldest first; never blocks."""
        taken = []
        while self.fired:
            taken.append(self.fired.popleft())
        return taken

    def _check_alerts(self, day) -> None:
        """Check the rules on ``day`` (just closed) and keep its alerts for delivery."""
        if self.alerts is None or not self.alerts.enabled:
            return
        started = time.perf_counter()
        try:
            with self.store.cursor() as db:
                found = evaluate_day(db, day, self.alerts, self.minute_s)
        except Exception as err:  # noqa: BLE001 - a failed check must not stop the record
            log.error("the alert rules could not be checked on %s: %s", day, err)
            return
        self.timings.record("alerts", time.perf_counter() - started)
        if not self.deliver:
            return
        rows = {name: values.tolist() for name, values in found.items()}
        for i in range(len(rows.get("alert_id", ()))):
            self.fired.append({name: values[i] for name, values in rows.items()})

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
        if table == "daily":
            self.stored_days.extend(np.unique(columns["day"]))
            self._check_alerts(newest)
