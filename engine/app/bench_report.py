"""``twin bench``: runs the benchmark suite (``bench/``) and prints one table of the results.

Each row is one benchmark with its median time and its ratio to the fastest of its group (a group
holds a kernel and the peer it must beat, measured side by side in one process), plus the numbers
the benchmark recorded (bytes per twin, p99 latency...). The header names the device it ran on.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["device_description", "format_table", "run_bench"]

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


def device_description() -> str:
    """The CPU (model, cores) and, when one is visible, the CUDA GPU."""
    cpu = platform.processor() or platform.machine()
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        cpu = model
    except (OSError, StopIteration):
        pass
    text = f"CPU {cpu}, {os.cpu_count()} cores"
    try:
        import warp as wp

        wp.init()
        if wp.is_cuda_available():
            text += f"; GPU {wp.get_cuda_device().name}"
    except Exception:  # noqa: BLE001 - a missing or broken GPU stack means CPU only
        pass
    return text


def run_bench(select: str | None = None) -> int:
    """Run ``bench/`` with benchmarks enabled and print the table; returns pytest's status."""
    if not BENCH_DIR.is_dir():
        print(f"twin bench: error: no benchmark folder at {BENCH_DIR} (run from a checkout)")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "bench.json"
        command = [sys.executable, "-m", "pytest", str(BENCH_DIR), "--benchmark-enable",
                   f"--benchmark-json={report}", "-q", "-p", "no:cacheprovider",
                   "-p", "no:xdist"]  # fmt: skip
        if select:
            command += ["-k", select]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
        status = subprocess.call(command, cwd=BENCH_DIR.parent, env=env)
        if report.is_file():
            print(format_table(json.loads(report.read_text()), device_description()))
    return status


def format_table(report: dict, device: str) -> str:
    """The pytest-benchmark JSON ``report`` as one plain-text table."""
    rows = [f"SynthTwin benchmarks on {device}", ""]
    rows.append(f"{'group':<28} {'benchmark':<48} {'median ms':>11} {'x fastest':>10}  notes")
    groups: dict[str, list[dict]] = {}
    for bench in report.get("benchmarks", []):
        groups.setdefault(bench.get("group") or "", []).append(bench)
    for group, benches in sorted(groups.items()):
        fastest = min(b["stats"]["median"] for b in benches)
        for bench in sorted(benches, key=lambda b: b["stats"]["median"]):
            median = bench["stats"]["median"]
            notes = ", ".join(f"{k}={_short(v)}" for k, v in bench.get("extra_info", {}).items())
            rows.append(
                f"{group:<28} {bench['name']:<48} {median * 1e3:>11.3f} "
                f"{median / fastest:>10.1f}  {notes}"
            )
    return "\n".join(rows)


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
