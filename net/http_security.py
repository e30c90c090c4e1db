"""The gateway's HTTP defences: who may call (roles), from where (Host, Origin), how much (body
size, request rate) and what a browser may do with the answers (security headers).

Pattern: defence in depth, one check per layer. The layers are pure ASGI middleware (Starlette's
``Middleware``), outermost first, each refusing with a JSON ``{"detail": message}``:

===================  =======================================================================  ======
layer                refuses                                                                  status
===================  =======================================================================  ======
``SecurityHeaders``  nothing: adds the CSP, ``nosniff``, frame and referrer rules to answers
``HostCheck``        a Host header not in the allow-list (DNS rebinding)                      400
``RateLimit``        a caller past its token bucket (``Retry-After`` says when)               429
``BodyLimit``        a body over the limit: at once when declared, else as it streams         413
``OriginCheck``      a foreign ``Origin`` on a state-changing or credentialed request         403
===================  =======================================================================  ======

Past the middleware, FastAPI dependencies do the rest: ``needs(role)`` answers 401 (no valid
token) or 403 (too low a role), then, on a state-changing route, ``cross_site_proof`` refuses a
request that a foreign page could send without a CORS preflight (415).

Tokens come as ``Authorization: Bearer st_...`` or as the ``HttpOnly``, ``SameSite=Strict`` cookie
that ``POST /api/login`` sets (``Secure`` under TLS), and are checked against the token file
(``net.auth.TokenStore``, re-read within ``net.auth.RELOAD_S`` of a change: revocation and expiry
reach running gateways). With no token file access is open, as for a local demo.

The request rate is limited per caller: a valid token is one caller (whatever addresses use it),
and requests without one (open access, or a missing, unknown or expired token, which the route
then refuses) count by client address. So on loopback, with tokens, each token has its own share
rather than every local client sharing one.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from synthtwin.engine.config import SecurityConfig
from synthtwin.net.auth import AuthError, Role, TokenStore
from synthtwin.net.limits import PeerBuckets

__all__ = [
    "COOKIE",
    "PAGE_CSP",
    "Access",
    "AnalystCaller",
    "BodyLimit",
    "Caller",
    "HostCheck",
    "HttpSecurity",
    "OperatorCaller",
    "OperatorChange",
    "OriginCheck",
    "RateLimit",
    "SecurityHeaders",
    "StateChange",
    "ViewerCaller",
    "ViewerChange",
    "cross_site_proof",
    "default_hosts",
    "http_error",
    "middleware",
    "needs",
]

COOKIE = "synthtwin_token"
"""The login cookie: the token itself, ``HttpOnly; SameSite=Strict; Path=/`` (``Secure`` with
TLS)."""
COOKIE_MAX_AGE_S = 7 * 86400
"""How long a browser keeps the login cookie; the token's own expiry still applies."""
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
"""The page's Content-Security-Policy: only its own files (``clients/web/`` has no inline script
or style), no framing."""
HEADERS = {
    "content-security-policy": PAGE_CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
"""Added to every answer that does not set its own (``/docs`` sets its own CSP)."""
API_CACHE = ("cache-control", "no-store")
"""Added to every ``/api/`` answer: tokens and health data stay out of caches."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?$")
_ORIGIN = re.compile(r"^(https?)://(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?/?$")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
"""The hosts an app built without an allow-list answers (on any port)."""
_DEFAULTS = SecurityConfig()


# -- settings --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpSecurity:
    """The ``[security]`` settings the gateway enforces (``engine.config.SecurityConfig``).

    Attributes:
        tokens_file: the token file; None, or a file that does not exist: open access.
        tls_cert, tls_key: PEM files; both set: HTTPS, and the login cookie is ``Secure``.
        allowed_hosts: Host header values answered: ``host:port``, or ``host`` for any port,
            ``*`` for any host; empty: ``default_hosts`` of the bind address (loopback names on
            any port when the app is built alone).
        allowed_origins: other origins (``https://host:port``) whose pages may call the API.
        max_body_bytes: largest request body.
        rest_rate_per_s, rest_burst: each caller's requests per second, and burst (a caller:
            its token when valid, else its client address).
        router_rate_per_s, router_burst: what the simulation's ROUTER allows each of its peers
            (the gateway's clients pace themselves below it, ``GATEWAY_PACE_SHARE``).
        max_viewers: video viewers at once.
        ws_max_connections, ws_caller_connections, ws_rate_per_s, ws_burst, ws_queue_bytes,
            ws_max_twins: the WebSocket's limits (``net.websocket.WsSettings``).
    """

    tokens_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = _DEFAULTS.max_body_bytes
    rest_rate_per_s: float = _DEFAULTS.rest_rate_per_s
    rest_burst: int = _DEFAULTS.rest_burst
    router_rate_per_s: float = _DEFAULTS.router_rate_per_s
    router_burst: int = _DEFAULTS.router_burst
    max_viewers: int = _DEFAULTS.max_viewers
    ws_max_connections: int = _DEFAULTS.ws_max_connections
    ws_caller_connections: int = _DEFAULTS.ws_caller_connections
    ws_rate_per_s: float = _DEFAULTS.ws_rate_per_s
    ws_burst: int = _DEFAULTS.ws_burst
    ws_queue_bytes: int = _DEFAULTS.ws_queue_bytes
    ws_max_twins: int = _DEFAULTS.ws_max_twins

    def __post_init__(self) -> None:
        try:
            for entry in self.allowed_hosts:
                if entry != "*":
                    split_host(entry)
            for entry in self.allowed_origins:
                split_origin(entry)
        except ValueError as err:
            raise ValueError(f"security.allowed_hosts / allowed_origins: {err}") from None

    @classmethod
    def from_config(cls, security: SecurityConfig, tokens_file: Path) -> HttpSecurity:
        """The gateway's share of ``[security]``; ``tokens_file`` is ``Config.tokens_file``."""
        return cls(
            tokens_file=str(tokens_file),
            tls_cert=None if security.tls_cert is None else str(security.tls_cert),
            tls_key=None if security.tls_key is None else str(security.tls_key),
            allowed_hosts=tuple(security.allowed_hosts),
            allowed_origins=tuple(security.allowed_origins),
            max_body_bytes=security.max_body_bytes,
            rest_rate_per_s=security.rest_rate_per_s,
            rest_burst=security.rest_burst,
            router_rate_per_s=security.router_rate_per_s,
            router_burst=security.router_burst,
            max_viewers=security.max_viewers,
            ws_max_connections=security.ws_max_connections,
            ws_caller_connections=security.ws_caller_connections,
            ws_rate_per_s=security.ws_rate_per_s,
            ws_burst=security.ws_burst,
            ws_queue_bytes=security.ws_queue_bytes,
            ws_max_twins=security.ws_max_twins,
        )

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None

    def bound_to(self, host: str, port: int) -> HttpSecurity:
        """These settings for a gateway listening on ``host:port``: an empty host allow-list
        becomes ``default_hosts(host, port)``."""
        if self.allowed_hosts:
            return self
        return replace(self, allowed_hosts=default_hosts(host, port))


def default_hosts(bind_host: str, port: int) -> tuple[str, ...]:
    """The Host values a gateway on ``bind_host:port`` answers by default: that address,
    ``localhost``, ``127.0.0.1`` and ``[::1]``, each with the port."""
    ipv6 = ":" in bind_host and not bind_host.startswith("[")
    names = (f"[{bind_host}]" if ipv6 else bind_host).lower(), *LOOPBACK_NAMES
    return tuple(dict.fromkeys(f"{name}:{port}" for name in names))


def split_host(value: str) -> tuple[str, int | None]:
    """``(host, port)`` of a Host header or allow-list entry, lower case, IPv6 in brackets; port
    None when absent. Raises ValueError for anything else."""
    match = _HOST.match(value.strip().lower())
    if match is None or (match.group(2) is not None and int(match.group(2)) > 65535):
        raise ValueError(f"{value!r} is not a host name or address with an optional :port")
    return match.group(1), None if match.group(2) is None else int(match.group(2))


def split_origin(value: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an origin such as ``https://example.org:8443``, the scheme's
    default port filled in. Raises ValueError for anything else (``null`` included)."""
    match = _ORIGIN.match(value.strip().lower())
    if match is None or (match.group(3) is not None and int(match.group(3)) > 65535):
        raise ValueError(f"{value!r} is not an origin (scheme://host[:port])")
    scheme, host, port = match.groups()
    return scheme, host, DEFAULT_PORTS[scheme] if port is None else int(port)


# -- roles -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who made a request: the token it came with, as checked (None: none, or open access,
    where nobody needs one), and the role it holds."""

    token: str | None
    role: Role


_bearer = HTTPBearer(
    auto_error=False, description="a token from `twin token create`: `Bearer st_...`"
)
_cookie = APIKeyCookie(
    name=COOKIE, auto_error=False, description="the login cookie that POST /api/login sets"
)


class Access:
    """Checks callers' tokens against the token file (``net.auth.TokenStore``).

    Args:
        tokens_file: the token file; None: open access, whatever exists.
    """

    def __init__(self, tokens_file: str | Path | None) -> None:
        self.store = None if tokens_file is None else TokenStore(tokens_file)

    @property
    def open(self) -> bool:
        """Every caller is admin (no token file)."""
        return self.store is None or self.store.open_access

    def check(self, token: str | None, needed: Role = Role.VIEWER) -> Role:
        """The role of ``token`` if it grants ``needed``; raises ``net.auth.AuthError``."""
        return Role.ADMIN if self.store is None else self.store.check(token, needed)

    def identity(self, token: str | None) -> str | None:
        """The id of ``token`` when it is valid, else None (open access: always None)."""
        return None if self.store is None else self.store.identity(token)

    def caller(self, request: Request, needed: Role) -> Caller:
        """The caller of ``request`` (bearer token first, then the login cookie) if it holds
        ``needed``; raises HTTPException 401 or 403 otherwise."""
        token = _token_of(request)
        try:
            role = self.check(token, needed)
        except AuthError as err:
            raise http_error(err) from None
        return Caller(None if self.open else token, role)


def needs(needed: Role, changes_state: bool = False) -> Callable[..., Awaitable[Caller]]:
    """A FastAPI dependency: the ``Caller`` of a request if it holds ``needed`` (401 or 403
    otherwise), checked by the app's ``state.access``; for a route that ``changes_state``, then
    ``cross_site_proof`` (415). Its security schemes (bearer token, login cookie) show in the
    OpenAPI document."""

    async def caller(
        request: Request,
        _bearer_token: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        _cookie_token: Annotated[str | None, Security(_cookie)],
    ) -> Caller:
        found = request.app.state.access.caller(request, needed)
        if changes_state:
            await cross_site_proof(request)
        return found

    caller.__name__ = f"needs_{needed.label}"
    return caller


ViewerCaller = Annotated[Caller, Depends(needs(Role.VIEWER))]
"""A route parameter: the caller, who holds the viewer role."""
AnalystCaller = Annotated[Caller, Depends(needs(Role.ANALYST))]
"""A route parameter: the caller, who holds the analyst role."""
OperatorCaller = Annotated[Caller, Depends(needs(Role.OPERATOR))]
"""A route parameter: the caller, who holds the operator role."""
ViewerChange = Annotated[Caller, Depends(needs(Role.VIEWER, changes_state=True))]
"""A route parameter of a state-changing route: the caller, a viewer, by a non-simple request."""
OperatorChange = Annotated[Caller, Depends(needs(Role.OPERATOR, changes_state=True))]
"""A route parameter of a state-changing route: the caller, an operator, by a non-simple
request."""


def _token_of(request: Request) -> str | None:
    """The bearer token of ``request``, else its login cookie, else None."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(COOKIE) or None


def http_error(err: AuthError) -> HTTPException:
    """401 (with ``WWW-Authenticate: Bearer``) for ``unauthorized``, 403 for ``forbidden``."""
    if err.code == "forbidden":
        return HTTPException(403, str(err))
    return HTTPException(401, str(err), headers={"WWW-Authenticate": "Bearer"})


async def cross_site_proof(request: Request) -> None:
    """A dependency of every state-changing route: the request must carry what a foreign page
    cannot send without a CORS preflight, a JSON content type or an ``Authorization`` header;
    415 otherwise (a form post or ``text/plain`` beacon from another site)."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json" and "authorization" not in request.headers:
        raise HTTPException(
            415, "send Content-Type: application/json (or an Authorization header) with this call"
        )


StateChange = Depends(cross_site_proof)
"""``dependencies=[StateChange]`` on a state-changing route that needs no role (login)."""


# -- middleware ------------------------------------------------------------------------------------


async def _refuse(
    send: Send, scope: Scope, receive: Receive, status: int, detail: str, **headers: str
) -> None:
    """Answer ``{"detail": detail}`` with ``status`` instead of passing the request on."""
    response = JSONResponse({"detail": detail}, status, headers=headers or None)
    await response(scope, receive, send)


class SecurityHeaders:
    """Adds ``HEADERS`` to every answer (those it sets itself win), and ``Cache-Control:
    no-store`` to ``/api/`` answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                if api:
                    headers.setdefault(*API_CACHE)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HostCheck:
    """400 for a request whose Host header is not in ``allowed_hosts`` (DNS rebinding: a foreign
    name resolving to this machine must not reach the API with the user's browser).

    Args:
        allowed_hosts: ``host:port``, ``host`` (any port) or ``*`` (any host) entries.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: tuple[str, ...]) -> None:
        self.app = app
        self.any_host = "*" in allowed_hosts
        self.allowed = {split_host(entry) for entry in allowed_hosts if entry != "*"}

    def allows(self, host_header: str, scheme: str) -> bool:
        try:
            host, port = split_host(host_header)
        except ValueError:
            return False
        port = DEFAULT_PORTS.get(scheme, 80) if port is None else port
        return (host, port) in self.allowed or (host, None) in self.allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.any_host:
            host = Headers(scope=scope).get("host", "")
            if not self.allows(host, scope.get("scheme", "http")):
                detail = f"host {host[:100]!r} is not served here (security.allowed_hosts)"
                await _refuse(send, scope, receive, 400, detail)
                return
        await self.app(scope, receive, send)


class RateLimit:
    """429 with ``Retry-After`` for a caller past its token bucket (``net.limits``, as the
    ROUTER limits its peers): a valid token is one caller, any other request counts by its
    client address (module docstring).

    Args:
        rate_per_s, burst: each caller's requests per second, and how many it may save up.
        access: the token check (whose token is valid); None: by address only.
    """

    def __init__(
        self, app: ASGIApp, rate_per_s: float, burst: int, access: Access | None = None
    ) -> None:
        self.app = app
        self.buckets = PeerBuckets(rate_per_s, burst)
        self.access = access

    def caller(self, scope: Scope) -> str:
        """Whom a request counts as: ``token <id>`` or its client address."""
        token_id = None if self.access is None else self.access.identity(_token_of(Request(scope)))
        if token_id is not None:
            return f"token {token_id}"
        return (scope.get("client") or ("unknown", 0))[0]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            client = self.caller(scope)
            wait_s = self.buckets.take(client.encode(), time.monotonic())
            if wait_s > 0:
                retry_s = max(1, math.ceil(wait_s))
                rate = f"{self.buckets.rate_per_s:g}/s, burst {self.buckets.burst}"
                detail = f"too many requests from {client} (at most {rate}); retry in {retry_s} s"
                await _refuse(send, scope, receive, 429, detail, **{"retry-after": str(retry_s)})
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """413 for a request body over ``max_body_bytes``: at once, before reading any of it, when
    ``Content-Length`` says so (400 when that is not a number); otherwise (chunked) the read
    stops at the limit and the route answers 413 (FastAPI re-raises an ``HTTPException`` raised
    while it reads the body). A route that never reads its body never receives it."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    @property
    def too_large(self) -> str:
        return f"the body is larger than {self.max_body_bytes} bytes (security.max_body_bytes)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and not declared.strip().isdecimal():
            await _refuse(send, scope, receive, 400, "Content-Length is not a number")
        elif declared is not None and int(declared) > self.max_body_bytes:
            await _refuse(send, scope, receive, 413, self.too_large)
        else:
            await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        """``receive``, raising 413 once the body passes the limit."""
        size = 0

        async def receive_counted() -> Message:
            nonlocal size
            message = await receive()
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                raise HTTPException(413, self.too_large)
            return message

        return receive_counted


class OriginCheck:
    """403 for a request from a foreign page: one with an ``Origin`` header that is neither the
    page's own origin (this request's scheme and Host) nor in ``allowed_origins``, when it
    changes state (any method but GET, HEAD, OPTIONS) or carries credentials (a cookie or an
    ``Authorization`` header). Requests without ``Origin`` (tools, same-origin GETs) pass.

    Args:
        allowed_origins: other origins whose pages may call the API.
    """

    def __init__(self, app: ASGIApp, allowed_origins: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = {split_origin(origin) for origin in allowed_origins}

    def allows(self, origin: str, scope: Scope, headers: Headers) -> bool:
        try:
            found = split_origin(origin)
        except ValueError:
            return False
        if found in self.allowed:
            return True
        scheme = scope.get("scheme", "http")
        try:
            host, port = split_host(headers.get("host", ""))
        except ValueError:
            return False
        return found == (scheme, host, DEFAULT_PORTS.get(scheme, 80) if port is None else port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            risky = scope["method"] not in SAFE_METHODS or any(
                name in headers for name in ("cookie", "authorization")
            )
            if origin is not None and risky and not self.allows(origin, scope, headers):
                detail = f"origin {origin[:100]!r} may not call this API (security.allowed_origins)"
                await _refuse(send, scope, receive, 403, detail)
                return
        await self.app(scope, receive, send)


def middleware(settings: HttpSecurity, access: Access | None = None) -> list[Middleware]:
    """The layers of ``settings``, outermost first (``FastAPI(middleware=...)``); CORS, for the
    pages of ``allowed_origins``, innermost. ``access``: the app's token check, which the rate
    limit asks whom a request counts as (None: its address)."""
    hosts = settings.allowed_hosts or LOOPBACK_NAMES
    layers = [
        Middleware(SecurityHeaders),
        Middleware(HostCheck, allowed_hosts=hosts),
        Middleware(
            RateLimit, rate_per_s=settings.rest_rate_per_s, burst=settings.rest_burst, access=access
        ),  # fmt: skip
        Middleware(BodyLimit, max_body_bytes=settings.max_body_bytes),
        Middleware(OriginCheck, allowed_origins=settings.allowed_origins),
    ]
    if settings.allowed_origins:
        layers.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.allowed_origins),
                allow_credentials=True,
                allow_methods=["GET", "POST", "PUT", "DELETE"],
                allow_headers=["authorization", "content-type"],
            )
        )
    return layers
