"""``twin serve``: endpoints, clean shutdown with a checkpoint, resume, and stalled subscribers.

Real ZeroMQ sockets on 127.0.0.1, real processes; every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import msgpack
import pytest
import zmq

from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from synthtwin.net.wire import reply, request
from tests.loopback import loopback
from tests.test_http_api import running, serve_config

TWIN = str(Path(sys.executable).with_name("twin"))


def endpoints() -> tuple[str, str]:
    return loopback(), loopback()


def ask(router: str, op: str, timeout_s: float = 5.0, **args) -> reply.Reply:
    """One request over a REQ socket; fails the test if no reply comes in time."""
    with zmq.Context() as ctx, ctx.socket(zmq.REQ) as sock:
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(router)
        sock.send(request.encode(request.Request(1, op, args)))
        assert sock.poll(int(timeout_s * 1000)), f"no reply to {op} from {router}"
        return reply.decode(sock.recv())


def start_cli(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, str, str]:
    pub, router = endpoints()
    proc = subprocess.Popen(
        [TWIN, "serve", "--twins", "60", "--pub", pub, "--router", router, "--http-port", "0",
         "--checkpoint", str(tmp_path / "w.ckpt"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "ROUTER" in line or not line:
            break
    assert any("ROUTER" in line for line in lines), "".join(lines) + proc.stderr.read()
    return proc, pub, router


def stop_cli(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out


def test_serve_answers_requests_and_stops_cleanly_on_sigint(tmp_path):
    proc, pub, router = start_cli(tmp_path)
    try:
        stats = ask(router, "stats")
        assert stats.ok and stats.result["twins"] == 60
        assert stats.result["tick_hz"] == 30
    finally:
        out = stop_cli(proc)
    assert "stopped cleanly" in out
    assert (tmp_path / "w.ckpt").is_file()
    for endpoint in (pub, router):
        with zmq.Context() as ctx, ctx.socket(zmq.REP) as sock:
            sock.setsockopt(zmq.LINGER, 0)
            sock.bind(endpoint)


def test_a_resumed_server_continues_from_the_checkpoint(tmp_path):
    proc, _, router = start_cli(tmp_path)
    try:
        time.sleep(1.0)
        assert ask(router, "despawn", ids=[1, 2]).ok
    finally:
        stop_cli(proc)
    saved = tmp_path / "saved.ckpt"
    (tmp_path / "w.ckpt").rename(saved)
    proc, _, router = start_cli(tmp_path, "--resume", str(saved))
    try:
        stats = ask(router, "stats").result
        assert stats["twins"] == 58 and stats["tick"] >= 20
        gone = ask(router, "twin", id=1)
        assert not gone.ok and gone.error.code == "unknown_twin"
    finally:
        stop_cli(proc)


def test_an_endpoint_in_use_exits_with_status_2(tmp_path):
    pub, router = endpoints()
    with zmq.Context() as ctx, ctx.socket(zmq.PUB) as squatter:
        squatter.setsockopt(zmq.LINGER, 0)
        squatter.bind(pub)
        done = subprocess.run(
            [TWIN, "serve", "--twins", "10", "--pub", pub, "--router", router, "--no-http"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 2
    assert f"cannot bind {pub}" in done.stderr


@pytest.fixture
def serving(tmp_path):
    pub, router = endpoints()
    config = load_config(
        None,
        serve={"pub_endpoint": pub, "router_endpoint": router, "hwm": 20,
               "checkpoint": tmp_path / "w.ckpt", "http_enabled": False},
        twins=300, tick_hz=30, time_scale=60,
    )  # fmt: skip
    serving = Serving(config)
    thread = threading.Thread(target=serving.run, daemon=True)
    thread.start()
    yield serving
    serving.stop.set()
    thread.join(timeout=20)
    assert not thread.is_alive()


def test_subscribers_that_never_read_do_not_stall_the_tick(serving):
    pub = serving.config.serve.pub_endpoint
    ctx = zmq.Context()
    stalled = []
    try:
        for _ in range(20):
            sub = ctx.socket(zmq.SUB)
            sub.setsockopt(zmq.LINGER, 0)
            sub.setsockopt(zmq.RCVHWM, 5)
            sub.setsockopt(zmq.SUBSCRIBE, b"")
            sub.connect(pub)
            stalled.append(sub)
        start_tick, start = serving.sim.world.tick, time.monotonic()
        time.sleep(3.0)
        rate = (serving.sim.world.tick - start_tick) / (time.monotonic() - start)
        assert rate > 25, f"tick rate fell to {rate:.1f} Hz"
        assert serving.server.publisher.sent > 0
    finally:
        for sub in stalled:
            sub.close()
        ctx.term()


def test_malformed_requests_get_error_replies_and_the_server_keeps_ticking(serving):
    router = serving.config.serve.router_endpoint
    with zmq.Context() as ctx, ctx.socket(zmq.DEALER) as sock:
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(router)
        for payload in (b"\xc1", msgpack.packb([1, 2]), msgpack.packb({"v": 1})):
            sock.send_multipart([b"", payload])
            assert sock.poll(5000)
            answer = reply.decode(sock.recv_multipart()[-1])
            assert not answer.ok and answer.error.code == "bad_request"
    tick = serving.sim.world.tick
    time.sleep(0.3)
    assert serving.sim.world.tick > tick


def test_a_watched_twin_gets_its_vitals_pose_and_body(serving):
    from synthtwin.net.wire import decode_any

    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"twin/7/")
    sub.connect(serving.config.serve.pub_endpoint)
    kinds = set()
    deadline = time.monotonic() + 10
    try:
        while kinds != {"vitals", "pose", "shape"} and time.monotonic() < deadline:
            if sub.poll(200):
                topic, payload = sub.recv_multipart()
                message = decode_any(payload)
                assert topic.startswith(b"twin/7/") and list(message.ids) == [7]
                kinds.add(topic.split(b"/")[2].decode())
                if topic.endswith(b"pose"):
                    assert message.quat.shape == (1, 24, 4)
    finally:
        sub.close()
        ctx.term()
    assert kinds == {"vitals", "pose", "shape"}


def test_the_gateway_and_the_simulation_keep_to_their_own_cores(tmp_path):
    before = os.sched_getaffinity(0)
    if len(before) < 2:
        pytest.skip("one core: nothing to share out")
    with running(serve_config(tmp_path)) as server:
        tasks = Path(f"/proc/{server.http.process.pid}/task").iterdir()
        gateway = {frozenset(os.sched_getaffinity(int(task.name))) for task in tasks}
        ours = os.sched_getaffinity(0)  # the simulation's threads
    assert len(gateway) == 1, "every thread of the gateway keeps to one set of cores"
    (gateway,) = gateway
    assert len(gateway) == max(1, len(before) // 4)
    assert not ours & gateway and ours | gateway == before
    assert os.sched_getaffinity(0) == before  # given back when serving stops


def test_a_gateway_that_dies_is_restarted_on_the_same_port(tmp_path):
    with running(serve_config(tmp_path)) as server:
        first = server.http.process
        os.kill(first.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        answer = None
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"{server.http.url}/api/stats", timeout=2.0)
                if server.http.process is not first:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert server.http.process is not first, "the gateway was not restarted"
        assert answer is not None and answer.status_code == 200
        assert first.returncode == -signal.SIGKILL
