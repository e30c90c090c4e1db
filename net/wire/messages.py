"""Any message: ``decode_any`` reads the envelope's kind and hands the body to its module."""

from __future__ import annotations

from collections.abc import Callable

from synthtwin.net.wire import crowd, event, meta, pose, reply, request, shape, vitals
from synthtwin.net.wire.envelope import Envelope, unpack_envelope

__all__ = ["Message", "decode_any"]

Message = (
    crowd.CrowdMessage
    | pose.PoseMessage
    | vitals.VitalsMessage
    | event.EventMessage
    | meta.MetaMessage
    | request.Request
    | reply.Reply
    | shape.ShapeMessage
)

_READERS: dict[str, Callable[[Envelope], Message]] = {
    module.KIND: module.from_envelope
    for module in (crowd, pose, vitals, event, meta, request, reply, shape)
}


def decode_any(data: bytes) -> Message:
    """Decode a payload of any kind into that kind's dataclass.

    Raises:
        WireError: as the kind's own ``decode``; unknown_kind for a kind not in ``KINDS``.
    """
    env = unpack_envelope(data)
    return _READERS[env.kind](env)
