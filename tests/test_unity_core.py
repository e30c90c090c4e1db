"""The Unity package's C# core (``clients/unity/Runtime/Core``), compiled with Mono's ``mcs``
without UnityEngine and tested with NUnit (``nunit-console``, Debian's NUnit 2.6): every golden
vector, handedness and joint mapping, the Clone state, the request client; decode throughput of
crowd messages made by the Python encoder; and, over the gateway's WebSocket of a live
``Serving`` on loopback, late join against a snapshot, twin topics, requests and a reconnect after
a server restart. Skipped only where ``mcs`` is absent (``bash .ci/setup --test`` installs it);
every step is bounded in time and a failure shows NUnit's output."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from synthtwin.components.pose import CLIPS
from synthtwin.engine.app.gltf_export import body_glb
from synthtwin.engine.synth.body_model import GENDERS, synth_body
from synthtwin.engine.synth.motion import synth_library
from synthtwin.kernels.smpl import JOINT_NAMES, PARENTS
from synthtwin.net.wire import pose
from synthtwin.net.wire.crowd import CrowdEncoder
from tests.test_http_api import running, serve_config

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "clients" / "unity"
GOLDEN = ROOT / "tests" / "golden" / "wire"
NUNIT_GLOB = "/usr/lib/cli/nunit.framework-2.6*/nunit.framework.dll"
"""Where Debian's libnunit-framework2.6.3-cil puts the framework (``dpkg -L``)."""
COMPILE_S = 120
RUN_S = 300
BENCH_TWINS = 1000
POSE_TWINS = 64
RESTART_WAIT_S = 180
"""Longest wait for the C# client's live tests, up to its join of the restart test, before the
server is restarted, wall s."""

pytestmark = pytest.mark.skipif(
    shutil.which("mcs") is None, reason="needs Mono's mcs (bash .ci/setup --test installs mono-mcs)"
)


def _run(command: list[str], timeout_s: float, env: dict | None = None) -> str:
    """Run ``command``; its output, or a test failure that shows it."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{command[0]} ran past {timeout_s} s:\n{exc.stdout or ''}{exc.stderr or ''}")
    output = done.stdout + done.stderr
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command[:2])} failed ({done.returncode}):\n{output[-12000:]}")
    return output


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory) -> Path:
    """The folder of ``SynthTwin.Core.dll`` (the core alone: no UnityEngine reference exists
    here, so it compiling proves the core needs none) and ``SynthTwin.Core.Tests.dll``."""
    nunit = glob.glob(NUNIT_GLOB)
    assert nunit, f"mcs is here but not NUnit ({NUNIT_GLOB}): run bash .ci/setup --test"
    assert shutil.which("nunit-console"), "mcs is here but not nunit-console: bash .ci/setup --test"
    out = tmp_path_factory.mktemp("unity")
    shutil.copy(nunit[0], out)
    core = ["-recurse:" + str(PACKAGE / "Runtime" / "Core" / "*.cs")]
    tests = ["-recurse:" + str(PACKAGE / "Tests" / "Core" / "*.cs")]
    common = ["mcs", "-target:library", "-warnaserror", "-r:System.Numerics.dll"]
    _run([*common, f"-out:{out / 'SynthTwin.Core.dll'}", *core], COMPILE_S)
    references = ["-r:System.Json.dll", f"-r:{out / 'nunit.framework.dll'}"]
    references.append(f"-r:{out / 'SynthTwin.Core.dll'}")
    _run([*common, *references, f"-out:{out / 'SynthTwin.Core.Tests.dll'}", *tests], COMPILE_S)
    return out


def _fixtures(folder: Path) -> None:
    """What the NUnit tests compare with, written into ``folder``: SMPL's joint names and
    parents and the clip names as the server has them (``server.json``); by the Python encoder
    (the reference), a keyframe of ``BENCH_TWINS`` walking twins, a delta in which half of them
    moved, and a pose message of ``POSE_TWINS`` twins."""
    server = {"joint_names": list(JOINT_NAMES), "parents": PARENTS.tolist(), "clips": list(CLIPS)}
    (folder / "server.json").write_text(json.dumps(server))
    rng = np.random.default_rng(7)
    n = BENCH_TWINS
    ids = np.arange(n, dtype=np.uint32) * 3
    pos = 1000.0 + rng.uniform(-900, 900, (n, 2))
    heading = rng.uniform(0, 2 * np.pi, n)
    speed, activity = np.full(n, 1.4), np.full(n, 14, np.uint8)
    clip, phase, blend = np.ones(n, np.uint8), rng.uniform(0, 1, n), np.ones(n)
    encoder = CrowdEncoder((0, 0))
    key = encoder.encode(1, 1, 0.0, ids, pos, heading, speed, activity, clip, phase, blend)
    pos[::2] += 0.5
    delta = encoder.encode(2, 2, 0.1, ids, pos, heading, speed, activity, clip, phase, blend)
    (folder / "keyframe.bin").write_bytes(key)
    (folder / "delta.bin").write_bytes(delta)
    quat = rng.normal(size=(POSE_TWINS, len(JOINT_NAMES), 4))
    root = rng.uniform(-1000, 1000, (POSE_TWINS, 3))
    twins = np.arange(POSE_TWINS, dtype=np.uint32)
    (folder / "pose.bin").write_bytes(pose.encode(pose.PoseMessage(1, 3, 0.1, twins, quat, root)))
    (folder / "body.json").write_text(json.dumps(_body_fixture()))


BODY_BETA0 = 1.5
"""Stature of the twin of ``body.json``: 1.5 SD above its model's mean."""


