"""The soak script (bench/soak.py) runs a served world under a full subscriber for one minute, as
CI does each run: the server keeps ticking, the subscriber keeps receiving, memory stays flat.
Timings are reported, not asserted (they belong to the closing note's 10-minute soak)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.timeout(400)
def test_a_one_minute_soak_keeps_serving_with_flat_memory(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    soak = __import__("soak")
    out = tmp_path / "soak.json"
    argv = ["--twins", "1000", "--minutes", "1", "--every", "10", "--warmup", "15"]
    assert soak.main([*argv, "--out", str(out), "--max-growth-pct", "5"]) == 0
    report = json.loads(out.read_text())
    samples = report["samples"]
    assert len(samples) >= 5
    assert all(s["measured_hz"] > 0 for s in samples), "the world kept ticking"
    received = [s["received"] for s in samples]
    assert received == sorted(received) and received[-1] > received[0], "messages kept coming"
    print(json.dumps(report["summary"]), file=sys.stderr)
