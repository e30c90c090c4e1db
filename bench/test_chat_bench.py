"""Chat latency at 10,000 twins: one read of the twin (``read_twin``, the simulation thread's
share) plus its facts and one embedded reply (``TwinSnapshot.from_dict`` and
``ChatEngine.reply``, the worker's share), per question, on a world six simulated hours into a
Monday.

Target: p95 <= 50 ms on 2 cores. The test times ``SAMPLES`` questions from
``tests/chat/questions.jsonl`` to rotating twins (every third one a follow-up in the previous
conversation) and asserts the p95; pytest-benchmark then times the same call. ``extra_info`` holds
the read's (``snapshot``) and the reply's p50/p95 apart. With benchmarks disabled (the test suite)
it runs a small world for a few questions and asserts nothing of time: timings never gate tests.

Run: ``pytest bench/test_chat_bench.py --benchmark-enable``.
"""

from __future__ import annotations

import itertools
import json
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.config import load_config
from synthtwin.net.chat import ChatEngine, TwinSnapshot, read_twin

TWINS = 10_000
SAMPLES = 1_000
SMOKE = {"twins": 300, "samples": 30, "warm_ticks": 30}
"""The suite's run, benchmarks disabled."""
P95_LIMIT_S = 0.050
WARM_TICKS = 6 * 60
"""Ticks of 60 simulated seconds before timing: from 07:30 to 13:30."""

QUESTIONS = [
    json.loads(line)["q"]
    for line in (Path(__file__).parents[1] / "tests/chat/questions.jsonl").read_text().splitlines()
]


def _percentiles_ms(times_s: list[float]) -> dict[str, float]:
    p50, p95, p99 = np.percentile(np.array(times_s) * 1e3, [50, 95, 99])
    return {"p50_ms": round(float(p50), 3), "p95_ms": round(float(p95), 3),
            "p99_ms": round(float(p99), 3)}  # fmt: skip


def test_chat_snapshot_and_reply_at_10k_twins(benchmark):
    benchmark.group = "chat-10k"
    size = {"twins": TWINS, "samples": SAMPLES, "warm_ticks": WARM_TICKS}
    size = SMOKE if benchmark.disabled else size
    config = load_config(None, twins=size["twins"], seed=1, tick_hz=1.0, time_scale=60.0,
                         start=datetime(2026, 3, 2, 7, 30))  # fmt: skip
    sim = build_simulation(config)
    try:
        sim.loop.run_ticks(size["warm_ticks"])
        engine = ChatEngine()
        ids = sim.world.ids.copy()
        turns = itertools.count()
        last = {"conversation": None}

        def ask() -> tuple[float, float]:
            i = next(turns)
            twin_id = int(ids[(i // 3 * 7919) % ids.size])
            start = time.perf_counter()
            twin = read_twin(sim.world, twin_id, sim.today)
            taken = time.perf_counter()
            conversation = last["conversation"] if i % 3 else None
            snap = TwinSnapshot.from_dict(twin)
            answer = engine.reply(snap, QUESTIONS[i % len(QUESTIONS)], conversation)
            last["conversation"] = answer.conversation_id
            return taken - start, time.perf_counter() - taken

        timed = [ask() for _ in range(size["samples"])]
        snapshot_s, reply_s = zip(*timed, strict=True)
        total = _percentiles_ms([a + b for a, b in timed])
        benchmark.extra_info.update(
            {
                "total": total,
                "snapshot": _percentiles_ms(list(snapshot_s)),
                "reply": _percentiles_ms(list(reply_s)),
            }
        )
        print(f"\nchat at {size['twins']} twins: {benchmark.extra_info}")
        if not benchmark.disabled:
            assert total["p95_ms"] <= P95_LIMIT_S * 1e3
        benchmark(ask)
    finally:
        sim.close()
