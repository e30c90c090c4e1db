"""WireError: why a payload was rejected, as a stable code and an exact, documented message.

Every decoder in ``net.wire`` raises only ``WireError`` for bad input, never a bare KeyError,
IndexError or msgpack exception. The codes and message templates are part of the protocol
(``docs/protocol.md``, "Decode errors"): the Python, JavaScript and C# decoders produce the same
strings for the golden files under ``tests/golden/wire/``. A message quotes at most
``ECHO_CHARS`` characters of any text it takes from the input (``clip``), so a huge payload never
comes back in its own error.
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

__all__ = [
    "BAD_VALUE",
    "BAD_VERSION",
    "DECODE_ERROR_CODES",
    "ECHO_CHARS",
    "LENGTH_MISMATCH",
    "MISSING_FIELD",
    "NOT_A_MAP",
    "NOT_MSGPACK",
    "TOO_LARGE",
    "TRUNCATED",
    "UNKNOWN_BASE",
    "UNKNOWN_KIND",
    "WRONG_KIND",
    "WRONG_TYPE",
    "WireError",
    "clip",
    "type_name",
]

NOT_MSGPACK = "not_msgpack"
TRUNCATED = "truncated"
NOT_A_MAP = "not_a_map"
BAD_VERSION = "bad_version"
UNKNOWN_KIND = "unknown_kind"
WRONG_KIND = "wrong_kind"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
LENGTH_MISMATCH = "length_mismatch"
BAD_VALUE = "bad_value"
UNKNOWN_BASE = "unknown_base"
TOO_LARGE = "too_large"

DECODE_ERROR_CODES = (
    NOT_MSGPACK,
    TRUNCATED,
    NOT_A_MAP,
    BAD_VERSION,
    UNKNOWN_KIND,
    WRONG_KIND,
    MISSING_FIELD,
    WRONG_TYPE,
    LENGTH_MISMATCH,
    BAD_VALUE,
    UNKNOWN_BASE,
    TOO_LARGE,
)
ECHO_CHARS = 64
"""Most characters of input text an error message quotes (``clip``)."""


class WireError(ValueError):
    """A payload that does not follow the protocol.

    Attributes:
        code: one of ``DECODE_ERROR_CODES``.
        message: the exact, language-neutral message (templates in docs/protocol.md).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def type_name(value: Any) -> str:
    """The msgpack family of a decoded value, as messages name it.

    One of ``nil``, ``bool``, ``int``, ``float``, ``str``, ``bin``, ``array``, ``map``, ``ext``.
    An array map already read as a numpy array (``arrays.from_wire``) is a ``map`` on the wire.
    """
    if isinstance(value, msgpack.ExtType):  # a namedtuple: before the tuples
        return "ext"
    if isinstance(value, np.ndarray):
        return "map"
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, bytes | bytearray | memoryview):
        return "bin"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "map"
    return "ext"


def clip(text: object) -> str:
    """``text`` as a string of at most ``ECHO_CHARS`` characters: longer ones keep their first
    ``ECHO_CHARS - 3`` and end in ``...``."""
    text = str(text)
    if len(text) <= ECHO_CHARS:
        return text
    return text[: ECHO_CHARS - 3] + "..."
