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
``out_of_range`` (an argument outside its documented range), ``internal`` (the server failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from synthtwin.net.wire.arrays import from_wire, to_wire
from synthtwin.net.wire.envelope import Envelope, pack_envelope, unpack_envelope
from synthtwin.net.wire.fields import read_bool, read_map, read_optional_int, read_str

__all__ = [
    "BAD_REQUEST",
    "INTERNAL",
    "KIND",
    "OUT_OF_RANGE",
    "REPLY_ERROR_CODES",
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
REPLY_ERROR_CODES = (BAD_REQUEST, UNKNOWN_OP, UNKNOWN_TWIN, OUT_OF_RANGE, INTERNAL)


@dataclass(frozen=True)
class ReplyError:
    """Why a request failed: ``code`` from ``REPLY_ERROR_CODES`` and a human-readable message."""

    code: str
    message: str


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
    return Reply(env.tick, env.seq, env.t_s, request_id, False, error=ReplyError(code, message))


def decode(data: bytes) -> Reply:
    """Decode and check a reply payload (fields checked in table order).

    Raises:
        WireError: any envelope error, or missing_field, wrong_type, or an error in an array map
            inside ``result``.
    """
    return from_envelope(unpack_envelope(data, KIND))
