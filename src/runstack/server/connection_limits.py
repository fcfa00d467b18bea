"""How long a connection may take, and how many there may be, so that slow or idle sockets
cannot pile up (issue 10: 300 slow-header, slow-body and idle connections were all still open
after 90 s).

uvicorn provides the idle limit between requests (``timeout_keep_alive``) and a cap on
connections and requests (``limit_concurrency``: beyond it, 503). It has no limit on how long
a client may take to send its headers, and its keep-alive timer stops at the first byte of a
request, so a client trickling one header byte at a time, or connecting and sending nothing,
holds a connection forever. ``HeaderTimeoutProtocol`` closes such connections; the app
itself limits how long reading a body may take (``read_body`` in app.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from runstack import settings
from runstack.server.tcp import NoDelayHTTPProtocol

PROTOCOL = "runstack.server.connection_limits:HeaderTimeoutProtocol"


@dataclass(frozen=True)
class ConnectionLimits:
    """Every limit on connections, with the defaults ``runstack server`` uses."""

    # From connecting (or the last answer) to the full headers.
    header_timeout_s: float = settings.SERVER_HEADER_TIMEOUT.default
    # From the headers to the last byte of a JSON API body.
    body_timeout_s: float = settings.SERVER_BODY_TIMEOUT.default
    idle_timeout_s: float = 5.0  # a kept-alive connection with no request (uvicorn's)
    limit_concurrency: int = 1000  # connections + requests in flight per process; then 503
    max_header_bytes: int = 16_384  # h11's incomplete-event limit; httptools caps at 80 KB

    @classmethod
    def from_environment(cls) -> ConnectionLimits:
        return cls(
            header_timeout_s=settings.SERVER_HEADER_TIMEOUT.read(),
            body_timeout_s=settings.SERVER_BODY_TIMEOUT.read(),
        )

    def export(self) -> None:
        """For the worker processes ``runstack server`` starts."""
        settings.SERVER_HEADER_TIMEOUT.export(repr(self.header_timeout_s))
        settings.SERVER_BODY_TIMEOUT.export(repr(self.body_timeout_s))

    def uvicorn_options(self) -> dict[str, Any]:
        return {
            "timeout_keep_alive": self.idle_timeout_s,
            "limit_concurrency": self.limit_concurrency,
            "h11_max_incomplete_event_size": self.max_header_bytes,
        }


class HeaderTimeoutProtocol(NoDelayHTTPProtocol):
    """uvicorn's HTTP protocol, closing a connection whose next request's headers are not
    complete within ``header_timeout_s`` of the connection opening or the last response."""

    # A subclass may fix it (BackgroundServer does); else ``runstack server``'s setting.
    header_timeout_s: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout_s = self.header_timeout_s or settings.SERVER_HEADER_TIMEOUT.read()
        self._header_timer: asyncio.TimerHandle | None = None
        inner: Any = getattr(self, "app")  # noqa: B009  (set by uvicorn, untyped here)

        async def app(scope: Any, receive: Any, send: Any) -> None:
            self._stop_header_timer()  # the headers are complete: the request has begun
            await inner(scope, receive, send)

        self.app = app

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._start_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._start_header_timer()

    def _start_header_timer(self) -> None:
        self._stop_header_timer()
        self._header_timer = self.loop.call_later(self._header_timeout_s, self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()
