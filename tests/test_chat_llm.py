"""Contract test of the LLM engine against a fake OpenAI-compatible Chat Completions server.

The fake (a local HTTP server in a thread) speaks the tool-calling protocol as the real endpoints
do: ``POST /v1/chat/completions`` with ``model``, ``messages`` and ``tools``; an answer either asks
for tools (``message.tool_calls``) or gives ``message.content``. It checks what the engine sends
(the key, the model, the four tools, the tool results) and scripts what a model might answer. This
pins the engine to the protocol, not to any model: a number the tools did not give, a timeout or
an HTTP error must make the embedded engine answer instead.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from synthtwin.net.chat import (
    API_KEY_ENV,
    ChatEngine,
    ChatSettings,
    Understander,
    api_key_from_env,
    take_snapshot,
)
from synthtwin.net.chat.snapshot import TwinSnapshot
from synthtwin.net.chat.tools import TOOLS
from synthtwin.net.wire.dealer import RequestClient
from tests.conftest import small_simulation
from tests.loopback import loopback

Script = Callable[[dict], tuple[int, dict]]
"""A fake model: the request body -> (HTTP status, response body)."""


class _Fake(BaseHTTPRequestHandler):
    script: Script
    seen: list[tuple[dict, dict]]

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((dict(self.headers), body))
        status, answer = self.script(body)
        data = json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fake() -> Iterator[Callable[[Script], tuple[str, list]]]:
    servers: list[ThreadingHTTPServer] = []

    def start(script: Script) -> tuple[str, list]:
        seen: list = []
        handler = type("Handler", (_Fake,), {"script": staticmethod(script), "seen": seen})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/v1", seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def snap() -> TwinSnapshot:
    sim = small_simulation(twins=20, seed=3)
    try:
        sim.loop.run_ticks(10 * 60)
        return take_snapshot(sim.world, int(sim.world.ids[0]), sim.today)
    finally:
        sim.close()


UNDERSTANDER = Understander()


def _engine(url: str, timeout_s: float = 5.0) -> ChatEngine:
    settings = ChatSettings(
        llm_base_url=url, llm_model="fake-model", llm_api_key="sk-test", llm_timeout_s=timeout_s
    )
    return ChatEngine(settings, UNDERSTANDER)


def _message(content=None, tool_calls=None) -> tuple[int, dict]:
    message = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return 200, {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}


def _tool_call(name: str) -> dict:
    return {"id": f"call_{name}", "type": "function", "function": {"name": name, "arguments": "{}"}}


def _tool_result(body: dict, name: str) -> dict | None:
    """The fact ``name`` from the tool messages of a request, if any."""
    for message in body["messages"]:
        if message["role"] == "tool":
            for fact in json.loads(message["content"])["facts"]:
                if fact["name"] == name:
                    return fact
    return None


def test_the_model_asks_for_a_tool_then_answers_with_its_numbers(fake, snap):
    def model(body: dict) -> tuple[int, dict]:
        hr = _tool_result(body, "hr_bpm")
        if hr is None:
            return _message(tool_calls=[_tool_call("get_live_state")])
        return _message(f"Right now my heart rate is {hr['value']} bpm.")

    url, seen = fake(model)
    answer = _engine(url).reply(snap, "what's your heart rate?")
    assert answer.engine == "llm" and answer.fallback is None
    assert answer.reply == f"Right now my heart rate is {snap['hr_bpm'].value} bpm."
    assert "hr_bpm" in {f.name for f in answer.facts}
    assert answer.intent == "vitals"
    headers, first = seen[0]
    assert headers["Authorization"] == "Bearer sk-test"
    assert first["model"] == "fake-model"
    assert {t["function"]["name"] for t in first["tools"]} == set(TOOLS)
    assert first["messages"][0]["role"] == "system" and first["messages"][-1]["role"] == "user"
    _, second = seen[1]
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "get_live_state"
    assert second["messages"][-1]["tool_call_id"] == "call_get_live_state"


def test_the_conversation_so_far_is_sent_to_the_model(fake, snap):
    url, seen = fake(lambda body: _message("Hello!"))
    engine = _engine(url)
    first = engine.reply(snap, "hi")
    engine.reply(snap, "how are you?", first.conversation_id)
    roles = [m["role"] for m in seen[-1][1]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]


def test_an_invented_number_falls_back_to_the_embedded_engine(fake, snap):
    def model(body: dict) -> tuple[int, dict]:
        if _tool_result(body, "hr_bpm") is None:
            return _message(tool_calls=[_tool_call("get_live_state")])
        return _message(f"My heart rate is {snap['hr_bpm'].value + 37} bpm.")

    url, _ = fake(model)
    answer = _engine(url).reply(snap, "what's your heart rate?")
    assert answer.engine == "embedded"
    assert str(snap["hr_bpm"].value + 37) in answer.fallback
    assert f"{snap['hr_bpm'].value} bpm" in answer.reply


def test_a_number_without_any_tool_call_falls_back(fake, snap):
    url, _ = fake(lambda body: _message("I'm 29 and feeling great."))
    answer = _engine(url).reply(snap, "how old are you?")
    assert answer.engine == "embedded" and "29" in answer.fallback


def test_a_timeout_falls_back_within_the_deadline(fake, snap):
    def slow(body: dict) -> tuple[int, dict]:
        time.sleep(1.5)
        return _message("Too late.")

    url, _ = fake(slow)
    start = time.monotonic()
    answer = _engine(url, timeout_s=0.3).reply(snap, "hi")
    assert time.monotonic() - start < 1.2
    assert (answer.engine, answer.fallback) == ("embedded", "timeout")


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        ((500, {"error": "boom"}), "HTTP 500"),
        ((200, {"nothing": []}), "bad response: KeyError"),
        ((200, {"choices": [{"message": "hi"}]}), "bad response: not a message"),
        ((200, {"choices": [{"message": {"tool_calls": "x"}}]}), "bad response: not a message"),
        ((200, {"choices": [{"message": {"tool_calls": [7]}}]}), "bad response: not a message"),
        (
            (200, {"choices": [{"message": {"tool_calls": [{"function": "get_profile"}]}}]}),
            "bad response: not a message",
        ),
    ],
)
def test_errors_and_malformed_answers_fall_back(fake, snap, response, reason):
    url, _ = fake(lambda body: response)
    answer = _engine(url).reply(snap, "hi")
    assert (answer.engine, answer.fallback) == ("embedded", reason)


def test_an_unreachable_endpoint_falls_back(snap):
    answer = _engine("http://127.0.0.1:9/v1", timeout_s=1.0).reply(snap, "hi")
    assert answer.engine == "embedded" and answer.fallback


def test_endless_tool_calls_fall_back(fake, snap):
    url, _ = fake(lambda body: _message(tool_calls=[_tool_call("get_profile")]))
    answer = _engine(url).reply(snap, "hi")
    assert answer.engine == "embedded" and "rounds" in answer.fallback


def test_the_key_comes_from_the_environment_mapping():
    assert api_key_from_env({API_KEY_ENV: "sk-1"}) == "sk-1"
    assert api_key_from_env({}) is None
    assert ChatSettings(llm_base_url="http://x/v1").llm is None


def test_twin_serve_answers_through_the_model_its_chat_table_names(fake, tmp_path, monkeypatch):
    """End to end: a ``[chat]`` table in the config file, the key from the environment, the
    worker process calling the model, the ROUTER's ``chat`` answered by it."""

    def model(body: dict) -> tuple[int, dict]:
        hr = _tool_result(body, "hr_bpm")
        if hr is None:
            return _message(tool_calls=[_tool_call("get_live_state")])
        return _message(f"My heart is beating {hr['value']} times a minute.")

    url, seen = fake(model)
    monkeypatch.setenv(API_KEY_ENV, "sk-serve")
    toml = tmp_path / "serve.toml"
    toml.write_text(f'[chat]\nllm_base_url = "{url}"\nllm_model = "fake-model"\ntimeout_s = 5\n')
    serve = {"pub_endpoint": loopback(), "router_endpoint": loopback(),
             "checkpoint": tmp_path / "w.ckpt", "http_enabled": False}  # fmt: skip
    serving = Serving(load_config(toml, serve=serve, twins=20, seed=3))
    thread = threading.Thread(target=serving.run, daemon=True)
    thread.start()
    try:
        with RequestClient(serve["router_endpoint"], 20.0) as client:
            twin = int(serving.sim.world.ids[0])
            answer = client.call("chat", id=twin, message="what's your heart rate?")
    finally:
        serving.stop.set()
        thread.join(timeout=20)
    assert answer["engine"] == "llm" and answer["fallback"] is None, answer
    assert answer["reply"].startswith("My heart is beating ")
    assert seen[0][0]["Authorization"] == "Bearer sk-serve"
    assert seen[0][1]["model"] == "fake-model"
