"""Soak: a served world under a full subscriber for minutes, its memory and tick p99 sampled.

    .venv/bin/python bench/soak.py --twins 10000 --minutes 10 [--out soak.json]
    .venv/bin/python bench/soak.py --twins 100000 --minutes 5 --subscribe cell/ --video-viewers 1

Starts ``twin serve`` as a child process on free loopback ports (without HTTP, unless
``--video-viewers`` asks for the gateway), subscribes one client to every topic (the crowd of every
cell, every twin's vitals and pose, events, meta; or only the ``--subscribe`` prefixes) that reads
as fast as it can, starts the video viewers (``tests.webrtc_viewer``, one aiortc peer each, at the
lowest CPU priority, as viewers decode on their own machines), and every ``--every`` seconds
samples the server's resident memory (``/proc/<pid>/status`` VmRSS) and its loop statistics (the
``stats`` op: whole-tick p99 over the loop's rolling window, overruns, measured tick rate). Prints
one line per sample and a summary: the largest tick p99, the memory growth from the first sample
after the warm-up to the last, and the last sample's p50/p99 of each system. ``--max-p99-ms`` and
``--max-growth-pct`` make the exit status 1 when exceeded (the closing-note soak: 33 ms and 5 %);
without them the script only reports.
"""

from __future__ import annotations

import argparse
import contextlib
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

import httpx
import zmq

from synthtwin.net.wire.dealer import RequestClient, RequestTimeout

ROOT = Path(__file__).resolve().parents[1]
"""The repository (``tests.webrtc_viewer`` is run from it)."""
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
    """Resident memory of process ``pid`` and its descendants (a sharded server's Ray processes),
    MiB."""
    total_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total_kb += int(line.split()[1])
    children = Path(f"/proc/{pid}/task").glob("*/children")
    for child in (int(c) for path in children for c in path.read_text().split()):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total_kb += 1024 * _rss_mb(child)
    return total_kb / 1024


def _start_server(
    twins: int, pub: str, router: str, folder: Path, http_port: int | None, shards: int
) -> subprocess.Popen:
    """``twin serve`` on the given endpoints, with the gateway on ``http_port`` (None: none),
    in ``shards`` Ray shards behind a front (0: one process)."""
    twin = Path(sys.executable).with_name("twin")
    command = [str(twin), "serve", "--twins", str(twins), "--pub", pub, "--router", router,
               "--checkpoint", str(folder / "world.ckpt")]  # fmt: skip
    command += ["--no-http"] if http_port is None else ["--http-port", str(http_port)]
    command += ["--shards", str(shards)] if shards else []
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
    """Subscribes to ``prefixes`` (every topic: ``[b""]``) and reads as fast as it can; counts
    what it read."""

    def __init__(self, context: zmq.Context, endpoint: str, prefixes: list[bytes]) -> None:
        super().__init__(name="full-subscriber", daemon=True)
        self.socket = context.socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        for prefix in prefixes:
            self.socket.setsockopt(zmq.SUBSCRIBE, prefix)
        self.socket.connect(endpoint)
        self.received = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            if self.socket.poll(100):
                self.socket.recv_multipart()
                self.received += 1
        self.socket.close()


def _start_viewers(http_port: int, count: int, seconds: float) -> list[subprocess.Popen]:
    """``count`` video viewers of the gateway on ``http_port`` for ``seconds``, each watching a
    twin of its own, at the lowest CPU priority."""
    url = f"http://127.0.0.1:{http_port}"
    twins = httpx.get(f"{url}/api/twins?limit={count}", timeout=30).json()["items"]
    viewers = []
    for item in twins:
        command = [sys.executable, "-m", "tests.webrtc_viewer", url, str(seconds), str(item["id"])]
        viewers.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT))
        os.setpriority(os.PRIO_PROCESS, viewers[-1].pid, 19)
    return viewers


def soak(
    twins: int, minutes: float, every_s: float, warmup_s: float, prefixes: list[bytes],
    video_viewers: int = 0, shards: int = 0,
) -> tuple[list[Sample], dict, list[float]]:  # fmt: skip
    """Serve ``twins`` for ``minutes`` under a subscriber of ``prefixes`` (and ``video_viewers``
    viewers of the gateway's video); a sample every ``every_s``. Returns the samples, the last
    ``stats`` reply and the frames per second each viewer received."""
    pub, router = (f"tcp://127.0.0.1:{_free_port()}" for _ in range(2))
    http_port = _free_port() if video_viewers else None
    with tempfile.TemporaryDirectory(prefix="soak-") as folder:
        server = _start_server(twins, pub, router, Path(folder), http_port, shards)
        context = zmq.Context()
        subscriber = FullSubscriber(context, pub, prefixes)
        subscriber.start()
        client = RequestClient(router, timeout_s=10.0, context=context)
        samples: list[Sample] = []
        viewers: list[subprocess.Popen] = []
        stats: dict = {}
        fps: list[float] = []
        started = time.monotonic()
        try:
            if http_port is not None:
                watch_s = max(5.0, warmup_s + minutes * 60 - 5)  # done before the last sample
                viewers = _start_viewers(http_port, video_viewers, watch_s)
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
            fps = [json.loads(v.communicate(timeout=60)[0])["fps"] for v in viewers]
        finally:
            for viewer in viewers:
                viewer.kill()
            subscriber.stop.set()
            subscriber.join(5)
            client.close()
            context.term()
            server.terminate()
            server.wait(60)
    return samples, stats, fps


def summary(samples: list[Sample], stats: dict, fps: list[float]) -> dict:
    """The largest tick p99 (ms), memory growth first -> last sample (%), the subscriber's
    message rate (1/s), each system's p50/p99 (ms) in the last ``stats``, and each video
    viewer's frames per second."""
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
        "viewer_fps": [round(f, 1) for f in fps],
        "systems_p50_p99_ms": {
            name: [round(t["p50_ms"], 2), round(t["p99_ms"], 2)]
            for name, t in stats.get("systems", {}).items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--twins", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds before the first")
    parser.add_argument("--out", type=Path, default=None, help="write samples and summary here")
    parser.add_argument(
        "--subscribe", action="append", default=None, metavar="PREFIX",
        help="a topic prefix to subscribe to (repeatable; default: every topic), e.g. cell/",
    )  # fmt: skip
    parser.add_argument(
        "--video-viewers", type=int, default=0, metavar="K",
        help="serve HTTP too, with K WebRTC video viewers of the gateway (default: no HTTP)",
    )  # fmt: skip
    parser.add_argument(
        "--shards", type=int, default=0, metavar="N",
        help="serve in N Ray shards behind the front (twin serve --shards N; default: one "
        "process); the tick timings are then the worst shard's",
    )  # fmt: skip
    parser.add_argument("--max-p99-ms", type=float, default=None)
    parser.add_argument("--max-growth-pct", type=float, default=None)
    args = parser.parse_args(argv)
    # a SIGTERM unwinds like Ctrl-C, so the `finally` stops the server it started
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        prefixes = [prefix.encode() for prefix in args.subscribe or [""]]
        samples, stats, fps = soak(
            args.twins, args.minutes, args.every, args.warmup, prefixes, args.video_viewers,
            args.shards,
        )  # fmt: skip
    except (RuntimeError, RequestTimeout) as error:
        print(f"soak: error: {error}", file=sys.stderr)
        return 2
    result = summary(samples, stats, fps)
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