def _body_fixture() -> dict:
    """A female twin walking (frame 7 of ``walk``) as the server poses her: the pose's
    quaternions and root height, the exported body's joint rest offsets (its glTF nodes), her
    joints by ``BodyModel.forward`` (SMPL's frame, m) at the template shape (``joints``) and
    ``BODY_BETA0`` SD taller (``tall_joints``, betas ``tall_betas``); and each model's stature
    ratio at ``BODY_BETA0`` measured on its mesh."""
    library = synth_library()
    code = CLIPS.index("walk")
    walk = library.clips[code]
    model, frame = synth_body("female", 1), 7
    betas = np.zeros((2, 10))
    betas[1, 0] = BODY_BETA0
    height_m = float(walk.trans[frame, 1])
    aa = np.tile(walk.poses[frame].astype(np.float64), (2, 1, 1))  # (2, J, 3)
    root = np.array([[0.0, height_m, 0.0]] * 2)
    joints = model.forward(betas, aa[:, 1:].reshape(2, -1), aa[:, 0], root).joints
    offsets = [body_glb(model, library).nodes[j].translation for j in range(len(JOINT_NAMES))]
    ratios = []
    for model_code, gender in enumerate(GENDERS):
        both = np.zeros((2, 10))
        both[1, 0] = BODY_BETA0
        body = synth_body(gender, 1).forward(
            both, np.zeros((2, 69)), np.zeros((2, 3)), np.zeros((2, 3))
        )
        heights = np.ptp(body.vertices[:, :, 1], axis=1)
        ratios.append([model_code, BODY_BETA0, float(heights[1] / heights[0])])
    return {
        "model": 0,
        "tall_betas": betas[1].tolist(),
        "quat": library.quats[code][frame].tolist(),
        "root_m": [0.0, 0.0, height_m],
        "rest_offsets": offsets,
        "joints": joints[0].tolist(),
        "tall_joints": joints[1].tolist(),
        "stature_ratios": ratios,
    }


def _nunit_command(assemblies: Path, *options: str) -> list[str]:
    command = ["nunit-console", "-nologo", "-noshadow", "-labels", *options]
    return [*command, str(assemblies / "SynthTwin.Core.Tests.dll")]


def _nunit(assemblies: Path, env: dict[str, str], *options: str) -> str:
    return _run(_nunit_command(assemblies, *options), RUN_S, env={**os.environ, **env})


def _ws_url(serving) -> str:
    return serving.http.url.replace("http://", "ws://") + "/ws"


def test_core_tests_pass_on_every_golden_vector(assemblies, tmp_path):
    """Every NUnit test but the live ones; prints the C# decode throughput (rough: whatever
    else this machine runs meanwhile)."""
    _fixtures(tmp_path)
    env = {"SYNTHTWIN_GOLDEN": str(GOLDEN), "SYNTHTWIN_FIXTURES": str(tmp_path)}
    output = _nunit(assemblies, env, "-exclude=Live", f"-xml={tmp_path / 'result.xml'}")
    assert "Tests run:" in output and "Failures: 0" in output, output[-4000:]
    throughput = [line for line in output.splitlines() if "twins/s" in line]
    assert throughput, output[-4000:]
    print(*throughput, sep="\n")


def test_core_follows_a_live_server_and_joins_it_again_after_a_restart(assemblies, tmp_path):
    """By the C# client on a live server's WebSocket: late join against a snapshot (paused), a
    followed twin's pose and vitals, pipelined requests and their errors; then the server stops
    and a new one starts on the same HTTP port, and the client reconnects by itself and joins
    the new server (whose seq starts again at 1)."""
    signal = tmp_path / "signal"
    signal.mkdir()
    with running(serve_config(tmp_path)) as serving:
        port = serving.http.port
        env = {**os.environ, "SYNTHTWIN_WS": _ws_url(serving), "SYNTHTWIN_SIGNAL": str(signal)}
        command = _nunit_command(assemblies, "-include=Live", f"-xml={tmp_path / 'live.xml'}")
        client = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + RESTART_WAIT_S
        while not (signal / "joined").exists() and client.poll() is None:
            assert time.monotonic() < deadline, "the C# client did not join"
            time.sleep(0.1)
    try:
        with running(serve_config(tmp_path, http_port=port)):
            output, _ = client.communicate(timeout=RUN_S)
    finally:
        if client.poll() is None:
            client.kill()
            client.communicate()
    text = output.decode(errors="replace")
    assert client.returncode == 0 and "Tests run: 3," in text and "Failures: 0" in text, text[
        -4000:
    ]
