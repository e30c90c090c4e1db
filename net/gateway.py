"""The gateway process: the HTTP API and the WebRTC video view, beside the simulation's process.

Pattern: process isolation of the presentation tier, as Unreal's Pixel Streaming and Unity's
Render Streaming keep rendering and encoding apart from the game server's tick. Rendering, VP8
encoding, DTLS/SRTP, SCTP and HTTP are work that would share the simulation's GIL and cores; in a
process of their own, at a lower CPU priority (``nice``), they never delay a tick. The gateway is
a ZeroMQ client like any other: requests go to the simulation's ROUTER, the crowd and the
selected twins' vitals come from its PUB (``net.http_api``, ``net.webrtc``).

Parent side, ``Gateway``: binds the listening socket up front (a port in use fails at once with
``ServerError``, port 0 is resolved before the child exists), then ``start`` runs
``python -m synthtwin.net.gateway`` in a session of its own with that socket inherited, and
writes the ``GatewaySpec`` as one JSON line to the child's stdin. The pipe stays open: when the
parent dies, however it dies, the child reads end-of-file and shuts down. ``stop`` sends SIGTERM
(uvicorn lets calls in flight finish, then the app closes every viewer) and kills after a grace
period.

Child side, ``main``: reads the spec, takes the cores it is given (``synthtwin.engine.app.serve``
keeps one for it), lowers its priority, and serves ``create_app`` with uvicorn
on the inherited socket until SIGTERM, SIGINT or end-of-file on stdin.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from synthtwin.engine.threads import lower_priority, pin_threads
from synthtwin.net.render.assets import CrowdAssets
from synthtwin.net.server import ServerError

__all__ = ["Gateway", "GatewaySpec", "main"]

STOP_MARGIN_S = 5.0
"""How long ``stop`` waits beyond the spec's grace period before it kills the child."""


@dataclass(frozen=True)
class GatewaySpec:
    """What the gateway process needs: the simulation's endpoints and its own settings.

    Attributes:
        router_endpoint: the simulation's ROUTER (``tcp://`` or ``ipc://``, never ``inproc://``).
        pub_endpoint: the simulation's PUB.
        assets: the files the video view draws the crowd with.
        timeout_s: how long a REST call waits for the simulation before its 503, wall seconds.
        graceful_s: how long a stopping gateway lets calls in flight finish, wall seconds.
        niceness: how much lower the gateway's CPU priority is, 0..19.
        host_addresses: ICE host candidates of the video view; empty: aioice's own choice.
    """

    router_endpoint: str
    pub_endpoint: str
    assets: CrowdAssets
    timeout_s: float = 5.0
    graceful_s: float = 10.0
    niceness: int = 10
    host_addresses: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for endpoint in (self.router_endpoint, self.pub_endpoint):
            if endpoint.startswith("inproc://"):
                raise ServerError(
                    f"the HTTP API runs in a process of its own and cannot reach {endpoint}: "
                    "use tcp:// or ipc:// endpoints, or set serve.http_enabled = false"
                )


class Gateway:
    """The gateway process, seen from the simulation's side.

    Args:
        spec: what the child serves and how.
        host, port: where to listen; port 0 lets the system choose (see ``port``).
    """

    def __init__(self, spec: GatewaySpec, host: str, port: int) -> None:
        self.spec = spec
        self.listener = _listen(host, port)
        self.host = host
        self.port: int = self.listener.getsockname()[1]
        self.process: subprocess.Popen | None = None
        self._cores: tuple[int, ...] = ()
        self.started_at = math.inf
        """When the child last started (monotonic s)."""

    @property
    def url(self) -> str:
        """``http://host:port`` of the API (its docs are at ``/docs``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, cores: tuple[int, ...] = ()) -> None:
        """Start the child, pinned to ``cores`` (empty: wherever the system likes); connections
        already waiting in the backlog are served once it runs."""
        self._cores = cores
        self.started_at = time.monotonic()
        fd = self.listener.fileno()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "synthtwin.net.gateway"],
            stdin=subprocess.PIPE,
            pass_fds=(fd,),
            start_new_session=True,  # a terminal's Ctrl-C reaches the simulation, which stops us
        )
        line = json.dumps({"fd": fd, "cores": list(cores), **asdict(self.spec)}) + "\n"
        self.process.stdin.write(line.encode())
        self.process.stdin.flush()

    def restart_if_ended(self) -> int | None:
        """Start the child again if it ended by itself (a crash, or killed): returns the exit
        status it ended with, or None while it runs. The listening socket stays bound here, so
        the new child serves the same port and waiting connections are not lost."""
        process = self.process
        if process is None or process.poll() is None:
            return None
        process.stdin.close()
        self.start(self._cores)
        return process.returncode

    def stop(self, while_waiting: Callable[[], None] | None = None) -> None:
        """Stop the child and wait for it, calling ``while_waiting()`` meanwhile (the simulation
        passes its ROUTER poll, so REST calls in flight still get their answers)."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + self.spec.graceful_s + STOP_MARGIN_S
            while process.poll() is None and time.monotonic() < deadline:
                if while_waiting is not None:
                    while_waiting()
                time.sleep(0.01)
            if process.poll() is None:
                process.kill()
                process.wait()
        if process is not None:
            process.stdin.close()
        self.listener.close()


def _listen(host: str, port: int) -> socket.socket:
    where = f"http://{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as err:
        raise ServerError(f"cannot bind {where} (HTTP API): {err.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as err:
        sock.close()
        raise ServerError(f"cannot bind {where} (HTTP API): {err.strerror}") from None
    return sock


def main() -> None:
    """The child: serve the HTTP API and the video view on the inherited socket."""
    import uvicorn

    from synthtwin.net.http_api import create_app
    from synthtwin.net.video_encoder import use_rendered_vp8
    from synthtwin.net.webrtc import offer_host_addresses

    logging.basicConfig(level=logging.WARNING, format="gateway: %(levelname)s %(message)s")
    settings = json.loads(sys.stdin.readline())
    listener = socket.socket(fileno=settings.pop("fd"))
    cores = settings.pop("cores")
    spec = GatewaySpec(
        **{
            **settings,
            "assets": CrowdAssets(**settings["assets"]),
            "host_addresses": tuple(settings["host_addresses"]),
        }
    )
    # every thread so far (numpy's, the allocator's) and, inherited, every later one
    if cores:
        pin_threads(set(cores))
    lower_priority(spec.niceness)
    if spec.host_addresses:
        offer_host_addresses(spec.host_addresses)
    use_rendered_vp8()
    app = create_app(spec.router_endpoint, spec.pub_endpoint, spec.assets, spec.timeout_s)
    server = uvicorn.Server(
        uvicorn.Config(
            app, lifespan="on", log_config=None, access_log=False, log_level="warning",
            timeout_graceful_shutdown=math.ceil(spec.graceful_s),
        )
    )  # fmt: skip
    threading.Thread(target=_exit_on_eof, args=(server,), name="parent-watch", daemon=True).start()
    server.run(sockets=[listener])


def _exit_on_eof(server) -> None:
    """Block on stdin; at end-of-file (the parent closed it or died) ask the server to exit."""
    sys.stdin.buffer.read()
    server.should_exit = True


if __name__ == "__main__":
    main()
