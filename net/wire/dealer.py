"""``dealer``: requests to the server's ROUTER over one DEALER socket, matched by correlation id.

Pattern: the request side of Clone (ZeroMQ guide, chapter 5; ``docs/protocol.md`` sections 3, 6.6,
6.7 and 7), for every operation, not only ``snapshot``. A client sends one frame, the request
payload; it may pipeline several requests on the socket and matches each reply by the ``id`` it
chose. Ids grow by one per request, so a reply that arrives after its caller gave up carries an
id nobody waits for and is dropped: a socket never has to be thrown away after a timeout.

Two flavours, one logic (``Correlator``: ids, payloads, matching, errors):

- ``RequestClient`` blocks its thread; one caller at a time.
- ``AsyncRequestClient`` awaits on an asyncio loop; any number of coroutines share its socket,
  and one reader task hands each reply to the caller that waits for its id.

    with RequestClient("tcp://127.0.0.1:5557") as client:
        client.call("spawn", count=3)          # {"ids": array([200, 201, 202], dtype=uint32)}
        client.call("twin", id=999_999)        # raises RequestError("unknown_twin", ...)

    client = AsyncRequestClient("tcp://127.0.0.1:5557")
    roster, snapshot = await client.exchange([("roster", {}), ("snapshot", {})])
    await client.close()

A server with access control wants a ``token`` in every request (``token=``, sent in each request's
body); a CURVE server wants the client's keys (``curve=``, ``net.wire.curve.CurveKeys``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import zmq
import zmq.asyncio

from synthtwin.net.wire import reply, request
from synthtwin.net.wire.bucket import TokenBucket
from synthtwin.net.wire.curve import CurveKeys
from synthtwin.net.wire.errors import WireError
from synthtwin.net.wire.reply import Reply

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "AsyncRequestClient",
    "Call",
    "ClientClosed",
    "Correlator",
    "RequestClient",
    "RequestError",
    "RequestTimeout",
    "result_of",
]

log = logging.getLogger(__name__)
PEER_RATE = re.compile(r"more than \S+ requests a second; ")
"""The message of the ROUTER's refusal of a peer past its rate (``docs/protocol.md`` section
7.2): the server mutes the peer until ``retry_after_ms``, so the client holds its requests."""

DEFAULT_TIMEOUT_S = 2.0
"""How long a request waits for its reply unless told otherwise, wall seconds."""

Call = tuple[str, dict[str, Any]]
"""One request: the operation and its arguments (numpy arrays travel as array maps)."""


class RequestError(Exception):
    """The server answered a request with an error reply.

    Attributes:
        code: one of ``net.wire.REPLY_ERROR_CODES`` (``bad_request``, ``unknown_op``, ...).
        message: the server's message, e.g. ``twin 9 does not exist``.
        retry_after_ms: with ``rate_limited``, how long to wait before asking again, wall
            milliseconds; None otherwise.
    """

    def __init__(self, code: str, message: str, retry_after_ms: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms


class RequestTimeout(TimeoutError):
    """No reply within the client's timeout.

    Attributes:
        op: the operation that went unanswered (the first one, of several sent together).
        endpoint: the ROUTER endpoint asked.
        timeout_s: how long the client waited, wall seconds.
    """

    def __init__(self, op: str, endpoint: str, timeout_s: float) -> None:
        super().__init__(
            f"no reply to '{op}' from {endpoint} within {timeout_s:g} s"
            " (is `twin serve` running there?)"
        )
        self.op = op
        self.endpoint = endpoint
        self.timeout_s = timeout_s


class ClientClosed(ConnectionError):
    """The request client was closed (before or while a request waited)."""


def result_of(answer: Reply) -> dict[str, Any]:
    """The result of a successful reply.

    Raises:
        RequestError: the reply is an error reply.
    """
    if not answer.ok:
        error = answer.error
        raise RequestError(error.code, error.message, error.retry_after_ms)
    return answer.result


class Correlator:
    """What both flavours share: request ids, payloads, reply matching and errors.

    Args:
        endpoint: the server's ROUTER endpoint (named in timeouts).
        timeout_s: how long a request waits for its reply, wall seconds.
        token: the access token sent with every request, or None.
        pace: ``(requests a second, burst)`` the client sends at most, beyond which it answers
            ``rate_limited`` itself (as ``held``); None: no pace of its own. A client shared by
            many callers (the gateway's) keeps below the server's ``router_rate_per_s`` and
            ``router_burst`` so that the server never refuses it and drops what it sent.

    Attributes:
        applied: ``(tick, seq, t_s)`` of the last PUB message the client applied, sent with every
            request as the protocol asks (the server may log it); ``(0, 0, 0.0)`` if none.
    """

    def __init__(
        self,
        endpoint: str,
        timeout_s: float,
        token: str | None = None,
        pace: tuple[float, float] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.token = token
        self.pace = None if pace is None else TokenBucket(*pace)
        self.applied: tuple[int, int, float] = (0, 0, 0.0)
        self._next_id = 1
        self._hold_until_s = 0.0

    def requests(
        self, calls: Sequence[Call], token: str | None = None
    ) -> tuple[list[int], list[bytes]]:
        """Fresh ids for ``calls`` (ascending, never used before) and their payloads, with
        ``token`` (None: the correlator's own)."""
        first, self._next_id = self._next_id, self._next_id + len(calls)
        ids = list(range(first, first + len(calls)))
        tick, seq, t_s = self.applied
        token = self.token if token is None else token
        payloads = [
            request.encode(request.Request(i, op, args, tick, seq, t_s, token))
            for i, (op, args) in zip(ids, calls, strict=True)
        ]
        return ids, payloads

    def reply_of(self, frames: Sequence[bytes]) -> Reply:
        """The reply in a DEALER message (its last frame: a REQ-style empty delimiter may come
        first). A ``rate_limited`` reply to the peer's rate (``PEER_RATE``) holds the client's
        next requests back until its ``retry_after_ms`` has passed (the server drops what a
        refused peer sends before then); other refusals (spawns a minute, chats or history
        queries pending) concern one op and hold nothing back.

        Raises:
            WireError: the payload is not a valid reply; its id cannot be trusted, so every
                request waiting on the socket fails with this error.
        """
        answer = reply.decode(frames[-1])
        error = answer.error
        if (
            error is not None
            and error.code == reply.RATE_LIMITED
            and error.retry_after_ms
            and PEER_RATE.match(error.message)
        ):
            until_s = time.monotonic() + error.retry_after_ms / 1000
            self._hold_until_s = max(self._hold_until_s, until_s)
        return answer

    def held(self, ids: Sequence[int]) -> list[Reply] | None:
        """``rate_limited`` replies for ``ids``, made here without asking, while the server's
        last ``retry_after_ms`` has not passed or beyond the client's ``pace``; None when the
        requests may be sent."""
        now_s = time.monotonic()
        wait_s = self._hold_until_s - now_s
        if wait_s <= 0 and self.pace is not None:
            wait_s = self.pace.take(now_s, len(ids))
        if wait_s <= 0:
            return None
        wait_ms = max(1, round(wait_s * 1000))
        error = reply.ReplyError(reply.RATE_LIMITED, f"retry in {wait_ms} ms", wait_ms)
        tick, seq, t_s = self.applied
        return [Reply(tick, seq, t_s, i, False, error=error) for i in ids]

    def timeout(self, calls: Sequence[Call], ids: Sequence[int], answered: Any) -> RequestTimeout:
        """The timeout of the first of ``calls`` (with ``ids``) whose id is not in ``answered``."""
        missing = next(i for i, at in enumerate(ids) if at not in answered)
        return RequestTimeout(calls[missing][0], self.endpoint, self.timeout_s)


def _dealer(
    context: zmq.Context,
    endpoint: str,
    timeout_s: float,
    curve: CurveKeys | None,
    kind: type[zmq.Socket] = zmq.Socket,
) -> zmq.Socket:
    """A DEALER of class ``kind`` (``zmq.asyncio.Socket`` for the asyncio client) that owns its
    socket: an asyncio socket made by shadowing a blocking one would leave the blocking one as the
    owner, whose garbage collection, after the handle was closed and reused, closes another
    socket."""
    sock = kind(context, zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDTIMEO, max(1, round(timeout_s * 1000)))
    if curve is not None:
        curve.apply(sock)
    sock.connect(endpoint)
    return sock


class _Correlated:
    """What both request clients show of their ``Correlator``."""

    correlator: Correlator

    @property
    def endpoint(self) -> str:
        return self.correlator.endpoint

    @property
    def timeout_s(self) -> float:
        return self.correlator.timeout_s

    @property
    def applied(self) -> tuple[int, int, float]:
        """See ``Correlator.applied``."""
        return self.correlator.applied

    @applied.setter
    def applied(self, envelope: tuple[int, int, float]) -> None:
        self.correlator.applied = envelope


class RequestClient(_Correlated):
    """Sends requests to a SynthTwin ROUTER endpoint and waits for their replies (blocking).

    Args:
        endpoint: the server's ROUTER endpoint, e.g. ``tcp://127.0.0.1:5557``.
        timeout_s: how long a call waits for its replies, wall seconds.
        context: the ZeroMQ context (default: the process's shared instance).
        token: the access token sent with every request (a server with access control needs
            one); None: none.
        curve: the client's CURVE keys, for a server whose ROUTER is a CURVE server; None: plain.
        pace: ``(requests a second, burst)`` sent at most (``Correlator``); None: no limit.

    Not thread-safe: one caller at a time (the asyncio flavour serves many).
    """

    def __init__(
        self,
        endpoint: str,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        context: zmq.Context | None = None,
        token: str | None = None,
        curve: CurveKeys | None = None,
        pace: tuple[float, float] | None = None,
    ) -> None:
        self.correlator = Correlator(endpoint, timeout_s, token, pace)
        self._socket = _dealer(context or zmq.Context.instance(), endpoint, timeout_s, curve)

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        """The result of operation ``op`` with ``args`` (numeric arrays as numpy arrays).

        Raises:
            RequestError: the server replied with an error.
            RequestTimeout: no reply within ``timeout_s`` (a ``TimeoutError``).
            ClientClosed: the client is closed.
            WireError: a reply arrived that is not a valid ``reply`` payload.
        """
        return self.call_reply(op, **args).result

    def call_reply(self, op: str, **args: Any) -> Reply:
        """Like ``call``, but the whole ``Reply``: its envelope ``seq`` is the server's last
        published sequence number when it answered (the snapshot's S for ``snapshot``)."""
        (answer,) = self.exchange([(op, args)])
        result_of(answer)
        return answer

    def exchange(self, calls: Sequence[Call], token: str | None = None) -> list[Reply]:
        """Send every request at once, then wait for every reply (error replies included), in
        the order of ``calls``. Requests sent together usually reach the ROUTER in one poll
        between two ticks; compare the replies' ``tick`` to know whether they did. ``token``
        replaces the client's own for these requests (a gateway forwarding its callers' tokens).

        Raises:
            RequestTimeout, ClientClosed, WireError: as ``call``.
        """
        if self._socket.closed:
            raise ClientClosed("the request client is closed")
        ids, payloads = self.correlator.requests(calls, token)
        held = self.correlator.held(ids)
        if held is not None:
            return held
        deadline = time.monotonic() + self.timeout_s
        answers: dict[int, Reply] = {}
        try:
            for payload in payloads:
                self._socket.send(payload)
            while len(answers) < len(ids):
                left_ms = round((deadline - time.monotonic()) * 1000)
                if left_ms <= 0 or not self._socket.poll(max(1, left_ms)):
                    raise self.correlator.timeout(calls, ids, answers)
                answer = self.correlator.reply_of(self._socket.recv_multipart())
                if answer.id in ids:
                    answers[answer.id] = answer
        except zmq.Again:
            raise self.correlator.timeout(calls, ids, answers) from None
        return [answers[i] for i in ids]

    def close(self) -> None:
        """Close the socket (requests not answered yet are dropped)."""
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


class AsyncRequestClient(_Correlated):
    """Sends requests to a SynthTwin ROUTER endpoint from any number of coroutines (asyncio).

    The socket and its reader task are made on first use, in the running loop (so the client can
    be made before the loop runs); every later use must be in the same loop.

    Args:
        endpoint: the server's ROUTER endpoint, e.g. ``tcp://127.0.0.1:5557``.
        timeout_s: how long a call waits for its replies, wall seconds.
        context: the ZeroMQ context (default: the process's shared instance).
        token, curve, pace: as ``RequestClient``.
    """

    def __init__(
        self,
        endpoint: str,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        context: zmq.Context | None = None,
        token: str | None = None,
        curve: CurveKeys | None = None,
        pace: tuple[float, float] | None = None,
    ) -> None:
        self.correlator = Correlator(endpoint, timeout_s, token, pace)
        self._curve = curve
        self._context = context or zmq.Context.instance()
        self._socket: zmq.asyncio.Socket | None = None
        self._reader: asyncio.Task | None = None
        self._waiting: dict[int, asyncio.Future] = {}
        self._closed = False

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        """The result of operation ``op`` with ``args``; raises as ``RequestClient.call``."""
        return (await self.call_reply(op, **args)).result

    async def call_reply(self, op: str, **args: Any) -> Reply:
        """Like ``call``, but the whole ``Reply`` (see ``RequestClient.call_reply``)."""
        (answer,) = await self.exchange([(op, args)])
        result_of(answer)
        return answer

    async def exchange(self, calls: Sequence[Call], token: str | None = None) -> list[Reply]:
        """Send every request at once, then wait for every reply (see
        ``RequestClient.exchange``; ``token`` too)."""
        sock = self._open()
        ids, payloads = self.correlator.requests(calls, token)
        held = self.correlator.held(ids)
        if held is not None:
            return held
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in ids]
        self._waiting.update(zip(ids, futures, strict=True))
        try:
            for payload in payloads:
                await sock.send(payload)
            await asyncio.wait(futures, timeout=self.timeout_s)
            failed = [f.exception() for f in futures if f.done() and f.exception()]
            if failed:
                raise failed[0]
            answered = {i for i, f in zip(ids, futures, strict=True) if f.done()}
            if len(answered) < len(ids):
                raise self.correlator.timeout(calls, ids, answered)
            return [f.result() for f in futures]
        except zmq.Again:
            raise self.correlator.timeout(calls, ids, ()) from None
        finally:
            for i in ids:
                self._waiting.pop(i, None)

    def _open(self) -> zmq.asyncio.Socket:
        if self._closed:
            raise ClientClosed("the request client is closed")
        if self._socket is None:
            self._socket = _dealer(
                self._context, self.endpoint, self.timeout_s, self._curve, zmq.asyncio.Socket
            )
            self._reader = asyncio.ensure_future(self._read(self._socket))
        return self._socket

    async def _read(self, sock: zmq.asyncio.Socket) -> None:
        """Hand each reply to the caller waiting for its id; drop the others."""
        while True:
            try:
                frames = await sock.recv_multipart()
            except zmq.ZMQError as err:  # the context was terminated under us
                self._fail_all(ClientClosed(f"the request socket failed: {err}"))
                return
            try:
                answer = self.correlator.reply_of(frames)
            except WireError as err:
                log.warning("unreadable reply from %s: %s", self.endpoint, err)
                self._fail_all(err)
                continue
            waiting = self._waiting.get(answer.id)
            if waiting is not None and not waiting.done():
                waiting.set_result(answer)

    def _fail_all(self, err: BaseException) -> None:
        for waiting in self._waiting.values():
            if not waiting.done():
                waiting.set_exception(err)

    async def close(self) -> None:
        """Close the socket; requests still waiting raise ``ClientClosed``."""
        self._closed = True
        self._fail_all(ClientClosed("the request client was closed"))
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._socket is not None:
            self._socket.close(linger=0)

    async def __aenter__(self) -> AsyncRequestClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
