"""Talking to a twin through every interface of a real ``twin serve`` with access control: REST
(``POST /api/twins/{id}/chat``, through the gateway process), the ``twin chat`` CLI (a piped
subprocess and ``main``), and ``event/chat`` kept off the open PUB. Loopback only, every wait
bounded."""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import zmq

from synthtwin.engine.app.cli import main
from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from synthtwin.net.auth import Role, TokenStore
from synthtwin.net.chat import numbers_in
from synthtwin.net.http_security import COOKIE
from synthtwin.net.wire.chat import MAX_MESSAGE_CHARS
from tests.loopback import loopback
from tests.test_http_api import running

TWIN = str(Path(sys.executable).with_name("twin"))
TWINS = 40


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, str]:
    tokens = TokenStore(tmp_path_factory.mktemp("chat") / "tokens.json")
    return {"path": str(tokens.path)} | {
        role.label: tokens.create(role, role.label) for role in Role
    }


@pytest.fixture(scope="module")
def serving(made: dict[str, str]) -> Iterator[Serving]:
    folder = Path(made["path"]).parent
    serve = {"pub_endpoint": loopback(), "router_endpoint": loopback(), "http_port": 0,
             "checkpoint": folder / "w.ckpt"}  # fmt: skip
    security = {"health_pub_endpoint": loopback(), "keys_dir": folder / "keys"}
    config = load_config(None, serve=serve, security=security, twins=TWINS, seed=5)
    with running(config, token=made["admin"]) as server:
        yield server


def api(serving: Serving, token: str | None) -> httpx.Client:
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=serving.http.url, headers=headers, timeout=10.0)


def a_twin(serving: Serving) -> int:
    return int(serving.sim.world.ids[1])


def test_rest_chat_answers_an_analyst_with_grounded_facts_and_follows_up(serving, made):
    twin = a_twin(serving)
    with api(serving, made["analyst"]) as client:
        first = client.post(f"/api/twins/{twin}/chat", json={"message": "how is your heart rate?"})
        assert first.status_code == 200, first.text
        body = first.json()
        assert set(body) >= {"reply", "conversation_id", "facts", "intent", "engine"}
        assert body["intent"] == "vitals" and body["engine"] == "embedded"
        values = {str(fact["value"]) for fact in body["facts"]}
        assert numbers_in(body["reply"]) and set(numbers_in(body["reply"])) <= values
        assert all(fact["source"] in ("live", "history", "profile", "schedule")
                   for fact in body["facts"])  # fmt: skip
        more = {"message": "and yesterday?", "conversation_id": body["conversation_id"]}
        follow = client.post(f"/api/twins/{twin}/chat", json=more)
        assert (
            follow.status_code == 200
            and follow.json()["conversation_id"] == more["conversation_id"]
        )


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/api/twins/{twin}/chat", {"message": ""}, 422, "at least 1 character"),
        ("/api/twins/{twin}/chat", {"message": "x" * (MAX_MESSAGE_CHARS + 1)}, 422,
         f"at most {MAX_MESSAGE_CHARS} characters"),
        ("/api/twins/{twin}/chat", {"message": "   "}, 422,
         f"field 'args.message' holds 0 characters, expected 1..{MAX_MESSAGE_CHARS}"),
        ("/api/twins/{twin}/chat", {"message": "hi", "conversation_id": "a b"}, 422,
         "should match pattern"),
        ("/api/twins/{twin}/chat", {}, 422, "Field required"),
        ("/api/twins/{twin}/chat", {"message": 3}, 422, "valid string"),
        ("/api/twins/{twin}/chat", {"message": "hi", "mood": 1}, 422, "Extra inputs"),
        ("/api/twins/999999/chat", {"message": "hi"}, 404, "twin 999999 does not exist"),
        ("/api/twins/4294967296/chat", {"message": "hi"}, 422, "less than or equal"),
    ],
)  # fmt: skip
def test_rest_chat_refuses_bad_input_clearly(serving, made, path, body, status, says):
    with api(serving, made["analyst"]) as client:
        answer = client.post(path.format(twin=a_twin(serving)), json=body)
    assert answer.status_code == status, answer.text
    assert says in answer.text


