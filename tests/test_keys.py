"""Key material (net.keys): a self-signed certificate that a TLS client accepts, and CURVE key
pairs that let a known client in and keep an unknown one out (real sockets on loopback)."""

from __future__ import annotations

import socket
import ssl
import stat
import threading

import pytest
import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from synthtwin.net.keys import create_curve_keys, create_self_signed_cert


def test_a_tls_client_trusting_the_certificate_completes_a_handshake(tmp_path):
    cert, key = create_self_signed_cert(tmp_path, ["127.0.0.1", "localhost"])
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with server_context.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(tls.recv(5))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client_context = ssl.create_default_context(cafile=str(cert))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        client_context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"hello")
        assert tls.recv(5) == b"hello"
    thread.join(5)
    listener.close()


def test_a_certificate_needs_a_host(tmp_path):
    with pytest.raises(ValueError, match="at least one host"):
        create_self_signed_cert(tmp_path, [])


def _ask(
    context: zmq.Context, client_secret_file, server_public: bytes, endpoint: str
) -> bytes | None:
    public, secret = zmq.auth.load_certificate(client_secret_file)
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.curve_publickey, dealer.curve_secretkey = public, secret
    dealer.curve_serverkey = server_public
    dealer.connect(endpoint)
    dealer.send(b"ping")
    answered = dealer.poll(1500)
    reply = dealer.recv() if answered else None
    dealer.close()
    return reply


def test_curve_lets_a_listed_client_in_and_keeps_others_out(tmp_path):
    _, server_secret = create_curve_keys(tmp_path / "server", "server")
    _, known_secret = create_curve_keys(tmp_path / "clients", "analyst")
    _, stranger_secret = create_curve_keys(tmp_path / "strangers", "stranger")
    assert stat.S_IMODE(server_secret.stat().st_mode) == 0o600
    context = zmq.Context()  # its own: no other test's ZAP handler answers for it
    auth = ThreadAuthenticator(context)
    auth.start()
    auth.configure_curve(domain="*", location=str(tmp_path / "clients"))
    server_public, server_secret_key = zmq.auth.load_certificate(server_secret)
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.curve_server = True
    router.curve_publickey, router.curve_secretkey = server_public, server_secret_key
    port = router.bind_to_random_port("tcp://127.0.0.1")

    def echo() -> None:
        if router.poll(4000):
            router.send_multipart(router.recv_multipart())

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    endpoint = f"tcp://127.0.0.1:{port}"
    try:
        assert _ask(context, stranger_secret, server_public, endpoint) is None
        assert _ask(context, known_secret, server_public, endpoint) == b"ping"
    finally:
        thread.join(5)
        router.close()
        auth.stop()
        context.term()


def test_a_key_pair_is_never_overwritten(tmp_path):
    create_curve_keys(tmp_path, "server")
    with pytest.raises(FileExistsError, match="remove it first"):
        create_curve_keys(tmp_path, "server")
    with pytest.raises(ValueError, match="letters, digits and _"):
        create_curve_keys(tmp_path, "../evil")
