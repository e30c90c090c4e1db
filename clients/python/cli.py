"""Client commands of the ``twin`` command line: ``watch``, ``record`` and ``query``.

    twin watch  [--twin ID] [--seconds S] [--interval 1]         a live view of a running server
    twin record --seconds S --out FILE.parquet [--cells IX,IY ...] crowd (and vitals) to Parquet
    twin query  OP [key=value ...]                                one request, the result as JSON

Each takes ``--pub`` / ``--router`` (the server's endpoints) and ``--timeout`` (seconds a request
waits), and for a server with access control (``docs/protocol.md`` section 2.1):

    --token TOKEN          sent with every request (default: $SYNTHTWIN_TOKEN)
    --server-key FILE      the server's public CURVE key (``<keys_dir>/server.key``)
    --key FILE             this client's CURVE key pair (``<keys_dir>/secrets/NAME.key_secret``)
    --health ENDPOINT      the health PUB, for vitals (default with --key: tcp://127.0.0.1:5558)
    --curve                the main PUB and ROUTER are CURVE servers too ([security] curve)

``register`` adds them to an argparse subparsers object; ``COMMANDS`` maps each name to its
function, which returns the exit status: 0, or 2 after printing one line to stderr when the
server does not answer, answers with an error, a key file cannot be read, or the output cannot be
written.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from synthtwin.net.wire.client import CloneClient
from synthtwin.net.wire.clone import Crowd, Tables
from synthtwin.net.wire.crowd import CrowdState
from synthtwin.net.wire.curve import CurveKeys, KeyFileError
from synthtwin.net.wire.dealer import RequestClient, RequestError
from synthtwin.net.wire.vitals import VITAL_FIELDS, VitalsMessage

__all__ = [
    "COMMANDS",
    "access_options",
    "add_request_options",
    "main",
    "query",
    "record",
    "register",
    "request_client",
    "watch",
]

PUB_ENDPOINT = "tcp://127.0.0.1:5556"
ROUTER_ENDPOINT = "tcp://127.0.0.1:5557"
HEALTH_ENDPOINT = "tcp://127.0.0.1:5558"
TOKEN_VARIABLE = "SYNTHTWIN_TOKEN"
TIMEOUT_S = 2.0
EXIT_ERROR = 2
CLEAR_SCREEN = "\x1b[H\x1b[2J"
_INT_LIST = re.compile(r"-?\d+(,-?\d+)+")


# -- arguments -------------------------------------------------------------------------------


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _cell(text: str) -> tuple[int, int]:
    try:
        ix, iy = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a cell IX,IY") from None
    return ix, iy


def _add_endpoints(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pub", default=PUB_ENDPOINT, help=f"PUB endpoint ({PUB_ENDPOINT})")
    parser.add_argument(
        "--router", default=ROUTER_ENDPOINT, help=f"ROUTER endpoint ({ROUTER_ENDPOINT})"
    )
    parser.add_argument(
        "--timeout", type=_positive_float, default=TIMEOUT_S, help="seconds a request waits (2)"
    )
    _add_access(parser)


def add_request_options(parser: argparse.ArgumentParser, timeout_s: float) -> None:
    """The options of a command that only asks the ROUTER: ``--router``, ``--timeout`` (default
    ``timeout_s``), the token and the CURVE keys (``request_client`` reads them)."""
    parser.add_argument(
        "--router", default=ROUTER_ENDPOINT, help=f"ROUTER endpoint ({ROUTER_ENDPOINT})"
    )
    parser.add_argument("--timeout", type=_positive_float, default=timeout_s,
                        help=f"seconds a reply waits ({timeout_s:g})")  # fmt: skip
    _add_credentials(parser, curve_help="the ROUTER is a CURVE server")
    parser.set_defaults(health=None)


def request_client(args: argparse.Namespace) -> RequestClient:
    """The request client the options of ``add_request_options`` (or ``_add_endpoints``)
    describe.

    Raises:
        KeyFileError: the keys are incomplete or unreadable (``access_options``).
    """
    return RequestClient(args.router, args.timeout, **_request_options(args))


def _add_access(parser: argparse.ArgumentParser) -> None:
    _add_credentials(parser, curve_help="the main PUB and ROUTER are CURVE servers too")
    parser.add_argument(
        "--health", default=None, metavar="ENDPOINT",
        help=f"the health PUB, for vitals (default with --key: {HEALTH_ENDPOINT})",
    )  # fmt: skip


def _add_credentials(parser: argparse.ArgumentParser, curve_help: str) -> None:
    parser.add_argument("--token", default=None, help=f"access token (default: ${TOKEN_VARIABLE})")
    parser.add_argument(
        "--server-key", type=Path, default=None, metavar="FILE",
        help="the server's public CURVE key file (server.key)",
    )  # fmt: skip
    parser.add_argument(
        "--key", type=Path, default=None, metavar="FILE",
        help="this client's CURVE key pair (NAME.key_secret)",
    )  # fmt: skip
    parser.add_argument("--curve", action="store_true", help=curve_help)


def access_options(args: argparse.Namespace) -> dict[str, Any]:
    """The client's credentials from the options: ``token``, ``keys``, ``health_endpoint``,
    ``curve`` (keyword arguments of ``CloneClient``).

    Raises:
        KeyFileError: ``--key`` without ``--server-key`` (or the reverse), or an unreadable file.
    """
    token = args.token if args.token is not None else os.environ.get(TOKEN_VARIABLE) or None
    if (args.key is None) != (args.server_key is None):
        raise KeyFileError("--key and --server-key go together")
    keys = None if args.key is None else CurveKeys.load(args.server_key, args.key)
    health = args.health if args.health is not None else (HEALTH_ENDPOINT if keys else None)
    if keys is None and args.curve:
        raise KeyFileError("--curve needs --key and --server-key")
    if keys is None and health is not None:
        raise KeyFileError("--health needs --key and --server-key")
    return {"token": token, "keys": keys, "health_endpoint": health, "curve": args.curve}


def _request_options(args: argparse.Namespace) -> dict[str, Any]:
    """``token`` and ``curve`` keys of ``RequestClient`` from the options."""
    access = access_options(args)
    return {"token": access["token"], "curve": access["keys"] if access["curve"] else None}


def register(subparsers: Any) -> None:
    """Add ``watch``, ``record`` and ``query`` to ``subparsers`` (from ``add_subparsers``)."""
    view = subparsers.add_parser("watch", help="a live view of a running server")
    view.add_argument("--twin", type=int, default=None, help="also show this twin's vitals")
    view.add_argument("--seconds", type=_positive_float, default=None, help="stop after (never)")
    view.add_argument("--interval", type=_positive_float, default=1.0, help="refresh, s (1)")
    _add_endpoints(view)

    rec = subparsers.add_parser("record", help="record the crowd (and vitals) to Parquet")
    rec.add_argument("--seconds", type=_positive_float, required=True, help="wall seconds")
    rec.add_argument("--out", type=Path, required=True, help="FILE.parquet")
    rec.add_argument(
        "--cells", type=_cell, nargs="+", default=None, metavar="IX,IY",
        help="cells to record (all); a negative first index needs --cells=-1,0",
    )  # fmt: skip
    _add_endpoints(rec)

    ask = subparsers.add_parser("query", help="send one request, print the result as JSON")
    ask.add_argument("op", help="snapshot, roster, twin, spawn, despawn, time_scale, pause, ...")
    ask.add_argument(
        "args", nargs="*", metavar="key=value",
        help="arguments: JSON values (else strings); 1,2,3 is a list of ints",
    )  # fmt: skip
    _add_endpoints(ask)


def _fail(command: str, why: object) -> int:
    print(f"twin {command}: error: {why}", file=sys.stderr)
    return EXIT_ERROR


# -- query -----------------------------------------------------------------------------------


def parse_argument(text: str) -> tuple[str, Any]:
    """``key=value`` -> (key, value): ``1,2,3`` a list of ints, else JSON, else the string.

    Raises:
        ValueError: no ``=`` or an empty key.
    """
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"argument {text!r} is not key=value")
    if _INT_LIST.fullmatch(value):
        return key, [int(v) for v in value.split(",")]
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _json_default(value: Any) -> Any:
    """JSON form of what ``json`` cannot write: arrays as lists, bin as ``{"$bin": hex}``."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bin": bytes(value).hex()}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def query(args: argparse.Namespace) -> int:
    """``twin query OP [key=value ...]``: print the result as JSON, or the error reply."""
    try:
        fields = dict(parse_argument(text) for text in args.args)
        client = request_client(args)
    except ValueError as err:  # KeyFileError too
        return _fail("query", err)
    try:
        with client:
            result = client.call(args.op, **fields)
    except RequestError as err:
        print(f"error {err.code}: {err.message}", file=sys.stderr)
        return EXIT_ERROR
    except TimeoutError as err:
        return _fail("query", err)
    print(json.dumps(result, indent=2, default=_json_default))
    return 0


