"""A tracking server on a loopback port, in a thread of the current process.

For tests, benchmarks and notebooks: ``with BackgroundServer(uri) as url:`` gives an
``http://127.0.0.1:PORT`` tracking URI that works until the block ends.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from runstack.server.app import create_app
from runstack.server.config import ServerSettings
from runstack.server.connection_limits import ConnectionLimits, HeaderTimeoutProtocol
from runstack.server.guards import GuardSettings
from runstack.server.tcp import bind


class BackgroundServer:
    """uvicorn serving ``create_app(backend_store_uri)`` on a free port (or ``port``)."""

    def __init__(
        self,
        backend_store_uri: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        app: Any = None,
        server_settings: ServerSettings | None = None,
        guards: GuardSettings | None = None,
        limits: ConnectionLimits | None = None,
    ) -> None:
        """Serve ``create_app(backend_store_uri)`` with ``server_settings`` (default: from the
        environment) but ``guards`` and ``limits`` (default: ``runstack server``'s for
        ``host``), or any ASGI ``app`` given instead."""
        limits = limits or ConnectionLimits()
        if app is None:
            if backend_store_uri is None:
                raise ValueError("BackgroundServer needs a backend store URI or an app.")
            chosen = dataclasses.replace(
                server_settings or ServerSettings.from_environment(),
                guards=guards or GuardSettings.for_bind(host),
                body_timeout_s=limits.body_timeout_s,
            )
            app = create_app(backend_store_uri, chosen)
        protocol = type(
            "BackgroundProtocol",
            (HeaderTimeoutProtocol,),
            {"header_timeout_s": limits.header_timeout_s},
        )
        self.backend_store_uri = backend_store_uri
        self._socket = bind(host, port)
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            http=protocol,
            lifespan="on",
            log_level="warning",
            access_log=False,
            **limits.uvicorn_options(),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"runstack-server-{self.port}",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"The tracking server on {self.url} failed to start.")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"The tracking server on {self.url} did not start in time.")
            time.sleep(0.01)
        return self.url

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._socket.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
