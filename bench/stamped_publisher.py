"""A publisher that records when each message goes to ZeroMQ, for latency benchmarks."""

from __future__ import annotations

import time

import numpy as np

from synthtwin.net.publisher import Publisher
from synthtwin.net.sender import Encoding, Outbox
from synthtwin.net.wire import topics

__all__ = ["StampedPublisher", "stamp"]


class StampedPublisher(Publisher):
    """The publisher, recording ``sent_at[seq]`` (``time.monotonic()`` s) of each message whose
    topic starts with ``prefix`` (those the link's thread encodes too), at the moment the tick
    hands its messages to its ``link``: to the server's sender thread (``net.sender.Sender``), or
    to ZeroMQ with a ``DirectLink``; the latency measured from it includes the wait in the
    sender's queue."""

    sent_at: dict[int, float]
    prefix: bytes
    pending: list[int]

    def _send(self, topic: bytes, payload: bytes, outbox: Outbox | None = None) -> None:
        super()._send(topic, payload, outbox)
        if topic.startswith(self.prefix):
            self.pending.append(self.seq)

    def _encode_later(
        self, kind: str, ids: np.ndarray, encoding: Encoding, outbox: Outbox | None = None
    ) -> None:
        first = self.seq + 1
        super()._encode_later(kind, ids, encoding, outbox)
        for i, twin in enumerate(ids.tolist()):
            if topics.topic_for(kind, twin_id=twin).startswith(self.prefix):
                self.pending.append(first + i)

    def _flush(self) -> None:
        now = time.monotonic()
        self.sent_at.update(dict.fromkeys(self.pending, now))
        self.pending.clear()
        super()._flush()


def stamp(publisher: Publisher, prefix: bytes = b"") -> dict[int, float]:
    """Make ``publisher`` a ``StampedPublisher`` of topics starting with ``prefix``; returns its
    ``sent_at``."""
    publisher.__class__ = StampedPublisher
    publisher.sent_at, publisher.prefix, publisher.pending = {}, prefix, []
    return publisher.sent_at
