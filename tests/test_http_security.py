"""The gateway's HTTP defences (net.http_security) on the app alone, no simulation behind it:
Host and Origin allow-lists, state changes that a foreign page cannot send, the body limit (also
while a body streams, on a real server), the rate limit, security headers, roles with 401 and 403,
the login cookie, bad input that must never be a 500, and a real HTTPS round trip.

A call that passes every check reaches the ROUTER, where nothing listens: its 503 says it passed.
"""

from __future__ import annotations

import json
import re
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
import zmq
from fastapi.testclient import TestClient

from synthtwin.engine.app.assets import crowd_assets
from synthtwin.engine.config import ConfigError, SecurityConfig, load_config
from synthtwin.net.auth import Role, TokenStore
from synthtwin.net.gateway import Gateway, GatewaySpec
from synthtwin.net.http_api import WEB_DIR, create_app
from synthtwin.net.http_security import (
    COOKIE,
    PAGE_CSP,
    HttpSecurity,
    default_hosts,
)
from synthtwin.net.keys import create_self_signed_cert
from synthtwin.net.websocket import WsSettings
from synthtwin.net.wire import reply, request
from tests.loopback import loopback

NOBODY = "tcp://127.0.0.1:9"
"""A ROUTER endpoint nobody listens on: calls that get there answer 503 after ``TIMEOUT_S``."""
TIMEOUT_S = 0.1
JSON = {"content-type": "application/json"}
PASSED = 503
"""The status of a call that passed every check and reached the (absent) simulation."""


@contextmanager
def client(security: HttpSecurity | None = None, **kwargs) -> Iterator[TestClient]:
    """A TestClient of the app alone, at ``http://localhost``."""
    app = create_app(NOBODY, "tcp://127.0.0.1:10", crowd_assets(), TIMEOUT_S, security=security)
    with TestClient(app, base_url="http://localhost", **kwargs) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def open_api() -> Iterator[TestClient]:
    """Open access (no token file), the default limits."""
    with client() as test_client:
        yield test_client


@pytest.fixture(scope="module")
def tokens(tmp_path_factory) -> dict[str, str]:
    """A token of each role in a fresh token file, by role name; ``file`` is its path."""
    path = tmp_path_factory.mktemp("tokens") / "tokens.json"
    store = TokenStore(path)
    made = {role.label: store.create(role, role.label) for role in Role}
    return {**made, "file": str(path)}


@pytest.fixture(scope="module")
def closed_api(tokens) -> Iterator[TestClient]:
    with client(HttpSecurity(tokens_file=tokens["file"])) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", **JSON}


# -- Host and Origin -------------------------------------------------------------------------------


def test_a_foreign_host_header_is_400_dns_rebinding(open_api):
    answer = open_api.get("/api/legend", headers={"host": "rebind.evil.example"})
    assert answer.status_code == 400
    assert answer.json() == {
        "detail": "host 'rebind.evil.example' is not served here (security.allowed_hosts)"
    }
    assert open_api.get("/", headers={"host": "rebind.evil.example:8000"}).status_code == 400
    for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"):
        assert open_api.get("/api/legend", headers={"host": host}).status_code == 200, host


def test_the_default_hosts_are_the_bind_address_and_loopback_with_the_port():
    assert default_hosts("0.0.0.0", 8000) == (
        "0.0.0.0:8000", "localhost:8000", "127.0.0.1:8000", "[::1]:8000",
    )  # fmt: skip
    assert default_hosts("::1", 80) == ("[::1]:80", "localhost:80", "127.0.0.1:80")


def test_an_allow_list_entry_without_a_port_allows_any_port():
    security = HttpSecurity(allowed_hosts=("twin.example.org", "127.0.0.1:8443"))
    with client(security) as api:
        assert api.get("/api/legend", headers={"host": "twin.example.org:9"}).status_code == 200
        assert api.get("/api/legend", headers={"host": "twin.example.org"}).status_code == 200
        assert api.get("/api/legend", headers={"host": "127.0.0.1:8443"}).status_code == 200
        assert api.get("/api/legend", headers={"host": "127.0.0.1:8000"}).status_code == 400
        assert api.get("/api/legend", headers={"host": "localhost"}).status_code == 400


@pytest.mark.parametrize("bad", [("bad host",), ("*.example.org",)])
def test_a_malformed_allow_list_entry_is_refused_up_front(bad):
    with pytest.raises(ValueError, match="security.allowed_hosts / allowed_origins"):
        HttpSecurity(allowed_hosts=bad)


