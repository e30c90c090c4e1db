"""Durability of ``twin serve`` (issue #13): a checkpoint within seconds of the start, failing
checkpoints retried while the world runs on, a fallback path at shutdown, the command journal
replayed after a kill -9, and no binding beyond loopback without protection unless insecure."""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import synthtwin.engine.app.durability as durability
from synthtwin.engine.app.cli import _report_save, main
from synthtwin.engine.app.durability import Durability, ShutdownSave, fallback_paths
from synthtwin.engine.app.serve import Serving
from synthtwin.engine.app.simulation import build_simulation
from synthtwin.engine.checkpoint import CheckpointError, read_checkpoint_info
from synthtwin.engine.config import ConfigError, exposure_problem, load_config
from synthtwin.net.requests import RequestHandler
from synthtwin.net.wire.dealer import RequestClient
from tests.loopback import free_port, loopback

TWIN = str(Path(sys.executable).with_name("twin"))
FIRST_CHECKPOINT_S = 5.0
"""The first checkpoint of a new server exists within this many wall seconds."""


def config_for(tmp_path: Path, **serve):
    settings = {"pub_endpoint": loopback(), "router_endpoint": loopback(),
                "checkpoint": tmp_path / "w.ckpt", "http_enabled": False, **serve}  # fmt: skip
    return load_config(None, serve=settings, twins=40, seed=2, tick_hz=30.0, time_scale=60.0)


@contextlib.contextmanager
def running(config, resume: Path | None = None) -> Iterator[Serving]:
    """A Serving in a background thread; stopped and joined on exit."""
    serving = Serving(config, resume)
    thread = threading.Thread(target=serving.run, name="serve")
    thread.start()
    try:
        yield serving
    finally:
        serving.stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive()


