"""HealthStore: the health record of every twin in one embedded DuckDB file.

Tables (one row each per ...; columns and units as the record's producers define them:
``systems.recording``):

- ``twins``: twin: ``twin_id``, ``age_y``, ``sex`` (0 female, 1 male), ``employment`` (code of
  ``components.identity.EMPLOYMENT``), ``hypertension``, ``diabetes``; replaced when a twin is
  written again;
- ``daily``: twin and simulated day: the daily record (``systems.health.DAILY_FIELDS``, the
  columns of ``daily.parquet``); kept forever;
- ``episodes``: twin and activity episode: ``twin_id``, ``start``, ``end`` (simulated local
  time), ``activity`` (code of ``components.activity.Activity``), ``place`` (index of the town's
  places); kept forever;
- ``vitals``: twin and sample time (every ``[history] minute_s``): ``twin_id``, ``t``, the vital
  signs (``components.physiology.VITAL_COLUMNS``), ``activity``; kept ``minute_days`` days;
- ``scenarios``: scenario (``components.scenario``): ``scenario_id``, ``twin_id``, ``kind``,
  ``args`` (JSON), ``start``, ``end`` (simulated local time), ``stopped``; replaced when the
  scenario is stopped; kept forever.

A table is created by its first batch (its columns and types are the batch's), so the store
never restates the producers' schemas. DuckDB allows one writing process: the serving process
(or ``twin simulate``) owns the file, its writer thread (``engine.record_writer``) writes and
other threads read through ``cursor``s of the same database. Each write is one transaction,
durable when it returns (DuckDB's write-ahead log), so a killed process loses only what was
still queued; ``truncate_after`` then removes what a resumed world has not lived yet.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from synthtwin.engine.record_queue import TABLES

__all__ = ["HealthStore", "StoreError"]

INDEX_DAILY = "CREATE INDEX IF NOT EXISTS daily_twin ON daily (twin_id)"
"""A twin's days lie in every day's rows (a day is written for all twins at once): the index
finds them without a scan (a 90-day history of one twin among 10,000: 12 ms instead of 34)."""
REPLACED_BY = {"twins": "twin_id", "scenarios": "scenario_id"}
"""The tables whose rows a later write replaces, and the key it replaces them by."""
TIME_COLUMNS = {"vitals": "t", "episodes": "end"}
"""The simulated time each time-stamped table is truncated by."""


class StoreError(RuntimeError):
    """The store cannot be opened or written; the message says which file and why."""


class HealthStore:
    """One DuckDB database file holding the record (module docstring).

    Args:
        path: the file; created, with its folder, if missing.

    Raises:
        StoreError: the file cannot be created or opened (another process writes it, it is not
            a DuckDB file, the folder is not writable).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # one DuckDB thread: its work is the writer's and the queries', beside the tick
            self.db = duckdb.connect(str(self.path), config={"threads": 1})
        except (OSError, duckdb.Error) as err:
            raise StoreError(
                f"cannot open the health record {self.path}: {_first_line(err)}"
            ) from None
        self._tables = set(self._existing_tables())
        self._columns: dict[str, set[str]] = {}
        """Each table's columns, once a write has read them."""
        if "daily" in self._tables:
            self.db.execute(INDEX_DAILY)

    def _existing_tables(self) -> list[str]:
        rows = self.db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
        return [name for (name,) in rows if name in TABLES]

    def has(self, table: str) -> bool:
        """Whether ``table`` holds (or held) rows."""
        return table in self._tables

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own to the same database, for one reading thread."""
        return self.db.cursor()

    def write(self, table: str, columns: dict[str, np.ndarray]) -> None:
        """Append rows to ``table`` in one transaction (``twins``, ``scenarios``: replacing the
        rows of the same key, ``REPLACED_BY``).

        Args:
            columns: ``(M,)`` arrays by column name; datetime64 becomes TIMESTAMP or DATE.
        """
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; expected one of {TABLES}")
        batch = _arrow(columns)  # scanned by name in the SQL below
        cur = self.db.cursor()
        cur.execute("BEGIN")
        try:
            if table not in self._tables:
                cur.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM batch LIMIT 0")
                if table == "daily":
                    cur.execute(INDEX_DAILY)
            known = self._add_new_columns(cur, table, batch)
            key = REPLACED_BY.get(table)
            if key is not None:
                cur.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM batch)")
            cur.execute(f"INSERT INTO {table} BY NAME SELECT * FROM batch")
            cur.execute("COMMIT")
            self._columns[table] = known
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()
        self._tables.add(table)

    def _add_new_columns(
        self, cur: duckdb.DuckDBPyConnection, table: str, batch: pa.Table
    ) -> set[str]:
        """Add to ``table`` the columns of ``batch`` it lacks (typed as the batch's; earlier rows
        NULL), in the write's transaction; the table's columns then. A record written by an
        older version takes the columns a newer one records (a new vital sign or daily field)
        instead of refusing every later write of that table."""
        known = self._columns.get(table)
        if known is None:
            known = {row[0] for row in cur.execute(f"DESCRIBE {table}").fetchall()}
        new = [name for name in batch.column_names if name not in known]
        if new:
            described = cur.execute("DESCRIBE SELECT * FROM batch").fetchall()  # this frame's
            types = dict(row[:2] for row in described)
            for name in new:
                cur.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {types[name]}')
        return known | set(new)

    def fill_days(self, columns: dict[str, np.ndarray]) -> int:
        """Add the daily rows of ``columns`` that the store lacks (same twin and day); the
        number added. A resumed world's closed days, so that none is missing."""
        if not len(columns.get("twin_id", ())):
            return 0
        if "daily" not in self._tables:
            self.write("daily", columns)
            return len(columns["twin_id"])
        batch = _arrow(columns)  # noqa: F841 - scanned by name in the SQL below
        missing = self.db.sql(
            "SELECT b.* FROM batch b ANTI JOIN daily d ON d.twin_id = b.twin_id AND d.day = b.day"
        ).to_arrow_table()
        if missing.num_rows:
            self.write("daily", {name: missing[name] for name in missing.column_names})
        return missing.num_rows

    def other_twins(self, columns: dict[str, np.ndarray]) -> int | None:
        """The first id of ``columns`` (``twin_id`` and profile columns of ``twins``) whose
        stored profile differs (another person under that id), or None."""
        if "twins" not in self._tables or not len(columns.get("twin_id", ())):
            return None
        batch = _arrow(columns)  # noqa: F841 - scanned by name in the SQL below
        differs = " OR ".join(f"t.{name} IS DISTINCT FROM b.{name}" for name in columns
                              if name != "twin_id")  # fmt: skip
        with self.db.cursor() as cur:
            (first,) = cur.execute(
                f"SELECT min(b.twin_id) FROM batch b JOIN twins t USING (twin_id) WHERE {differs}"
            ).fetchone()
        return None if first is None else int(first)

    def truncate_after(self, now: datetime) -> dict[str, int]:
        """Delete what a world at ``now`` has not lived: vitals sampled after it, episodes
        ending after it, days not closed by it (on or after ``now``'s date) and their alerts.
        Rows deleted by table."""
        deleted = {}
        with self.db.cursor() as cur:
            for table, column in TIME_COLUMNS.items():
                if table in self._tables:
                    cur.execute(f'DELETE FROM {table} WHERE "{column}" > ?', [now])
                    deleted[table] = cur.fetchone()[0]
            if "daily" in self._tables:
                cur.execute("DELETE FROM daily WHERE day >= ?", [now.date()])
                deleted["daily"] = cur.fetchone()[0]
            try:
                cur.execute("DELETE FROM alerts WHERE day >= ?", [now.date()])
                deleted["alerts"] = cur.fetchone()[0]
            except duckdb.CatalogException:
                pass  # no alert was ever stored
        return deleted

    def compact_vitals(self, day: date) -> None:
        """Rewrite ``day``'s vitals ordered by twin, then time, in one transaction.

        Samples arrive a minute of every twin at a time, so each of DuckDB's row groups (about
        120,000 rows) holds every twin; once a day is over, its rows rewritten in twin order
        make each row group hold a few twins, and a one-twin query of that day reads one row
        group instead of all of the day's (its zone maps skip the rest).
        """
        if "vitals" not in self._tables:
            return
        start = datetime.combine(day, datetime.min.time())
        span = [start, start + timedelta(days=1)]
        with self.db.cursor() as cur:
            cur.execute("BEGIN")
            try:
                cur.execute(
                    "CREATE TEMP TABLE day_vitals AS SELECT * FROM vitals "
                    "WHERE t >= ? AND t < ? ORDER BY twin_id, t",
                    span,
                )
                cur.execute("DELETE FROM vitals WHERE t >= ? AND t < ?", span)
                cur.execute("INSERT INTO vitals SELECT * FROM day_vitals")
                cur.execute("DROP TABLE day_vitals")
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def prune_vitals(self, before: date) -> None:
        """Delete vitals samples taken before ``before`` (the minute data kept is bounded)."""
        if "vitals" in self._tables:
            self.db.execute(
                "DELETE FROM vitals WHERE t < ?", [datetime.combine(before, datetime.min.time())]
            )

    def close(self) -> None:
        self.db.close()


def _arrow(columns: dict[str, np.ndarray | pa.ChunkedArray]) -> pa.Table:
    """The columns as an Arrow table; a float NaN (a value the day did not have, such as a
    resting HR without awake rest) becomes NULL, which SQL aggregates skip."""
    return pa.table({
        name: values if isinstance(values, pa.ChunkedArray | pa.Array)
        else pa.array(values, from_pandas=True)
        for name, values in columns.items()
    })  # fmt: skip


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]
