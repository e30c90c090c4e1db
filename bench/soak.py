"""Soak: a served world under a full subscriber for minutes, its memory and tick p99 sampled.

    .venv/bin/python bench/soak.py --twins 10000 --minutes 10 [--out soak.json]

Starts ``twin serve`` (no HTTP) as a child process on free loopback ports, subscribes one client
to every topic (the crowd of every cell, every twin's vitals and pose, events, meta) that reads as
fast as it can, and every ``--every`` seconds samples the server's resident memory
(``/proc/<pid>/status`` VmRSS) and its loop statistics (the ``stats`` op: whole-tick p99 over
the loop's rolling window, overruns, measured tick rate). Prints one line per sample and a
summary: the largest tick p99, and the memory growth from the first sample after the warm-up to
the last. ``--max-p99-ms`` and ``--max-growth-pct`` make the exit status 1 when exceeded (the
closing-note soak: 33 ms and 5 %); without them the script only reports.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import zmq

from synthtwin.net.wire.dealer import RequestClient, RequestTimeout

STARTUP_S = 180.0
"""How long the server may take to announce itself (population, compile), wall seconds."""


@dataclass(frozen=True)
class Sample:
    """One reading of the server.

    Attributes:
        wall_s: seconds since the soak started.
        rss_mb: resident memory of the server process, MiB.
        tick_p99_ms: whole-tick p99 over the loop's rolling window, ms.
        measured_hz: ticks per wall second.
        overruns: ticks that overran their budget so far.
        received: messages the subscriber has read so far.
    """

    wall_s: float
    rss_mb: float
    tick_p99_ms: float
    measured_hz: float
    overruns: int
    received: int


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _start_server(twins: int, pub: str, router: str, folder: Path) -> subprocess.Popen:
    twin = Path(sys.executable).with_name("twin")
    command = [str(twin), "serve", "--twins", str(twins), "--no-http", "--pub", pub,
               "--router", router, "--checkpoint", str(folder / "world.ckpt")]  # fmt: skip
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=folder
    )
    deadline = time.monotonic() + STARTUP_S
    for line in server.stdout:
        if "Ctrl-C stops" in line:
            threading.Thread(target=server.stdout.read, daemon=True).start()
            return server
        if time.monotonic() > deadline:
            break
    server.kill()
    raise RuntimeError(f"twin serve did not start: {' '.join(command)}")


class FullSubscriber(threading.Thread):
    """Subscribes to every topic and reads as fast as it can; counts what it read."""

    def __init__(self, context: zmq.Context, endpoint: str) -> None:
        super().__init__(name="full-subscriber", daemon=True)
        self.socket = context.socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.SUBSCRIBE, b"")
        self.socket.connect(endpoint)
        self.received = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            if self.socket.poll(100):
                self.socket.recv_multipart()
                self.received += 1
        self.socket.close()


def soak(twins: int, minutes: float, every_s: float, warmup_s: float) -> list[Sample]:
    """Serve ``twins`` for ``minutes`` under a full subscriber; a sample every ``every_s``."""
    pub, router = (f"tcp://127.0.0.1:{_free_port()}" for _ in range(2))
    with tempfile.TemporaryDirectory(prefix="soak-") as folder:
        server = _start_server(twins, pub, router, Path(folder))
        context = zmq.Context()
        subscriber = FullSubscriber(context, pub)
        subscriber.start()
        client = RequestClient(router, timeout_s=10.0, context=context)
        samples: list[Sample] = []
        started = time.monotonic()
        try:
            time.sleep(warmup_s)
            while time.monotonic() - started < warmup_s + minutes * 60:
                stats = client.call("stats")
                samples.append(
                    Sample(
                        round(time.monotonic() - started, 1),
                        round(_rss_mb(server.pid), 1),
                        round(stats["systems"]["tick"]["p99_ms"], 2),
                        round(stats["measured_hz"], 2),
                        stats["overruns"],
                        subscriber.received,
                    )
                )
                print(json.dumps(asdict(samples[-1])), flush=True)
                time.sleep(every_s)
        finally:
            subscriber.stop.set()
            subscriber.join(5)
            client.close()
            context.term()
            server.terminate()
            server.wait(60)
    return samples


def summary(samples: list[Sample]) -> dict[str, float]:
    """The largest tick p99 (ms), memory growth first -> last sample (%), and the subscriber's
    message rate (1/s)."""
    first, last = samples[0], samples[-1]
    span_s = max(last.wall_s - first.wall_s, 1e-9)
    return {
        "samples": len(samples),
        "max_tick_p99_ms": max(s.tick_p99_ms for s in samples),
        "rss_first_mb": first.rss_mb,
        "rss_last_mb": last.rss_mb,
        "rss_growth_pct": round(100 * (last.rss_mb - first.rss_mb) / first.rss_mb, 2),
        "overruns": last.overruns - first.overruns,
        "subscriber_msgs_per_s": round((last.received - first.received) / span_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--twins", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds before the first")
    parser.add_argument("--out", type=Path, default=None, help="write samples and summary here")
    parser.add_argument("--max-p99-ms", type=float, default=None)
    parser.add_argument("--max-growth-pct", type=float, default=None)
    args = parser.parse_args(argv)
    # a SIGTERM unwinds like Ctrl-C, so the `finally` stops the server it started
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        samples = soak(args.twins, args.minutes, args.every, args.warmup)
    except (RuntimeError, RequestTimeout) as error:
        print(f"soak: error: {error}", file=sys.stderr)
        return 2
    result = summary(samples)
    print(json.dumps({"twins": args.twins, "minutes": args.minutes, "cpus": os.cpu_count(),
                      **result}), flush=True)  # fmt: skip
    if args.out is not None:
        args.out.write_text(
            json.dumps({"summary": result, "samples": [asdict(s) for s in samples]}, indent=1)
        )
    too_slow = args.max_p99_ms is not None and result["max_tick_p99_ms"] > args.max_p99_ms
    grew = args.max_growth_pct is not None and result["rss_growth_pct"] > args.max_growth_pct
    return 1 if too_slow or grew else 0


if __name__ == "__main__":
    sys.exit(main())
