"""RecordQueue: the bounded hand-over of health-record rows from the tick to the store's writer.

Pattern: a bounded producer/consumer queue. The simulation thread ``offer``s each tick's rows
(plain numpy column copies, ``RecordBatch``) and never waits: when ``max_rows`` rows already
wait, the batch is dropped and counted (``dropped_rows``). A headless run, which has no
realtime to keep, ``put``s instead and waits for room, so it loses nothing. The writer thread
(``engine.record_writer``) ``take``s everything waiting at once. A ``Barrier`` marks a point in
the stream: the writer sets it once every batch before it is in the store.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np

__all__ = ["TABLES", "Barrier", "RecordBatch", "RecordQueue"]

TABLES = ("twins", "daily", "episodes", "vitals", "scenarios")
"""The record's tables (``engine.health_store``)."""


@dataclass(frozen=True)
class RecordBatch:
    """Rows of one table of the record, by column (every array ``(M,)``, one row each).

    Attributes:
        table: one of ``TABLES``.
        columns: the rows' values by column name (names and dtypes are the table's).
    """

    table: str
    columns: dict[str, np.ndarray]

    @property
    def rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


@dataclass
class Barrier:
    """A point in the queue: ``done`` is set once every batch queued before it is stored."""

    done: threading.Event = field(default_factory=threading.Event)


class RecordQueue:
    """Batches of rows waiting for the writer, at most ``max_rows`` rows in all.

    Attributes:
        dropped_rows: rows refused by ``offer`` because the queue was full.
        dropped_batches: batches refused by ``offer``.
    """

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self.dropped_rows = 0
        self.dropped_batches = 0
        self._items: deque[RecordBatch | Barrier | None] = deque()
        self._rows = 0
        self._ready = threading.Condition()

    @property
    def waiting_rows(self) -> int:
        return self._rows

    def offer(self, batch: RecordBatch) -> bool:
        """Queue ``batch`` unless the queue is full (then count it as dropped); never waits."""
        with self._ready:
            if self._rows + batch.rows > self.max_rows:
                self.dropped_rows += batch.rows
                self.dropped_batches += 1
                return False
            self._push(batch)
        return True

    def put(self, batch: RecordBatch) -> None:
        """Queue ``batch``, waiting for room (headless runs: nothing is dropped). A batch larger
        than the whole queue waits for an empty queue."""
        with self._ready:
            self._ready.wait_for(
                lambda: self._rows == 0 or self._rows + batch.rows <= self.max_rows
            )
            self._push(batch)

    def barrier(self) -> Barrier:
        """A new barrier queued after everything queued so far (never refused)."""
        marker = Barrier()
        with self._ready:
            self._items.append(marker)
            self._ready.notify_all()
        return marker

    def close(self) -> None:
        """Tell the writer to stop once it has stored what is queued."""
        with self._ready:
            self._items.append(None)
            self._ready.notify_all()

    def take(self, timeout_s: float) -> list[RecordBatch | Barrier | None]:
        """Everything queued, oldest first (None: the queue was closed); waits at most
        ``timeout_s`` for the first item, then returns what there is (maybe nothing)."""
        with self._ready:
            self._ready.wait_for(lambda: bool(self._items), timeout_s)
            items = list(self._items)
            self._items.clear()
            self._rows = 0
            self._ready.notify_all()
        return items

    def _push(self, batch: RecordBatch) -> None:
        self._items.append(batch)
        self._rows += batch.rows
        self._ready.notify_all()
