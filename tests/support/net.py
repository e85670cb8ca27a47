"""Loopback listening sockets for servers started inside a test."""

from __future__ import annotations

import socket


def listener() -> socket.socket:
    """A TCP socket bound to 127.0.0.1 on a free port, to hand to uvicorn.

    The protocol must be given as IPPROTO_TCP: asyncio only turns Nagle's
    algorithm off (TCP_NODELAY) on sockets whose `proto` says TCP, and with
    it on every response waits ~40 ms for a delayed ACK.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock
