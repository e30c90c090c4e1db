"""ReplyCache: one encoding of an answer that is the same for every request of a state.

A ``stats`` answer is the same for every request between two ticks but for the request's id, yet
building and encoding it (the summary, the array conversion and msgpack: about 0.1 ms) for each
request was most of what a flood of them cost the tick at the allowed rate (``docs/protocol.md``
section 7.2). So the reply is encoded once per state (``key``: the tick, the published sequence
number, the commands run so far, the wall time's tenth of a second, so that a paused server's
answer is not frozen) and each request gets those bytes around its own id.

The split: ``net.wire.reply.encode`` packs the envelope with ``body`` last and the body with
``id`` first, and msgpack maps count entries, not bytes, so the encoding of any id fits between
the bytes before the id and the bytes after it. A reply whose id cannot be found (an encoding
of another layout) is not cached: each request then encodes its own, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import msgpack

__all__ = ["ReplyCache"]

_ID_AT = b"\xa4body\x83\xa2id"
"""The msgpack bytes before a reply's id: the key ``body``, a map of 3 entries, the key ``id``."""
_NIL = b"\xc0"
"""msgpack nil: the id of the reply encoded for the cache."""


class ReplyCache:
    """The latest reply of one kind, encoded once for its ``key`` and cut around its id."""

    def __init__(self) -> None:
        self._key: Hashable | None = None
        self._parts: tuple[bytes, bytes] | None = None

    def reply(
        self, key: Hashable, request_id: int | None, encode: Callable[[int | None], bytes]
    ) -> bytes:
        """The reply to ``request_id`` for state ``key``; ``encode(request_id)`` encodes a reply
        when the cache has none for ``key`` (called with None to fill it)."""
        if key != self._key:
            self._key, self._parts = key, _split(encode(None))
        if self._parts is None:
            return encode(request_id)
        head, tail = self._parts
        return head + msgpack.packb(request_id) + tail


def _split(encoded: bytes) -> tuple[bytes, bytes] | None:
    """``encoded`` (a reply with a nil id) before and after its id, or None if not found."""
    at = encoded.find(_ID_AT + _NIL)
    if at < 0:
        return None
    cut = at + len(_ID_AT)
    return encoded[:cut], encoded[cut + len(_NIL) :]
