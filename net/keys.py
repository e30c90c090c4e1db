"""Key material: a self-signed TLS certificate for the gateway and CURVE key pairs for ZeroMQ.

``twin cert create`` writes ``cert.pem`` and ``key.pem`` (ECDSA P-256, SubjectAltName for the
given hosts; for tests and private networks: a public deployment uses a certificate from its CA).
``twin keys create`` writes ZeroMQ CURVE key pairs in pyzmq's certificate format
(``zmq.auth.create_certificates``): ``server.key`` / ``server.key_secret`` for the simulation, and
one pair per client, whose public half an operator copies into the server's ``clients/`` folder
to let that client in. Secret files are written ``0600``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

import zmq
import zmq.auth
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["CERT_DAYS", "create_curve_keys", "create_self_signed_cert"]

CERT_DAYS = 365
"""Validity of a self-signed certificate, days."""


def _subject_names(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def create_self_signed_cert(folder: Path, hosts: list[str]) -> tuple[Path, Path]:
    """Write ``cert.pem`` and ``key.pem`` (``0600``) into ``folder`` for ``hosts`` (names or IP
    addresses); returns their paths."""
    if not hosts:
        raise ValueError("a certificate needs at least one host name or address")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName(_subject_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_secret(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return cert_path, key_path


def create_curve_keys(folder: Path, name: str) -> tuple[Path, Path]:
    """Write the CURVE key pair ``<name>.key`` (public) and ``<name>.key_secret`` (``0600``)
    into ``folder``; returns their paths. Refuses to overwrite an existing pair."""
    if not zmq.has("curve"):
        raise RuntimeError("this libzmq was built without CURVE; install pyzmq's wheel")
    if not name.isidentifier():
        raise ValueError(f"a key name must be letters, digits and _, got {name!r}")
    folder = Path(folder)
    public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
    if public.exists() or secret.exists():
        raise FileExistsError(f"{public} exists: remove it first to make a new pair")
    folder.mkdir(parents=True, exist_ok=True)
    made_public, made_secret = zmq.auth.create_certificates(folder, name)
    os.chmod(made_secret, 0o600)
    return Path(made_public), Path(made_secret)


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
