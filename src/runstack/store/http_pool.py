"""Keep-alive HTTP/1.1 connections to one tracking server, on the standard library.

Why not httpx or requests: a logged value is one small request, and the client's own CPU per
request decides how many a training loop can send. Measured on loopback against
``runstack server`` (2-core machine): httpx spends ~575 µs of CPU per request, urllib3
~290 µs, ``http.client`` ~150 µs. This module adds to ``http.client`` what the REST store
needs: a thread-safe pool, TCP_NODELAY, TLS settings, environment proxies, and dropping idle
connections before the server closes them.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import select
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

# Below uvicorn's default keep-alive timeout (5 s): a connection idle this long is dropped
# rather than reused, so a request is not written into a socket the server is closing.
KEEPALIVE_EXPIRY_S = 4.0
MAX_IDLE = 32
# Bytes per read of a streamed request body (http.client's default, 8 KiB, costs a system call
# and a Python loop turn per 8 KiB: a 1 GB upload would take 130,000 of them).
STREAM_BLOCK = 1 << 20


def _send_file(
    connection: http.client.HTTPConnection,
    method: str,
    target: str,
    headers: dict[str, str],
    body: BinaryIO,
    size: int,
) -> None:
    """Send a request whose body is ``size`` bytes of an open file, from its current
    position, with ``sendfile``: the bytes go from the page cache to the socket without
    passing through Python (a third of the client's CPU for a large upload)."""
    names = {name.lower() for name in headers}
    connection.putrequest(
        method, target, skip_host="host" in names, skip_accept_encoding="accept-encoding" in names
    )
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    assert connection.sock is not None  # endheaders connected it
    sent = connection.sock.sendfile(body, body.tell(), size)
    if sent != size:
        raise http.client.HTTPException(
            f"the file changed while it was sent: {sent} of {size} bytes"
        )


class ConnectFailed(Exception):
    """No connection could be opened: the request certainly never reached the server."""


class TransportFailed(Exception):
    """The connection failed after the request may have been sent."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


@dataclass(frozen=True)
class _Proxy:
    host: str
    port: int
    authorization: str | None


class ConnectionPool:
    """Connections to ``base_url``'s host, reused across requests and threads.

    ``request`` takes a path below the base URL's own path. A pool belongs to one process:
    the owner re-creates it after ``fork`` (a socket must never be shared with a child).
    """

    def __init__(
        self,
        base_url: str,
        timeout: float,
        verify: bool | str = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{base_url!r} is not an http:// or https:// URL")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.headers = dict(headers or {})
        self._context = _tls_context(verify) if self.https else None
        self._proxy = _proxy_for(parts.scheme, self.host)
        if self._proxy is not None and self._proxy.authorization and not self.https:
            self.headers["Proxy-Authorization"] = self._proxy.authorization
        self._idle: list[tuple[http.client.HTTPConnection, float]] = []
        self._lock = threading.Lock()

    def request(self, method: str, path: str, body: bytes | None = None) -> Response:
        """Send one request and read the whole response.

        Raises ``ConnectFailed`` when no connection could be made and ``TransportFailed``
        when the connection broke once the request may have been sent."""
        connection = self._checkout()
        target = self.prefix + path
        if self._proxy is not None and not self.https:
            # A plain-HTTP proxy takes the absolute URL.
            target = f"http://{self.host}:{self.port}{target}"
        headers = self.headers
        if body is not None:
            headers = {**headers, "Content-Length": str(len(body))}
        try:
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise TransportFailed(_describe(error)) from None
        if response.will_close:
            connection.close()
        else:
            self._checkin(connection)
        return Response(response.status, data)

    @contextlib.contextmanager
    def stream(
        self,
        method: str,
        path: str,
        body: BinaryIO | bytes | None = None,
        length: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Iterator[http.client.HTTPResponse]:
        """Send one request whose body is read from a file in blocks; yield the response
        unread, for the caller to read in blocks. Memory stays constant for any size.

        The connection goes back to the pool only when the caller read the response to its
        end; the same exceptions as ``request``, ``TransportFailed`` also while reading."""
        connection = self._checkout()
        connection.blocksize = STREAM_BLOCK
        target = self.prefix + path
        if self._proxy is not None and not self.https:
            target = f"http://{self.host}:{self.port}{target}"
        all_headers = {**self.headers, **(headers or {})}
        if body is not None:
            size = len(body) if isinstance(body, bytes) else length
            if size is None:
                raise ValueError("a streamed body needs its length")
            all_headers["Content-Length"] = str(size)
        try:
            if isinstance(body, bytes) or body is None or self.https or size is None:
                connection.request(method, target, body=body, headers=all_headers)
            else:
                _send_file(connection, method, target, all_headers, body, size)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise TransportFailed(_describe(error)) from None
        try:
            yield response
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise TransportFailed(_describe(error)) from None
        except BaseException:
            connection.close()
            raise
        if response.isclosed() and not response.will_close:
            self._checkin(connection)
        else:
            connection.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection, _ in idle:
            connection.close()

    def _checkout(self) -> http.client.HTTPConnection:
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._idle:
                    break
                connection, since = self._idle.pop()
            if now - since < KEEPALIVE_EXPIRY_S and not _closed_by_peer(connection):
                return connection
            connection.close()
        return self._connect()

    def _checkin(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE:
                self._idle.append((connection, time.monotonic()))
                return
        connection.close()

    def _connect(self) -> http.client.HTTPConnection:
        host, port = self.host, self.port
        if self._proxy is not None:
            host, port = self._proxy.host, self._proxy.port
        connection: http.client.HTTPConnection
        if self.https:
            connection = http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=self._context
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
        if self._proxy is not None and self.https:
            tunnel_headers = {}
            if self._proxy.authorization:
                tunnel_headers["Proxy-Authorization"] = self._proxy.authorization
            connection.set_tunnel(self.host, self.port, headers=tunnel_headers)
        try:
            connection.connect()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise ConnectFailed(_describe(error)) from None
        if connection.sock is not None:
            # A request written as headers then body must not wait ~40 ms for the server's
            # delayed ACK (Nagle's algorithm).
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """An idle keep-alive socket that is readable has been closed (or sent junk): drop it."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _tls_context(verify: bool | str) -> ssl.SSLContext:
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)


def _proxy_for(scheme: str, host: str) -> _Proxy | None:
    """The proxy the environment names for this URL (HTTP_PROXY, HTTPS_PROXY, NO_PROXY)."""
    url = urllib.request.getproxies_environment().get(scheme)
    if not url or urllib.request.proxy_bypass(host):
        return None
    parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
    if not parts.hostname:
        return None
    authorization = None
    if parts.username is not None:
        user, password = parts.username, parts.password or ""
        pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode()
    return _Proxy(parts.hostname, parts.port or 80, authorization)


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
