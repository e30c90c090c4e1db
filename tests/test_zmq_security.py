"""Access control on the ZeroMQ side, with real sockets on 127.0.0.1 (issue #13).

Roles on the ROUTER (a token in each request, checked before the op runs; revocation seen while
serving), health data only on the CURVE health PUB and only for keys filed under analyst or above,
CURVE on every socket with ``[security] curve = true``, and the Clone client's options for all of
it. Every wait is bounded.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zmq

from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from synthtwin.net.auth import RELOAD_S, Role, TokenStore
from synthtwin.net.keys import create_curve_keys
from synthtwin.net.wire import CloneClient, RequestClient, RequestError, RequestTimeout
from synthtwin.net.wire.curve import CurveKeys
from tests.loopback import loopback

TICK_HZ = 30.0
ROLES = ("viewer", "analyst", "operator")


@dataclass
class Secured:
    """A served world with access control, its tokens and client keys (one per role)."""

    serving: Serving
    tokens: dict[str, str]
    keys: dict[str, CurveKeys]
    store: TokenStore

    @property
    def pub(self) -> str:
        return self.serving.server.endpoints["pub"]

    @property
    def router(self) -> str:
        return self.serving.server.endpoints["router"]

    @property
    def health(self) -> str:
        return self.serving.server.endpoints["health"]


def make_keys(keys_dir: Path, role: str, name: str) -> Path:
    """What ``twin keys create --role ROLE --name NAME`` does: the pair in ``secrets/``, the
    public key filed under ``clients/<role>/``; returns the secret file."""
    public, secret = create_curve_keys(keys_dir / "secrets", name)
    (keys_dir / "clients" / role).mkdir(parents=True, exist_ok=True)
    shutil.copy(public, keys_dir / "clients" / role / public.name)
    return secret


def start(config) -> tuple[Serving, threading.Thread]:
    serving = Serving(config)
    thread = threading.Thread(target=serving.run, name="serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20  # the roster is what is published: wait for a first tick
    while serving.sim.world.tick < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    return serving, thread


def stop(serving: Serving, thread: threading.Thread) -> None:
    serving.stop.set()
    thread.join(timeout=20)
    assert not thread.is_alive()


def secured_config(folder: Path, **security):
    return load_config(
        None,
        serve={
            "pub_endpoint": loopback(), "router_endpoint": loopback(),
            "checkpoint": folder / "w.ckpt", "http_enabled": False,
            "vitals_hz": 10.0, "twin_hz": 10.0,
        },
        security={
            "tokens_file": folder / "tokens.json", "keys_dir": folder / "keys",
            "health_pub_endpoint": loopback(), "max_twin_subscriptions": 4, **security,
        },
        twins=60, seed=3, tick_hz=TICK_HZ,
    )  # fmt: skip


def credentials(folder: Path) -> tuple[TokenStore, dict[str, str], dict[str, Path]]:
    store = TokenStore(folder / "tokens.json")
    tokens = {role: store.create(Role.parse(role), f"{role}-1") for role in ROLES}
    secrets = {role: make_keys(folder / "keys", role, f"{role}_1") for role in ROLES}
    return store, tokens, secrets


@pytest.fixture(scope="module")
def secured(tmp_path_factory) -> Iterator[Secured]:
    folder = tmp_path_factory.mktemp("secured")
    store, tokens, secrets = credentials(folder)
    serving, thread = start(secured_config(folder))
    server_key = folder / "keys" / "server.key"
    keys = {role: CurveKeys.load(server_key, secret) for role, secret in secrets.items()}
    yield Secured(serving, tokens, keys, store)
    stop(serving, thread)


def call(secured: Secured, op: str, token: str | None, **args):
    with RequestClient(secured.router, timeout_s=5.0, token=token) as client:
        return client.call(op, **args)


def refused(secured: Secured, op: str, token: str | None, **args) -> tuple[str, str]:
    with pytest.raises(RequestError) as caught:
        call(secured, op, token, **args)
    return caught.value.code, caught.value.message


# -- roles on the ROUTER ----------------------------------------------------------------------


def test_the_server_made_its_key_pair_and_binds_a_health_pub(secured: Secured):
    keys_dir = secured.serving.config.security.keys_dir
    assert (keys_dir / "server.key").is_file() and (keys_dir / "server.key_secret").is_file()
    assert secured.serving.server.access_control
    assert set(secured.serving.server.endpoints) == {"pub", "router", "health"}


def test_a_request_without_a_token_is_unauthorized(secured: Secured):
    code, message = refused(secured, "stats", None)
    assert (code, message) == ("unauthorized", "a token is required: see `twin token create`")
    assert refused(secured, "stats", "st_00000000_" + "A" * 43)[0] == "unauthorized"
    assert refused(secured, "no_such_op", None)[0] == "unauthorized"


def test_each_role_gets_its_ops_and_no_more(secured: Secured):
    viewer, analyst, operator = (secured.tokens[role] for role in ROLES)
    twin = int(call(secured, "roster", viewer)["ids"][0])
    assert call(secured, "stats", viewer)["twins"] >= 1
    assert call(secured, "snapshot", viewer, cells=[[0, 0]])["crowd"] is not None
    assert refused(secured, "twin", viewer, id=twin) == (
        "forbidden", "this needs the analyst role; the token has viewer"
    )  # fmt: skip
    assert refused(secured, "spawn", viewer, count=1)[0] == "forbidden"
    assert refused(secured, "pause", viewer)[0] == "forbidden"
    assert call(secured, "twin", analyst, id=twin)["id"] == twin
    assert refused(secured, "despawn", analyst, ids=[twin])[0] == "forbidden"
    assert refused(secured, "time_scale", analyst, scale=2.0)[0] == "forbidden"
    spawned = call(secured, "spawn", operator, count=1, seed=1)["ids"]
    assert call(secured, "despawn", operator, ids=spawned.tolist())["removed"].tolist() == list(
        spawned
    )


def code_within(secured: Secured, token: str, seconds: float, until) -> str | None:
    """Ask ``stats`` with ``token`` until ``until(code)`` (None: ok), at most ``seconds``."""
    code = "never asked"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            call(secured, "stats", token)
            code = None
        except RequestError as err:
            code = err.code
        if until(code):
            break
        time.sleep(0.2)
    return code


def test_new_and_revoked_tokens_take_effect_while_serving(secured: Secured):
    """The server reads the token file again when it changes (every ``RELOAD_S``)."""
    token = secured.store.create(Role.VIEWER, "short-lived")
    assert code_within(secured, token, RELOAD_S + 5, lambda code: code is None) is None
    secured.store.revoke("short-lived")
    assert code_within(secured, token, RELOAD_S + 5, bool) == "unauthorized"


# -- health data on the PUB -------------------------------------------------------------------


def receive_topics(sub: zmq.Socket, seconds: float) -> set[bytes]:
    """The topics a SUB socket receives within ``seconds``."""
    seen: set[bytes] = set()
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if sub.poll(max(1, int(left * 1000))):
            seen.add(sub.recv_multipart()[0])
    return seen


def subscriber(endpoint: str, keys: CurveKeys | None, *prefixes: bytes) -> zmq.Socket:
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    if keys is not None:
        keys.apply(sub)
    sub.connect(endpoint)
    for prefix in prefixes or (b"",):
        sub.subscribe(prefix)
    return sub


def vitals_topics(topics: set[bytes]) -> set[bytes]:
    return {t for t in topics if t.endswith(b"/vitals")}


def test_the_main_pub_carries_no_vitals(secured: Secured):
    twin = int(call(secured, "roster", secured.tokens["viewer"])["ids"][0])
    with subscriber(secured.pub, None, b"", f"twin/{twin}/".encode()) as sub:
        seen = receive_topics(sub, 2.0)
    assert any(t.endswith(b"/crowd") for t in seen)
    assert f"twin/{twin}/pose".encode() in seen
    assert f"twin/{twin}/shape".encode() in seen, "the body is not health data"
    assert not vitals_topics(seen)


@pytest.mark.parametrize("who", ["nobody", "stranger", "viewer"])
def test_the_health_pub_lets_no_one_below_analyst_in(secured: Secured, who: str, tmp_path):
    if who == "stranger":  # a key pair the server has never heard of
        server_key = secured.serving.config.security.keys_dir / "server.key"
        keys = CurveKeys.load(server_key, make_keys(tmp_path, "viewer", "stranger"))
    else:
        keys = secured.keys.get(who)
    with subscriber(secured.health, keys) as sub:
        assert receive_topics(sub, 1.5) == set()


@pytest.mark.parametrize("role", ["analyst", "operator"])
def test_the_health_pub_gives_analysts_cell_and_twin_vitals(secured: Secured, role: str):
    twin = int(call(secured, "roster", secured.tokens["viewer"])["ids"][0])
    prefixes = (b"cell/", f"twin/{twin}/".encode())
    with subscriber(secured.health, secured.keys[role], *prefixes) as sub:
        seen = receive_topics(sub, 2.0)
    assert f"twin/{twin}/vitals".encode() in seen
    assert any(t.startswith(b"cell/") and t.endswith(b"/vitals") for t in seen)
    assert seen == vitals_topics(seen)


def test_the_clone_client_reads_vitals_through_the_health_pub(secured: Secured):
    twin = int(call(secured, "roster", secured.tokens["viewer"])["ids"][0])
    analyst = CloneClient(
        secured.pub, secured.router, twins=[twin], timeout_s=5.0,
        token=secured.tokens["analyst"], keys=secured.keys["analyst"],
        health_endpoint=secured.health,
    )  # fmt: skip
    viewer = CloneClient(
        secured.pub, secured.router, twins=[twin], timeout_s=5.0, token=secured.tokens["viewer"]
    )
    with analyst, viewer:
        end = time.monotonic() + 3.0
        while time.monotonic() < end and analyst.vitals(twin) is None:
            analyst.poll(0.2)
            viewer.poll(0.0)
        viewer.poll(0.5)
        assert analyst.vitals(twin) is not None
        assert viewer.vitals(twin) is None
        assert len(viewer.crowd().ids) == len(analyst.crowd().ids) > 0


def test_twin_subscriptions_beyond_the_cap_are_ignored_and_counted(secured: Secured):
    viewer = secured.tokens["viewer"]
    ids = call(secured, "roster", viewer)["ids"][:10].tolist()
    prefixes = [f"twin/{i}/".encode() for i in ids]
    with subscriber(secured.pub, None, *prefixes) as sub:
        deadline = time.monotonic() + 5
        stats = call(secured, "stats", viewer)
        while stats["ignored_subscriptions"] < 6 and time.monotonic() < deadline:
            time.sleep(0.1)
            stats = call(secured, "stats", viewer)
        seen = receive_topics(sub, 1.0)
    assert stats["followed_twins"] == 4 and stats["ignored_subscriptions"] >= 6
    assert len({t for t in seen if t.endswith(b"/pose")}) <= 4


# -- CURVE on every socket --------------------------------------------------------------------


@pytest.fixture(scope="module")
def curved(tmp_path_factory) -> Iterator[Secured]:
    folder = tmp_path_factory.mktemp("curved")
    store, tokens, secrets = credentials(folder)
    serving, thread = start(secured_config(folder, curve=True))
    server_key = folder / "keys" / "server.key"
    keys = {role: CurveKeys.load(server_key, secret) for role, secret in secrets.items()}
    yield Secured(serving, tokens, keys, store)
    stop(serving, thread)


def test_with_curve_a_keyless_client_gets_nothing(curved: Secured):
    with (
        RequestClient(curved.router, timeout_s=1.0, token=curved.tokens["viewer"]) as client,
        pytest.raises(RequestTimeout),
    ):
        client.call("stats")
    with subscriber(curved.pub, None) as sub:
        assert receive_topics(sub, 1.0) == set()


def test_with_curve_a_filed_key_round_trips_requests_and_the_stream(curved: Secured):
    viewer = curved.keys["viewer"]
    with RequestClient(
        curved.router, timeout_s=5.0, token=curved.tokens["viewer"], curve=viewer
    ) as client:
        assert client.call("stats")["twins"] >= 1
    with CloneClient(
        curved.pub, curved.router, timeout_s=5.0, token=curved.tokens["viewer"], keys=viewer,
        curve=True,
    ) as clone:  # fmt: skip
        clone.poll(0.5)
        assert len(clone.crowd().ids) > 0


def test_a_key_filed_while_serving_is_let_in_and_once_removed_refused(curved: Secured):
    """A key filed before its client connects is let in at once (an unknown key makes the ZAP
    handler look at the folders again); a removed one at the next connection after the folders
    are read again (``RELOAD_S``)."""
    keys_dir = curved.serving.config.security.keys_dir
    secret = make_keys(keys_dir, "analyst", "leaving")
    keys = CurveKeys.load(keys_dir / "server.key", secret)
    with subscriber(curved.health, keys) as sub:
        assert receive_topics(sub, 2.0)
    (keys_dir / "clients" / "analyst" / "leaving.key").unlink()
    time.sleep(RELOAD_S + 0.5)
    with subscriber(curved.health, keys) as sub:
        assert receive_topics(sub, 1.5) == set()


# -- the twin command line --------------------------------------------------------------------


def cli_endpoints(secured: Secured) -> list[str]:
    return ["--pub", secured.pub, "--router", secured.router]


def key_files(secured: Secured, role: str) -> list[str]:
    keys_dir = secured.serving.config.security.keys_dir
    secret = keys_dir / "secrets" / f"{role}_1.key_secret"
    return ["--server-key", str(keys_dir / "server.key"), "--key", str(secret)]


def test_twin_query_sends_the_token_of_its_option_or_environment(secured, capsys, monkeypatch):
    from synthtwin.clients.python.cli import main as client_main

    monkeypatch.delenv("SYNTHTWIN_TOKEN", raising=False)
    assert client_main(["query", "stats", *cli_endpoints(secured)]) == 2
    assert "error unauthorized: a token is required" in capsys.readouterr().err
    monkeypatch.setenv("SYNTHTWIN_TOKEN", secured.tokens["viewer"])
    assert client_main(["query", "stats", *cli_endpoints(secured)]) == 0
    assert '"twins"' in capsys.readouterr().out
    argv = ["query", "twin", "id=0", *cli_endpoints(secured), "--token", secured.tokens["viewer"]]
    assert client_main(argv) == 2
    assert "error forbidden: this needs the analyst role" in capsys.readouterr().err


def test_twin_watch_shows_a_twins_vitals_to_an_analyst_with_keys(secured, capsys):
    from synthtwin.clients.python.cli import main as client_main

    twin = int(call(secured, "roster", secured.tokens["viewer"])["ids"][0])
    argv = ["watch", *cli_endpoints(secured), "--seconds", "2", "--twin", str(twin),
            "--token", secured.tokens["analyst"], *key_files(secured, "analyst"),
            "--health", secured.health]  # fmt: skip
    assert client_main(argv) == 0
    assert "bpm" in capsys.readouterr().out
    argv = ["watch", *cli_endpoints(secured), "--seconds", "1", "--twin", str(twin),
            "--token", secured.tokens["viewer"]]  # fmt: skip
    assert client_main(argv) == 0
    assert f"twin {twin}: no vitals yet" in capsys.readouterr().out


def test_twin_record_refuses_half_a_key_pair(secured, capsys, tmp_path):
    from synthtwin.clients.python.cli import main as client_main

    argv = ["record", *cli_endpoints(secured), "--seconds", "1", "--out",
            str(tmp_path / "r.parquet"), "--key", "missing.key_secret"]  # fmt: skip
    assert client_main(argv) == 2
    assert "--key and --server-key go together" in capsys.readouterr().err


def test_a_gateway_forwards_each_callers_token_on_one_connection(secured: Secured):
    """``exchange(..., token=)`` replaces the client's own token for those requests."""
    with RequestClient(secured.router, timeout_s=5.0, token=secured.tokens["viewer"]) as client:
        twin = int(client.call("roster")["ids"][0])
        (as_viewer,) = client.exchange([("twin", {"id": twin})])
        (as_analyst,) = client.exchange([("twin", {"id": twin})], token=secured.tokens["analyst"])
    assert as_viewer.error.code == "forbidden"
    assert as_analyst.ok and as_analyst.result["id"] == twin


def test_the_asyncio_clone_client_reads_vitals_through_the_health_pub(secured: Secured):
    import asyncio

    from synthtwin.net.wire import AsyncCloneClient

    twin = int(call(secured, "roster", secured.tokens["viewer"])["ids"][0])

    async def follow() -> dict | None:
        async with AsyncCloneClient(
            secured.pub, secured.router, twins=[twin], timeout_s=5.0,
            token=secured.tokens["analyst"], keys=secured.keys["analyst"],
            health_endpoint=secured.health,
        ) as client:  # fmt: skip
            end = time.monotonic() + 3.0
            while time.monotonic() < end and client.vitals(twin) is None:
                await client.poll(0.2)
            return client.vitals(twin)

    assert asyncio.run(follow()) is not None
