"""Tokens and roles on the WebSocket transport, against a real ``Serving`` with a token file and
a health PUB: no token or a bad one is refused (401), a viewer never receives a health topic
and cannot ask for a twin's details, an analyst follows a twin's vitals (from the health PUB),
and a revoked token's connection is closed. Loopback only, every wait bounded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from synthtwin.engine.app.serve import Serving
from synthtwin.engine.config import load_config
from synthtwin.net.auth import RELOAD_S, Role, TokenStore
from synthtwin.net.http_security import COOKIE
from synthtwin.net.websocket import POLICY_VIOLATION, RECHECK_S, SUBPROTOCOL, split_frame
from tests.loopback import loopback
from tests.test_http_api import running
from tests.test_websocket import WAIT_S, control, replies, request_frame, run, ws_url

TWINS = 100
WS_RATE_PER_S, WS_BURST = 1.0, 40
"""Each caller's WebSocket requests (``[security] ws_rate_per_s``, ``ws_burst``): a slow refill,
so that a burst past ``WS_BURST`` is refused however long a loaded machine takes to send it."""
WS_CALLER_CONNECTIONS = 3
"""Connections one token holds at once (``[security] ws_caller_connections``)."""


@pytest.fixture(scope="module")
def tokens(tmp_path_factory) -> TokenStore:
    return TokenStore(tmp_path_factory.mktemp("ws_access") / "tokens.json")


@pytest.fixture(scope="module")
def made(tokens: TokenStore) -> dict[str, str]:
    return {role.label: tokens.create(role, role.label) for role in Role}


@pytest.fixture(scope="module")
def serving(tokens: TokenStore, made: dict[str, str]) -> Iterator[Serving]:
    serve = {
        "pub_endpoint": loopback(),
        "router_endpoint": loopback(),
        "http_port": 0,
        "checkpoint": tokens.path.parent / "w.ckpt",  # tokens.json beside it: closed access
    }
    security = {
        "health_pub_endpoint": loopback(), "keys_dir": tokens.path.parent / "keys",
        "ws_rate_per_s": WS_RATE_PER_S, "ws_burst": WS_BURST,
        "ws_caller_connections": WS_CALLER_CONNECTIONS,
    }  # fmt: skip
    config = load_config(None, serve=serve, security=security, twins=TWINS, seed=5)
    with running(config, token=made["admin"]) as server:
        yield server


def test_a_token_is_required(serving):
    async def refused() -> None:
        for headers in ({}, {"authorization": "Bearer st_00000000_nope"}):
            with pytest.raises(InvalidStatus) as no:
                async with connect(ws_url(serving), additional_headers=headers):
                    pass
            assert no.value.response.status_code == 401

    run(refused())


def test_a_page_connects_with_its_login_cookie(serving, made):
    """What a page of the gateway's own origin sends: its Origin and the login cookie."""

    async def page() -> None:
        cookie = {"cookie": f"{COOKIE}={made['analyst']}"}
        own = serving.http.url
        async with connect(ws_url(serving), origin=own, additional_headers=cookie) as ws:
            await ws.send(request_frame(1, "roster"))
            twin = int((await replies(ws, 1))[1].result["ids"][0])
            await ws.send(request_frame(2, "twin", id=twin))
            assert (await replies(ws, 1))[2].ok  # an analyst's op: the cookie's role

    run(page())


def test_a_viewer_gets_no_health_topic_and_an_analyst_follows_vitals(serving, made):
    async def roles() -> None:
        viewer = connect(ws_url(serving), subprotocols=[SUBPROTOCOL, f"bearer.{made['viewer']}"])
        async with viewer as ws:
            assert ws.subprotocol == SUBPROTOCOL
            await ws.send(request_frame(1, "roster"))
            twin = int((await replies(ws, 1))[1].result["ids"][0])
            await control(ws, "subscribe", "")
            await control(ws, "subscribe", f"twin/{twin}/")
            topics = set()
            own = {f"twin/{twin}/{kind}".encode() for kind in ("pose", "shape")}
            for _ in range(300):
                message = await asyncio.wait_for(ws.recv(), WAIT_S)
                if isinstance(message, bytes):
                    topics.add(split_frame(message)[0])
                if own <= topics and len(topics) > 4:
                    break
            assert own <= topics, "a viewer sees a followed twin's pose and body (not health data)"
            assert not [t for t in topics if t.endswith(b"/vitals")], topics
            await ws.send(request_frame(2, "twin", id=twin))
            assert (await replies(ws, 1))[2].error.code == "forbidden"
        analyst = {"authorization": f"Bearer {made['analyst']}"}
        async with connect(ws_url(serving), additional_headers=analyst) as ws:
            await control(ws, "subscribe", f"twin/{twin}/vitals")
            topic, _ = split_frame(await asyncio.wait_for(ws.recv(), WAIT_S))
            assert topic == f"twin/{twin}/vitals".encode()

    run(roles())


