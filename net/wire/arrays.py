"""Numeric arrays on the wire: a msgpack map ``{"dtype": str, "shape": [int], "data": bin}``.

``data`` holds the array's elements in C order as raw little-endian bytes, so any client reads it
in place: numpy with ``np.frombuffer`` (a read-only view over the bytes msgpack returns),
JavaScript with a TypedArray or DataView, C# with ``MemoryMarshal.Cast``. The protocol's dtypes
are numpy's strings for little-endian integers and IEEE floats (``ALLOWED_DTYPES``); ``data`` is
not aligned inside the payload, so a reader that needs alignment copies.

The same map anywhere in a request's ``args``, a reply's ``result`` or an event's ``data`` is an
array too: ``to_wire`` and ``from_wire`` convert whole nested values. ``from_wire`` refuses values
nested deeper than its ``max_nesting`` (``too_large``), so its recursion stays shallow whatever the
payload. A shape has at most ``MAX_DIMS`` dimensions of at most ``MAX_DIM`` each.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from synthtwin.net.wire.errors import (
    BAD_VALUE,
    ECHO_CHARS,
    LENGTH_MISMATCH,
    TOO_LARGE,
    WRONG_TYPE,
    WireError,
    clip,
    type_name,
)
from synthtwin.net.wire.fields import field_path, read_list, read_str, require

__all__ = [
    "ALLOWED_DTYPES",
    "ARRAY_KEYS",
    "MAX_DIM",
    "MAX_DIMS",
    "MAX_NESTING",
    "check_ascending",
    "check_rows",
    "from_wire",
    "pack_array",
    "read_array",
    "to_wire",
]

ALLOWED_DTYPES = ("|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8", "<f4", "<f8")
ARRAY_KEYS = frozenset(("dtype", "shape", "data"))
MAX_DIMS = 32
"""Most dimensions of an array's ``shape``."""
MAX_DIM = 2**32 - 1
"""Largest size of one dimension of an array's ``shape``."""
MAX_NESTING = 32
"""Deepest nesting of maps and arrays inside ``args``, ``result`` or ``data`` that ``from_wire``
reads by default (the value itself is level 0; an array map counts as one level)."""
_MAX_PATH_CHARS = 2 * ECHO_CHARS


def pack_array(values: Any, dtype: str) -> dict[str, Any]:
    """The array map of ``values`` converted to ``dtype`` (one of ``ALLOWED_DTYPES``).

    The buffer goes to msgpack as a memoryview: one copy, into the packed payload.
    """
    arr = np.ascontiguousarray(values, dtype=np.dtype(dtype))
    return {"dtype": dtype, "shape": list(arr.shape), "data": memoryview(arr)}


def _read_shape(m: dict, path: str) -> list[int]:
    shape = read_list(m, "shape", path)
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise WireError(WRONG_TYPE, f"field '{path}.shape' must be an array of int >= 0")
    if len(shape) > MAX_DIMS or any(d > MAX_DIM for d in shape):
        raise WireError(
            TOO_LARGE,
            f"field '{path}.shape' must have at most {MAX_DIMS} dimensions of at most {MAX_DIM}",
        )
    return shape


def _array_from_map(m: dict, path: str, dtype: str | None) -> np.ndarray:
    """The view of a validated array map; ``dtype=None`` accepts any of ``ALLOWED_DTYPES``."""
    got = read_str(m, "dtype", path)
    if dtype is not None and got != dtype:
        raise WireError(WRONG_TYPE, f"field '{path}' must be an array of {dtype}, got {clip(got)}")
    if got not in ALLOWED_DTYPES:
        raise WireError(WRONG_TYPE, f"field '{path}' has unsupported dtype {clip(got)}")
    shape = _read_shape(m, path)
    data = require(m, "data", path)
    if not isinstance(data, bytes):
        raise WireError(WRONG_TYPE, f"field '{path}.data' must be bin, got {type_name(data)}")
    need = math.prod(shape) * np.dtype(got).itemsize
    if len(data) != need:
        raise WireError(
            LENGTH_MISMATCH,
            f"field '{path}' holds {len(data)} bytes, expected {need} for shape {shape} of {got}",
        )
    return np.frombuffer(data, dtype=got).reshape(shape)


def _shape_text(trailing: tuple[int | None, ...]) -> str:
    """``(None, 3)`` -> ``"[n, *, 3]"``."""
    return "[" + ", ".join(["n", *("*" if t is None else str(t) for t in trailing)]) + "]"


def read_array(
    m: dict, key: str, prefix: str, dtype: str, trailing: tuple[int | None, ...] = ()
) -> np.ndarray:
    """The array field ``m[key]``: dtype ``dtype``, shape ``(n, *trailing)`` for any n.

    Returns a read-only view over the payload's bytes (no copy). None in ``trailing`` matches any
    size on that axis.
    """
    path = field_path(prefix, key)
    value = require(m, key, prefix)
    if not isinstance(value, dict):
        raise WireError(WRONG_TYPE, f"field '{path}' must be an array map, got {type_name(value)}")
    arr = _array_from_map(value, path, dtype)
    fits = arr.ndim == 1 + len(trailing) and all(
        t in (None, s) for t, s in zip(trailing, arr.shape[1:], strict=True)
    )
    if not fits:
        raise WireError(
            WRONG_TYPE,
            f"field '{path}' must have shape {_shape_text(trailing)}, got {list(arr.shape)}",
        )
    return arr


def check_rows(arr: np.ndarray, path: str, rows: int) -> None:
    """``length_mismatch`` unless ``arr`` has ``rows`` rows (one per id)."""
    if len(arr) != rows:
        raise WireError(LENGTH_MISMATCH, f"field '{path}' has {len(arr)} rows, expected {rows}")


def check_ascending(arr: np.ndarray, path: str) -> None:
    """``bad_value`` unless the (n,) array ``arr`` is strictly ascending (sorted, no repeats)."""
    if arr.size > 1 and not (arr[1:] > arr[:-1]).all():
        raise WireError(BAD_VALUE, f"field '{path}' must be strictly ascending")


def to_wire(value: Any) -> Any:
    """``value`` with every numpy array replaced by its array map and numpy scalars by Python's."""
    if isinstance(value, np.ndarray):
        return pack_array(value, value.dtype.newbyteorder("<").str)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    return value


def from_wire(value: Any, path: str, max_nesting: int = MAX_NESTING) -> Any:
    """``value`` with every array map (a map of exactly ``ARRAY_KEYS``) replaced by its view.

    Containers that hold no array map are returned as they are (not copied). Paths for error
    messages are made only when an error is raised.

    Raises:
        WireError: an array map's error; ``too_large`` when maps and arrays nest more than
            ``max_nesting`` levels below ``value`` (``value`` itself is level 0).
    """
    if not isinstance(value, dict | list):
        return value
    return _Converter(path, max_nesting).convert(value, path, max_nesting)


class _Converter:
    """One ``from_wire`` walk: ``where`` is a path as a chain ``(parent, key, is_index)``."""

    def __init__(self, root: str, max_nesting: int) -> None:
        self.root = root
        self.max_nesting = max_nesting

    def convert(self, value: dict | list, where: Any, levels_left: int) -> Any:
        if levels_left < 0:
            message = f"field '{self.root}' nests deeper than {self.max_nesting} levels"
            raise WireError(TOO_LARGE, message)
        if type(value) is list:
            return self._list(value, where, levels_left - 1)
        if value.keys() == ARRAY_KEYS:
            return _array_from_map(value, _path_text(where), None)
        return self._map(value, where, levels_left - 1)

    def _list(self, value: list, where: Any, below: int) -> list:
        out = value
        for i, item in enumerate(value):
            if isinstance(item, dict | list):
                new = self.convert(item, (where, i, True), below)
                if new is not item:
                    out = list(value) if out is value else out
                    out[i] = new
        return out

    def _map(self, value: dict, where: Any, below: int) -> dict:
        out = value
        for key, item in value.items():
            if isinstance(item, dict | list):
                new = self.convert(item, (where, key, False), below)
                if new is not item:
                    out = dict(value) if out is value else out
                    out[key] = new
        return out


def _path_text(where: Any) -> str:
    """The dotted path of a ``where`` chain (``body.args.ids[2]``), keys cut to ``ECHO_CHARS``
    and the whole to ``2 * ECHO_CHARS`` characters."""
    parts: list[str] = []
    while isinstance(where, tuple):
        where, key, is_index = where
        parts.append(f"[{key}]" if is_index else f".{clip(key)}")
    text = where + "".join(reversed(parts))
    return text if len(text) <= _MAX_PATH_CHARS else text[: _MAX_PATH_CHARS - 3] + "..."