def test_rest_chat_needs_an_analyst_and_a_json_call(serving, made):
    path = f"/api/twins/{a_twin(serving)}/chat"
    with api(serving, made["viewer"]) as client:
        assert client.post(path, json={"message": "hi"}).status_code == 403
    with api(serving, None) as client:
        assert client.post(path, json={"message": "hi"}).status_code == 401
    cookie = {COOKIE: made["analyst"]}  # a signed-in browser, posted to by a foreign page
    with httpx.Client(base_url=serving.http.url, timeout=10.0, cookies=cookie) as client:
        form_post = {"content-type": "application/x-www-form-urlencoded"}
        assert client.post(path, content="message=hi", headers=form_post).status_code == 415
        assert client.post(path, json={"message": "hi"}).status_code == 200


def test_chat_events_stay_off_the_open_pub_under_access_control(serving, made):
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"event/")
    sub.setsockopt(zmq.SUBSCRIBE, b"cell/")  # published all the time
    sub.connect(serving.config.serve.pub_endpoint)
    try:
        # a crowd message: the subscriptions have reached the XPUB (else this cannot fail)
        deadline = time.monotonic() + 10.0
        while not (sub.poll(100) and sub.recv_multipart()[0].startswith(b"cell/")):
            assert time.monotonic() < deadline, "no crowd on the PUB"
        with api(serving, made["analyst"]) as client:
            path = f"/api/twins/{a_twin(serving)}/chat"
            assert client.post(path, json={"message": "hello"}).status_code == 200
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            if sub.poll(100):
                assert sub.recv_multipart()[0] != b"event/chat"
    finally:
        sub.close()


def test_twin_chat_answers_each_piped_line(serving, made):
    twin = a_twin(serving)
    lines = "hello\nwhat are you doing?\n\nand your blood pressure?\n"
    done = subprocess.run(
        [TWIN, "chat", str(twin), "--router", serving.config.serve.router_endpoint,
         "--token", made["analyst"], "--json"],
        input=lines, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["intent"] for r in results] == ["greeting", "activity", "vitals"]
    assert len({r["conversation_id"] for r in results}) == 1


def test_twin_chat_reports_error_replies_and_goes_on(serving, made, monkeypatch, capsys):
    router = serving.config.serve.router_endpoint
    monkeypatch.setattr(sys, "stdin", io.StringIO("hi\n"))
    assert main(["chat", "999999", "--router", router, "--token", made["analyst"]]) == 2
    assert "error unknown_twin: twin 999999 does not exist" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("hi\n/new\nhow did you sleep?\n"))
    assert main(["chat", str(a_twin(serving)), "--router", router, "--token", made["viewer"]]) == 2
    assert capsys.readouterr().err.count("error forbidden") == 2
    monkeypatch.setattr(sys, "stdin", io.StringIO("how did you sleep?\n"))
    assert main(["chat", str(a_twin(serving)), "--router", router, "--token", made["analyst"]]) == 0
    assert capsys.readouterr().out.startswith(f"twin {a_twin(serving)}> ")


def test_twin_chat_without_a_server_fails_in_one_line(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("hi\n"))
    assert main(["chat", "1", "--router", loopback(), "--timeout", "0.3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("twin chat: error:") and len(err.strip().splitlines()) == 1


def test_twin_chat_at_a_terminal_prompts_and_keeps_its_history(serving, made, tmp_path):
    """The REPL under a pseudo-terminal: a prompt, a reply, Ctrl-D, the history file written."""
    import pty

    history = tmp_path / "history"
    argv = [TWIN, "chat", str(a_twin(serving)), "--router", serving.config.serve.router_endpoint,
            "--token", made["analyst"], "--history", str(history)]  # fmt: skip
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes the CLI
        os.execv(TWIN, argv)
    seen = b""
    try:
        seen += _read_until(fd, b"you> ")
        os.write(fd, b"how did you sleep?\n")
        seen += _read_until(fd, b"you> ")
        os.write(fd, b"\x04")  # Ctrl-D
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert f"twin {a_twin(serving)}> ".encode() in seen, seen
    assert history.read_text().splitlines()[-1] == "how did you sleep?"


def _read_until(fd: int, marker: bytes, timeout_s: float = 30.0) -> bytes:
    """What the terminal shows until ``marker`` (fails the test after ``timeout_s``)."""
    got, deadline = b"", time.monotonic() + timeout_s
    while marker not in got:
        assert time.monotonic() < deadline, got
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            got += os.read(fd, 4096)
    return got
