"""ZAP (ZeroMQ RFC 27) in the simulation thread: which CURVE clients may connect to which socket.

Pattern: ZAP handler. libzmq asks the handler bound at ``inproc://zeromq.zap.01`` of a context
about every CURVE handshake on that context's sockets, naming the socket's ZAP domain and the
client's public key. This handler answers from key folders, one set per domain:

- ``health`` (the health PUB): the public keys in ``<keys_dir>/clients/{analyst,operator,admin}/``;
- ``main`` (the main PUB and the ROUTER with ``[security] curve = true``): every role's folder.

It runs in the simulation thread, from the server's ``poll`` (the tick's INPUT phase): no thread,
no asyncio, no lock; a handshake waits at most one tick for its answer. The folders are read again
when they change (checked every ``RELOAD_S`` wall seconds, and before refusing a key not seen yet,
at most every ``RECHECK_S``), so a key filed before its client connects is let in at once, and a
key removed from a folder keeps that client out of its next connection (one already connected
stays until it disconnects). libzmq does not retry a refused handshake: a client refused before
its key was filed must reconnect.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import zmq
import zmq.auth
from zmq.utils import z85

from synthtwin.net.auth import RELOAD_S, Role

__all__ = [
    "HEALTH_DOMAIN",
    "HEALTH_ROLES",
    "MAIN_DOMAIN",
    "MAX_ZAP_PER_POLL",
    "RECHECK_S",
    "ZAP_ENDPOINT",
    "KeyRing",
    "ZapHandler",
]

log = logging.getLogger(__name__)

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
"""Where libzmq looks for a context's ZAP handler (RFC 27)."""
HEALTH_DOMAIN = "health"
MAIN_DOMAIN = "main"
HEALTH_ROLES = (Role.ANALYST, Role.OPERATOR, Role.ADMIN)
"""Roles whose keys the health PUB lets in."""
MAX_ZAP_PER_POLL = 16
"""Handshakes answered in one poll, at most (the rest wait for the next tick)."""
RECHECK_S = 0.02
"""Before refusing an unknown key, the folders are read again if they were not this recently
(wall seconds): a flood of strangers costs at most 50 checks of the folders a second."""
_VERSION = b"1.0"


class KeyRing:
    """The public keys filed under some roles: ``<keys_dir>/clients/<role>/*.key``.

    Args:
        keys_dir: the keys folder.
        roles: the roles whose folders count.
    """

    def __init__(self, keys_dir: Path, roles: Sequence[Role]) -> None:
        self.folders = [Path(keys_dir) / "clients" / role.label for role in roles]
        self._roles = {folder: role for folder, role in zip(self.folders, roles, strict=True)}
        self._keys: dict[bytes, Role] = {}
        self._stamp: tuple[int, ...] | None = None
        self.reload()

    def role_of(self, z85_key: bytes) -> Role | None:
        """The role a Z85 public key is filed under, or None."""
        return self._keys.get(z85_key)

    def reload(self) -> None:
        """Read the folders again if any of them changed (a missing folder holds no key)."""
        stamp = tuple(_mtime_ns(folder) for folder in self.folders)
        if stamp == self._stamp:
            return
        keys: dict[bytes, Role] = {}
        for folder in self.folders:
            if folder.is_dir():
                for key in zmq.auth.load_certificates(folder):
                    keys.setdefault(key, self._roles[folder])
        self._keys, self._stamp = keys, stamp

    def __len__(self) -> int:
        return len(self._keys)


def _mtime_ns(folder: Path) -> int:
    try:
        return folder.stat().st_mtime_ns
    except FileNotFoundError:
        return -1


class ZapHandler:
    """Answers the ZAP requests of one context from ``KeyRing``s, one per domain.

    Args:
        context: the context whose CURVE sockets it guards; bind it before those sockets.
        keys_dir: the keys folder (``[security] keys_dir``).

    Attributes:
        refused: handshakes refused so far.
    """

    def __init__(self, context: zmq.Context, keys_dir: Path) -> None:
        self.rings = {
            HEALTH_DOMAIN: KeyRing(keys_dir, HEALTH_ROLES),
            MAIN_DOMAIN: KeyRing(keys_dir, tuple(Role)),
        }
        self.refused = 0
        self.socket = context.socket(zmq.REP)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind(ZAP_ENDPOINT)
        self._loaded_s = time.monotonic()

    def reload(self, min_age_s: float = RELOAD_S) -> None:
        """Read the key folders again (if they changed) unless read within ``min_age_s``."""
        now = time.monotonic()
        if now - self._loaded_s < min_age_s:
            return
        self._loaded_s = now
        for ring in self.rings.values():
            ring.reload()

    def poll(self, limit: int = MAX_ZAP_PER_POLL) -> None:
        """Answer up to ``limit`` waiting handshakes; never blocks."""
        self.reload()
        for _ in range(limit):
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.socket.send_multipart(self.answer(frames))

    def answer(self, frames: list[bytes]) -> list[bytes]:
        """The ZAP reply to one request ``[version, id, domain, address, identity, mechanism,
        credentials...]``: 200 with the key's role as user id, or 400."""
        request_id = frames[1] if len(frames) > 1 else b""
        role = self._role(frames)
        if role is None and len(frames) == 7:  # perhaps filed since the folders were read
            self.reload(RECHECK_S)
            role = self._role(frames)
        if role is None:
            self.refused += 1
            return [_VERSION, request_id, b"400", b"unknown key", b"", b""]
        return [_VERSION, request_id, b"200", b"OK", role.label.encode(), b""]

    def _role(self, frames: list[bytes]) -> Role | None:
        if len(frames) != 7 or frames[0] != _VERSION or frames[5] != b"CURVE":
            return None
        ring = self.rings.get(frames[2].decode("ascii", "replace"))
        key = frames[6]
        if ring is None or len(key) != 32:
            return None
        return ring.role_of(z85.encode(key))

    def close(self) -> None:
        self.socket.close(linger=0)
