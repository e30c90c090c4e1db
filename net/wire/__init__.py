"""The SynthTwin wire format: msgpack envelopes, raw little-endian arrays, quantized state.

Pattern: Clone (ZeroMQ guide, chapter 5). The server publishes ``[topic, payload]`` on a PUB
socket and answers requests on a ROUTER; a late joiner subscribes, asks for a ``snapshot``, then
applies only the updates whose ``seq`` follows the snapshot's. The spec is ``docs/protocol.md``;
golden vectors are in ``tests/golden/wire/``.

One module per message kind, each with a dataclass, ``encode(msg) -> bytes`` and
``decode(data) -> msg``: ``crowd`` (keyframes and deltas of animation state, with the stateful
``CrowdEncoder`` and ``CrowdDecoder``), ``pose``, ``shape`` (a followed twin's body model and
betas), ``vitals``, ``event``, ``meta``, ``request`` and ``reply``. ``envelope`` and ``arrays``
hold the shared layout, ``topics`` the PUB topics, and ``errors`` the ``WireError`` every decoder
raises.

The one client of the protocol, which every client of the project uses (``twin watch``, ``record``
and ``query``, the gateway's REST API and video view): ``clone`` (``Replica``, the Clone state
machine without sockets, and ``merge_cells``, the rule for a twin that two cells hold), ``dealer``
(``RequestClient`` and ``AsyncRequestClient``: requests over a DEALER, matched by id) and
``client`` (``CloneClient`` and ``AsyncCloneClient``: a SUB and a DEALER feeding a replica), with
``curve`` (``CurveKeys``: a client's keys for a server's CURVE sockets) and a token for a server
with access control (``docs/protocol.md`` section 2.1).
"""

from synthtwin.net.wire import (
    client,
    clone,
    crowd,
    curve,
    dealer,
    event,
    meta,
    pose,
    reply,
    request,
    shape,
    topics,
    vitals,
)
from synthtwin.net.wire.client import AsyncCloneClient, CloneClient
from synthtwin.net.wire.clone import Applied, Crowd, Replica, Tables, merge_cells
from synthtwin.net.wire.crowd import CrowdDecoder, CrowdEncoder, CrowdMessage, CrowdState
from synthtwin.net.wire.curve import CurveKeys, KeyFileError
from synthtwin.net.wire.dealer import (
    AsyncRequestClient,
    ClientClosed,
    RequestClient,
    RequestError,
    RequestTimeout,
)
from synthtwin.net.wire.envelope import KINDS, PROTOCOL_VERSION, Envelope, unpack_envelope
from synthtwin.net.wire.errors import DECODE_ERROR_CODES, WireError
from synthtwin.net.wire.event import EventMessage, activity_event
from synthtwin.net.wire.messages import Message, decode_any
from synthtwin.net.wire.meta import MetaMessage
from synthtwin.net.wire.pose import PoseMessage
from synthtwin.net.wire.reply import REPLY_ERROR_CODES, Reply, ReplyError
from synthtwin.net.wire.request import OPS, Request, RequestLimits
from synthtwin.net.wire.shape import Body, ShapeMessage
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
    "Applied",
    "AsyncCloneClient",
    "AsyncRequestClient",
    "Body",
    "ClientClosed",
    "CloneClient",
    "Crowd",
    "CrowdDecoder",
    "CrowdEncoder",
    "CrowdMessage",
    "CrowdState",
    "CurveKeys",
    "Envelope",
    "EventMessage",
    "KeyFileError",
    "Message",
    "MetaMessage",
    "PoseMessage",
    "Replica",
    "Reply",
    "ReplyError",
    "Request",
    "RequestClient",
    "RequestLimits",
    "RequestError",
    "RequestTimeout",
    "ShapeMessage",
    "Tables",
    "VitalsMessage",
    "WireError",
    "activity_event",
    "cell_of",
    "cell_prefix",
    "client",
    "clone",
    "crowd",
    "curve",
    "dealer",
    "decode_any",
    "event",
    "merge_cells",
    "meta",
    "pose",
    "reply",
    "request",
    "shape",
    "topic_for",
    "topics",
    "twin_prefix",
    "unpack_envelope",
    "vitals",
]