# -- watch -----------------------------------------------------------------------------------


def _status_lines(stats: dict[str, Any]) -> list[str]:
    state = "paused" if stats["paused"] else "running"
    return [
        f"sim time {stats['sim_time']}   tick {stats['tick']}   twins {stats['twins']}   "
        f"time scale {stats['time_scale']:g}x   {state}",
        f"tick rate {stats['measured_hz']:.1f} Hz measured / {stats['tick_hz']:g} Hz configured"
        f"   overruns {stats['overruns']}   dropped ticks {stats['dropped_ticks']}",
    ]


def _timing_lines(systems: dict[str, dict[str, float]]) -> list[str]:
    lines = [f"{'system':<22}{'p50 ms':>10}{'p99 ms':>10}"]
    lines += [f"{name:<22}{t['p50_ms']:>10.3f}{t['p99_ms']:>10.3f}" for name, t in systems.items()]
    return lines


def _name(names: Sequence[str], code: int) -> str:
    return names[code] if code < len(names) else f"#{code}"


def _activity_lines(crowd: Crowd, names: Sequence[str]) -> list[str]:
    counts = np.bincount(crowd.activity, minlength=len(names))
    order = np.argsort(-counts, kind="stable")
    lines = [f"{'activity':<22}{'twins':>10}   ({len(crowd.ids)} in view)"]
    return lines + [f"{_name(names, c):<22}{counts[c]:>10}" for c in order if counts[c]]