@pytest.mark.parametrize("path", ["/api/pause", "/api/resume"])
def test_pause_and_resume_from_a_foreign_origin_are_403(open_api, path):
    for origin in ("evil", "http://evil.example", "null", "http://localhost:8080"):
        answer = open_api.post(path, headers={"origin": origin, **JSON})
        assert answer.status_code == 403, origin
        assert "may not call this API" in answer.json()["detail"]
    assert open_api.post(path, headers={"origin": "http://localhost", **JSON}).status_code == PASSED


def test_a_credentialed_read_from_a_foreign_origin_is_403_a_bare_one_is_not(open_api):
    foreign = {"origin": "http://evil.example"}
    assert open_api.get("/api/legend", headers=foreign).status_code == 200
    with_cookie = {**foreign, "cookie": f"{COOKIE}=st_x"}
    assert open_api.get("/api/legend", headers=with_cookie).status_code == 403
    with_token = {**foreign, "authorization": "Bearer st_x"}
    assert open_api.get("/api/legend", headers=with_token).status_code == 403


def test_allowed_origins_may_call_and_get_cors_answers():
    with client(HttpSecurity(allowed_origins=("https://dash.example.org",))) as api:
        origin = {"origin": "https://dash.example.org"}
        answer = api.post("/api/pause", headers={**origin, **JSON})
        assert answer.status_code == PASSED
        assert answer.headers["access-control-allow-origin"] == "https://dash.example.org"
        preflight = api.options(
            "/api/pause",
            headers={**origin, "access-control-request-method": "POST",
                     "access-control-request-headers": "content-type"},
        )  # fmt: skip
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-credentials"] == "true"
        foreign = {"origin": "https://other.example.org", **JSON}
        assert api.post("/api/pause", headers=foreign).status_code == 403


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_state_change_a_foreign_page_could_send_without_preflight_is_415(open_api, content_type):
    headers = {} if content_type is None else {"content-type": content_type}
    answer = open_api.post("/api/pause", headers=headers, content=b"x=1" if headers else None)
    assert answer.status_code == 415
    assert answer.json()["detail"].startswith("send Content-Type: application/json")
    assert open_api.delete("/api/twins/3", headers=headers).status_code == 415
    token_header = {"authorization": "Bearer st_x"}  # open access: any token will do
    assert open_api.post("/api/pause", headers=token_header).status_code == PASSED


# -- limits ----------------------------------------------------------------------------------------


def test_a_declared_body_over_the_limit_is_413_before_it_is_read():
    with client(HttpSecurity(max_body_bytes=4096)) as api:
        answer = api.post("/api/twins/spawn", content=b"x" * 5000, headers=JSON)
        assert answer.status_code == 413
        assert answer.json() == {
            "detail": "the body is larger than 4096 bytes (security.max_body_bytes)"
        }
        assert answer.headers["x-content-type-options"] == "nosniff"
        ok = api.post("/api/twins/spawn", json={"count": 1, "pad": "x" * 3000})
        assert ok.status_code == 422  # read, and refused for its unknown key
        bad_length = {**JSON, "content-length": "lots"}
        assert api.post("/api/pause", headers=bad_length).status_code == 400


def test_a_client_past_its_rate_is_429_with_retry_after():
    with client(HttpSecurity(rest_rate_per_s=0.5, rest_burst=3)) as api:
        assert [api.get("/api/legend").status_code for _ in range(3)] == [200] * 3
        answer = api.get("/api/legend")
        assert answer.status_code == 429
        assert answer.headers["retry-after"] == "2"
        assert answer.json()["detail"] == (
            "too many requests from testclient (at most 0.5/s, burst 3); retry in 2 s"
        )


def test_the_rate_counts_each_valid_token_apart_and_the_rest_by_address(tokens):
    """Every local client shares one address (loopback): a token is a caller of its own, and a
    missing or bad token counts against the address (it cannot buy a fresh bucket)."""
    security = HttpSecurity(tokens_file=tokens["file"], rest_rate_per_s=0.01, rest_burst=2)
    with client(security) as api:

        def status(token: str | None) -> int:
            headers = {} if token is None else {"authorization": f"Bearer {token}"}
            return api.get("/api/legend", headers=headers).status_code

        assert [status(tokens["viewer"]) for _ in range(3)] == [200, 200, 429]
        assert [status(tokens["analyst"]) for _ in range(2)] == [200, 200]
        assert status(tokens["analyst"]) == 429
        assert [status(None), status("st_00000000_" + "x" * 43), status(None)] == [401, 401, 429]
        refused = api.get("/api/legend", headers={"authorization": f"Bearer {tokens['viewer']}"})
        assert refused.json()["detail"].startswith("too many requests from token ")
        api.cookies.set(COOKIE, tokens["operator"])
        assert status(None) == 200  # the login cookie names its token too


