"""``reply``: the server's answer to one request, on the ROUTER back to the requesting client.

Body:

====== ========== ========================================================================
field  type       meaning
====== ========== ========================================================================
id     int or nil the request's id; nil when the request was unreadable
ok     bool       whether the operation succeeded
result map        only when ok: the operation's result (``docs/protocol.md``)
error  map        only when not ok: ``{"code": str, "message": str}``
====== ========== ========================================================================

The envelope's ``tick``, ``seq`` and ``t`` are the server's when it made the reply: ``seq`` is the
last sequence number it had published (for ``snapshot``, the snapshot's sequence number).

Error codes (``REPLY_ERROR_CODES``): ``bad_request`` (the payload failed to decode, or the args are
missing or of the wrong type; the message says which), ``unknown_op``, ``unknown_twin``,
``out_of_range`` (an argument outside its documented range), ``unauthorized`` (no valid token),
``forbidden`` (the token's role is below the op's), ``rate_limited`` (too many requests: the error
map also holds ``retry_after_ms``, int, how long to wait), ``internal`` (the server failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from synthtwin.net.wire.arrays import from_wire, to_wire
from synthtwin.net.wire.envelope import Envelope, pack_envelope, unpack_envelope
from synthtwin.net.wire.fields import read_bool, read_int, read_map, read_optional_int, read_str

__all__ = [
    "BAD_REQUEST",
    "FORBIDDEN",
    "INTERNAL",
    "KIND",
    "OUT_OF_RANGE",
    "RATE_LIMITED",
    "REPLY_ERROR_CODES",
    "UNAUTHORIZED",
    "UNKNOWN_OP",
    "UNKNOWN_TWIN",
    "Reply",
    "ReplyError",
    "decode",
    "encode",
    "from_envelope",
]

KIND = "reply"
BAD_REQUEST = "bad_request"
UNKNOWN_OP = "unknown_op"
UNKNOWN_TWIN = "unknown_twin"
OUT_OF_RANGE = "out_of_range"
INTERNAL = "internal"
UNAUTHORIZED = "unauthorized"
FORBIDDEN = "forbidden"
RATE_LIMITED = "rate_limited"
REPLY_ERROR_CODES = (
    BAD_REQUEST, UNKNOWN_OP, UNKNOWN_TWIN, OUT_OF_RANGE, UNAUTHORIZED, FORBIDDEN, RATE_LIMITED,
    INTERNAL,
)  # fmt: skip


@dataclass(frozen=True)
class ReplyError:
    """Why a request failed: ``code`` from ``REPLY_ERROR_CODES`` and a human-readable message.

    Attributes:
        retry_after_ms: with ``rate_limited``, how long to wait before asking again, wall
            milliseconds; None otherwise (and then not on the wire).
    """

    code: str
    message: str
    retry_after_ms: int | None = None


@dataclass(frozen=True)
class Reply:
    """One reply: ``result`` when ok, ``error`` otherwise.

    Attributes:
        tick, seq, t_s: the server's tick, last published seq and sim time (s) at the reply.
        id: the request's id, or None if the request was unreadable.
        ok: whether the operation succeeded.
        result: the result map (numeric arrays as numpy arrays) when ok, else None.
        error: the error when not ok, else None.
    """

    tick: int
    seq: int
    t_s: float
    id: int | None
    ok: bool
    result: dict[str, Any] | None = None
    error: ReplyError | None = None


def encode(msg: Reply) -> bytes:
    """The payload of ``msg``.

    Raises:
        ValueError: ``ok`` without a result, or not ``ok`` without an error.
    """
    body: dict[str, Any] = {"id": msg.id, "ok": msg.ok}
    if msg.ok:
        if msg.result is None:
            raise ValueError("an ok reply needs a result")
        body["result"] = to_wire(msg.result)
    else:
        if msg.error is None:
            raise ValueError("a failed reply needs an error")
        body["error"] = {"code": msg.error.code, "message": msg.error.message}
        if msg.error.retry_after_ms is not None:
            body["error"]["retry_after_ms"] = int(msg.error.retry_after_ms)
    return pack_envelope(KIND, msg.tick, msg.seq, msg.t_s, body)


def from_envelope(env: Envelope) -> Reply:
    """The reply in a decoded envelope (see ``decode``)."""
    body = env.body
    request_id = read_optional_int(body, "id", "body")
    ok = read_bool(body, "ok", "body")
    if ok:
        result = from_wire(read_map(body, "result", "body"), "body.result")
        return Reply(env.tick, env.seq, env.t_s, request_id, True, result=result)
    error = read_map(body, "error", "body")
    code = read_str(error, "code", "body.error")
    message = read_str(error, "message", "body.error")
    retry = None
    if "retry_after_ms" in error:
        retry = read_int(error, "retry_after_ms", "body.error", minimum=0)
    failure = ReplyError(code, message, retry)
    return Reply(env.tick, env.seq, env.t_s, request_id, False, error=failure)


def decode(data: bytes) -> Reply:
    """Decode and check a reply payload (fields checked in table order).

    Raises:
        WireError: any envelope error, or missing_field, wrong_type, or an error in an array map
            inside ``result``.
    """
    return from_envelope(unpack_envelope(data, KIND))
