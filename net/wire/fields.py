"""Typed readers of msgpack map fields: each returns the value or raises ``WireError``.

A field is named in messages by its path from the envelope: ``tick``, ``body.ids``,
``body.error.code``. Float fields accept msgpack ints too (JavaScript encoders write a whole number
such as ``0`` as an int); int fields reject bools and floats.
"""

from __future__ import annotations

from typing import Any

from synthtwin.net.wire.errors import BAD_VALUE, MISSING_FIELD, WRONG_TYPE, WireError, type_name

__all__ = [
    "field_path",
    "is_int",
    "read_bool",
    "read_float",
    "read_int",
    "read_list",
    "read_map",
    "read_optional_int",
    "read_str",
    "require",
]


def field_path(prefix: str, key: str) -> str:
    """``"body"`` and ``"ids"`` -> ``"body.ids"``; ``""`` and ``"tick"`` -> ``"tick"``."""
    return f"{prefix}.{key}" if prefix else key


def require(m: dict, key: str, prefix: str = "") -> Any:
    """The value of ``m[key]``; ``missing_field`` if absent."""
    if key not in m:
        raise WireError(MISSING_FIELD, f"missing field '{field_path(prefix, key)}'")
    return m[key]


def _wrong_type(prefix: str, key: str, expected: str, value: Any) -> WireError:
    path = field_path(prefix, key)
    return WireError(WRONG_TYPE, f"field '{path}' must be {expected}, got {type_name(value)}")


def is_int(value: Any) -> bool:
    """Whether ``value`` is a msgpack int (``bool`` is not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def read_int(m: dict, key: str, prefix: str = "", minimum: int | None = None) -> int:
    """An int field, optionally at least ``minimum`` (``bad_value`` below it)."""
    value = require(m, key, prefix)
    if not is_int(value):
        raise _wrong_type(prefix, key, "int", value)
    if minimum is not None and value < minimum:
        path = field_path(prefix, key)
        raise WireError(BAD_VALUE, f"field '{path}' holds {value}, expected >= {minimum}")
    return value


def read_optional_int(m: dict, key: str, prefix: str = "") -> int | None:
    """An int-or-nil field (the key itself is required)."""
    value = require(m, key, prefix)
    if value is not None and not is_int(value):
        raise _wrong_type(prefix, key, "int or nil", value)
    return value


def read_float(m: dict, key: str, prefix: str = "") -> float:
    """A float field; an int is accepted and converted."""
    value = require(m, key, prefix)
    if not (is_int(value) or isinstance(value, float)):
        raise _wrong_type(prefix, key, "float", value)
    return float(value)


def read_str(m: dict, key: str, prefix: str = "") -> str:
    """A str field."""
    value = require(m, key, prefix)
    if not isinstance(value, str):
        raise _wrong_type(prefix, key, "str", value)
    return value


def read_bool(m: dict, key: str, prefix: str = "") -> bool:
    """A bool field."""
    value = require(m, key, prefix)
    if not isinstance(value, bool):
        raise _wrong_type(prefix, key, "bool", value)
    return value


def read_map(m: dict, key: str, prefix: str = "") -> dict:
    """A map field."""
    value = require(m, key, prefix)
    if not isinstance(value, dict):
        raise _wrong_type(prefix, key, "map", value)
    return value


def read_list(m: dict, key: str, prefix: str = "") -> list:
    """An array field (a msgpack array, not a numeric array map)."""
    value = require(m, key, prefix)
    if not isinstance(value, list):
        raise _wrong_type(prefix, key, "array", value)
    return value
