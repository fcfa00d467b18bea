"""TCP details of serving: TCP_NODELAY on every accepted connection, and socket binding.

With ``--workers`` > 1, uvicorn binds a socket whose protocol number is 0, and asyncio only
enables TCP_NODELAY on sockets whose protocol is TCP. Without it, a response written in two
pieces waits for the client's delayed ACK: ~40 ms per kept-alive request. The protocol class
below sets TCP_NODELAY itself, whatever socket the connection came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from uvicorn.protocols.http.auto import AutoHTTPProtocol


def set_nodelay(sock: socket.socket | None) -> None:
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP protocol (httptools when installed, else h11) with TCP_NODELAY."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        set_nodelay(transport.get_extra_info("socket"))
        super().connection_made(transport)


PROTOCOL = "runstack.server.tcp:NoDelayHTTPProtocol"


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0 picks a free port), inheritable by worker processes."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock
