"""PUB topics: ASCII prefixes a SUB filters on; every message is two frames ``[topic, payload]``.

========================== ================================ ======================================
topic                      payload                          subscribe to
========================== ================================ ======================================
``cell/<ix>/<iy>/crowd``   ``crowd`` of the twins in a cell ``cell_prefix((ix, iy))``
``cell/<ix>/<iy>/vitals``  ``vitals`` of a cell's twins     ``cell_prefix((ix, iy))``
``twin/<id>/vitals``       ``vitals`` of one twin           ``twin_prefix(id)``
``twin/<id>/pose``         ``pose`` of one twin             ``twin_prefix(id)``
``twin/<id>/shape``        ``shape`` of one twin            ``twin_prefix(id)``
``event/<type>``           ``event`` of that type           ``EVENT_PREFIX`` (+ type)
``meta``                   ``meta``                         ``META_TOPIC``
========================== ================================ ======================================

Numbers are ASCII decimal (``-`` for negative cell indices). Cell ``(ix, iy)`` is the square
``[ix, ix + 1) x [iy, iy + 1)`` times ``CELL_SIZE_M`` on the map (x east, y north, metres). A
prefix for one cell or twin ends with ``/``, so ``twin/4/`` does not also match ``twin/42/``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CELL_PREFIX",
    "CELL_SIZE_M",
    "EVENT_PREFIX",
    "HEALTH_EVENTS",
    "META_TOPIC",
    "TWIN_PREFIX",
    "cell_centre_m",
    "cell_of",
    "cell_prefix",
    "topic_for",
    "twin_prefix",
]

CELL_SIZE_M = 2000.0
"""Side of a square spatial cell, metres (fixed by protocol version 1)."""

CELL_PREFIX = b"cell/"
TWIN_PREFIX = b"twin/"
EVENT_PREFIX = b"event/"
HEALTH_EVENTS = (b"event/chat", b"event/alert")
"""Event topics that are health data: on the health PUB only, under access control."""
META_TOPIC = b"meta"


def cell_of(pos_m: np.ndarray) -> np.ndarray:
    """Cell indices of map positions.

    Args:
        pos_m: (N, 2) float, x east and y north, m.

    Returns:
        (N, 2) int32, ``floor(pos_m / CELL_SIZE_M)``.
    """
    return np.floor(np.asarray(pos_m, dtype=np.float64) / CELL_SIZE_M).astype(np.int32)


def cell_centre_m(cell: tuple[int, int]) -> np.ndarray:
    """(2,) float64: the map position of the centre of ``cell``, m."""
    return (np.asarray(cell, dtype=np.float64) + 0.5) * CELL_SIZE_M


def cell_prefix(cell: tuple[int, int]) -> bytes:
    """``b"cell/<ix>/<iy>/"``: every topic of one cell."""
    ix, iy = (int(c) for c in cell)
    return CELL_PREFIX + f"{ix}/{iy}/".encode()


def twin_prefix(twin_id: int) -> bytes:
    """``b"twin/<id>/"``: every topic of one twin."""
    return TWIN_PREFIX + f"{int(twin_id)}/".encode()


def _cell_or_twin(kind: str, cell: tuple[int, int] | None, twin_id: int | None) -> bytes:
    if (cell is None) == (twin_id is None):
        raise ValueError(f"a {kind} topic needs exactly one of cell and twin_id")
    prefix = cell_prefix(cell) if cell is not None else twin_prefix(twin_id)
    return prefix + kind.encode()


def topic_for(
    kind: str,
    *,
    cell: tuple[int, int] | None = None,
    twin_id: int | None = None,
    event_type: str | None = None,
) -> bytes:
    """The topic a message of ``kind`` is published on.

    ``crowd`` needs ``cell``; ``vitals`` and ``pose`` need one of ``cell`` (the cell's twins) and
    ``twin_id`` (one twin); ``shape`` needs ``twin_id``; ``event`` needs ``event_type``; ``meta``
    needs nothing.

    Raises:
        ValueError: a request or reply kind (they travel on the ROUTER), or missing arguments.
    """
    if kind == "crowd":
        if cell is None:
            raise ValueError("a crowd topic needs a cell")
        return cell_prefix(cell) + b"crowd"
    if kind in ("vitals", "pose"):
        return _cell_or_twin(kind, cell, twin_id)
    if kind == "shape":
        if twin_id is None:
            raise ValueError("a shape topic needs a twin_id")
        return twin_prefix(twin_id) + b"shape"
    if kind == "event":
        if not event_type or "/" in event_type:
            raise ValueError(f"an event topic needs a type without '/', got {event_type!r}")
        return EVENT_PREFIX + event_type.encode()
    if kind == "meta":
        return META_TOPIC
    raise ValueError(f"kind {kind!r} has no PUB topic")
