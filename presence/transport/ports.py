"""Free TCP ports: the embedded broker and the tests ask the OS for one (never 1883)."""

from __future__ import annotations

import socket

__all__ = ["free_port", "port_open"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it; never 1883)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket() as s:
        return s.connect_ex((host, port)) == 0
