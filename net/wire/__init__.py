"""The SynthTwin wire format: msgpack envelopes, raw little-endian arrays, quantized state.

Pattern: Clone (ZeroMQ guide, chapter 5). The server publishes ``[topic, payload]`` on a PUB
socket and answers requests on a ROUTER; a late joiner subscribes, asks for a ``snapshot``, then
applies only the updates whose ``seq`` follows the snapshot's. The spec is ``docs/protocol.md``;
golden vectors are in ``tests/golden/wire/``.

One module per message kind, each with a dataclass, ``encode(msg) -> bytes`` and
``decode(data) -> msg``: ``crowd`` (keyframes and deltas of animation state, with the stateful
``CrowdEncoder`` and ``CrowdDecoder``), ``pose``, ``vitals``, ``event``, ``meta``, ``request`` and
``reply``. ``envelope`` and ``arrays`` hold the shared layout, ``topics`` the PUB topics, and
``errors`` the ``WireError`` every decoder raises.
"""

from synthtwin.net.wire import crowd, event, meta, pose, reply, request, topics, vitals
from synthtwin.net.wire.crowd import CrowdDecoder, CrowdEncoder, CrowdMessage, CrowdState
from synthtwin.net.wire.envelope import KINDS, PROTOCOL_VERSION, Envelope, unpack_envelope
from synthtwin.net.wire.errors import DECODE_ERROR_CODES, WireError
from synthtwin.net.wire.event import EventMessage, activity_event
from synthtwin.net.wire.messages import Message, decode_any
from synthtwin.net.wire.meta import MetaMessage
from synthtwin.net.wire.pose import PoseMessage
from synthtwin.net.wire.reply import REPLY_ERROR_CODES, Reply, ReplyError
from synthtwin.net.wire.request import OPS, Request
from synthtwin.net.wire.topics import (
    CELL_PREFIX,
    CELL_SIZE_M,
    EVENT_PREFIX,
    META_TOPIC,
    TWIN_PREFIX,
    cell_of,
    cell_prefix,
    topic_for,
    twin_prefix,
)
from synthtwin.net.wire.vitals import VitalsMessage

__all__ = [
    "CELL_PREFIX",
    "CELL_SIZE_M",
    "DECODE_ERROR_CODES",
    "EVENT_PREFIX",
    "KINDS",
    "META_TOPIC",
    "OPS",
    "PROTOCOL_VERSION",
    "REPLY_ERROR_CODES",
    "TWIN_PREFIX",
    "CrowdDecoder",
    "CrowdEncoder",
    "CrowdMessage",
    "CrowdState",
    "Envelope",
    "EventMessage",
    "Message",
    "MetaMessage",
    "PoseMessage",
    "Reply",
    "ReplyError",
    "Request",
    "VitalsMessage",
    "WireError",
    "activity_event",
    "cell_of",
    "cell_prefix",
    "crowd",
    "decode_any",
    "event",
    "meta",
    "pose",
    "reply",
    "request",
    "topic_for",
    "topics",
    "twin_prefix",
    "unpack_envelope",
    "vitals",
]
