"""End to end on a real local Ray: ``twin serve --shards 2``'s parts (engine/app/shard_serve.py)
at commuting time, twins crossing region edges and handed over between the shard actors; a
late-joining Clone client through the front holds every twin, applies the live stream without
an error, and hears no twin removed (a handoff is not a despawn)."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import zmq

from synthtwin.clients.python import CloneClient, RequestClient, RequestError
from synthtwin.engine.app.shard_serve import ShardServing
from synthtwin.engine.config import load_config
from synthtwin.net.wire import meta
from tests.conftest import MONDAY
from tests.loopback import loopback

ray = pytest.importorskip("ray")

TWINS = 300
pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=200 << 20)  # fmt: skip
    yield
    ray.shutdown()


def test_a_late_joiner_through_the_front_follows_handoffs(tmp_path: Path) -> None:
    config = load_config(
        None, twins=TWINS, seed=3, tick_hz=10.0, time_scale=30.0, start=MONDAY.replace(hour=7),
        serve={"pub_endpoint": loopback(), "router_endpoint": loopback(),
               "checkpoint": tmp_path / "world.ckpt", "http_enabled": False},
        history={"enabled": False}, cluster={"shards": 2},
    )  # fmt: skip
    serving = ShardServing(config)
    runner = threading.Thread(target=serving.run)
    runner.start()
    serve = config.serve
    try:
        with RequestClient(serve.router_endpoint, timeout_s=20.0) as client:
            deadline = time.monotonic() + 60
            roster = {"ids": []}
            while len(roster["ids"]) < TWINS and time.monotonic() < deadline:
                time.sleep(0.2)
                with contextlib.suppress(RequestError):  # until both shards joined the front
                    roster = client.call("roster")
        metas = zmq.Context.instance().socket(zmq.SUB)
        metas.setsockopt(zmq.LINGER, 0)
        metas.connect(serve.pub_endpoint)
        metas.subscribe(b"meta")
        removed: list[int] = []
        with metas, CloneClient(serve.pub_endpoint, serve.router_endpoint, timeout_s=10.0) as sub:
            front = serving.front.stream
            crossed = front.foreign_cells
            deadline = time.monotonic() + 60
            while front.foreign_cells < crossed + 5 and time.monotonic() < deadline:
                sub.poll(0.2)  # until twins crossed region edges (their old shard still
                # published them in the new region's cells, which the front ignores)
                while metas.poll(0):
                    removed += meta.decode(metas.recv_multipart()[1]).removed.tolist()
            assert front.foreign_cells >= crossed + 5
            assert removed == []  # handed over, never despawned
            # a twin in transit is in no cell for about a tick (protocol 16, item 2): every twin
            # is held between two handoffs
            deadline = time.monotonic() + 10
            while len(sub.crowd().ids) < TWINS and time.monotonic() < deadline:
                sub.poll(0.05)
            np.testing.assert_array_equal(sub.crowd().ids, np.sort(roster["ids"]))
            np.testing.assert_array_equal(sub.roster, np.sort(roster["ids"]))
            assert sub.rejected == 0 and front.dropped_deltas == 0
            stats = sub.requests.call("stats")
            assert sum(s["twins"] for s in stats["shards"]) == TWINS
    finally:
        serving.stop.set()
        runner.join(timeout=60)
    assert not runner.is_alive()
