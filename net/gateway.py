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
on the inherited socket until SIGTERM, SIGINT or end-of-file on stdin: HTTPS when the spec's
``security`` names a certificate and key (``net.http_security.HttpSecurity``), plain HTTP
otherwise.
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
from pathlib import Path

from synthtwin.engine.config import SecurityConfig
from synthtwin.engine.threads import lower_priority, pin_threads
from synthtwin.net.auth import Role
from synthtwin.net.http_security import HttpSecurity
from synthtwin.net.keys import create_curve_keys
from synthtwin.net.render.assets import CrowdAssets
from synthtwin.net.server import ServerError
from synthtwin.net.wire.curve import CurveKeys

__all__ = ["Gateway", "GatewaySpec", "ZmqAccess", "gateway_keys", "main"]

STOP_MARGIN_S = 5.0
"""How long ``stop`` waits beyond the spec's grace period before it kills the child."""
GATEWAY_KEY = "gateway"
"""The name of the gateway's CURVE key pair in the keys folder."""
GATEWAY_ROLE = Role.ANALYST
"""The role the gateway's key is filed under: the health PUB lets analysts in (the video's data
channel passes vitals on to analysts only, ``net.webrtc``)."""


def gateway_keys(keys_dir: Path) -> tuple[Path, Path]:
    """The server's public key file and the gateway's secret key file in ``keys_dir``; the
    gateway's pair is made on first use in ``<keys_dir>/gateway/``, its public half filed under
    ``clients/analyst/`` (the server reads that folder again within ``net.auth.RELOAD_S``)."""
    keys_dir = Path(keys_dir)
    own = keys_dir / GATEWAY_KEY
    secret = own / f"{GATEWAY_KEY}.key_secret"
    if not secret.is_file():
        public, secret = create_curve_keys(own, GATEWAY_KEY)
        filed = keys_dir / "clients" / GATEWAY_ROLE.label
        filed.mkdir(parents=True, exist_ok=True)
        (filed / public.name).write_bytes(public.read_bytes())
    return keys_dir / "server.key", secret


@dataclass(frozen=True)
class ZmqAccess:
    """How the gateway's Clone client reaches a server with ZeroMQ access control
    (``docs/protocol.md`` section 2.1, ``net.server``).

    Attributes:
        health_endpoint: the health PUB, where vitals are when a token file exists; None: they
            are on the main PUB.
        server_key: the server's public key file; None: no CURVE socket.
        client_key: the gateway's secret key file (``gateway_keys``).
        curve: whether the main PUB and ROUTER are CURVE servers (``security.curve``).
    """

    health_endpoint: str | None = None
    server_key: str | None = None
    client_key: str | None = None
    curve: bool = False

    @classmethod
    def for_server(cls, security: SecurityConfig, access_control: bool) -> ZmqAccess:
        """What a gateway needs beside a server of ``security`` (``access_control``: whether it
        split off the health PUB, ``ZmqServer.access_control``)."""
        if not (access_control or security.curve):
            return cls()
        server_key, client_key = gateway_keys(security.keys_dir)
        health = security.health_pub_endpoint if access_control else None
        return cls(health, str(server_key), str(client_key), security.curve)

    def keys(self) -> CurveKeys | None:
        """The gateway's CURVE keys, or None."""
        if self.server_key is None or self.client_key is None:
            return None
        return CurveKeys.load(self.server_key, self.client_key)


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
        security: tokens, TLS, allow-lists and limits (an empty host allow-list: the defaults
            for the address the gateway listens on).
        zmq_access: the health PUB and CURVE keys of a server with access control.
    """

    router_endpoint: str
    pub_endpoint: str
    assets: CrowdAssets
    timeout_s: float = 5.0
    graceful_s: float = 10.0
    niceness: int = 10
    host_addresses: tuple[str, ...] = field(default=())
    security: HttpSecurity = field(default_factory=HttpSecurity)
    zmq_access: ZmqAccess = field(default_factory=ZmqAccess)

    def __post_init__(self) -> None:
        for endpoint in (self.router_endpoint, self.pub_endpoint):
            if endpoint.startswith("inproc://"):
                raise ServerError(
                    f"the HTTP API runs in a process of its own and cannot reach {endpoint}: "
                    "use tcp:// or ipc:// endpoints, or set serve.http_enabled = false"
                )

    @classmethod
    def from_json(cls, settings: dict) -> GatewaySpec:
        """The spec that ``asdict`` made ``settings`` of (after a JSON round trip)."""
        security = settings["security"]
        return cls(
            **{
                **settings,
                "assets": CrowdAssets(**settings["assets"]),
                "host_addresses": tuple(settings["host_addresses"]),
                "security": HttpSecurity(
                    **{
                        **security,
                        "allowed_hosts": tuple(security["allowed_hosts"]),
                        "allowed_origins": tuple(security["allowed_origins"]),
                    }
                ),
                "zmq_access": ZmqAccess(**settings["zmq_access"]),
            }
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
        """``http://host:port`` (``https://`` under TLS) of the API (its docs are at ``/docs``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.spec.security.tls else "http"
        return f"{scheme}://{host}:{self.port}"

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
        spec = asdict(self.spec)
        spec["security"] = asdict(self.spec.security.bound_to(self.host, self.port))
        line = json.dumps({"fd": fd, "cores": list(cores), **spec}) + "\n"
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
    spec = GatewaySpec.from_json(settings)
    # every thread so far (numpy's, the allocator's) and, inherited, every later one
    if cores:
        pin_threads(set(cores))
    lower_priority(spec.niceness)
    if spec.host_addresses:
        offer_host_addresses(spec.host_addresses)
    use_rendered_vp8()
    security, zmq_access = spec.security, spec.zmq_access
    app = create_app(
        spec.router_endpoint, spec.pub_endpoint, spec.assets, spec.timeout_s, security=security,
        keys=zmq_access.keys(), health_endpoint=zmq_access.health_endpoint, curve=zmq_access.curve,
    )  # fmt: skip
    server = uvicorn.Server(
        uvicorn.Config(
            app, lifespan="on", log_config=None, access_log=False, log_level="warning",
            timeout_graceful_shutdown=math.ceil(spec.graceful_s),
            ssl_certfile=security.tls_cert, ssl_keyfile=security.tls_key,
            ws_per_message_deflate=False,  # the WebSocket's payloads are quantized binary
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
