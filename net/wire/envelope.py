"""The envelope every message travels in: a msgpack map ``{v, kind, tick, seq, t, body}``.

====== ===== ==============================================================================
key    type  meaning
====== ===== ==============================================================================
v      int   protocol version, ``PROTOCOL_VERSION`` (1)
kind   str   one of ``KINDS``; names the module that reads ``body``
tick   int   the simulation tick the message describes (>= 0)
seq    int   the publisher's sequence number (>= 0); +1 for every message it publishes
t      float simulation time in seconds since the epoch announced by ``meta`` (float64)
body   map   the kind's own fields
====== ===== ==============================================================================

Decoders check the keys in this order and report the first failure; receivers ignore keys they do
not know, so later minor versions can add optional fields. A receiver that bounds its work (the
server's ROUTER) passes ``max_items``: msgpack then refuses any array or map that declares more
items, from its header, before reading them, and stops reading once the arrays and maps read so
far hold more than ``TOTAL_ITEMS_FACTOR * max_items`` items in all (each counts as 1 plus its
length), so a payload costs at most that many objects however it is shaped (``too_large``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgpack

from synthtwin.net.wire.errors import (
    BAD_VERSION,
    NOT_A_MAP,
    NOT_MSGPACK,
    TOO_LARGE,
    TRUNCATED,
    UNKNOWN_KIND,
    WRONG_KIND,
    WireError,
    clip,
    type_name,
)
from synthtwin.net.wire.fields import read_float, read_int, read_map, read_str

__all__ = [
    "KINDS",
    "MSGPACK_MAX_DEPTH",
    "PROTOCOL_VERSION",
    "TOTAL_ITEMS_FACTOR",
    "Envelope",
    "pack_envelope",
    "unpack_envelope",
]

PROTOCOL_VERSION = 1
KINDS = ("crowd", "pose", "vitals", "event", "meta", "request", "reply", "shape")
MSGPACK_MAX_DEPTH = 1024
TOTAL_ITEMS_FACTOR = 5
"""With ``max_items``, a payload's arrays and maps hold at most this many times ``max_items``
items in all (a snapshot of ``max_items`` cells holds about 4 times as many)."""
"""Deepest nesting msgpack's unpacker reads (its stack); a deeper payload is ``too_large``."""
_OVER_LIMIT = re.compile(r"^(\d+) exceeds max_(array|map)_len\((\d+)\)$")


@dataclass(frozen=True)
class Envelope:
    """A decoded envelope.

    Attributes:
        kind: the message kind, one of ``KINDS``.
        tick: simulation tick.
        seq: publisher sequence number.
        t_s: simulation time, s since the epoch.
        body: the kind's fields, as msgpack decoded them (arrays still as array maps).
    """

    kind: str
    tick: int
    seq: int
    t_s: float
    body: dict[str, Any]


def pack_envelope(kind: str, tick: int, seq: int, t_s: float, body: dict[str, Any]) -> bytes:
    """The msgpack payload of one message (``t`` always as float64, bins as msgpack bin)."""
    envelope = {
        "v": PROTOCOL_VERSION,
        "kind": kind,
        "tick": int(tick),
        "seq": int(seq),
        "t": float(t_s),
        "body": body,
    }
    return msgpack.packb(envelope, use_bin_type=True)


def _is_truncated(data: bytes) -> bool:
    """Whether ``data`` is the start of a msgpack value (so the error was running out of bytes)."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(data)
    try:
        unpacker.unpack()
    except msgpack.OutOfData:
        return True
    except (ValueError, TypeError):
        return False
    return False


class _OverBudget(Exception):
    """Raised by ``_ItemBudget`` to stop msgpack mid-payload."""


class _ItemBudget:
    """msgpack hooks counting the items of each array and map as it is read; raises
    ``_OverBudget`` past ``limit`` in all."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def count(self, value: Any) -> Any:
        self.left -= 1 + len(value)
        if self.left < 0:
            raise _OverBudget
        return value


def _unpack(data: bytes, max_items: int | None = None) -> Any:
    limits: dict[str, Any] = {}
    if max_items is not None:
        budget = _ItemBudget(TOTAL_ITEMS_FACTOR * max_items)
        limits = {"max_array_len": max_items, "max_map_len": max_items,
                  "list_hook": budget.count, "object_hook": budget.count}  # fmt: skip
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, **limits)
    except _OverBudget:
        message = f"payload holds more than {budget.limit} items in all"
        raise WireError(TOO_LARGE, message) from None
    except msgpack.ExtraData as exc:
        raise WireError(NOT_MSGPACK, f"payload has {len(exc.extra)} trailing bytes") from None
    except msgpack.StackError:
        message = f"payload nests deeper than {MSGPACK_MAX_DEPTH} levels"
        raise WireError(TOO_LARGE, message) from None
    except (ValueError, TypeError) as exc:
        over = _OVER_LIMIT.match(str(exc)) if max_items is not None else None
        if over is not None and int(over.group(3)) == max_items:
            what = "an array of {} items" if over.group(2) == "array" else "a map of {} entries"
            message = f"payload holds {what.format(over.group(1))}, more than {max_items}"
            raise WireError(TOO_LARGE, message) from None
        if _is_truncated(data):
            raise WireError(TRUNCATED, "payload is truncated") from None
        raise WireError(NOT_MSGPACK, "payload is not msgpack") from None


def unpack_envelope(data: bytes, kind: str | None = None, max_items: int | None = None) -> Envelope:
    """Parse and check the envelope of ``data``; with ``kind``, require that kind.

    Args:
        data: the payload.
        kind: the kind required, or None for any of ``KINDS``.
        max_items: most items of any array or map in the payload; None: no limit but its size.

    Raises:
        WireError: not_msgpack, truncated, too_large (an array or map over ``max_items``, or
            nesting deeper than ``MSGPACK_MAX_DEPTH``), not_a_map, missing_field, wrong_type,
            bad_version, unknown_kind, wrong_kind or bad_value (a negative tick or seq).
    """
    obj = _unpack(data, max_items)
    if not isinstance(obj, dict):
        raise WireError(NOT_A_MAP, f"payload must be a map, got {type_name(obj)}")
    version = read_int(obj, "v")
    if version != PROTOCOL_VERSION:
        raise WireError(
            BAD_VERSION,
            f"protocol version {version} is not supported (expected {PROTOCOL_VERSION})",
        )
    got = read_str(obj, "kind")
    if got not in KINDS:
        raise WireError(UNKNOWN_KIND, f"unknown kind '{clip(got)}'")
    if kind is not None and got != kind:
        raise WireError(WRONG_KIND, f"expected kind '{kind}', got '{got}'")
    return Envelope(
        kind=got,
        tick=read_int(obj, "tick", minimum=0),
        seq=read_int(obj, "seq", minimum=0),
        t_s=read_float(obj, "t"),
        body=read_map(obj, "body"),
    )