def wait_for(condition, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


# --- checkpoints while serving -------------------------------------------------------------------


def test_the_first_checkpoint_is_written_within_seconds_of_the_start(tmp_path):
    config = config_for(tmp_path)
    assert config.serve.checkpoint_every_s <= 60
    started = time.monotonic()
    with running(config) as serving:
        assert wait_for(lambda: (tmp_path / "w.ckpt").is_file(), FIRST_CHECKPOINT_S)
        assert time.monotonic() - started < FIRST_CHECKPOINT_S
        info = read_checkpoint_info(tmp_path / "w.ckpt")
        assert info.journal == serving.durability.journal.position
        assert info.loop.time_scale == 60.0 and not info.loop.paused
    assert serving.saved == ShutdownSave(tmp_path / "w.ckpt", ())


def test_a_failing_periodic_checkpoint_is_retried_and_the_world_runs_on(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(durability, "RETRY_FIRST_S", 0.1)
    real_save, failures = durability.save_checkpoint, []

    def flaky_save(world, schedule, path, *args):
        if len(failures) < 3:
            failures.append(world.tick)
            raise CheckpointError(f"cannot write checkpoint {path}: No space left on device")
        real_save(world, schedule, path, *args)

    monkeypatch.setattr(durability, "save_checkpoint", flaky_save)
    config = config_for(tmp_path, checkpoint_every_s=0.2)
    with caplog.at_level(logging.ERROR), running(config) as serving:
        assert wait_for(lambda: (tmp_path / "w.ckpt").is_file(), 10)
        tick_at_success = serving.sim.world.tick
        assert wait_for(lambda: serving.sim.world.tick > tick_at_success + 5)
    assert len(failures) == 3 and failures == sorted(failures)
    assert failures[-1] > failures[0], "the world ticked between the failed attempts"
    assert caplog.text.count("checkpoint failed") == 3
    assert "the simulation goes on, retrying in 0.1 s" in caplog.text
    assert "retrying in 0.2 s" in caplog.text and "retrying in 0.4 s" in caplog.text


def test_an_unwritable_checkpoint_at_shutdown_falls_back_and_says_where(tmp_path, caplog):
    folder = tmp_path / "data"
    fallback = tmp_path / "fallback" / "w.ckpt"
    config = config_for(folder, checkpoint_fallback=fallback)
    with caplog.at_level(logging.ERROR), running(config) as serving:
        assert wait_for(lambda: (folder / "w.ckpt").is_file())
        assert wait_for(lambda: serving.sim.world.tick > 10)
        shutil.move(folder, tmp_path / "gone")
        folder.write_text("a file where the folder was: nothing can be written there")
    assert serving.saved.path == fallback and serving.saved.fell_back
    assert "cannot write checkpoint" in serving.saved.errors[0]
    assert f"the world was saved to {fallback} instead of {folder / 'w.ckpt'}" in caplog.text
    resumed = build_simulation(config, resume=fallback)
    try:
        assert resumed.world.n == 40 and resumed.world.tick > 10
    finally:
        resumed.close()


def test_the_cli_says_where_the_world_went(tmp_path, capsys):
    primary, fallback = tmp_path / "w.ckpt", tmp_path / "f.ckpt"
    assert _report_save(ShutdownSave(primary, ()), primary) == 0
    assert "stopped cleanly; world saved to" in capsys.readouterr().out
    assert _report_save(ShutdownSave(fallback, ("cannot write checkpoint x",)), primary) == 0
    out = capsys.readouterr()
    assert f"WARNING: the world was saved to {fallback} instead of {primary}" in out.err
    assert f"resume with --resume {fallback}" in out.err and str(fallback) in out.out
    assert _report_save(ShutdownSave(None, ("a", "b")), primary) == 1
    assert "error: the world could not be saved" in capsys.readouterr().err


def test_fallback_paths_are_the_setting_then_the_state_folder_then_the_temp_folder(tmp_path):
    config = config_for(tmp_path, checkpoint_fallback=tmp_path / "f.ckpt").serve
    paths = fallback_paths(config)
    assert paths[0] == tmp_path / "f.ckpt"
    assert paths[1] == Path.home() / ".local/state/synthtwin/w.ckpt"
    assert paths[2].name == "w.ckpt" and paths[2].parent.name == f"synthtwin-{os.getuid()}"


# --- the journal between checkpoints -------------------------------------------------------------


def apply_to(sim):
    """What ``RequestHandler.apply`` does, for the ops these tests journal."""

    def apply(op: str, args: dict) -> None:
        if op == "spawn":
            sim.spawn(args["count"], args.get("seed"))
        elif op == "despawn":
            sim.despawn(args["ids"])
        elif op == "time_scale":
            sim.loop.time_scale = args["scale"]
        elif op in ("pause", "resume"):
            sim.loop.paused = op == "pause"

    return apply


def test_commands_after_the_checkpoint_are_replayed_on_resume(tmp_path, make_simulation):
    config = config_for(tmp_path).sim
    sim = make_simulation(twins=30, seed=4)
    saving = Durability(sim, config_for(tmp_path).serve)
    saving.checkpoint()
    record, apply = saving.journal.record, apply_to(sim)
    for op, args in [("spawn", {"count": 5, "seed": 9}), ("despawn", {"ids": np.array([2, 3])}),
                     ("time_scale", {"scale": 120.0}), ("pause", {})]:  # fmt: skip
        apply(op, args)
        record(op, args)
    ids = sorted(sim.world.ids.tolist())
    del config  # the same world config: built like make_simulation's
    resumed = build_simulation(sim.config, resume=tmp_path / "w.ckpt")
    try:
        info = read_checkpoint_info(tmp_path / "w.ckpt")
        restoring = Durability(resumed, config_for(tmp_path).serve, info)
        assert restoring.restore(tmp_path / "w.ckpt", info, apply_to(resumed)) == 4
        assert sorted(resumed.world.ids.tolist()) == ids
        assert resumed.loop.time_scale == 120.0 and resumed.loop.paused
        spawned = resumed.world.rows_of([31, 35])
        original = sim.world.rows_of([31, 35])
        assert np.array_equal(resumed.world["age_y"][spawned], sim.world["age_y"][original])
        restoring.checkpoint()  # the replayed commands are in it, and not journaled again
        again = build_simulation(sim.config, resume=tmp_path / "w.ckpt")
        info = read_checkpoint_info(tmp_path / "w.ckpt")
        assert (
            Durability(again, config_for(tmp_path).serve, info).restore(
                tmp_path / "w.ckpt", info, apply_to(again)
            )
            == 0
        )
        assert sorted(again.world.ids.tolist()) == ids
        again.close()
    finally:
        resumed.close()


def test_a_resumed_world_keeps_its_time_scale_and_pause_unless_told(tmp_path):
    with running(config_for(tmp_path)) as serving:
        assert wait_for(lambda: (tmp_path / "w.ckpt").is_file())
        serving.sim.loop.time_scale, serving.sim.loop.paused = 120.0, True
    for explicit, expected_scale in ((False, 120.0), (True, 60.0)):
        resumed = Serving(config_for(tmp_path), tmp_path / "w.ckpt", keep_time_scale=explicit)
        try:
            assert resumed.sim.loop.time_scale == expected_scale and resumed.sim.loop.paused
        finally:
            resumed._close()


def test_a_journal_that_nothing_can_apply_is_refused(tmp_path, make_simulation):
    sim = make_simulation(twins=10, seed=4)
    saving = Durability(sim, config_for(tmp_path).serve)
    saving.checkpoint()
    saving.journal.record("spawn", {"count": 1})
    info = read_checkpoint_info(tmp_path / "w.ckpt")
    resumed = build_simulation(sim.config, resume=tmp_path / "w.ckpt")
    try:
        with pytest.raises(Exception, match="1 command\\(s\\) to replay, but this build"):
            Durability(resumed, config_for(tmp_path).serve, info).restore(
                tmp_path / "w.ckpt", info, None
            )
    finally:
        resumed.close()


# --- kill -9 -------------------------------------------------------------------------------------


def start_serve(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    router = loopback()
    proc = subprocess.Popen(
        [TWIN, "serve", "--twins", "30", "--seed", "5", "--pub", loopback(), "--router", router,
         "--no-http", "--checkpoint", str(tmp_path / "w.ckpt"), *extra],
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
    return proc, router


def kill_hard(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()


def test_a_world_killed_in_its_first_seconds_resumes_from_its_first_checkpoint(tmp_path):
    proc, router = start_serve(tmp_path)
    try:
        assert wait_for(lambda: (tmp_path / "w.ckpt").is_file(), FIRST_CHECKPOINT_S)
        with RequestClient(router) as client:
            assert client.call("stats")["twins"] == 30
    finally:
        kill_hard(proc)
    proc, router = start_serve(tmp_path, "--resume", str(tmp_path / "w.ckpt"))
    try:
        with RequestClient(router) as client:
            assert client.call("stats")["twins"] == 30
    finally:
        kill_hard(proc)


JOURNALING = "journal" in inspect.signature(RequestHandler).parameters and hasattr(
    RequestHandler, "apply"
)


@pytest.mark.skipif(not JOURNALING, reason="RequestHandler(journal=...) and .apply are S1's")
def test_no_acknowledged_command_is_lost_on_kill_9(tmp_path):
    proc, router = start_serve(tmp_path)
    try:
        assert wait_for(lambda: (tmp_path / "w.ckpt").is_file(), FIRST_CHECKPOINT_S)
        time.sleep(0.5)  # past the first checkpoint: the commands live in the journal only
        with RequestClient(router) as client:
            spawned = client.call("spawn", count=7, seed=11)["ids"].tolist()
            client.call("despawn", ids=[1, 2])
            client.call("time_scale", scale=30.0)
    finally:
        kill_hard(proc)  # right after the acks
    proc, router = start_serve(tmp_path, "--resume", str(tmp_path / "w.ckpt"))
    try:
        with RequestClient(router) as client:
            stats = client.call("stats")

            def roster() -> set[int]:
                return set(client.call("roster")["ids"].tolist())

            # the roster is what the PUB has published (protocol 9.3), cell by cell as each
            # comes due (a first message, meta, may go out before any cell): wait for the twins
            assert wait_for(lambda: set(spawned) <= roster(), 10)
            assert not {1, 2} & roster()
        assert stats["twins"] == 30 + 7 - 2 and stats["time_scale"] == 30.0
    finally:
        kill_hard(proc)


# --- binding beyond loopback ---------------------------------------------------------------------


def exposed(tmp_path: Path, **security):
    serve = {"pub_endpoint": f"tcp://0.0.0.0:{free_port()}", "router_endpoint": loopback(),
             "checkpoint": tmp_path / "w.ckpt", "http_enabled": False}  # fmt: skip
    return load_config(None, serve=serve, security=security, twins=10)


def test_exposure_is_judged_by_every_endpoint_tokens_and_encryption(tmp_path):
    local = load_config(None, serve={"pub_endpoint": "ipc:///tmp/x", "http_host": "localhost",
                                     "router_endpoint": "tcp://[::1]:5557"})  # fmt: skip
    assert exposure_problem(local) is None
    problem = exposure_problem(exposed(tmp_path))
    assert problem.startswith("binding beyond loopback (tcp://0.0.0.0:")
    assert "without access tokens (no token file" in problem and "without CURVE" in problem
    (tmp_path / "tokens.json").write_text("{}")
    assert "access tokens" not in exposure_problem(exposed(tmp_path))
    assert exposure_problem(exposed(tmp_path, curve=True)) is None
    web = load_config(None, serve={"http_host": "0.0.0.0", "checkpoint": tmp_path / "w.ckpt"})
    assert "without TLS (security.tls_cert" in exposure_problem(web)


def test_serving_beyond_loopback_without_protection_is_refused(tmp_path, capsys):
    config = exposed(tmp_path)
    with pytest.raises(ConfigError, match="refusing to serve: binding beyond loopback"):
        Serving(config)
    port = config.serve.pub_endpoint.rsplit(":", 1)[1]
    code = main(["serve", "--twins", "5", "--no-http", "--pub", f"tcp://0.0.0.0:{port}",
                 "--router", loopback(), "--checkpoint", str(tmp_path / "w.ckpt")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "refusing to serve" in err and "--insecure" in err
    assert not (tmp_path / "w.ckpt").exists()


def test_insecure_serving_beyond_loopback_warns_loudly(tmp_path):
    proc, _ = start_serve(tmp_path, "--insecure")
    kill_hard(proc)  # loopback: nothing to warn about
    pub = f"tcp://0.0.0.0:{free_port()}"
    proc = subprocess.Popen(
        [TWIN, "serve", "--twins", "5", "--no-http", "--pub", pub, "--router", loopback(),
         "--checkpoint", str(tmp_path / "w.ckpt"), "--insecure"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stderr.readline()
        assert line.startswith("WARNING: serving INSECURELY: binding beyond loopback"), line
        assert pub in line and "security.insecure is set" in line
        assert wait_for(lambda: "ROUTER" in proc.stdout.readline(), 60)  # serving: SIGINT stops
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "stopped cleanly" in out
