"""What 50 concurrent conversations cost the tick (issue #12), side by side with a quiet server.

One server of 1,000 twins at 30 Hz alternates quiet windows and windows with 50 conversations
(the windows and their pairing are ``bench/test_serve_security_bench.py``'s: ``ROUNDS`` of each,
``RUN_S`` long, medians of p50 and p99 of the realtime tick). The conversations come from one
client process (a client in the server's process would take the GIL from the tick): 50 DEALER
sockets, each its own conversation with its own twin, each asking its next question from
``tests/chat/questions.jsonl`` (follow-ups included) in the same conversation:

- ``chat_50``: as soon as its previous reply came (the worst case: the chat worker never rests);
- ``chat_50_paced``: every ``PACE_S`` seconds, as a person types.

Target: the tick's p99 within 10 % of quiet. ``answered`` counts the chats answered in all.

Run: ``.venv/bin/python -m pytest bench/test_chat_serve_bench.py --benchmark-enable -s`` (prints
a table; about 2 minutes; a shared machine's numbers are rough). With benchmarks disabled (the
test suite) it runs ``chat_50`` for a second: it checks that everything works.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.test_serve_security_bench import SMOKE_TIMING, Timing, _paired, _serving

CONVERSATIONS = 50
PACE_S = 2.0
"""Seconds between two questions of a paced conversation."""
FULL_TIMING = Timing()
QUESTIONS = Path(__file__).parents[1] / "tests" / "chat" / "questions.jsonl"

_CLIENT = textwrap.dedent(
    """
    import json, sys, time, zmq
    from synthtwin.net.wire import request
    endpoint, ids, pace_s, seconds, questions = sys.argv[1:6]
    asked = [json.loads(line)["q"] for line in open(questions)]
    ctx = zmq.Context()
    talks = []
    for n, twin in enumerate(int(i) for i in ids.split(",")):
        sock = ctx.socket(zmq.DEALER)
        sock.connect(endpoint)
        talks.append({"sock": sock, "twin": twin, "n": n, "cid": f"bench{n}", "due": 0.0})
    poller = zmq.Poller()
    for talk in talks:
        poller.register(talk["sock"], zmq.POLLIN)
    print("ready", flush=True)
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        now = time.monotonic()
        for talk in talks:
            if talk["due"] is not None and now >= talk["due"]:
                args = {"id": talk["twin"], "message": asked[talk["n"] % len(asked)],
                        "conversation_id": talk["cid"]}
                talk["sock"].send(request.encode(request.Request(talk["n"], "chat", args)))
                talk["n"] += CONVERSATIONS
                talk["due"] = None
        for sock, _ in poller.poll(10):
            sock.recv()
            talk = next(t for t in talks if t["sock"] is sock)
            talk["due"] = time.monotonic() + float(pace_s)
    """.replace("CONVERSATIONS", str(CONVERSATIONS))
)
"""The client process: ``CONVERSATIONS`` DEALER sockets, each a conversation with one twin."""


def _conversations(router: str, ids: list[int], pace_s: float, seconds: float) -> subprocess.Popen:
    """The client process, connected when this returns."""
    argv = [router, ",".join(map(str, ids)), str(pace_s), str(seconds), str(QUESTIONS)]
    proc = subprocess.Popen(
        [sys.executable, "-c", _CLIENT, *argv], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


def scenario(name: str, tmp_path, timing: Timing = FULL_TIMING) -> dict:
    """Serve and measure one scenario of the module docstring."""
    serving = _serving(tmp_path)
    router = serving.server.endpoints["router"]
    ids = serving.sim.world.ids[:CONVERSATIONS].tolist()
    pace_s = {"chat_50": 0.0, "chat_50_paced": PACE_S}[name]
    hold_s = 10 * (timing.run_s + 2 * timing.settle_s)
    result = _paired(serving, lambda: [_conversations(router, ids, pace_s, hold_s)], timing)
    return {**result, "answered": serving.server.answered}


@pytest.mark.timeout(600)
def test_fifty_conversations_side_by_side(benchmark, tmp_path):
    benchmark.group = "chat-serve"
    results: dict[str, dict] = {}
    timing = SMOKE_TIMING if benchmark.disabled else FULL_TIMING

    def measure() -> None:
        for name in ("chat_50",) if benchmark.disabled else ("chat_50", "chat_50_paced"):
            results[name] = scenario(name, tmp_path, timing)

    benchmark.pedantic(measure, rounds=1, iterations=1)
    print(f"\n{'scenario':<16}{'quiet p50/p99':>16}{'with p50/p99':>16}{'p99 ratio':>11}"
          f"{'tick Hz':>9}{'answered':>10}")  # fmt: skip
    for name, result in results.items():
        quiet, loaded = result["quiet"], result["loaded"]
        ratio = loaded["tick_p99_ms"] / quiet["tick_p99_ms"]
        print(f"{name:<16}{quiet['tick_p50_ms']:>8.2f}/{quiet['tick_p99_ms']:<7.2f}"
              f"{loaded['tick_p50_ms']:>8.2f}/{loaded['tick_p99_ms']:<7.2f}{ratio:>10.2f}x"
              f"{loaded['tick_hz']:>9.1f}{result['answered']:>10}")  # fmt: skip
        benchmark.extra_info[name] = {
            kind: {k: round(v, 3) for k, v in numbers.items()}
            for kind, numbers in result.items()
            if kind != "answered"
        }
        benchmark.extra_info[f"{name}_p99_ratio"] = round(ratio, 3)
        benchmark.extra_info[f"{name}_answered"] = result["answered"]
        assert result["answered"] > 0, "no chat was answered"
