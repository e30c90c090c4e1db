"""Access tokens and roles: who may read what and change what, on every interface.

Roles are ordered; each holds every right of the ones below it:

    viewer    the crowd and what twins are doing; no health data
    analyst   plus vitals, profiles and history, read only
    operator  plus spawn, despawn, pause, resume and the time scale
    admin     plus tokens and configuration

A token is an opaque string ``st_<id>_<secret>``: ``id`` (8 hex digits) names it in lists and
revocations, ``secret`` is 32 random bytes (256 bits, URL-safe base64). The token file keeps, per
token, its id, name, role, times and the SHA-256 digest of the whole token, never the token
itself: ``twin token create`` prints it once. A digest, not a password hash such as argon2: with
256 random bits there is nothing for a slow hash to protect against offline guessing, and a slow
hash would make every check cost about 150 ms of CPU, a lever for flooding the server with bad
tokens. Digests are compared in constant time (``hmac.compare_digest``).

The file (JSON, ``0600``, next to the checkpoint by default) is written atomically; servers re-read
it when it changes, so a revocation takes effect within ``RELOAD_S`` without a restart.

With no token file access is open: every caller is ``admin``, as a local demo needs. Once a token
has been created the file exists, and access stays closed even if every token is revoked.
``engine.app.serve`` refuses to bind beyond loopback with open access unless told ``--insecure``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass
from enum import IntEnum
from pathlib import Path

__all__ = [
    "RELOAD_S",
    "AuthError",
    "Role",
    "TokenFileError",
    "TokenRecord",
    "TokenStore",
    "parse_duration_s",
]

LOG = logging.getLogger(__name__)
RELOAD_S = 2.0
"""How often a server looks for changes of the token file, wall seconds."""
TOKEN_PATTERN = re.compile(r"^st_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
MAX_NAME_CHARS = 64
FILE_VERSION = 1
DURATION_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class Role(IntEnum):
    """Access levels, each including the rights of the ones below."""

    VIEWER = 1
    ANALYST = 2
    OPERATOR = 3
    ADMIN = 4

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            allowed = ", ".join(role.name.lower() for role in cls)
            raise ValueError(f"unknown role {name!r}; allowed: {allowed}") from None

    @property
    def label(self) -> str:
        return self.name.lower()


class AuthError(Exception):
    """A request without a valid token, or with too low a role. ``code`` is the wire code:
    ``unauthorized`` (no, unknown, expired or revoked token) or ``forbidden`` (role too low)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class TokenFileError(ValueError):
    """A token file that cannot be read or written; the message names the file and the fix."""


@dataclass(frozen=True)
class TokenRecord:
    """One token as the file keeps it (the token itself is not kept).

    Attributes:
        id: 8 hex digits, the token's public name in lists and revocations.
        name: who or what it is for.
        role: its role.
        created_s: Unix time it was made.
        expires_s: Unix time it stops working; None: never.
        digest: SHA-256 of the token, hex.
    """

    id: str
    name: str
    role: Role
    created_s: float
    expires_s: float | None
    digest: str

    def expired(self, now_s: float) -> bool:
        return self.expires_s is not None and now_s >= self.expires_s


