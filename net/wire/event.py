"""``event``: something that happened to a twin or to the world, on topic ``event/<type>``.

Body:

===== ========== ==========================================================================
field type       meaning
===== ========== ==========================================================================
type  str        what happened: non-empty, no ``/`` (it ends the topic)
twin  int or nil the twin concerned; nil for a world event
data  map        the type's fields (str keys; values any msgpack, arrays as array maps)
===== ========== ==========================================================================

The event's simulation time is the envelope's ``t``. Types of protocol version 1:

- ``activity``: a twin's activity changed; data ``{"old": int, "new": int}`` (activity codes).

Reserved for later versions, with their data to be specified: ``alert``, ``chat``. Receivers ignore
types they do not know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synthtwin.net.wire.arrays import from_wire, to_wire
from synthtwin.net.wire.envelope import Envelope, pack_envelope, unpack_envelope
from synthtwin.net.wire.errors import BAD_VALUE, WireError
from synthtwin.net.wire.fields import read_map, read_optional_int, read_str

__all__ = [
    "ACTIVITY",
    "KIND",
    "EventMessage",
    "activity_event",
    "decode",
    "encode",
    "from_envelope",
]

KIND = "event"
ACTIVITY = "activity"


@dataclass(frozen=True)
class EventMessage:
    """One event.

    Attributes:
        tick, seq, t_s: envelope (simulation tick, publisher sequence number, sim time in s).
        type: the event type, e.g. ``ACTIVITY``.
        twin_id: the twin concerned (uint32), or None for a world event.
        data: the type's fields; numeric arrays as numpy arrays.
    """

    tick: int
    seq: int
    t_s: float
    type: str
    twin_id: int | None
    data: dict[str, Any] = field(default_factory=dict)


def activity_event(
    tick: int, seq: int, t_s: float, twin_id: int, old: int, new: int
) -> EventMessage:
    """The event of twin ``twin_id`` changing activity from code ``old`` to code ``new``."""
    return EventMessage(tick, seq, t_s, ACTIVITY, int(twin_id), {"old": int(old), "new": int(new)})


def encode(msg: EventMessage) -> bytes:
    """The payload of ``msg``."""
    body = {"type": msg.type, "twin": msg.twin_id, "data": to_wire(msg.data)}
    return pack_envelope(KIND, msg.tick, msg.seq, msg.t_s, body)


def from_envelope(env: Envelope) -> EventMessage:
    """The event in a decoded envelope (see ``decode``)."""
    event_type = read_str(env.body, "type", "body")
    if not event_type or "/" in event_type:
        raise WireError(BAD_VALUE, "field 'body.type' must be non-empty and without '/'")
    twin_id = read_optional_int(env.body, "twin", "body")
    data = from_wire(read_map(env.body, "data", "body"), "body.data")
    return EventMessage(env.tick, env.seq, env.t_s, event_type, twin_id, data)


def decode(data: bytes) -> EventMessage:
    """Decode and check an event payload (fields checked in table order).

    Raises:
        WireError: any envelope error, or missing_field, wrong_type, bad_value (an empty type or
            one with ``/``), or an error in an array map inside ``data``.
    """
    return from_envelope(unpack_envelope(data, KIND))
