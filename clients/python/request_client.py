"""RequestClient: one request at a time to the server's ROUTER, on a DEALER socket.

Pattern: the request side of Clone (ZeroMQ guide, chapter 5; ``docs/protocol.md`` sections 3, 6.6,
6.7 and 7). The client sends one frame, the request payload, and matches the reply by ``id``: ids
grow by one per request, so a reply that arrives after its request timed out carries an older id
and is skipped as stale.

    with RequestClient("tcp://127.0.0.1:5557") as client:
        client.call("spawn", count=3)          # {"ids": array([200, 201, 202], dtype=uint32)}
        client.call("twin", id=999_999)        # raises RequestError("unknown_twin", ...)
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

import zmq

from synthtwin.net.wire import reply, request
from synthtwin.net.wire.reply import Reply

__all__ = ["RequestClient", "RequestError"]


class RequestError(Exception):
    """The server answered a request with an error reply.

    Attributes:
        code: one of ``net.wire.REPLY_ERROR_CODES`` (``bad_request``, ``unknown_op``, ...).
        message: the server's message, e.g. ``twin 9 does not exist``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RequestClient:
    """Sends requests to a SynthTwin ROUTER endpoint and waits for their replies.

    Args:
        endpoint: the server's ROUTER endpoint, e.g. ``tcp://127.0.0.1:5557``.
        timeout_s: how long ``call`` waits for a reply, wall seconds.
        context: the ZeroMQ context (default: the process's shared instance).

    Attributes:
        applied: (tick, seq, t_s) of the last PUB message the caller applied, sent with every
            request as the protocol asks (the server may log it); (0, 0, 0.0) if none.
    """

    def __init__(
        self, endpoint: str, timeout_s: float = 2.0, context: zmq.Context | None = None
    ) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.applied: tuple[int, int, float] = (0, 0, 0.0)
        self._next_id = 1
        self._socket = (context or zmq.Context.instance()).socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.SNDTIMEO, max(1, round(timeout_s * 1000)))
        self._socket.connect(endpoint)

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        """The result of operation ``op`` with ``args`` (numpy arrays travel as array maps).

        Raises:
            RequestError: the server replied with an error.
            TimeoutError: no reply within ``timeout_s``.
            net.wire.WireError: the reply is not a valid ``reply`` payload.
        """
        return self.call_reply(op, **args).result

    def call_reply(self, op: str, **args: Any) -> Reply:
        """Like ``call``, but the whole ``Reply``: its envelope ``seq`` is the server's last
        published sequence number when it answered (the snapshot's S for ``snapshot``)."""
        answer = self._exchange(op, args)
        if not answer.ok:
            raise RequestError(answer.error.code, answer.error.message)
        return answer

    def _exchange(self, op: str, args: dict[str, Any]) -> Reply:
        request_id, self._next_id = self._next_id, self._next_id + 1
        tick, seq, t_s = self.applied
        payload = request.encode(request.Request(request_id, op, args, tick, seq, t_s))
        deadline = time.monotonic() + self.timeout_s
        try:
            self._socket.send(payload)
        except zmq.Again:
            raise self._timeout(op) from None
        while True:
            remaining_ms = (deadline - time.monotonic()) * 1000
            if remaining_ms <= 0 or not self._socket.poll(max(1, round(remaining_ms))):
                raise self._timeout(op)
            answer = reply.decode(self._socket.recv_multipart()[-1])
            if answer.id == request_id:
                return answer

    def _timeout(self, op: str) -> TimeoutError:
        return TimeoutError(
            f"no reply to '{op}' from {self.endpoint} within {self.timeout_s:g} s"
            " (is `twin serve` running there?)"
        )

    def close(self) -> None:
        """Close the socket (pending requests are dropped)."""
        self._socket.close(linger=0)

    def __enter__(self) -> RequestClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
