"""The distribution as a user installs it: a wheel holding one import package, ``synthtwin``,
installed (not editable) into a fresh virtual environment, runs ``twin simulate``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_SOURCE = (
    ".git",
    ".venv",
    "data",
    "build",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    "artifacts",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built without network or build isolation from a copy of this checkout
    (setuptools leaves build/ behind, whose stale files a later build would pack)."""
    source = tmp_path_factory.mktemp("source") / "synthtwin"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
         "--quiet", "--wheel-dir", str(out)],
        check=True, timeout=240,
    )  # fmt: skip
    (found,) = out.glob("synthtwin-*.whl")
    return found


def test_the_wheel_installs_one_import_package(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"synthtwin"}
    assert "synthtwin/engine/app/cli.py" in names
    assert "synthtwin/clients/web/index.html" in names, "the browser page ships in the wheel"
    assert not any(name.startswith(("synthtwin/tests/", "synthtwin/bench/")) for name in names)


@pytest.mark.timeout(900)
def test_twin_simulate_runs_from_the_installed_wheel(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            text=True,
        ).strip()
    )
    # The dependencies (numba, torch, ...) come from this environment's site-packages, read as
    # a plain path: its .pth files, the editable install of this checkout among them, are not run.
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--quiet", str(wheel)],
        check=True, timeout=120,
    )  # fmt: skip
    where = subprocess.check_output(
        [str(python), "-c", "import synthtwin.engine; print(synthtwin.engine.__file__)"],
        cwd=tmp_path, text=True,
    )  # fmt: skip
    assert Path(where.strip()).is_relative_to(site), "synthtwin comes from the wheel"
    out = tmp_path / "out"
    done = subprocess.run(
        [str(env_dir / "bin" / "twin"), "simulate", "--twins", "50", "--days", "1",
         "--out", str(out), "--start", "2026-03-02", "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "SYNTHTWIN_DATA": str(tmp_path / "data")},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    daily = pq.read_table(out / "daily.parquet")
    assert daily.num_rows == 50
