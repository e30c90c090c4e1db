"""The gateway process (``net.gateway``: REST, video, WebSocket) beside whatever serves the
ZeroMQ endpoints: the simulation of ``twin serve`` or the front of ``twin serve --shards``.

``http_gateway`` builds it for a server's bound endpoints; ``GatewayWatch`` restarts it when it
ends by itself, checking ever less often while it keeps ending at once (the caller calls
``check`` between its ticks or barriers; it never raises, so serving goes on without its gateway
rather than stop).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from synthtwin.engine.app.assets import crowd_assets
from synthtwin.engine.config import Config
from synthtwin.net.chat import ChatSettings
from synthtwin.net.gateway import Gateway, GatewaySpec, ZmqAccess
from synthtwin.net.http_api import DEFAULT_TIMEOUT_S
from synthtwin.net.http_security import HttpSecurity

__all__ = ["GatewayWatch", "http_gateway"]

log = logging.getLogger(__name__)

GATEWAY_CHECK_S = 2.0
"""How often the gateway process is checked (and restarted if it ended)."""
GATEWAY_STEADY_S = 10.0
"""A gateway that ran at least this long before it ended is restarted at the normal pace."""
GATEWAY_BACKOFF_MAX_S = 60.0
"""The longest wait between checks of a gateway that keeps ending at once."""
HTTP_TIMEOUT_TICKS = 3
"""A REST call waits for at least this many ticks (and ``DEFAULT_TIMEOUT_S``) before its 503."""
CHAT_MARGIN_S = 2.0
"""With a language model, a REST call waits for ``[chat] timeout_s`` plus this (the embedded
engine's fallback and a tick or two) before its 503."""


def http_gateway(
    config: Config, endpoints: Mapping[str, str], access_control: bool, chat: ChatSettings
) -> Gateway:
    """The gateway of ``config.serve`` (bound on its HTTP port, not started yet) as a client of
    a server's ``endpoints`` (``pub``, ``router``: as bound).

    Args:
        access_control: whether the server split off its health PUB (a token file at start).
        chat: the chat engine's settings (with a language model, REST waits for it longer).
    """
    serve = config.serve
    timeout_s = max(DEFAULT_TIMEOUT_S, HTTP_TIMEOUT_TICKS / config.sim.tick_hz)
    if chat.llm is not None:  # a chat may wait for the model
        timeout_s = max(timeout_s, config.chat.timeout_s + CHAT_MARGIN_S)
    spec = GatewaySpec(
        router_endpoint=endpoints["router"],
        pub_endpoint=endpoints["pub"],
        assets=crowd_assets(),
        timeout_s=timeout_s,
        graceful_s=timeout_s + 1,
        niceness=serve.gateway_niceness,
        host_addresses=serve.webrtc_host_addresses,
        security=HttpSecurity.from_config(config.security, config.tokens_file),
        zmq_access=ZmqAccess.for_server(config.security, access_control),
    )
    return Gateway(spec, serve.http_host, serve.http_port)


class GatewayWatch:
    """Restarts ``gateway`` when it ended by itself; see the module docstring."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._backoff_s = GATEWAY_CHECK_S
        self._next_check = time.monotonic() + GATEWAY_CHECK_S

    def check(self) -> None:
        """When a check is due: restart a gateway that ended (the log says so); one that keeps
        ending soon after it starts is checked ever less often (doubling up to
        ``GATEWAY_BACKOFF_MAX_S``). Never raises."""
        now = time.monotonic()
        if now < self._next_check:
            return
        lived_s = now - self.gateway.started_at
        doubled = min(2 * self._backoff_s, GATEWAY_BACKOFF_MAX_S)
        try:
            status = self.gateway.restart_if_ended()
        except OSError as err:
            log.error("the gateway (HTTP API, video) could not be restarted: %s", err)
            self._backoff_s = doubled
        else:
            if status is not None:
                log.warning("the gateway (HTTP API, video) ended with status %d: restarted", status)
                self._backoff_s = doubled if lived_s < GATEWAY_STEADY_S else GATEWAY_CHECK_S
        self._next_check = now + self._backoff_s
