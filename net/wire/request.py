"""``request``: a client's command to the server's ROUTER socket (one frame after the identity).

Body:

===== ===== =============================================================================
field type  meaning
===== ===== =============================================================================
id    int   the client's request id (>= 0), echoed by the reply
op    str   the operation, one of ``OPS`` (any other gets the reply error ``unknown_op``)
args  map   the operation's arguments (``docs/protocol.md``); arrays as array maps
===== ===== =============================================================================

The envelope's ``tick``, ``seq`` and ``t`` carry the last ones the client applied (0 if none); the
server may log them and does not depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synthtwin.net.wire.arrays import from_wire, to_wire
from synthtwin.net.wire.envelope import Envelope, pack_envelope, unpack_envelope
from synthtwin.net.wire.fields import read_int, read_map, read_str

__all__ = ["KIND", "OPS", "Request", "decode", "encode", "from_envelope"]

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
)


@dataclass(frozen=True)
class Request:
    """One request.

    Attributes:
        id: request id (>= 0), chosen by the client.
        op: operation name.
        args: its arguments; numeric arrays as numpy arrays.
        tick, seq, t_s: the last tick, seq and sim time (s) the client applied, 0 if none.
    """

    id: int
    op: str
    args: dict[str, Any] = field(default_factory=dict)
    tick: int = 0
    seq: int = 0
    t_s: float = 0.0


def encode(msg: Request) -> bytes:
    """The payload of ``msg``."""
    body = {"id": int(msg.id), "op": msg.op, "args": to_wire(msg.args)}
    return pack_envelope(KIND, msg.tick, msg.seq, msg.t_s, body)


def from_envelope(env: Envelope) -> Request:
    """The request in a decoded envelope (see ``decode``)."""
    request_id = read_int(env.body, "id", "body", minimum=0)
    op = read_str(env.body, "op", "body")
    args = from_wire(read_map(env.body, "args", "body"), "body.args")
    return Request(request_id, op, args, env.tick, env.seq, env.t_s)


def decode(data: bytes) -> Request:
    """Decode and check a request payload (fields checked in table order).

    Raises:
        WireError: any envelope error, or missing_field, wrong_type, bad_value (a negative id),
            or an error in an array map inside ``args``. The server answers any of them with the
            reply error ``bad_request`` and the WireError's message.
    """
    return from_envelope(unpack_envelope(data, KIND))
