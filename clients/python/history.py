"""``twin history ID``: one twin's health record from a running server, as a table or a file.

    twin history 7                     the last 30 simulated days, one line a day
    twin history 7 --days 90 --csv     as CSV on stdout (or into --out FILE)
    twin history 7 --resolution minute --days 1 --parquet --out day.parquet

The range ends at ``--to`` (default: the server's simulated today, from ``stats``) and covers
``--days`` days; it is fetched with the ROUTER's ``history`` op (``docs/protocol.md``, section
"history"; the analyst role), so the server's limits apply (at most 7 days by minute, 92 by
hour). Options: ``--router``, ``--timeout`` and, for a server with access control, ``--token``
(default ``$SYNTHTWIN_TOKEN``), ``--server-key`` and ``--key`` (CURVE), ``--curve``. Exit
status: 0; 2 when the server refuses (the reason is printed), does not answer, or the output
file cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from synthtwin.clients.python.cli import add_request_options, request_client
from synthtwin.net.wire.curve import KeyFileError
from synthtwin.net.wire.dealer import RequestClient, RequestError

__all__ = ["COMMANDS", "fetch_history", "history", "register"]

TIMEOUT_S = 10.0
EXIT_ERROR = 2
SHOWN = {
    "day": ("day", "steps", "sleep_hours", "resting_hr", "mean_hr", "sbp_mean", "dbp_mean",
            "glucose_mean"),
    "vitals": ("t", "hr_bpm", "sbp_mmhg", "dbp_mmhg", "spo2_pct", "glucose_mgdl", "steps"),
}  # fmt: skip
"""The columns the terminal table shows (files hold every column)."""


def register(subparsers: Any) -> None:
    """Add ``history`` to ``subparsers`` (from ``add_subparsers``)."""
    cmd = subparsers.add_parser("history", help="a twin's health record (days, hours, minutes)")
    cmd.add_argument("twin", type=int, help="the twin's id")
    cmd.add_argument("--days", type=int, default=30, help="days to fetch, ending --to (30)")
    cmd.add_argument("--to", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                     help="last day (default: the server's simulated today)")  # fmt: skip
    cmd.add_argument("--resolution", choices=("day", "hour", "minute"), default="day")
    form = cmd.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true", help="CSV (to stdout, or --out)")
    form.add_argument("--parquet", action="store_true", help="Parquet (needs --out)")
    cmd.add_argument("--out", type=Path, default=None, metavar="FILE", help="write to FILE")
    add_request_options(cmd, TIMEOUT_S)


def fetch_history(
    client: RequestClient, twin_id: int, days: int, resolution: str, last: date | None
) -> pa.Table:
    """The twin's record over ``days`` days ending ``last`` (None: the server's today).

    Raises:
        RequestError: the server refused (unknown twin, range too long, ...).
    """
    if last is None:
        last = date.fromisoformat(client.call("stats")["sim_time"][:10])
    first = date.fromordinal(max(1, last.toordinal() - max(days, 1) + 1))  # no earlier than 1-1-1
    result = client.call("history", query="history", id=twin_id, resolution=resolution,
                         **{"from": first.isoformat(), "to": last.isoformat()})  # fmt: skip
    columns = {name: np.asarray(values) for name, values in result["columns"].items()}
    return pa.table(columns) if columns else pa.table({"day": pa.array([], pa.string())})


def history(args: argparse.Namespace) -> int:
    """``twin history ID``: print or write the record (module docstring)."""
    if args.parquet and args.out is None:
        return _fail("--parquet needs --out FILE")
    if args.days < 1:
        return _fail(f"--days {args.days}: expected 1 or more")
    try:
        with request_client(args) as c:
            table = fetch_history(c, args.twin, args.days, args.resolution, args.to)
    except RequestError as err:
        return _fail(f"{err.code}: {err.message}")
    except (TimeoutError, KeyFileError) as err:
        return _fail(str(err))
    try:
        _output(table, args)
    except OSError as err:
        return _fail(f"cannot write {args.out}: {err.strerror or err}")
    return 0


def _output(table: pa.Table, args: argparse.Namespace) -> None:
    if args.parquet:
        pq.write_table(table, args.out)
    elif args.csv and args.out is not None:
        pacsv.write_csv(table, args.out)
    elif args.csv:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink)
        sys.stdout.write(sink.getvalue().to_pybytes().decode())
    elif table.num_rows == 0:
        print(
            f"twin {args.twin}: nothing recorded in that range yet (a day is recorded when it"
            " closes at midnight; `twin simulate --store` fills a record headless)"
        )
    else:
        _print_table(table, sys.stdout)


def _print_table(table: pa.Table, out: TextIO) -> None:
    """The main columns, one row a line, aligned."""
    shown = SHOWN["day"] if "day" in table.column_names else SHOWN["vitals"]
    names = [n for n in shown if n in table.column_names]
    rows = [[_cell(v) for v in table[n].to_pylist()] for n in names]
    widths = [max([len(n), *(len(v) for v in col)]) for n, col in zip(names, rows, strict=True)]
    print("  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True)), file=out)
    for line in zip(*rows, strict=True):
        print("  ".join(v.rjust(w) for v, w in zip(line, widths, strict=True)), file=out)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _fail(message: str) -> int:
    print(f"twin history: error: {message}", file=sys.stderr)
    return EXIT_ERROR


COMMANDS = {"history": history}
