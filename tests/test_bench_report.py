"""``twin bench``: one table with ratios to the fastest of each group, and the device."""

import subprocess
import sys
from pathlib import Path

from synthtwin.engine.app.bench_report import format_table


def bench(name: str, group: str, median_s: float, **extra) -> dict:
    return {"name": name, "group": group, "stats": {"median": median_s}, "extra_info": extra}


def test_the_table_shows_each_benchmark_against_the_fastest_of_its_group():
    report = {"benchmarks": [
        bench("peer", "physiology-10k", 0.060),
        bench("kernel", "physiology-10k", 0.0003, twins=10000),
        bench("encode", "wire", 0.001, bytes_per_twin=11.66),
    ]}  # fmt: skip
    lines = format_table(report, "CPU test, 2 cores").splitlines()
    assert lines[0] == "SynthTwin benchmarks on CPU test, 2 cores"
    kernel, peer = (line for line in lines if line.startswith("physiology-10k"))
    assert "kernel" in kernel and kernel.split()[3] == "1.0" and "twins=10000" in kernel
    assert "peer" in peer and peer.split()[3] == "200.0"
    assert any("bytes_per_twin=11.66" in line for line in lines)


def test_twin_bench_runs_the_suite_and_prints_the_table():
    twin = Path(sys.executable).with_name("twin")
    done = subprocess.run(
        [str(twin), "bench", "-k", "test_pose_decode"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SynthTwin benchmarks on CPU" in done.stdout
    assert "test_pose_decode" in done.stdout
