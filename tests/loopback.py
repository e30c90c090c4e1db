"""Loopback endpoints for network tests: free ports on 127.0.0.1, nothing else."""

import socket

__all__ = ["free_port", "loopback"]


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (bind to port 0, read it, release it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def loopback() -> str:
    """A ZeroMQ TCP endpoint on a free loopback port."""
    return f"tcp://127.0.0.1:{free_port()}"
