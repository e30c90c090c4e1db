"""What misbehaving clients cost the tick (issue #13), side by side with a quiet server.

Each scenario serves 1,000 twins at 30 Hz (from a steady mid-morning, ``START``) and alternates,
on the one running server, quiet windows and windows with the scenario's clients (``ROUNDS`` of
each, ``RUN_S`` long, in the order quiet, loaded, loaded, quiet, ...), reading the realtime tick's
p50 and p99 (ms) over the ticks of each kind of window pooled, and the rate: pairing the windows
on one server keeps the drift of a shared machine out of the comparison. In every window one
subscriber reads everything, so the server publishes the same topics. Every client is a process
of its own (a reader thread in the server's process would take the GIL from the tick). No
periodic checkpoint: one (and the catch-up ticks after it) would fall in a window at random.
The clients:

- ``stalled_200``: 200 SUB sockets in another process, subscribed to everything, never reading
  (target: p99 within 10 % of quiet); ZeroMQ's fan-out to them runs in the server's sender thread
  (``net.sender``), the tick only hands its messages over (``bench/test_sender_bench.py``);
- ``all_twins``: one SUB socket in another process subscribed to every twin by id, never reading,
  with the default ``max_twin_subscriptions`` (64), and ``all_twins_uncapped`` without a cap;
- ``stats_flood``: one DEALER sending about 1,000 ``stats`` requests a second whatever the
  answers (so it ignores ``rate_limited``), with the default per-peer rate and request budget, and
  ``stats_flood_unbounded`` with both lifted (the server as it was).

``stats-answer`` times one ``stats`` request answered by the ``RequestHandler`` of a 1,000-twin
world: encoded once a tick (``net.reply_cache``) against its peer, the summary built and encoded
for each request as before; the flood's allowed requests cost the tick what this costs.

The first ``SETTLE_S`` after the clients come (they connect, subscribe and fill their buffers) is
measured too and reported as ``transient``.

Run: ``.venv/bin/python -m pytest bench/test_serve_security_bench.py --benchmark-enable -s``
(prints a table; numbers also go to ``benchmark.extra_info``; about 9 minutes). With benchmarks
disabled (the test suite) it runs ``SMOKE`` scenarios for a second each: it checks that everything
works.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pytest
import zmq

from synthtwin.engine.app.serve import Serving
from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.config import load_config
from synthtwin.net.publisher import Publisher
from synthtwin.net.requests import Controls, RequestHandler
from synthtwin.net.wire import reply, request
from tests.loopback import loopback

RUN_S = 8.0
"""Wall seconds of each measured window."""
ROUNDS = 4
"""Quiet and loaded windows of each scenario (on one server, in the order quiet, loaded, loaded,
quiet, quiet, ...)."""
START = datetime(2026, 3, 4, 10, 30)
"""A Wednesday mid-morning: the twins at work or school, a steady world to compare in."""
TWINS = 1000
SETTLE_S = 5.0
"""Wall seconds the clients get to connect, subscribe and fill their buffers before a loaded
window (measured too: ``transient``), and the server to calm down after they go."""
SCENARIOS = ("stalled_200", "all_twins", "all_twins_uncapped", "stats_flood",
             "stats_flood_unbounded")  # fmt: skip
SMOKE = ("stalled_200", "stats_flood")
"""Scenarios run when benchmarks are disabled, one short round each."""

_CLIENT = textwrap.dedent(
    """
    import sys, time, zmq
    from synthtwin.net.wire import reply, request
    kind, endpoint, count, prefixes, seconds = sys.argv[1:6]
    ctx = zmq.Context()
    end = time.monotonic() + float(seconds)
    if kind == "flood":  # about 1,000 stats requests a second, whatever the answers
        sock = ctx.socket(zmq.DEALER)
        sock.connect(endpoint)
        payload = request.encode(request.Request(1, "stats"))
        print("ready", flush=True)
        while time.monotonic() < end:
            while sock.poll(0):
                sock.recv()
            sock.send(payload)
            time.sleep(0.001)
        sys.exit()
    socks = []
    for _ in range(int(count)):
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 10 if kind == "stalled" else 1000)
        for prefix in prefixes.split(","):
            sub.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        sub.connect(endpoint)
        socks.append(sub)
    print("ready", flush=True)
    if kind == "stalled":
        time.sleep(float(seconds))
    while time.monotonic() < end:  # a reader: everything, as fast as it comes
        if socks[0].poll(50):
            socks[0].recv_multipart()
    """
)
"""A client process: ``reader`` (SUB sockets reading all they get), ``stalled`` (SUB sockets
that never read) or ``flood`` (a DEALER sending about 1,000 ``stats`` requests a second)."""


def _serving(tmp_path, **security) -> Serving:
    serve = {"pub_endpoint": loopback(), "router_endpoint": loopback(), "http_enabled": False,
             "checkpoint": tmp_path / "w.ckpt", "checkpoint_every_s": 0.0}  # fmt: skip
    config = load_config(None, serve=serve, security=security, twins=TWINS, tick_hz=30, start=START)
    return Serving(config)


def _client(
    kind: str, endpoint: str, seconds: float, count: int = 1, prefixes: tuple[str, ...] = ("",)
) -> subprocess.Popen:
    """A client process of ``_CLIENT``, ready (connected and subscribed) when this returns."""
    argv = [kind, endpoint, str(count), ",".join(prefixes), str(seconds)]
    proc = subprocess.Popen(
        [sys.executable, "-c", _CLIENT, *argv], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _tick_count(serving: Serving) -> int:
    """Ticks timed so far."""
    return serving.sim.loop.timings._counts.get("tick", 0)


def _tick_ms(serving: Serving, first: int) -> np.ndarray:
    """The realtime tick's durations since tick count ``first`` (within the timings' window),
    ms."""
    timings = serving.sim.loop.timings
    ring, count = timings._samples["tick"], timings._counts["tick"]
    index = np.arange(max(first, count - len(ring)), count) % len(ring)
    return ring[index] * 1e3


@dataclass(frozen=True)
class Timing:
    """How long a scenario runs: windows of ``run_s``, ``settle_s`` between, ``rounds`` each."""

    run_s: float = RUN_S
    settle_s: float = SETTLE_S
    rounds: int = ROUNDS


SMOKE_TIMING = Timing(run_s=1.0, settle_s=0.5, rounds=1)


@dataclass(frozen=True)
class Window:
    """The realtime ticks of a window: their durations ``(n,)`` ms and the rate, Hz."""

    ms: np.ndarray
    hz: float


def _window(serving: Serving, seconds: float) -> Window:
    """The ticks of the next ``seconds`` wall seconds."""
    first, tick, start = _tick_count(serving), serving.sim.world.tick, time.monotonic()
    time.sleep(seconds)
    rate = (serving.sim.world.tick - tick) / (time.monotonic() - start)
    return Window(_tick_ms(serving, first), rate)


def _stop(clients: list[subprocess.Popen]) -> None:
    for client in clients:
        client.kill()
        client.wait()


def _pooled(windows: list[Window]) -> dict[str, float]:
    """The tick's p50 and p99 (ms) over the ticks of all ``windows`` together (a p99 of each
    window's few hundred ticks is its 3rd-slowest tick: too noisy to compare), and the median
    rate (Hz)."""
    ms = np.concatenate([w.ms for w in windows])
    return {"tick_p50_ms": float(np.percentile(ms, 50)),
            "tick_p99_ms": float(np.percentile(ms, 99)),
            "tick_hz": float(np.median([w.hz for w in windows]))}  # fmt: skip


def _paired(
    serving: Serving, start_clients: Callable[[], list[subprocess.Popen]], timing: Timing
) -> dict:
    """Quiet and loaded windows in turn on ``serving``; the ticks of each kind pooled."""
    thread = threading.Thread(target=serving.run, daemon=True)
    thread.start()
    quiet, loaded, transient = [], [], []
    hold_s = 10 * timing.rounds * (timing.run_s + timing.settle_s)
    reader = _client("reader", serving.server.endpoints["pub"], hold_s)
    try:
        time.sleep(timing.settle_s)
        for round_ in range(timing.rounds):
            if round_ % 2 == 0:  # quiet first, then loaded first: a drift of the world cancels
                quiet.append(_window(serving, timing.run_s))
            clients = start_clients()
            try:
                transient.append(_window(serving, timing.settle_s))
                loaded.append(_window(serving, timing.run_s))
            finally:
                _stop(clients)
            time.sleep(timing.settle_s)
            if round_ % 2 == 1:
                quiet.append(_window(serving, timing.run_s))
    finally:
        _stop([reader])
        serving.stop.set()
        thread.join(timeout=30)
    return {"quiet": _pooled(quiet), "loaded": _pooled(loaded), "transient": _pooled(transient)}


def scenario(name: str, tmp_path, timing: Timing = Timing()) -> dict:
    """Serve and measure one scenario of the module docstring."""
    uncapped = {"max_twin_subscriptions": 1_000_000}
    unbounded = {"request_budget_ms": 1e6, "router_rate_per_s": 1e6, "router_burst": 1_000_000}
    security = {"all_twins_uncapped": uncapped, "stats_flood_unbounded": unbounded}.get(name, {})
    serving = _serving(tmp_path, **security)
    pub, router = serving.server.endpoints["pub"], serving.server.endpoints["router"]
    twins = tuple(f"twin/{i}/" for i in serving.sim.world.ids.tolist())
    hold_s = 10 * (timing.run_s + 2 * timing.settle_s)
    clients: dict[str, Callable[[], list[subprocess.Popen]]] = {
        "stalled_200": lambda: [_client("stalled", pub, hold_s, count=200)],
        "all_twins": lambda: [_client("stalled", pub, hold_s, prefixes=twins)],
        "all_twins_uncapped": lambda: [_client("stalled", pub, hold_s, prefixes=twins)],
        "stats_flood": lambda: [_client("flood", router, hold_s)],
        "stats_flood_unbounded": lambda: [_client("flood", router, hold_s)],
    }
    return _paired(serving, clients[name], timing)


@pytest.mark.timeout(900)  # five scenarios of about 100 s each
def test_misbehaving_clients_side_by_side(benchmark, tmp_path):
    benchmark.group = "serve-security"
    results: dict[str, dict] = {}

    timing = SMOKE_TIMING if benchmark.disabled else Timing()

    def measure() -> None:
        for name in SMOKE if benchmark.disabled else SCENARIOS:
            results[name] = scenario(name, tmp_path, timing)

    benchmark.pedantic(measure, rounds=1, iterations=1)
    print(f"\n{'scenario':<24}{'quiet p50/p99':>16}{'with p50/p99':>16}{'p99 ratio':>11}"
          f"{'first 5 s p99':>15}{'tick Hz':>9}")  # fmt: skip
    for name, result in results.items():
        quiet, loaded, transient = result["quiet"], result["loaded"], result["transient"]
        ratio = loaded["tick_p99_ms"] / quiet["tick_p99_ms"]
        print(f"{name:<24}{quiet['tick_p50_ms']:>8.2f}/{quiet['tick_p99_ms']:<7.2f}"
              f"{loaded['tick_p50_ms']:>8.2f}/{loaded['tick_p99_ms']:<7.2f}{ratio:>10.2f}x"
              f"{transient['tick_p99_ms']:>15.2f}{loaded['tick_hz']:>9.1f}")  # fmt: skip
        benchmark.extra_info[name] = {
            kind: {k: round(v, 3) for k, v in numbers.items()} for kind, numbers in result.items()
        }
        benchmark.extra_info[f"{name}_p99_ratio"] = round(ratio, 3)


@pytest.fixture(scope="module")
def stats_handler():
    """A ``RequestHandler`` of a 1,000-twin world a second into its run (no rate limit)."""
    context = zmq.Context()
    xpub = context.socket(zmq.XPUB)
    xpub.bind("inproc://stats-answer")
    sim = build_simulation(load_config(None, twins=TWINS, seed=1))
    sim.loop.run_ticks(30)
    controls = Controls(sim.world, sim.loop, sim.spawn, sim.despawn, sim.today)
    yield RequestHandler(controls, Publisher(xpub, 1.0, 30, 1.0, 1.0, 1.0))
    xpub.close(linger=0)
    context.term()
    sim.close()


@pytest.mark.parametrize("once", [True, False], ids=["encoded-once-a-tick", "encoded-each"])
def test_a_stats_answer(benchmark, stats_handler, once):
    benchmark.group = "stats-answer"
    ids = itertools.count()

    def answer() -> bytes:
        payload = request.encode(request.Request(next(ids), "stats"))
        if once:
            return stats_handler.handle(payload)
        asked = request.decode(payload, stats_handler.limits)  # the handler before the cache
        return stats_handler._reply(asked.id, result=stats_handler._stats({}))

    answered = reply.decode(benchmark(answer))
    assert answered.ok and answered.result["twins"] == TWINS