# -- security headers ------------------------------------------------------------------------------


HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/", 200),
        ("get", "/app.js", 200),
        ("get", "/vendor/uPlot.esm.js", 200),
        ("get", "/api/legend", 200),
        ("get", "/no-such-file.js", 404),
        ("get", "/api/no-such-call", 404),
        ("put", "/api/stats", 405),
        ("get", "/openapi.json", 200),
    ],
)
def test_every_answer_carries_the_security_headers(open_api, method, path, status):
    answer = open_api.request(method, path, headers=JSON)
    assert answer.status_code == status
    for name, value in HEADERS.items():
        assert answer.headers[name] == value, name
    assert answer.headers["content-security-policy"] == PAGE_CSP
    assert "frame-ancestors 'none'" in PAGE_CSP and "'unsafe-inline'" not in PAGE_CSP
    if path.startswith("/api/"):
        assert answer.headers["cache-control"] == "no-store"
    if status >= 400:
        assert "detail" in answer.json()


class _Inline(HTMLParser):
    """What a CSP without 'unsafe-inline' would block: inline scripts, styles, handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._tag = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag = tag
        names = {name for name, _ in attrs}
        if tag == "style" or "style" in names or any(n.startswith("on") for n in names):
            self.found.append(f"<{tag} {sorted(names)}>")

    def handle_data(self, data: str) -> None:
        if self._tag == "script" and data.strip():
            self.found.append(f"inline script {data.strip()[:40]!r}")

    def handle_endtag(self, tag: str) -> None:
        self._tag = ""


def test_the_page_fits_its_csp_no_inline_script_style_or_handler():
    parser = _Inline()
    parser.feed((WEB_DIR / "index.html").read_text(encoding="utf-8"))
    assert parser.found == []
    for name in ("app.js", "video.js"):
        source = (WEB_DIR / name).read_text(encoding="utf-8")
        assert not re.search(r"\beval\(|new Function|innerHTML|setAttribute\(\s*[\"']style", source)


def test_the_docs_page_has_its_own_csp_that_hashes_its_inline_script(open_api):
    answer = open_api.get("/docs")
    assert answer.status_code == 200 and "swagger" in answer.text.lower()
    csp = answer.headers["content-security-policy"]
    assert re.search(r"script-src 'self' 'sha256-[A-Za-z0-9+/=]{44}';", csp)
    assert "https:" not in csp  # Swagger UI is vendored: nothing from a CDN
    assert "frame-ancestors 'none'" in csp and answer.headers["x-frame-options"] == "DENY"
    assert open_api.get("/redoc").status_code == 404


# -- roles -----------------------------------------------------------------------------------------


ROUTES = [
    ("get", "/api/twins", Role.VIEWER),
    ("get", "/api/stats", Role.VIEWER),
    ("get", "/api/legend", Role.VIEWER),
    ("get", "/api/session", Role.VIEWER),
    ("get", "/api/twins/7", Role.ANALYST),
    ("get", "/api/viewers", Role.OPERATOR),
    ("post", "/api/pause", Role.OPERATOR),
    ("post", "/api/resume", Role.OPERATOR),
    ("delete", "/api/twins/7", Role.OPERATOR),
]
"""Every route that needs a role, with that role (offer, spawn, despawn and time scale, which
take bodies, are in ``test_routes_with_bodies_check_the_role_first``)."""


@pytest.mark.parametrize(("method", "path", "needed"), ROUTES)
def test_each_route_needs_its_role_401_without_a_token_403_below_it(
    closed_api, tokens, method, path, needed
):
    answer = closed_api.request(method, path, headers=JSON)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json() == {"detail": "a token is required: see `twin token create`"}
    for role in Role:
        answer = closed_api.request(method, path, headers=bearer(tokens[role.label]))
        if role >= needed:
            assert answer.status_code in (200, PASSED), (role, answer.text)
        else:
            assert answer.status_code == 403, role
            expected = f"this needs the {needed.label} role; the token has {role.label}"
            assert answer.json() == {"detail": expected}


@pytest.mark.parametrize(
    ("method", "path", "body", "needed"),
    [
        ("post", "/api/twins/spawn", {"count": 1}, Role.OPERATOR),
        ("post", "/api/twins/despawn", {"ids": [7]}, Role.OPERATOR),
        ("put", "/api/time-scale", {"scale": 2.0}, Role.OPERATOR),
        ("post", "/api/webrtc/offer", {"sdp": "v=0", "type": "offer"}, Role.VIEWER),
    ],
)
def test_routes_with_bodies_check_the_role_first(closed_api, tokens, method, path, body, needed):
    assert closed_api.request(method, path, json=body).status_code == 401
    below = Role(needed - 1) if needed > Role.VIEWER else None
    if below is not None:
        answer = closed_api.request(method, path, json=body, headers=bearer(tokens[below.label]))
        assert answer.status_code == 403
    answer = closed_api.request(method, path, json=body, headers=bearer(tokens[needed.label]))
    assert answer.status_code not in (401, 403)


def test_the_role_is_checked_before_the_content_type(closed_api, tokens):
    assert closed_api.post("/api/pause").status_code == 401  # no token, no JSON: 401 first
    viewer = {"authorization": f"Bearer {tokens['viewer']}"}
    assert closed_api.delete("/api/twins/7", headers=viewer).status_code == 403


def test_an_unknown_or_malformed_token_is_401(closed_api, tokens):
    forged = tokens["admin"][:-4] + "AAAA"
    for token in (forged, "st_x", "x" * 5000):
        answer = closed_api.get("/api/legend", headers={"authorization": f"Bearer {token}"})
        assert answer.status_code == 401
        assert answer.json() == {"detail": "unknown or revoked token"}


def test_open_access_lets_everyone_do_everything(open_api):
    for method, path, _ in ROUTES:
        assert open_api.request(method, path, headers=JSON).status_code in (200, PASSED), path
    assert open_api.get("/api/session").json() == {"role": "admin", "open": True}


# -- the token goes on to the simulation -----------------------------------------------------------


@contextmanager
def recording_router(answer: reply.ReplyError | None = None) -> Iterator[tuple[str, list]]:
    """A ROUTER in a thread that answers every request (``{"paused": True}``, or the error
    ``answer``) and records it; yields its endpoint and the decoded requests."""
    asked: list[request.Request] = []
    stop = threading.Event()
    router = zmq.Context.instance().socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")

    def serve() -> None:
        while not stop.is_set():
            if router.poll(20):
                peer, payload = router.recv_multipart()
                asked.append(request.decode(payload))
                ok = answer is None
                made = reply.Reply(1, 1, 0.0, asked[-1].id, ok, {"paused": True} if ok else None,
                                   answer)  # fmt: skip
                router.send_multipart([peer, reply.encode(made)])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{port}", asked
    finally:
        stop.set()
        thread.join()
        router.close()


def test_each_call_carries_its_callers_token_to_the_simulation(tokens):
    with recording_router() as (endpoint, asked):
        app = create_app(endpoint, loopback(), crowd_assets(), 2.0,
                         security=HttpSecurity(tokens_file=tokens["file"]))  # fmt: skip
        with TestClient(app, base_url="http://localhost") as api:
            for role in ("operator", "admin", "operator"):
                answer = api.post("/api/pause", headers=bearer(tokens[role]))
                assert answer.json() == {"paused": True}
            api.cookies.set(COOKIE, tokens["admin"])
            assert api.post("/api/resume", headers=JSON).status_code == 200
            clients = len(app.state.requests)
    assert [r.op for r in asked] == ["pause"] * 3 + ["resume"]
    assert [r.token for r in asked] == [tokens[r] for r in ("operator", "admin", "operator")] + [
        tokens["admin"]
    ]
    assert clients == 2  # one request client (one DEALER) per token


def test_with_open_access_no_token_goes_on_and_the_simulations_refusals_pass_through():
    refusal = reply.ReplyError(reply.RATE_LIMITED, "too many requests; retry later", 2500)
    with recording_router(refusal) as (endpoint, asked):
        app = create_app(endpoint, loopback(), crowd_assets(), 2.0)
        with TestClient(app, base_url="http://localhost") as api:
            answer = api.post("/api/pause", headers=bearer("st_whatever"))
    assert answer.status_code == 429 and answer.headers["retry-after"] == "3"
    assert answer.json() == {"detail": "too many requests; retry later"}
    assert asked[0].token is None


# -- login, logout, the cookie ---------------------------------------------------------------------


def test_login_sets_an_httponly_strict_cookie_that_opens_the_api(tokens):
    with client(HttpSecurity(tokens_file=tokens["file"])) as api:
        assert api.get("/api/session").status_code == 401
        refused = api.post("/api/login", json={"token": "st_nope"})
        assert refused.status_code == 401 and "set-cookie" not in refused.headers
        answer = api.post("/api/login", json={"token": tokens["analyst"]})
        assert answer.json() == {"role": "analyst", "open": False}
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}={tokens['analyst']};")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain HTTP (see the TLS test)
        assert api.get("/api/session").json() == {"role": "analyst", "open": False}
        assert api.get("/api/twins/7").status_code == PASSED  # the cookie's role: analyst
        assert api.post("/api/pause", headers=JSON).status_code == 403
        out = api.post("/api/logout", headers=JSON)
        assert out.json() == {"role": None, "open": False}
        assert "Max-Age=0" in out.headers["set-cookie"]
        assert api.get("/api/session").status_code == 401


def test_a_bearer_token_wins_over_the_cookie(tokens):
    with client(HttpSecurity(tokens_file=tokens["file"])) as api:
        api.cookies.set(COOKIE, tokens["viewer"])
        assert api.get("/api/session").json()["role"] == "viewer"
        headers = {"authorization": f"Bearer {tokens['operator']}"}
        assert api.get("/api/session", headers=headers).json()["role"] == "operator"


def test_login_with_open_access_sets_no_cookie(open_api):
    answer = open_api.post("/api/login", json={"token": "anything"})
    assert answer.json() == {"role": "admin", "open": True}
    assert "set-cookie" not in answer.headers


# -- bad input is never a 500 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/time-scale", b'{"scale": NaN}'),
        ("/api/time-scale", b'{"scale": Infinity}'),
        ("/api/time-scale", b'{"scale": -Infinity}'),
        ("/api/time-scale", b'{"scale": 1e309}'),
        ("/api/twins/spawn", b'{"count": NaN}'),
        ("/api/twins/spawn", b'{"count": 18446744073709551616}'),
        ("/api/twins/spawn", b'{"count": 3, "seed": 18446744073709551616}'),
        ("/api/twins/despawn", b'{"ids": [18446744073709551616, 1e309]}'),
        ("/api/login", b'{"token": NaN}'),
    ],
)
def test_non_finite_and_huge_numbers_are_a_clean_422(open_api, path, body):
    method = "put" if path == "/api/time-scale" else "post"
    answer = open_api.request(method, path, content=body, headers=JSON)
    assert answer.status_code == 422
    json.loads(answer.text, parse_constant=pytest.fail)  # strict JSON: no NaN or Infinity
    assert answer.json()["detail"][0]["loc"][0] == "body"


def test_huge_query_numbers_are_422(open_api):
    for params in ({"offset": 2**64}, {"limit": 2**64}, {"offset": "1e309"}):
        assert open_api.get("/api/twins", params=params).status_code == 422, params
    assert open_api.get(f"/api/twins/{2**64}").status_code == 422


def test_deeply_nested_json_is_400_not_500(open_api):
    body = b"[" * 100_000 + b"]" * 100_000  # within 1 MiB
    answer = open_api.post("/api/twins/spawn", content=body, headers=JSON)
    assert answer.status_code in (400, 422)


def test_unknown_paths_are_404_and_wrong_methods_405(open_api):
    assert open_api.get("/api/nothing").status_code == 404
    assert open_api.post("/api/nothing", headers=JSON).status_code == 404
    assert open_api.get("/api/pause").status_code == 405
    answer = open_api.delete("/api/stats", headers=JSON)
    assert answer.status_code == 405 and answer.headers["allow"] == "GET"
    assert answer.json() == {"detail": "Method Not Allowed"}


# -- a real server: streamed bodies, TLS -----------------------------------------------------------


@contextmanager
def gateway(security: HttpSecurity) -> Iterator[Gateway]:
    """A gateway process on 127.0.0.1 in front of a ROUTER that never answers."""
    with zmq.Context() as ctx, ctx.socket(zmq.ROUTER) as deaf:
        deaf.setsockopt(zmq.LINGER, 0)
        port = deaf.bind_to_random_port("tcp://127.0.0.1")
        spec = GatewaySpec(
            f"tcp://127.0.0.1:{port}", loopback(), crowd_assets(), timeout_s=0.2,
            security=security,
        )  # fmt: skip
        http = Gateway(spec, "127.0.0.1", 0)
        http.start()
        try:
            yield http
        finally:
            http.stop()


def raw_request(port: int, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(head.encode())
    return sock


def status_of(sock: socket.socket) -> int:
    answer = sock.recv(65536).decode(errors="replace")
    return int(answer.split(" ", 2)[1])


def test_a_streamed_body_stops_at_the_limit_and_a_declared_one_is_refused_unread():
    limit = 65_536
    with gateway(HttpSecurity(max_body_bytes=limit)) as http:
        assert httpx.get(f"{http.url}/api/legend", timeout=20).status_code == 200  # it is up
        head = "POST /api/twins/spawn HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n" + (
            "Content-Type: application/json\r\n"
        )
        declared = raw_request(
            http.port, head.format(http.port) + "Content-Length: 50000000\r\n\r\n"
        )
        with declared:
            assert status_of(declared) == 413  # not one byte of the 50 MB was sent

        chunked = raw_request(
            http.port, head.format(http.port) + "Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"%x\r\n%s\r\n" % (16384, b" " * 16384)
        sent = 0
        with chunked:
            while sent < 50_000_000 and not select.select([chunked], [], [], 0)[0]:
                try:
                    chunked.sendall(chunk)
                except OSError:  # the server answered and closed
                    break
                sent += 16384
                time.sleep(0.001)
            assert status_of(chunked) == 413
        assert sent < 8_000_000, sent  # it answered long before 50 MB


def test_https_round_trip_with_a_self_signed_certificate(tmp_path):
    cert, key = create_self_signed_cert(tmp_path / "tls", ["127.0.0.1", "localhost"])
    store = TokenStore(tmp_path / "tokens.json")
    token = store.create(Role.VIEWER, "tls")
    security = HttpSecurity(tokens_file=str(store.path), tls_cert=str(cert), tls_key=str(key))
    with gateway(security) as http:
        assert http.url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(base_url=http.url, verify=trust, timeout=20) as api:
            assert api.get("/api/legend").status_code == 401
            login = api.post("/api/login", json={"token": token})
            assert login.json() == {"role": "viewer", "open": False}
            assert "Secure" in login.headers["set-cookie"]
            assert api.get("/api/legend").status_code == 200  # the cookie came back over TLS
        with pytest.raises(httpx.ConnectError):  # no certificate trusted: no connection
            httpx.get(f"{http.url}/api/legend", timeout=20)
        with pytest.raises(httpx.RemoteProtocolError):  # plain HTTP on the TLS port
            httpx.get(http.url.replace("https", "http") + "/api/legend", timeout=20)


def test_the_gateway_takes_its_security_from_the_config(tmp_path):
    config = load_config(None, security={"max_viewers": 3, "allowed_origins": ["https://a.b"]})
    security = HttpSecurity.from_config(config.security, config.tokens_file)
    assert security.max_viewers == 3 and security.allowed_origins == ("https://a.b",)
    assert security.tokens_file == str(config.tokens_file) and not security.tls
    bound = security.bound_to("127.0.0.1", 8000)
    assert bound.allowed_hosts == default_hosts("127.0.0.1", 8000)
    defaults = SecurityConfig()
    assert HttpSecurity().max_body_bytes == defaults.max_body_bytes
    assert Path(security.tokens_file).name == "tokens.json"


def test_the_websocket_limits_come_from_the_config_and_bad_ones_say_what_to_set():
    ws = {"ws_max_connections": 9, "ws_rate_per_s": 5.0, "ws_burst": 7,
          "ws_queue_bytes": 1 << 20, "ws_max_twins": 3}  # fmt: skip
    config = load_config(None, security=ws)
    settings = WsSettings.from_security(HttpSecurity.from_config(config.security, Path("t")))
    assert (settings.max_connections, settings.rate_per_s, settings.burst) == (9, 5.0, 7)
    assert (settings.max_queue_bytes, settings.max_twins) == (1 << 20, 3)
    default = WsSettings.from_security(HttpSecurity())
    assert (default.max_connections, default.max_twins, default.burst) == (256, 16, 400)
    assert WsSettings() == default  # one place for the defaults: [security]'s
    for name, value in (("ws_rate_per_s", 0.0), ("ws_burst", 0), ("ws_queue_bytes", 10),
                        ("ws_max_twins", -1), ("ws_max_connections", 10**9)):  # fmt: skip
        with pytest.raises(ConfigError, match=f"{name} = "):
            load_config(None, security={name: value})