def test_revoking_a_token_closes_its_connection(serving, tokens):
    temp = tokens.create(Role.VIEWER, "ws-temp")

    async def revoke() -> None:
        url, protocols = ws_url(serving), [f"bearer.{temp}"]
        for _ in range(int((RELOAD_S + 3) / 0.2)):  # until the gateway has read the new token
            try:
                ws = await connect(url, subprotocols=protocols)
                break
            except InvalidStatus:
                await asyncio.sleep(0.2)
        async with ws:
            await control(ws, "subscribe", "meta")
            tokens.revoke("ws-temp")
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), RELOAD_S + RECHECK_S + 3)
            assert closed.value.rcvd.code == POLICY_VIOLATION
            assert closed.value.rcvd.reason == "unknown or revoked token"

    run(revoke())


def test_a_viewer_gets_no_health_event_an_analyst_subscribed_for(serving, made):
    """event/chat is health data on the health PUB (protocol section 2.1): an analyst's
    subscription brings it to the gateway's health SUB, but a viewer following ``event/`` on the
    same gateway never receives it; an analyst following ``event/`` does."""

    async def events() -> None:
        analyst = {"authorization": f"Bearer {made['analyst']}"}
        viewer = [f"bearer.{made['viewer']}"]
        async with (
            connect(ws_url(serving), additional_headers=analyst) as everything,
            connect(ws_url(serving), additional_headers=analyst) as events_only,
            connect(ws_url(serving), subprotocols=viewer) as watcher,
        ):
            await control(everything, "subscribe", "")
            await control(events_only, "subscribe", "event/")
            await control(watcher, "subscribe", "event/")
            await control(watcher, "subscribe", "")
            await everything.send(request_frame(1, "roster"))
            twin = int((await replies(everything, 1))[1].result["ids"][0])

            async def chat_events(ws) -> list[bytes]:
                seen, end = [], asyncio.get_running_loop().time() + 2.0
                with contextlib.suppress(TimeoutError):
                    while (left := end - asyncio.get_running_loop().time()) > 0:
                        message = await asyncio.wait_for(ws.recv(), left)
                        if isinstance(message, bytes) and message[1:].startswith(b"event/"):
                            seen.append(split_frame(message)[0])
                return seen

            got_analyst, got_viewer = [], []
            for i in range(2, 12):  # until the health SUB's subscriptions have taken effect
                await everything.send(request_frame(i, "chat", id=twin, message="how are you?"))
                assert (await replies(everything, 1))[i].ok
                analyst_round, viewer_round = await asyncio.gather(
                    chat_events(events_only), chat_events(watcher)
                )
                got_analyst += analyst_round
                got_viewer += viewer_round
                if b"event/chat" in got_analyst:
                    break
            assert b"event/chat" in got_analyst
            assert b"event/chat" not in got_viewer, got_viewer

    run(events())


def test_a_callers_twin_cap_and_rate_hold_over_all_of_its_connections(serving, made):
    """One token's two connections share its 16 twin subscriptions and its request bucket
    (``WS_BURST``); another token has a share of its own."""

    async def shares() -> None:
        url = ws_url(serving)
        operator = [f"bearer.{made['operator']}"]
        async with (
            connect(url, subprotocols=operator) as one,
            connect(url, subprotocols=operator) as two,
        ):
            for twin in range(16):
                answer = await control(one if twin < 10 else two, "subscribe", f"twin/{twin}/")
                assert answer["op"] == "subscribed"
            refused = await control(two, "subscribe", "twin/99/")
            assert refused["op"] == "error" and "over all of this caller's" in refused["message"]
            await control(one, "unsubscribe", "twin/0/")
            assert (await control(two, "subscribe", "twin/99/"))["op"] == "subscribed"
            each = WS_BURST * 3 // 4  # within each connection's in-flight limit (32)
            for i in range(each):
                await one.send(request_frame(i, "stats"))
                await two.send(request_frame(i, "stats"))
            answers = [*(await replies(one, each)).values(), *(await replies(two, each)).values()]
            limited = [a for a in answers if not a.ok and "ws_rate_per_s" in a.error.message]
            assert len(limited) >= each // 4, f"{2 * each} requests of one caller: {len(limited)}"
        async with connect(url, subprotocols=[f"bearer.{made['admin']}"]) as other:
            assert (await control(other, "subscribe", "twin/1/"))["op"] == "subscribed"

    run(shares())


def test_one_token_holds_at_most_its_share_of_connections_and_control_messages(serving, made):
    """A token's connection past ``WS_CALLER_CONNECTIONS`` is refused 429 while another token
    connects; once one closes, the token connects again. Subscribes count against the caller's
    rate as requests do."""

    async def share() -> None:
        url, viewer = ws_url(serving), [f"bearer.{made['viewer']}"]
        async with contextlib.AsyncExitStack() as held:
            for _ in range(WS_CALLER_CONNECTIONS):
                await held.enter_async_context(connect(url, subprotocols=viewer))
            with pytest.raises(InvalidStatus) as refused:
                await connect(url, subprotocols=viewer)
            assert refused.value.response.status_code == 429
            assert b"ws_caller_connections" in refused.value.response.body
            async with connect(url, subprotocols=[f"bearer.{made['analyst']}"]):
                pass
        async with connect(url, subprotocols=viewer) as again:
            prefixes = [f"cell/{i}/0/" for i in range(WS_BURST + 5)]
            answers = [await control(again, "subscribe", prefix) for prefix in prefixes]
            assert any(a["op"] == "error" and "ws_rate_per_s" in a["message"] for a in answers), (
                "a burst of subscribes past the caller's bucket"
            )

    run(share())
