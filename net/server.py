"""ZmqServer: the ZeroMQ endpoints of a running simulation (the Clone pattern's server).

An XPUB socket publishes state and events (``net.publisher``) and tells the publisher which topics
have subscribers; a ROUTER socket answers requests (``net.requests``). Every socket belongs to the
simulation thread: ``poll`` (the server is the simulation's command source) runs in the INPUT
phase of every tick, answers waiting CURVE handshakes (``net.zap``), drains subscription changes
and answers requests for at most ``request_budget_ms`` of the tick (``net.limits.TimeBudget``) and
``max_requests_per_tick``, without ever waiting; the rest wait in the socket for the next tick.
Sends never block: ZeroMQ drops at the high-water mark for a peer that does not read, and the
tick goes on. The XPUB sockets are the exception to the one thread: once bound, they belong to a
``net.sender.Sender`` thread, which sends what each tick (and ``publish_health``) hands over and
reads their subscription messages for ``poll`` to apply (ZeroMQ's fan-out to every subscriber
then costs the tick nothing); ``close`` stops it before closing them.

Access control (``docs/protocol.md`` section 2.1) follows the token file (``net.auth``):

- no token file (open access): one PUB carries everything, as a local demo needs;
- a token file: the health topics (cell and twin vitals) go on a PUB of their own at
  ``[security] health_pub_endpoint``, a CURVE server whose ZAP handler lets in only the keys filed
  under analyst, operator and admin; the main PUB carries none of them. The server's key pair is
  made in ``keys_dir`` on first use;
- ``[security] curve = true``: the main PUB and the ROUTER are CURVE servers too (any role's key).

Deferred replies: a ``chat`` request (``net.chat_requests``) is answered at a later poll, once
the chat worker has composed it; the server keeps its envelope until then, and publishes the
exchange (``event/chat``, health data) with ``publish_health``.

The split is chosen when the server starts. If the first token is created while it serves
without the split, the publisher stops the health topics (until a restart) rather than keep
them on the open PUB. Requests larger than ``max_request_bytes`` make ZeroMQ drop the peer
(``MAXMSGSIZE``); subscription messages are limited to ``MAX_SUBSCRIPTION_BYTES``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import zmq
import zmq.auth

from synthtwin.engine.config import SecurityConfig, ServeConfig
from synthtwin.net.auth import RELOAD_S, TokenFileError, TokenStore
from synthtwin.net.chat_requests import Deferred
from synthtwin.net.keys import create_curve_keys
from synthtwin.net.limits import TimeBudget
from synthtwin.net.publisher import Publisher
from synthtwin.net.requests import RequestHandler
from synthtwin.net.sender import Sender
from synthtwin.net.zap import HEALTH_DOMAIN, MAIN_DOMAIN, ZapHandler

__all__ = ["MAX_SUBSCRIPTION_BYTES", "ServerError", "ZmqServer", "server_keys"]

log = logging.getLogger(__name__)

MAX_SUBSCRIPTION_BYTES = 1024
"""Largest subscription message a PUB socket reads (a topic prefix; ZeroMQ drops the peer
beyond it)."""


class ServerError(RuntimeError):
    """An endpoint cannot be bound, or the keys or tokens cannot be read; the message says
    which and why."""


def server_keys(keys_dir: Path) -> tuple[bytes, bytes]:
    """The server's CURVE key pair ``(public, secret)`` (Z85), made in ``keys_dir`` on first
    use (``server.key`` and ``server.key_secret``, ``0600``).

    Raises:
        ServerError: the pair cannot be read or made.
    """
    secret_file = Path(keys_dir) / "server.key_secret"
    try:
        if not secret_file.exists():
            create_curve_keys(Path(keys_dir), "server")
            log.warning("made the server's CURVE key pair in %s", keys_dir)
        public, secret = zmq.auth.load_certificate(secret_file)
    except (OSError, ValueError, RuntimeError) as error:
        raise ServerError(f"cannot read or make the server's CURVE keys: {error}") from None
    if secret is None:
        raise ServerError(f"{secret_file} holds no secret key")
    return public, secret


def bound_endpoints(
    pub: zmq.Socket, router: zmq.Socket, health: zmq.Socket | None
) -> dict[str, str]:
    """The endpoints a server (or a front) is bound on, by name (``pub``, ``router`` and, with
    access control, ``health``), with the actual port when bound to ``:*``."""
    bound = {"pub": pub, "router": router, "health": health}
    return {
        name: sock.getsockopt_string(zmq.LAST_ENDPOINT)
        for name, sock in bound.items()
        if sock is not None
    }


class ZmqServer:
    """Binds the PUB (XPUB), ROUTER and, with access control, health PUB endpoints, and serves
    them from the calling thread.

    Args:
        config: endpoints, high-water mark, requests per tick, replication rates.
        tick_hz: the loop's tick rate.
        security: limits, keys and CURVE (``[security]``); None: the defaults.
        tokens_file: the token file (``Config.tokens_file``); None: open access, no file.

    Attributes:
        tokens: the token store, or None (open access).
        access_control: whether a token file existed at start (then health topics are split).
        answered: requests answered so far.
        refused: replies the ROUTER refused.
    """

    def __init__(
        self,
        config: ServeConfig,
        tick_hz: float,
        security: SecurityConfig | None = None,
        tokens_file: Path | None = None,
    ) -> None:
        self.config = config
        self.security = security or SecurityConfig()
        self.context = zmq.Context()
        self.zap: ZapHandler | None = None
        self.health: zmq.Socket | None = None
        self.pub: zmq.Socket | None = None
        self.router: zmq.Socket | None = None
        self.sender: Sender | None = None
        try:
            self.tokens = _token_store(tokens_file)
            self.access_control = self.tokens is not None and not self.tokens.open_access
            self._bind_all()
        except BaseException:
            self.close()
            raise
        self.endpoints = bound_endpoints(self.pub, self.router, self.health)
        """The bound endpoints (with the actual port when bound to ``:*``); ``health`` only
        with access control. Read once: the XPUB sockets are the sender thread's from now."""
        self.publisher = Publisher(
            self.pub, tick_hz, config.keyframe_every, config.crowd_hz, config.vitals_hz,
            config.twin_hz, self.health, self.security.max_twin_subscriptions,
            config.dead_reckoning_m,
        )  # fmt: skip
        self.sender = self.publisher.link = Sender(
            self.pub, self.health, self.publisher.link.max_subscriptions
        )
        self.refused = 0
        self.handler: RequestHandler | None = None
        self._deferred: dict[int, list[bytes]] = {}
        """The envelopes of deferred requests (``chat``) by ticket, until their replies go."""
        self.answered = 0
        self.budget = TimeBudget(self.security.request_budget_ms / 1000.0)
        self._next_access_check_s = time.monotonic() + RELOAD_S

    def _bind_all(self) -> None:
        security = self.security
        keys = None
        if self.access_control or security.curve:
            self.zap = ZapHandler(self.context, security.keys_dir)  # before any CURVE socket
            keys = server_keys(security.keys_dir)
        main_curve = keys if security.curve else None
        self.pub = self._bind(zmq.XPUB, self.config.pub_endpoint, main_curve, MAIN_DOMAIN)
        self.router = self._bind(zmq.ROUTER, self.config.router_endpoint, main_curve, MAIN_DOMAIN)
        if self.access_control:
            endpoint = security.health_pub_endpoint
            self.health = self._bind(zmq.XPUB, endpoint, keys, HEALTH_DOMAIN)

    def _bind(
        self, kind: int, endpoint: str, curve: tuple[bytes, bytes] | None, domain: str
    ) -> zmq.Socket:
        """A socket of ``kind`` bound to ``endpoint``; a CURVE server in ZAP ``domain`` when
        given the server's ``curve`` key pair."""
        sock = self.context.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, self.config.hwm)
        sock.setsockopt(zmq.RCVHWM, self.config.hwm)
        largest = self.security.max_request_bytes if kind == zmq.ROUTER else MAX_SUBSCRIPTION_BYTES
        sock.setsockopt(zmq.MAXMSGSIZE, largest)
        if curve is not None:
            sock.curve_server = True
            sock.curve_publickey, sock.curve_secretkey = curve
            sock.zap_domain = domain.encode()
            sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)
        try:
            sock.bind(endpoint)
        except zmq.ZMQError as err:
            sock.close()
            raise ServerError(f"cannot bind {endpoint}: {err.strerror}") from None
        return sock

    def poll(self) -> None:
        """Answer handshakes, track subscriptions and answer waiting requests; never blocks."""
        if self.zap is not None:
            self.zap.poll()
        if self.tokens is not None and not self.access_control:
            self._watch_for_tokens()
        self.publisher.read_subscriptions()
        self.publisher.heartbeat()  # between ticks: heard while paused too
        if self.handler is not None:
            self._answer()
            self._answer_deferred()

    def prepare(self) -> None:
        """Between ticks: what the next tick's requests will read, made ahead
        (``RequestHandler.prepare``)."""
        if self.handler is not None:
            self.handler.prepare()

    def _answer(self) -> None:
        """Answer requests until none waits, ``max_requests_per_tick`` are answered or this
        tick's time budget is spent (the overspending of a slow request is carried over). A
        quiet tick only asks whether anything waits: a read that finds nothing raises
        ``zmq.Again``, which cost a quiet tick ~20 us more (loaded)."""
        start = time.perf_counter()
        allowance = self.budget.allowance_s()
        waiting = self.router.get(zmq.EVENTS) & zmq.POLLIN
        most = self.config.max_requests_per_tick if allowance > 0 and waiting else 0
        for _ in range(most):
            try:
                frames = self.router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            envelope, payload = frames[:-1], frames[-1]
            answer = self.handler.handle(payload, peer=envelope[0] if envelope else b"")
            if answer is None:  # a muted peer: dropped unanswered
                continue
            if isinstance(answer, Deferred):  # answered at a later poll
                self._deferred[answer.ticket] = envelope
            else:
                self._send_reply(envelope, answer)
            if time.perf_counter() - start >= allowance:
                break
        self.budget.spent(time.perf_counter() - start)

    def _answer_deferred(self) -> None:
        """Send the replies of deferred requests (``chat``) that finished since the last poll."""
        for ticket, answer in self.handler.deferred_replies():
            self._send_reply(self._deferred.pop(ticket), answer)

    def _send_reply(self, envelope: list[bytes], answer: bytes) -> None:
        try:
            self.router.send_multipart([*envelope, answer], zmq.NOBLOCK)
            self.answered += 1
        except zmq.Again:
            self.refused += 1

    def publish_health(self, topic: bytes, payload_at: Callable[[int], bytes]) -> bool:
        """Publish one message of health data now, between ticks, with the publisher's next
        sequence number (``payload_at(seq)`` encodes it): on the health PUB with access control,
        on the PUB with open access, nowhere once the health topics stopped. Whether it was
        handed to the sender thread (which sends it without blocking, after what it has)."""
        if (self.health if self.access_control else self.pub) is None:
            return False
        self.publisher.seq += 1
        message = [(topic, payload_at(self.publisher.seq))]
        if self.access_control:
            self.sender.hand_over([], message, between_ticks=True)
        else:
            self.sender.hand_over(message, [], between_ticks=True)
        return True

    def _watch_for_tokens(self) -> None:
        """Every ``RELOAD_S``: if a token file appeared since the start, stop the health topics
        (the open PUB must not carry them once access is controlled)."""
        now = time.monotonic()
        if now < self._next_access_check_s:
            return
        self._next_access_check_s = now + RELOAD_S
        try:
            self.tokens.reload()
        except TokenFileError as error:
            log.warning("%s", error)
        if not self.tokens.open_access:
            self.access_control = True
            self.publisher.stop_health()
            log.warning(
                "a token file appeared while serving without a health PUB: vitals are no longer "
                "published; restart the server to publish them to analysts on %s",
                self.security.health_pub_endpoint,
            )

    def close(self) -> None:
        """Stop the sender thread, then close every socket and the context; nothing stays
        open."""
        if self.sender is not None:
            self.sender.close()
            self.sender = None
        for sock in (self.pub, self.router, self.health):
            if sock is not None and not sock.closed:
                sock.close(linger=0)
        if self.zap is not None:
            self.zap.close()
        self.context.term()


def _token_store(tokens_file: Path | None) -> TokenStore | None:
    if tokens_file is None:
        return None
    try:
        return TokenStore(tokens_file)
    except TokenFileError as error:
        raise ServerError(str(error)) from None
