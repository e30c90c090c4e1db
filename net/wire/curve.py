"""``curve``: a client's CURVE keys for a server's encrypted ZeroMQ sockets (RFC 26, CurveZMQ).

A SynthTwin server with access control publishes health data on a CURVE socket of its own (the
health PUB), and with ``[security] curve = true`` its main PUB and ROUTER are CURVE servers too
(``docs/protocol.md`` section 2.1). A client then needs the server's public key and a key pair of
its own whose public half the server's operator has filed under the client's role
(``twin keys create --role analyst --name NAME``). The files are pyzmq certificates
(``zmq.auth.create_certificates``): ``server.key`` holds the server's public key,
``NAME.key_secret`` the client's pair.

    keys = CurveKeys.load("data/keys/server.key", "data/keys/secrets/ana.key_secret")
    keys.apply(socket)          # before socket.connect
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import zmq
import zmq.auth

__all__ = ["CurveKeys", "KeyFileError"]


class KeyFileError(ValueError):
    """A key file that is missing, unreadable or lacks the key it should hold; the message names
    the file."""


@dataclass(frozen=True)
class CurveKeys:
    """The keys a CURVE client connects with (each 40 bytes of Z85 text).

    Attributes:
        server_public: the server's public key.
        public: the client's public key.
        secret: the client's secret key (never shown in ``repr``).
    """

    server_public: bytes
    public: bytes
    secret: bytes = field(repr=False)

    @classmethod
    def load(cls, server_key: Path | str, client_key: Path | str) -> CurveKeys:
        """Read the server's public key file and the client's secret key file.

        Raises:
            KeyFileError: a file is missing or does not hold the key it should.
        """
        server_public, _ = _read(Path(server_key))
        public, secret = _read(Path(client_key))
        if secret is None:
            raise KeyFileError(f"{client_key} holds no secret key: pass the .key_secret file")
        return cls(server_public, public, secret)

    def apply(self, socket: zmq.Socket) -> None:
        """Make ``socket`` a CURVE client of the server (call before ``connect``)."""
        socket.curve_serverkey = self.server_public
        socket.curve_publickey = self.public
        socket.curve_secretkey = self.secret


def _read(path: Path) -> tuple[bytes, bytes | None]:
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as error:
        raise KeyFileError(f"cannot read the CURVE key file {path}: {error}") from None
    if public is None:
        raise KeyFileError(f"{path} holds no public key")
    return public, secret