def _twin_lines(twin_id: int, v: dict[str, Any] | None, names: Sequence[str]) -> list[str]:
    """The twin's activity and vitals ``v`` (``CloneClient.vitals``), in their units."""
    if v is None:
        return [f"twin {twin_id}: no vitals yet"]
    return [
        f"twin {twin_id}: {_name(names, v['activity'])}   (vitals at sim {v['t_s']:.1f} s)",
        f"  hr {v['hr_bpm']:.0f} bpm   bp {v['sbp_mmhg']:.0f}/{v['dbp_mmhg']:.0f} mmHg   "
        f"rr {v['rr_brpm']:.2f} /min   spo2 {v['spo2_pct']:.1f} %   "
        f"core {v['core_temp_c']:.2f} degC",
        f"  glucose {v['glucose_mgdl']:.1f} mg/dL   steps {v['steps']:.0f}   "
        f"energy {v['energy_kcal']:.1f} kcal   {v['mets']:.1f} MET",
    ]


def render_watch(
    stats: dict[str, Any],
    crowd: Crowd,
    tables: Tables,
    twin_id: int | None,
    twin_vitals: dict[str, Any] | None,
) -> str:
    """One refresh of ``watch``: status, per-system timings, activity counts, the chosen twin."""
    lines = _status_lines(stats) + [""] + _timing_lines(stats["systems"]) + [""]
    lines += _activity_lines(crowd, tables.activities)
    if twin_id is not None:
        lines += ["", *_twin_lines(twin_id, twin_vitals, tables.activities)]
    return "\n".join(lines) + "\n"


def _poll_until(client: CloneClient, until: float) -> None:
    """Apply PUB messages until the monotonic time ``until``."""
    while (left_s := until - time.monotonic()) > 0:
        client.poll(left_s)


def _watch_loop(client: CloneClient, args: argparse.Namespace, out: TextIO) -> None:
    start = time.monotonic()
    end = start + args.seconds if args.seconds is not None else float("inf")
    frame = 0
    while time.monotonic() < end:
        stats = client.requests.call("stats")
        vitals = client.vitals(args.twin) if args.twin is not None else None
        screen = render_watch(stats, client.crowd(), client.tables, args.twin, vitals)
        out.write(CLEAR_SCREEN + screen if out.isatty() else screen + "\n")
        out.flush()
        frame += 1
        _poll_until(client, min(start + frame * args.interval, end))


def watch(args: argparse.Namespace) -> int:
    """``twin watch``: refresh a text view every ``--interval`` s until ``--seconds`` or Ctrl-C."""
    twins = () if args.twin is None else (args.twin,)
    try:
        options = access_options(args)
    except KeyFileError as err:
        return _fail("watch", err)
    try:
        with CloneClient(
            args.pub, args.router, twins=twins, events=False, timeout_s=args.timeout, **options
        ) as client:
            if args.twin is not None and args.twin not in client.roster:
                return _fail("watch", f"twin {args.twin} does not exist")
            _watch_loop(client, args, sys.stdout)
    except KeyboardInterrupt:
        return 0
    except (TimeoutError, RequestError) as err:
        return _fail("watch", err)
    return 0


# -- record ----------------------------------------------------------------------------------


def _names(codes: np.ndarray, names: Sequence[str]) -> pa.DictionaryArray:
    """(n,) uint8 codes as a dictionary-encoded string column of their names."""
    table = [_name(names, c) for c in range(max(len(names), int(codes.max(initial=0)) + 1))]
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.uint8()), pa.array(table))