def parse_duration_s(text: str) -> float:
    """Seconds of a duration such as ``30d``, ``12h``, ``90m``, ``2w`` or ``3600s``."""
    match = re.fullmatch(r"\s*(\d{1,6})\s*([smhdw])\s*", text)
    if match is None:
        raise ValueError(f"duration {text!r} is not a whole number and a unit: s, m, h, d or w")
    return float(int(match.group(1)) * DURATION_UNITS_S[match.group(2)])


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """The token file: create, list, revoke and check tokens.

    Args:
        path: the JSON file; it need not exist yet.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._records: dict[str, TokenRecord] = {}
        self._stamp: tuple[int, int] | None = None
        self._next_check_s = 0.0
        self.reload()

    @property
    def open_access(self) -> bool:
        """No token file exists: every caller is admin (the loopback demo)."""
        return self._stamp is None

    def records(self) -> list[TokenRecord]:
        return sorted(self._records.values(), key=lambda r: (r.created_s, r.id))

    def create(self, role: Role, name: str, expires_in_s: float | None = None) -> str:
        """A new token of ``role``, saved; returns the token (shown to the user once)."""
        name = name.strip()
        if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
            raise ValueError(f"a token's name must be 1-{MAX_NAME_CHARS} printable characters")
        if expires_in_s is not None and expires_in_s <= 0:
            raise ValueError("a token's lifetime must be positive")
        self.reload()
        token_id = secrets.token_hex(4)
        while token_id in self._records:
            token_id = secrets.token_hex(4)
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        token = f"st_{token_id}_{secret}"
        now = time.time()
        expires = None if expires_in_s is None else now + expires_in_s
        record = TokenRecord(token_id, name, role, now, expires, _digest(token))
        self._save({**self._records, token_id: record})
        return token

    def revoke(self, key: str) -> TokenRecord:
        """Remove the token whose id or name is ``key``; returns it."""
        self.reload()
        found = [r for r in self._records.values() if key in (r.id, r.name)]
        if len(found) != 1:
            problem = "no token" if not found else f"{len(found)} tokens"
            raise ValueError(f"{problem} with id or name {key!r}; see `twin token list`")
        records = dict(self._records)
        del records[found[0].id]
        self._save(records)
        return found[0]

    def check(self, token: str | None, needed: Role) -> Role:
        """The role of ``token`` if it grants ``needed``; raises :class:`AuthError` otherwise.

        With open access every caller, token or not, is ``admin``.
        """
        self._maybe_reload()
        if self.open_access:
            return Role.ADMIN
        role = self._record_of(token).role
        if role < needed:
            raise AuthError(
                "forbidden", f"this needs the {needed.label} role; the token has {role.label}"
            )
        return role

    def identity(self, token: str | None) -> str | None:
        """The id of ``token`` if it is valid now (known, not expired), else None (also with
        open access, where tokens name nobody): whom per-caller limits count it as."""
        self._maybe_reload()
        if self.open_access:
            return None
        try:
            return self._record_of(token).id
        except AuthError:
            return None

    def _record_of(self, token: str | None) -> TokenRecord:
        if not token:
            raise AuthError("unauthorized", "a token is required: see `twin token create`")
        match = TOKEN_PATTERN.match(token) if isinstance(token, str) else None
        record = self._records.get(match.group(1)) if match else None
        if record is None or not hmac.compare_digest(record.digest, _digest(token)):
            raise AuthError("unauthorized", "unknown or revoked token")
        if record.expired(time.time()):
            raise AuthError("unauthorized", f"token {record.id} ({record.name}) has expired")
        return record

    def _maybe_reload(self) -> None:
        """Pick up changes of the file; a file broken while serving keeps the last good tokens
        (it never falls back to open access) and is logged."""
        now = time.monotonic()
        if now < self._next_check_s:
            return
        self._next_check_s = now + RELOAD_S
        try:
            self.reload()
        except TokenFileError as error:
            LOG.warning("%s; keeping the tokens read before", error)

    def reload(self) -> None:
        """Read the file again if it changed (a missing file holds no tokens)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._records, self._stamp = {}, None
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._records = self._read()
            self._stamp = stamp

    def _read(self) -> dict[str, TokenRecord]:
        try:
            data = json.loads(self.path.read_text())
            records = [
                TokenRecord(**{**entry, "role": Role.parse(entry["role"])})
                for entry in data["tokens"]
            ]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise TokenFileError(
                f"token file {self.path} cannot be read ({error}); fix it or move it away and "
                "create tokens again"
            ) from None
        return {record.id: record for record in records}

    def _save(self, records: dict[str, TokenRecord]) -> None:
        entries = [
            {**asdict(r), "role": r.role.label}
            for r in sorted(records.values(), key=lambda r: (r.created_s, r.id))
        ]
        text = json.dumps({"version": FILE_VERSION, "tokens": entries}, indent=1) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, staging = tempfile.mkstemp(prefix=f".{self.path.name}-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(staging, self.path)
        except OSError as error:
            Path(staging).unlink(missing_ok=True)
            raise TokenFileError(f"cannot write token file {self.path}: {error}") from None
        self._records = records
        stat = self.path.stat()
        self._stamp = (stat.st_mtime_ns, stat.st_size)
