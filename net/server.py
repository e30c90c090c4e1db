"""ZmqServer: the ZeroMQ endpoints of a running simulation (the Clone pattern's server).

An XPUB socket publishes state and events (``net.publisher``) and tells the publisher which topics
have subscribers; a ROUTER socket answers requests (``net.requests``). Both belong to the
simulation thread: ``poll`` (the server is the simulation's command source) runs in the INPUT
phase of every tick, drains subscription changes and answers at most ``max_requests`` requests
without ever waiting. Sends never block: ZeroMQ drops at the high-water mark for a peer that does
not read, and the tick goes on.
"""

from __future__ import annotations

import zmq

from synthtwin.engine.config import ServeConfig
from synthtwin.net.publisher import Publisher
from synthtwin.net.requests import RequestHandler

__all__ = ["ServerError", "ZmqServer"]


class ServerError(RuntimeError):
    """An endpoint cannot be bound; the message names it and says why."""


class ZmqServer:
    """Binds the PUB (XPUB) and ROUTER endpoints and serves them from the calling thread.

    Args:
        config: endpoints, high-water mark, request budget, replication rates.
        tick_hz: the loop's tick rate.
    """

    def __init__(self, config: ServeConfig, tick_hz: float) -> None:
        self.config = config
        self.context = zmq.Context()
        self.pub = self._bind(zmq.XPUB, config.pub_endpoint)
        self.router = self._bind(zmq.ROUTER, config.router_endpoint)
        self.publisher = Publisher(
            self.pub, tick_hz, config.keyframe_every, config.crowd_hz, config.vitals_hz,
            config.twin_hz,
        )  # fmt: skip
        self.handler: RequestHandler | None = None
        self.answered = 0

    def _bind(self, kind: int, endpoint: str) -> zmq.Socket:
        sock = self.context.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, self.config.hwm)
        sock.setsockopt(zmq.RCVHWM, self.config.hwm)
        try:
            sock.bind(endpoint)
        except zmq.ZMQError as err:
            sock.close()
            self.close()
            raise ServerError(f"cannot bind {endpoint}: {err.strerror}") from None
        return sock

    @property
    def endpoints(self) -> dict[str, str]:
        """The bound endpoints (with the actual port when bound to ``:*``)."""
        return {
            "pub": self.pub.getsockopt_string(zmq.LAST_ENDPOINT),
            "router": self.router.getsockopt_string(zmq.LAST_ENDPOINT),
        }

    def poll(self) -> None:
        """Track subscriptions and answer waiting requests; never blocks."""
        self.publisher.read_subscriptions()
        if self.handler is None:
            return
        for _ in range(self.config.max_requests_per_tick):
            try:
                frames = self.router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            envelope, payload = frames[:-1], frames[-1]
            answer = self.handler.handle(payload)
            try:
                self.router.send_multipart([*envelope, answer], zmq.NOBLOCK)
                self.answered += 1
            except zmq.Again:
                self.publisher.refused += 1

    def close(self) -> None:
        """Close both sockets and the context; nothing stays open."""
        for name in ("pub", "router"):
            sock = getattr(self, name, None)
            if sock is not None and not sock.closed:
                sock.close(linger=0)
        self.context.term()