def _column(items: Sequence[Any], name: str, dtype: Any) -> np.ndarray:
    """The arrays ``item.<name>`` of ``items`` one after the other, as ``dtype``."""
    if not items:
        return np.zeros(0, dtype)
    return np.concatenate([getattr(item, name) for item in items]).astype(dtype, copy=False)


def _head(items: Sequence[CrowdState] | Sequence[VitalsMessage]) -> dict[str, np.ndarray]:
    """``t_s``, ``tick`` and ``seq`` of each item repeated over its twins, and ``twin_id``."""
    rows = [len(item.ids) for item in items]
    return {
        "t_s": np.repeat(np.array([item.t_s for item in items], np.float64), rows),
        "tick": np.repeat(np.array([item.tick for item in items], np.int64), rows),
        "seq": np.repeat(np.array([item.seq for item in items], np.int64), rows),
        "twin_id": _column(items, "ids", np.uint32),
    }


def crowd_table(states: Sequence[CrowdState], tables: Tables) -> pa.Table:
    """One row per twin per crowd update: each twin of the updated cell, as it is after it.

    ``t_s`` is the update's simulation time, s after the schema metadata's ``epoch``."""
    pos_m = _column(states, "pos_m", np.float64).reshape(-1, 2)
    return pa.table({
        **_head(states),
        "x_m": pos_m[:, 0],
        "y_m": pos_m[:, 1],
        "heading_rad": _column(states, "heading_rad", np.float32),
        "speed_mps": _column(states, "speed_mps", np.float32),
        "activity": _names(_column(states, "activity", np.uint8), tables.activities),
        "clip": _names(_column(states, "clip", np.uint8), tables.clips),
        "phase": _column(states, "phase", np.float32),
    }).replace_schema_metadata({"epoch": tables.epoch})  # fmt: skip


def vitals_table(messages: Sequence[VitalsMessage], tables: Tables) -> pa.Table:
    """One row per twin per vitals message, values in the units of their names."""
    values = {spec.name: _column(messages, spec.name, np.float32) for spec in VITAL_FIELDS}
    activity = _names(_column(messages, "activity", np.uint8), tables.activities)
    table = pa.table({**_head(messages), **values, "activity": activity})
    return table.replace_schema_metadata({"epoch": tables.epoch})


def write_atomic(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` as Parquet through a temporary file in the same folder."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _collect(client: CloneClient, seconds: float) -> tuple[list[CrowdState], list[VitalsMessage]]:
    """Crowd states and vitals messages applied during ``seconds`` wall seconds (or until
    Ctrl-C)."""
    states: list[CrowdState] = []
    vitals: list[VitalsMessage] = []
    end = time.monotonic() + seconds
    try:
        while (left_s := end - time.monotonic()) > 0:
            for msg in client.poll(left_s):
                if isinstance(msg, CrowdState):
                    states.append(msg)
                elif isinstance(msg, VitalsMessage):
                    vitals.append(msg)
    except KeyboardInterrupt:
        pass
    return states, vitals


def record(args: argparse.Namespace) -> int:
    """``twin record``: crowd rows to ``--out``, vitals rows to ``<out>.vitals.parquet``."""
    if not args.out.parent.is_dir():
        return _fail("record", f"folder {args.out.parent} does not exist")
    try:
        options = access_options(args)
    except KeyFileError as err:
        return _fail("record", err)
    try:
        with CloneClient(
            args.pub, args.router, cells=args.cells, events=False, timeout_s=args.timeout,
            **options,
        ) as client:  # fmt: skip
            states, vitals = _collect(client, args.seconds)
            tables = client.tables
    except (TimeoutError, RequestError) as err:
        return _fail("record", err)
    try:
        crowd = crowd_table(states, tables)
        write_atomic(crowd, args.out)
        print(f"{crowd.num_rows} crowd rows -> {args.out}")
        if vitals:
            vitals_path = args.out.with_suffix(".vitals.parquet")
            table = vitals_table(vitals, tables)
            write_atomic(table, vitals_path)
            print(f"{table.num_rows} vitals rows -> {vitals_path}")
    except OSError as err:
        return _fail("record", err)
    return 0


# -- entry point -----------------------------------------------------------------------------

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "watch": watch,
    "record": record,
    "query": query,
}


def main(argv: list[str] | None = None) -> int:
    """Run one client command on its own: ``python -m synthtwin.clients.python.cli watch ...``."""
    parser = argparse.ArgumentParser(prog="twin", description="SynthTwin client commands")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
