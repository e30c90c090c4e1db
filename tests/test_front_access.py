"""The front under access control (docs/protocol.md sections 2.1 and 16): two shards with a
token file keep the health topics on their CURVE health PUBs; the front relays them onto its own
health PUB, which lets in an analyst's filed key, and the reference client gets a shard's twin's
vitals through the front, as from a single server."""

from __future__ import annotations

import gc
import shutil
import time
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
import zmq

from synthtwin.clients.python import CloneClient, RequestClient
from synthtwin.engine.config import load_config
from synthtwin.engine.regions import RegionMap
from synthtwin.net.auth import Role, TokenStore
from synthtwin.net.front import Front, FrontError, ShardEndpoints
from synthtwin.net.keys import create_curve_keys
from synthtwin.net.wire.curve import CurveKeys
from tests.loopback import loopback
from tests.test_front import _ids_of, _keep_region, _poll_for, _router, _shard, _wait_ticking


@pytest.fixture(scope="module")
def secured(tmp_path_factory) -> Iterator[dict]:
    """Two shards and a front sharing a token file and a keys folder."""
    tmp = tmp_path_factory.mktemp("front_access")
    security = {"tokens_file": tmp / "tokens.json", "keys_dir": tmp / "keys"}
    token = TokenStore(tmp / "tokens.json").create(Role.OPERATOR, "tester")  # despawns too
    started = [_shard(tmp, name, health_pub_endpoint=loopback(), **security) for name in ("a", "b")]
    servers = [server for server, _ in started]
    try:
        for server in servers:
            _wait_ticking(server, token)
        roster = _roster(servers[0], token)
        regions = RegionMap.balanced(roster, 2)
        for k, server in enumerate(servers):
            _keep_region(server, regions, k, token)
        shards = [
            ShardEndpoints(
                s.config.serve.pub_endpoint, _router(s), s.config.security.health_pub_endpoint
            )
            for s in servers
        ]
        config = load_config(
            None,
            serve={"pub_endpoint": loopback(), "router_endpoint": loopback()},
            security={**security, "health_pub_endpoint": loopback()},
        )
        with Front(shards, regions, config).start() as front:
            yield {"front": front, "servers": servers, "token": token, "keys_dir": tmp / "keys"}
    finally:
        for server, thread in started:
            server.stop.set()
            thread.join(timeout=20)


def _roster(server, token: str) -> np.ndarray:
    """The cells of the server's twins."""
    with RequestClient(_router(server), token=token) as client:
        return client.call("roster")["cells"]


def _analyst_keys(keys_dir, tmp_path) -> CurveKeys:
    """A client key pair, its public half filed under ``clients/analyst/``."""
    public, secret = create_curve_keys(tmp_path / "mine", "tester")
    filed = keys_dir / "clients" / "analyst"
    filed.mkdir(parents=True, exist_ok=True)
    shutil.copy(public, filed / public.name)
    return CurveKeys.load(keys_dir / "server.key", secret)


def test_a_shards_twin_vitals_come_through_the_fronts_health_pub(secured, tmp_path):
    front, token = secured["front"], secured["token"]
    deadline = time.monotonic() + 10
    while not all(s.joined for s in front.shards) and time.monotonic() < deadline:
        time.sleep(0.02)
    twin = int(_ids_of(secured["servers"][1], token)[0])
    keys = _analyst_keys(secured["keys_dir"], tmp_path)
    endpoints = front.endpoints
    assert "health" in endpoints
    with CloneClient(
        endpoints["pub"], endpoints["router"], twins=[twin], token=token, keys=keys,
        health_endpoint=endpoints["health"],
    ) as sub:  # fmt: skip
        deadline = time.monotonic() + 10
        while sub.vitals(twin) is None and time.monotonic() < deadline:
            _poll_for(sub, 0.2)
        vitals = sub.vitals(twin)
        assert vitals is not None and vitals["twin_id"] == twin
        assert 30 <= vitals["hr_bpm"] <= 220
        assert sub.rejected == 0


def test_a_front_that_cannot_keep_its_token_closes_what_it_opened(tmp_path):
    """The front's own token cannot be kept (``<keys_dir>/front`` is a file): ``FrontError``
    says so, and the ports it had bound are free again: its sockets are closed, not left to
    the garbage collector."""
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    (keys_dir / "front").write_text("not a folder")
    TokenStore(tmp_path / "tokens.json").create(Role.OPERATOR, "tester")
    security = {"tokens_file": tmp_path / "tokens.json", "keys_dir": keys_dir}
    public = {"pub_endpoint": loopback(), "router_endpoint": loopback()}
    config = load_config(
        None, serve=public, security={**security, "health_pub_endpoint": loopback()}
    )
    regions = RegionMap.balanced(np.array([[0, 0], [5, 0]]), 2)
    shards = [ShardEndpoints(loopback(), loopback()) for _ in range(2)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(FrontError, match="cannot make or keep the front's token"):
            Front(shards, regions, config)
        gc.collect()
    assert not [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    bound = [*public.values(), config.security.health_pub_endpoint]
    with zmq.Context() as ctx:
        for endpoint in bound:
            with ctx.socket(zmq.PUB) as sock:
                sock.setsockopt(zmq.LINGER, 0)
                sock.bind(endpoint)  # EADDRINUSE had the front kept it
