"""The ``twin`` command line.

    twin simulate --twins N --days D --seed S --out DIR [--start YYYY-MM-DD] [--vitals-every S]
                  [--store FILE.duckdb]
    twin serve [--twins N] [--tick-hz 30] [--time-scale 1] [--config FILE.toml] [--resume CKPT]
               [--checkpoint FILE] [--insecure]
    twin watch | record | query ...   (tools on the client library, clients/python/cli.py)
    twin chat ID                      (talk to a twin: clients/python/chat.py)
    twin history ID [--days 30] [--csv|--parquet --out FILE]   (clients/python/history.py)
    twin bench [-k NAME]              (the benchmark suite, one table)
    twin token | cert | keys ...      (access tokens, TLS certificate, CURVE keys: credentials.py)
    twin export-assets OUT_DIR        (bodies and clips as glTF 2.0 .glb: gltf_export.py)

Bad arguments, unwritable paths, bad config, population and checkpoint files print one clear line
and exit with status 2; ``twin serve`` exits with status 1 when it could not save its world at
shutdown anywhere (it says which files hold what was saved before).
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

from tqdm import tqdm

from synthtwin.clients.python import chat as chat_cli
from synthtwin.clients.python import cli as client_cli
from synthtwin.clients.python import history as history_cli
from synthtwin.engine.app import credentials, gltf_export
from synthtwin.engine.app.bench_report import run_bench
from synthtwin.engine.app.durability import ShutdownSave
from synthtwin.engine.app.record import Recorder
from synthtwin.engine.app.scenario_file import add_scenarios
from synthtwin.engine.app.serve import Serving, serve
from synthtwin.engine.app.simulate import OutputError, check_output_dir, run_headless
from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.backend import DEVICES, BackendError
from synthtwin.engine.checkpoint import CheckpointError
from synthtwin.engine.clock import SECONDS_PER_DAY
from synthtwin.engine.config import Config, ConfigError, load_config
from synthtwin.engine.health_store import StoreError
from synthtwin.engine.journal import JournalError
from synthtwin.engine.synth.population_import import PopulationImportError
from synthtwin.net.server import ServerError

__all__ = ["main"]

EXIT_USAGE = 2
SIMULATE_BARRIER_TICKS = 15
"""``twin simulate --shards``: ticks between two handoffs (15 min at 60 s ticks: a crossing twin
goes on a walk's ~1 km inside the next region before it moves; nothing couples two twins)."""
DEVICE_HELP = (
    "where kernels run: auto (CUDA when a GPU is visible, else cpu), cpu, or cuda (physiology on "
    "the GPU with CuPy, the other systems on the CPU); default auto"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def _positive_seconds(text: str) -> float:
    """A finite number of seconds above 0 (``--vitals-every``, ``--step-s``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="twin", description="SynthTwin: a realtime server of human digital twins")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sim = commands.add_parser("simulate", help="run headless as fast as possible, write Parquet")
    sim.add_argument("--twins", type=_positive_int, default=None, help="population size (1000)")
    sim.add_argument("--days", type=_positive_int, required=True, help="simulated days")
    sim.add_argument("--seed", type=int, default=None, help="random seed (0)")
    sim.add_argument("--out", type=Path, required=True, help="output folder")
    sim.add_argument("--start", type=_day, default=None, help="first day, YYYY-MM-DD (today)")
    sim.add_argument(
        "--step-s", type=_positive_seconds, default=60.0, help="simulated seconds a tick (60)"
    )
    sim.add_argument(
        "--vitals-every",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help="also write vitals.parquet sampled every SECONDS of simulated time",
    )
    sim.add_argument(
        "--population",
        type=Path,
        default=None,
        help="import a population file (CSV or Parquet) instead of synthesizing",
    )
    sim.add_argument("--config", type=Path, default=None, help="TOML configuration file")
    sim.add_argument("--device", choices=DEVICES, default=None, help=DEVICE_HELP)
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.add_argument(
        "--scenario", type=Path, default=None, metavar="FILE",
        help="what-if scenarios to put on twins: a TOML file of [[scenario]] tables "
        "(twin, kind, day, days and the kind's arguments; docs/protocol.md 'scenario')",
    )  # fmt: skip
    sim.add_argument(
        "--shards", type=_positive_int, default=None, metavar="N",
        help="run on N Ray shards, one region of the town each, one merged output (1)",
    )  # fmt: skip
    sim.add_argument(
        "--ray-address", default=None, metavar="ADDRESS",
        help="join this Ray cluster (ray start --head printed it) instead of a local one",
    )  # fmt: skip
    sim.add_argument(
        "--barrier-ticks", type=_positive_int, default=SIMULATE_BARRIER_TICKS, metavar="N",
        help=f"with --shards: ticks between two handoffs ({SIMULATE_BARRIER_TICKS})",
    )  # fmt: skip
    sim.add_argument(
        "--store",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write the health record twin serve keeps (DuckDB, such as "
        "data/health.duckdb); without --start the run then ends at today's midnight",
    )

    srv = commands.add_parser("serve", help="run in real time behind ZeroMQ endpoints")
    srv.add_argument("--twins", type=_positive_int, default=None, help="population size (1000)")
    srv.add_argument("--seed", type=int, default=None, help="random seed (0)")
    srv.add_argument("--tick-hz", type=float, default=None, help="ticks per second (30)")
    srv.add_argument(
        "--time-scale",
        type=float,
        default=None,
        help="simulated seconds per wall second (1 = realtime; a resumed world keeps its own "
        "unless this is given)",
    )
    srv.add_argument("--device", choices=DEVICES, default=None, help=DEVICE_HELP)
    srv.add_argument("--config", type=Path, default=None, help="TOML configuration file")
    srv.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="CHECKPOINT",
        help="continue from a checkpoint written by an earlier run",
    )
    srv.add_argument("--pub", default=None, help="PUB endpoint (tcp://127.0.0.1:5556)")
    srv.add_argument("--router", default=None, help="ROUTER endpoint (tcp://127.0.0.1:5557)")
    srv.add_argument(
        "--http-port", type=int, default=None, metavar="PORT",
        help="HTTP API port (8000; 0: any free port)",
    )  # fmt: skip
    srv.add_argument("--no-http", action="store_true", help="do not serve the HTTP API")
    srv.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="checkpoint written at start, every minute and at shutdown, its command journal "
        "beside it (data/world.ckpt)",
    )
    srv.add_argument(
        "--shards", type=_positive_int, default=None, metavar="N",
        help="run the world on N Ray shards behind one front (1); --resume then takes a shard "
        "manifest",
    )  # fmt: skip
    srv.add_argument(
        "--ray-address", default=None, metavar="ADDRESS",
        help="with --shards: join this Ray cluster instead of starting a local one",
    )  # fmt: skip
    srv.add_argument(
        "--insecure",
        action="store_true",
        help="allow binding beyond loopback without access tokens and encryption (warns)",
    )
    bench = commands.add_parser("bench", help="run the benchmarks and print one table")
    bench.add_argument("-k", dest="select", default=None, help="only benchmarks matching this")
    client_cli.register(commands)
    chat_cli.register(commands)
    history_cli.register(commands)
    credentials.register(commands)
    gltf_export.register(commands)
    return parser


def _simulate(args: argparse.Namespace) -> int:
    """Options override the config file; the run starts at 00:00 of ``--start``, else of the
    file's ``start``, else of today, and ticks every ``--step-s`` simulated seconds."""
    given = {"twins": args.twins, "seed": args.seed, "device": args.device,
             "population_file": args.population}  # fmt: skip
    from_file = load_config(args.config, **given).sim
    today = datetime.now().date()
    ending_today = today - timedelta(days=args.days) if args.store is not None else today
    first_day = args.start or (from_file.start.date() if from_file.start else ending_today)
    config = load_config(
        args.config,
        **given,
        tick_hz=1.0,
        time_scale=args.step_s,
        start=datetime(first_day.year, first_day.month, first_day.day),
        cluster={
            "shards": args.shards,
            "ray_address": args.ray_address,
            "barrier_ticks": args.barrier_ticks,
        },
    )
    check_output_dir(args.out)
    if args.shards is not None or args.ray_address:
        return _simulate_sharded(args, config)
    recorder = None
    if args.store:
        recorder = Recorder(args.store, config.history, blocking=True, alerts=config.alerts)
    try:
        sim = build_simulation(config, record=recorder.sink if recorder else None)
        if args.scenario is not None:
            add_scenarios(sim.world, args.scenario)
        if recorder is not None:
            recorder.align(sim.world)
        ticks = round(args.days * SECONDS_PER_DAY / sim.loop.dt_s)
        with tqdm(total=ticks, unit="tick", disable=args.quiet, desc=f"{sim.world.n} twins") as bar:
            run = run_headless(sim, args.days, args.out, args.vitals_every, bar.update, recorder)
        sim.close()
    finally:
        if recorder is not None:
            recorder.close()
    for name, path in run.files.items():
        print(f"{name}: {path}")
    return 0


def _simulate_sharded(args: argparse.Namespace, config: Config) -> int:
    """``twin simulate --shards N``: the run on Ray shards (``engine.app.shard_simulate``)."""
    from synthtwin.engine.app.shard_simulate import run_sharded
    from synthtwin.engine.app.shards import ClusterError

    if args.store is not None:
        raise ConfigError("--store is not available with --shards yet; run without --shards")
    if args.scenario is not None:
        raise ConfigError("--scenario is not available with --shards yet; run without --shards")
    ticks = round(args.days * SECONDS_PER_DAY / args.step_s)
    desc = f"{config.sim.twins} twins on {config.cluster.shards} shards"
    try:
        with tqdm(total=ticks, unit="tick", disable=args.quiet, desc=desc) as bar:
            sharded = run_sharded(config, args.days, args.out, args.vitals_every, bar.update)
    except ClusterError as err:
        print(f"twin simulate: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    for name, path in sharded.run.files.items():
        print(f"{name}: {path}")
    twin_days = sharded.run.twins * args.days
    print(f"shards: {config.cluster.shards}, {twin_days / sharded.wall_s:.0f} twin-days/s, "
          f"{sharded.handoffs} handoffs ({sharded.handoff_s:.2f} s)")  # fmt: skip
    return 0


def _serve(args: argparse.Namespace) -> int:
    config = load_config(
        args.config,
        serve={
            "pub_endpoint": args.pub,
            "router_endpoint": args.router,
            "checkpoint": args.checkpoint,
            "http_port": args.http_port,
            "http_enabled": False if args.no_http else None,
        },
        security={"insecure": True if args.insecure else None},
        twins=args.twins,
        seed=args.seed,
        tick_hz=args.tick_hz,
        time_scale=args.time_scale,
        device=args.device,
        cluster={"shards": args.shards, "ray_address": args.ray_address},
    )
    if args.shards is not None or args.ray_address:
        return _serve_sharded(config, args.resume)
    if args.resume is not None and args.resume.name == "manifest.json":
        raise ConfigError(f"{args.resume} is a shard manifest: resume it with --shards N")
    explicit_scale = args.time_scale is not None
    saved = serve(config, args.resume, _announce, keep_time_scale=explicit_scale).saved
    return _report_save(saved, config.serve.checkpoint)


def _serve_sharded(config: Config, resume: Path | None) -> int:
    """``twin serve --shards N``: the shards and their front (``engine.app.shard_serve``)."""
    import signal

    from synthtwin.engine.app.shard_serve import ShardServing, shard_checkpoints
    from synthtwin.engine.app.shards import ClusterError
    from synthtwin.net.front import FrontError

    try:
        serving = ShardServing(config, resume)
    except (ClusterError, FrontError) as err:
        print(f"twin serve: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: serving.stop.set())
    endpoints = serving.front.endpoints
    print(
        f"twin serve: {config.cluster.shards} shards at {config.sim.tick_hz:g} Hz behind one front"
        f"\n  PUB    {endpoints['pub']}\n  ROUTER {endpoints['router']}\n"
        + (f"  HEALTH {endpoints['health']}  (vitals, CURVE)\n" if "health" in endpoints else "")
        + (f"  HTTP   {serving.http.url}  (API docs at /docs)\n" if serving.http else "")
        + "  Ctrl-C stops and saves the world",
        flush=True,
    )
    serving.run()
    manifest = shard_checkpoints(config) / "manifest.json"
    print(f"twin serve: stopped; world saved at tick {serving.saved.tick}; resume with "
          f"--resume {manifest}", flush=True)  # fmt: skip
    return 0


def _report_save(saved: ShutdownSave | None, checkpoint: Path) -> int:
    """Say where the world went at shutdown: 0 when it is saved somewhere, 1 when not."""
    if saved is not None and saved.path is not None and not saved.errors:
        print("twin serve: stopped cleanly; world saved to", saved.path, flush=True)
        return 0
    for error in saved.errors if saved is not None else ():
        print(f"twin serve: error: {error}", file=sys.stderr)
    if saved is not None and saved.path is not None:
        print(f"twin serve: WARNING: the world was saved to {saved.path} instead of {checkpoint}; "
              f"resume with --resume {saved.path}", file=sys.stderr)  # fmt: skip
        print("twin serve: stopped; world saved to", saved.path, flush=True)
        return 0
    print(f"twin serve: error: the world could not be saved; its last checkpoint and journal "
          f"are {checkpoint} and {checkpoint}.journal.*", file=sys.stderr)  # fmt: skip
    return 1


def _announce(serving: Serving) -> None:
    world, loop = serving.sim.world, serving.sim.loop
    endpoints = serving.server.endpoints
    if serving.replayed:
        print(f"twin serve: replayed {serving.replayed} journaled command(s)", flush=True)
    print(
        f"twin serve: {world.n} twins at {loop.tick_hz:g} Hz, time scale {loop.time_scale:g}, "
        f"sim time {world.clock.now:%Y-%m-%d %H:%M}\n"
        f"  PUB    {endpoints['pub']}\n"
        f"  ROUTER {endpoints['router']}\n"
        + (f"  HEALTH {endpoints['health']}  (vitals, CURVE)\n" if "health" in endpoints else "")
        + (f"  HTTP   {serving.http.url}  (API docs at /docs)\n" if serving.http else "")
        + "  Ctrl-C stops and saves the world",
        flush=True,
    )


def _bench(args: argparse.Namespace) -> int:
    return run_bench(args.select)


COMMANDS = {
    "simulate": _simulate,
    "serve": _serve,
    "bench": _bench,
    **client_cli.COMMANDS,
    **chat_cli.COMMANDS,
    **history_cli.COMMANDS,
    **credentials.COMMANDS,
    **gltf_export.COMMANDS,
}
ERRORS = (
    ConfigError,
    OutputError,
    PopulationImportError,
    BackendError,
    CheckpointError,
    JournalError,
    ServerError,
    StoreError,
    ValueError,
    OSError,
)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ERRORS as err:
        print(f"twin {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
