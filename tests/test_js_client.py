"""The JavaScript client (``clients/js``) under Node's test runner: every golden vector of
``tests/golden`` (``test/golden.test.js``), the msgpack writer (``test/msgpack.test.js``) and
``WsClone`` on a stand-in socket (``test/client.test.js``), then against a live ``Serving`` on
loopback over the gateway's WebSocket (``test/live.test.js``: late join, requests, a twin's
topics, a reconnect after the gateway restarts). Node runs the client's own tests; this file
starts the server, kills its gateway for the reconnect and bounds each run in time. Skipped only
where ``node`` is absent (``bash .ci/setup --test`` installs it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthtwin.engine.app.serve import Serving
from tests.test_http_api import running, serve_config

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "clients" / "js"
NODE_S = 120
"""Longest run of one ``node --test``, wall seconds."""

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None, reason="needs Node.js (bash .ci/setup --test installs it)"
)


def node_test(*paths: str, env: dict[str, str] | None = None) -> str:
    """Run ``node --test paths`` in the package; its output, or a failure that shows it."""
    path = " ".join(paths)
    command = ["node", "--test", *paths]
    try:
        done = subprocess.run(
            command, cwd=PACKAGE, capture_output=True, text=True, timeout=NODE_S,
            env={**os.environ, **(env or {})}, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"node --test {path} ran past {NODE_S} s:\n{exc.stdout or ''}")
    output = done.stdout + done.stderr
    if done.returncode != 0:
        pytest.fail(f"node --test {path} failed ({done.returncode}):\n{output[-12000:]}")
    return output


@pytest.fixture(scope="module")
def serving(tmp_path_factory) -> Iterator[Serving]:
    with running(serve_config(tmp_path_factory.mktemp("js"))) as server:
        yield server


def ws_url(serving: Serving) -> str:
    return serving.http.url.replace("http://", "ws://") + "/ws"


def test_every_golden_vector_and_the_msgpack_writer():
    output = node_test(
        "test/golden.test.js", "test/msgpack.test.js", "test/client.test.js", "test/shape.test.js"
    )
    assert "# fail 0" in output and "# skipped 0" in output


def test_against_a_live_server(serving):
    output = node_test("test/live.test.js", env={"SYNTHTWIN_WS_URL": ws_url(serving)})
    assert "# pass 3" in output and "# fail 0" in output, output[-3000:]


def test_reconnects_after_the_gateway_restarts(serving, tmp_path):
    """The JS ``LiveClone`` joins, the gateway process is killed (``twin serve`` starts it
    again), and the client joins again by itself and holds every twin of the roster."""
    joined = tmp_path / "joined"
    env = {**os.environ, "SYNTHTWIN_WS_URL": ws_url(serving), "SYNTHTWIN_JOINED_FILE": str(joined)}
    command = ["node", "--test", "--test-name-pattern", "reconnect", "test/live.test.js"]
    node = subprocess.Popen(command, cwd=PACKAGE, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + NODE_S / 2
        while not joined.exists() and node.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert joined.exists(), node.communicate(timeout=NODE_S)[0][-4000:]
        serving.http.process.kill()
        output, _ = node.communicate(timeout=NODE_S)
    finally:
        if node.poll() is None:
            node.kill()
    assert node.returncode == 0, output[-6000:]
    assert "# pass 1" in output
