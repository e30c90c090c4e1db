"""``meta``: what a client needs to read the other messages, and roster changes; topic ``meta``.

Body:

========== ======= ========================================================================
field      type    meaning
========== ======= ========================================================================
protocol   int     the highest protocol version the server speaks (1)
epoch      str     local calendar time at ``t = 0``, ISO 8601 without zone: 2026-03-02T00:00:00
activities str[]   activity names, index = activity code (< 16 entries)
clips      str[]   animation clip names, index = clip code (< 256 entries)
added      ``<u4`` (k,) twins spawned since the last meta message, ascending
removed    ``<u4`` (k,) twins despawned since the last meta message, ascending
========== ======= ========================================================================

A server publishes ``meta`` when twins are spawned or despawned and at least every few seconds
(``docs/protocol.md``); the full roster comes from the ``roster`` request.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthtwin.net.wire.arrays import check_ascending, pack_array, read_array
from synthtwin.net.wire.envelope import PROTOCOL_VERSION, Envelope, pack_envelope, unpack_envelope
from synthtwin.net.wire.errors import WRONG_TYPE, WireError
from synthtwin.net.wire.fields import read_int, read_list, read_str

__all__ = ["KIND", "MetaMessage", "decode", "encode", "from_envelope"]

KIND = "meta"


@dataclass(frozen=True)
class MetaMessage:
    """Schema tables and roster changes.

    Attributes:
        tick, seq, t_s: envelope (simulation tick, publisher sequence number, sim time in s).
        epoch: ISO 8601 local time of ``t = 0`` (no zone).
        activities: activity names, index = activity code.
        clips: animation clip names, index = clip code.
        added: (k,) uint32 ascending, twins spawned since the last meta message.
        removed: (k,) uint32 ascending, twins despawned since the last meta message.
        protocol: highest protocol version the server speaks.
    """

    tick: int
    seq: int
    t_s: float
    epoch: str
    activities: tuple[str, ...]
    clips: tuple[str, ...]
    added: np.ndarray
    removed: np.ndarray
    protocol: int = PROTOCOL_VERSION


def encode(msg: MetaMessage) -> bytes:
    """The payload of ``msg``.

    Raises:
        ValueError: ``added`` or ``removed`` not strictly ascending.
    """
    check_ascending(np.asarray(msg.added), "body.added")
    check_ascending(np.asarray(msg.removed), "body.removed")
    body = {
        "protocol": int(msg.protocol),
        "epoch": msg.epoch,
        "activities": list(msg.activities),
        "clips": list(msg.clips),
        "added": pack_array(msg.added, "<u4"),
        "removed": pack_array(msg.removed, "<u4"),
    }
    return pack_envelope(KIND, msg.tick, msg.seq, msg.t_s, body)


def _read_names(body: dict, key: str) -> tuple[str, ...]:
    names = read_list(body, key, "body")
    if not all(isinstance(n, str) for n in names):
        raise WireError(WRONG_TYPE, f"field 'body.{key}' must be an array of str")
    return tuple(names)


def _read_ids(body: dict, key: str) -> np.ndarray:
    ids = read_array(body, key, "body", "<u4")
    check_ascending(ids, f"body.{key}")
    return ids


def from_envelope(env: Envelope) -> MetaMessage:
    """The meta message in a decoded envelope (see ``decode``)."""
    body = env.body
    protocol = read_int(body, "protocol", "body", minimum=1)
    epoch = read_str(body, "epoch", "body")
    activities = _read_names(body, "activities")
    clips = _read_names(body, "clips")
    added = _read_ids(body, "added")
    removed = _read_ids(body, "removed")
    return MetaMessage(
        env.tick, env.seq, env.t_s, epoch, activities, clips, added, removed, protocol
    )


def decode(data: bytes) -> MetaMessage:
    """Decode and check a meta payload (fields checked in table order).

    Raises:
        WireError: any envelope error, or missing_field, wrong_type, length_mismatch or bad_value
            (a protocol below 1, ids not strictly ascending).
    """
    return from_envelope(unpack_envelope(data, KIND))
