"""``request``: a client's command to the server's ROUTER socket (one frame after the identity).

Body:

===== ===== =============================================================================
field type  meaning
===== ===== =============================================================================
id    int   the client's request id (>= 0), echoed by the reply
op    str   the operation, one of ``OPS`` (any other gets the reply error ``unknown_op``)
args  map   optional (absent: none): the operation's arguments (``docs/protocol.md``); arrays
            as array maps
token str   optional: the caller's access token (``twin token create``); required by a server
            with access control, which answers ``unauthorized`` without a valid one
===== ===== =============================================================================

The envelope's ``tick``, ``seq`` and ``t`` carry the last ones the client applied (0 if none); the
server may log them and does not depend on them. A server bounds what it reads with
``RequestLimits``: arrays and maps of at most ``max_items`` items, and ``args`` nested at most
``max_nesting`` levels; beyond either the request is ``too_large``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synthtwin.net.wire.arrays import MAX_NESTING, from_wire, to_wire
from synthtwin.net.wire.envelope import Envelope, pack_envelope, unpack_envelope
from synthtwin.net.wire.fields import read_int, read_map, read_str

__all__ = ["KIND", "OPS", "Request", "RequestLimits", "decode", "encode", "from_envelope"]

KIND = "request"
OPS = (
    "snapshot",
    "roster",
    "twin",
    "spawn",
    "despawn",
    "time_scale",
    "pause",
    "resume",
    "stats",
    "town",
    "chat",
    "history",
)


@dataclass(frozen=True)
class Request:
    """One request.

    Attributes:
        id: request id (>= 0), chosen by the client.
        op: operation name.
        args: its arguments; numeric arrays as numpy arrays.
        tick, seq, t_s: the last tick, seq and sim time (s) the client applied, 0 if none.
        token: the caller's access token, or None (never shown in ``repr``).
    """

    id: int
    op: str
    args: dict[str, Any] = field(default_factory=dict)
    tick: int = 0
    seq: int = 0
    t_s: float = 0.0
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RequestLimits:
    """How much of a request a decoder reads, at most.

    Attributes:
        max_items: items of any one array or map in the payload (msgpack refuses a longer one
            from its header, before reading it); None: no limit but the payload's size.
        max_nesting: levels of maps and arrays inside ``args`` (``args`` itself is level 0;
            ``cells=[[0, 0]]`` nests 2 levels, an array map 1).
    """

    max_items: int | None = None
    max_nesting: int = MAX_NESTING


def encode(msg: Request) -> bytes:
    """The payload of ``msg`` (``token`` only when it has one)."""
    body: dict[str, Any] = {"id": int(msg.id), "op": msg.op, "args": to_wire(msg.args)}
    if msg.token is not None:
        body["token"] = msg.token
    return pack_envelope(KIND, msg.tick, msg.seq, msg.t_s, body)


def from_envelope(env: Envelope, max_nesting: int = MAX_NESTING) -> Request:
    """The request in a decoded envelope (see ``decode``)."""
    request_id = read_int(env.body, "id", "body", minimum=0)
    op = read_str(env.body, "op", "body")
    args = {}  # absent: no arguments (protocol section 6.6)
    if "args" in env.body:
        args = from_wire(read_map(env.body, "args", "body"), "body.args", max_nesting)
    token = read_str(env.body, "token", "body") if "token" in env.body else None
    return Request(request_id, op, args, env.tick, env.seq, env.t_s, token)


def decode(data: bytes, limits: RequestLimits | None = None) -> Request:
    """Decode and check a request payload (fields checked in table order).

    Args:
        data: the payload.
        limits: what to read at most; None: ``RequestLimits()`` (no item limit, nesting 32).

    Raises:
        WireError: any envelope error, or missing_field, wrong_type, bad_value (a negative id),
            too_large (over ``limits``), or an error in an array map inside ``args``. The server
            answers any of them with the reply error ``bad_request`` and the WireError's message.
    """
    limits = limits or RequestLimits()
    env = unpack_envelope(data, KIND, limits.max_items)
    return from_envelope(env, limits.max_nesting)
