"""The ASGI app: MLflow's REST API over a runstack SQL store, plus runstack's own endpoints.

Every path under ``/api/`` (and MLflow's UI prefix ``/ajax-api/``) answers JSON, errors
included: ``{"error_code", "message"}`` with the HTTP status of the error code, for unknown
paths (404) and wrong methods (405) too. A request body over the limit (1 MB, as MLflow) is a
413 before it is read in full. Store calls block, so they run in a bounded thread pool (but
for quick requests on PostgreSQL, see ``answer``); each server process opens its own store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from runstack import __version__, settings
from runstack.auth.authenticator import REALM
from runstack.auth.store import AuthStore, User
from runstack.errors import ApiError, InvalidParameterError, RunstackError, StoreUnavailableError
from runstack.server import handlers_auth, handlers_ui, handlers_ui_artifacts, reaper
from runstack.server.artifact_settings import ArtifactSettings, narrow_endpoints, serve_store
from runstack.server.artifacts import ROUTES as ARTIFACT_ROUTES
from runstack.server.artifacts import ArtifactProxy
from runstack.server.auth_guard import AuthGuard
from runstack.server.auth_session import session_header, session_routes
from runstack.server.config import ServerSettings
from runstack.server.disconnect import call_cancellable, cancel_on_disconnect
from runstack.server.endpoints import (
    AJAX_PREFIX,
    CALLER,
    MLFLOW_PREFIX,
    RUNSTACK_AJAX_PREFIX,
    RUNSTACK_PREFIX,
    Endpoint,
)
from runstack.server.fields import parse_fields, query_to_raw
from runstack.server.guards import GuardedApp
from runstack.server.openapi import openapi_document
from runstack.server.request_json import decode_object
from runstack.server.routes import ALL_ENDPOINTS
from runstack.store import open_store
from runstack.store.base import Store
from runstack.store.sql.statement_timeout import Cancellation
from runstack.store.sql.store import SqlStore

_API_PREFIXES = ("/api/", "/ajax-api/")
_OPENAPI_PATH = "/api/2.0/runstack/openapi.json"

logger = logging.getLogger("runstack.server")


class StoreHolder:
    """This process's store, opened at startup (or on first use, without a lifespan)."""

    def __init__(self, uri: str, prepare: Callable[[Store], Store] | None = None) -> None:
        self.uri = uri
        self._prepare = prepare or (lambda store: store)
        self._store: Store | None = None
        self._lock = threading.Lock()

    def get(self) -> Store:
        store = self._store
        if store is None:
            with self._lock:
                if self._store is None:
                    self._store = self._prepare(open_store(self.uri))
                store = self._store
        return store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def error_response(error: RunstackError) -> JSONResponse:
    if isinstance(error, StoreUnavailableError):
        # The store's message names its URI and the driver's words: the log keeps them, the
        # client learns only that the database is unavailable.
        logger.warning("runstack server: the store is unavailable: %s", error.message)
        error = StoreUnavailableError(
            "The tracking database is temporarily unavailable; try again shortly (the "
            "server's log has the details)."
        )
    response = JSONResponse(error.to_dict(), status_code=error.http_status)
    if error.http_status == 401:
        response.headers["WWW-Authenticate"] = REALM
    return response


async def _read_body(scope: Scope, receive: Receive, limit: int, timeout_s: float) -> bytes:
    """The whole body, refused when over ``limit`` bytes or slower than ``timeout_s``."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value[:18]) > limit:
            raise _too_large(int(value[:18]), limit)
    try:
        async with asyncio.timeout(timeout_s):
            return await _receive_all(receive, limit)
    except TimeoutError:
        raise ApiError(
            f"The request body took longer than {timeout_s:g} s to arrive; the connection is "
            "closed. Send the body at once.",
            "BAD_REQUEST",
            408,
        ) from None


async def _receive_all(receive: Receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError("The client closed the connection mid-request.", "BAD_REQUEST", 400)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError(
        f"The request body is {size} bytes or more; the limit is {limit} bytes. Split it "
        "into several requests (for example smaller log-batch calls).",
        "REQUEST_LIMIT_EXCEEDED",
        413,
    )


def _index(
    read_only: bool, destination: str | None = None, guard: AuthGuard | None = None
) -> dict[str, Endpoint]:
    table = {}
    for endpoint in (
        *ALL_ENDPOINTS,
        handlers_ui.config_endpoint(read_only),
        *handlers_ui_artifacts.artifact_endpoints(destination),
        *handlers_auth.auth_endpoints(guard),
    ):
        table[endpoint.full_path] = endpoint
        if endpoint.prefix == MLFLOW_PREFIX:
            table[AJAX_PREFIX + endpoint.path] = endpoint
        elif endpoint.prefix == RUNSTACK_PREFIX:
            table[RUNSTACK_AJAX_PREFIX + endpoint.path] = endpoint
    return table


def _refuse_changes(endpoint: Endpoint) -> ApiError:
    return ApiError(
        f"This server is read-only (--read-only): {endpoint.full_path} would change data "
        "and is refused. Restart it without --read-only to make changes.",
        "PERMISSION_DENIED",
        403,
    )


class TrackingApp:
    """The ASGI app. API calls are answered here directly, without a router or a request
    object: one logged value is one request, and the framework's share of it counts. Health,
    version, the OpenAPI document and the lifespan go to a small Starlette app; the artifact
    proxy (streamed bodies, no JSON body limit) to ``artifacts``."""

    def __init__(
        self,
        api: ASGIApp,
        rest: Starlette,
        settings: ServerSettings,
        artifacts: ArtifactProxy,
        artifacts_entry: ASGIApp | None = None,
    ) -> None:
        self.api = api
        self.rest = rest
        self.settings = settings
        self.artifacts = artifacts
        # The proxy behind authentication and permissions (--auth), else the proxy itself.
        self.artifacts_entry = artifacts_entry or artifacts
        # --auth: a redirect to /login for the UI page when the browser is not signed in.
        self.ui_gate: Callable[[Scope], Awaitable[Response | None]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(ARTIFACT_ROUTES):
            await self.artifacts_entry(scope, receive, send)
        elif scope["type"] == "http" and path.startswith(_API_PREFIXES) and path != _OPENAPI_PATH:
            await self.api(scope, receive, send)
        else:
            if self.ui_gate is not None and path == "/" and scope["type"] == "http":
                redirect = await self.ui_gate(scope)
                if redirect is not None:
                    await redirect(scope, receive, send)
                    return
            await self.rest(scope, receive, send)


def _ui_routes(read_only: bool) -> list[BaseRoute]:
    """The web UI's page and static files (``runstack.ui``), beside the API in every worker."""
    from runstack.ui.routes import ui_routes

    return ui_routes(read_only=read_only)


def create_app(
    backend_store_uri: str,
    server_settings: ServerSettings | None = None,
    artifacts: ArtifactSettings | None = None,
) -> GuardedApp:
    """The ASGI app serving the tracking API over the store at ``backend_store_uri``, with
    ``server_settings`` (default: from the environment), kept on the app as ``.settings``,
    behind the request guards (``server_settings.guards``; see guards.py).
    With ``server_settings.read_only``, every request that would change data is refused.
    Artifacts are proxied as ``artifacts`` says (default: from the environment, else from
    ``mlartifacts`` beside the store); the proxy is the app's ``.artifacts``."""
    artifact_settings = artifacts or ArtifactSettings.from_environment(backend_store_uri)
    holder = StoreHolder(backend_store_uri, lambda store: serve_store(store, artifact_settings))
    config = server_settings or ServerSettings.from_environment()
    body_limit = config.max_body_bytes
    # Store calls block: they run on these threads (each may hold a database connection).
    workers = ThreadPoolExecutor(config.threads, thread_name_prefix="runstack-api")
    proxy = ArtifactProxy(artifact_settings, config.read_only)
    document = openapi_document(ALL_ENDPOINTS)
    # --auth: every API request names its user, who needs a permission (auth_guard.py).
    guard = None
    if config.auth is not None:
        # On the store's own database connections: one pool per process, not two.
        store = holder.get()
        guard = AuthGuard(
            AuthStore(store.db)
            if isinstance(store, SqlStore)
            else AuthStore.open(backend_store_uri),
            config.auth,
        )
    endpoints = narrow_endpoints(
        _index(config.read_only, artifact_settings.destination, guard), artifact_settings
    )

    def call(
        endpoint: Endpoint, args: dict[str, Any], user: User | None
    ) -> dict[str, Any] | Response:
        if endpoint.caller:
            args = {**args, CALLER: None if user is None else user.username}
        if guard is not None and user is not None:
            guard.check(user, endpoint, args)
            body = endpoint.handler(holder.get(), args)
            if isinstance(body, dict):  # a streamed file has nothing to filter
                body = guard.after(user, endpoint, body)
        else:
            body = endpoint.handler(holder.get(), args)
        if endpoint.reports_limits and isinstance(body, dict):
            return {**body, **config.client_limits()}
        return body

    async def authenticate(scope: Scope) -> User | None:
        if guard is None:
            return None
        header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if header is None:  # the web UI's session cookie (auth_session.py)
            cookie = next((v for k, v in scope["headers"] if k == b"cookie"), None)
            header = session_header(cookie)
        user = guard.cached_user(header)
        if user is None:  # scrypt and a database read: not on the event loop
            client = (scope.get("client") or ("", 0))[0]
            user = await asyncio.get_running_loop().run_in_executor(
                workers, guard.authenticate, header, client
            )
        return user

    # A PostgreSQL call waits only for the database's own short work, so a quick request that
    # is the only one in this process is answered on the event loop: handing it to a thread
    # and back costs about 0.1 ms of a 0.8 ms request. A SQLite call may wait up to its busy
    # timeout for another process's write lock, which must not stop the loop.
    quick_on_loop = urlsplit(backend_store_uri).scheme.startswith("postgres")
    in_flight = 0

    async def answer(
        endpoint: Endpoint, args: dict[str, Any], user: User | None, receive: Receive
    ) -> dict[str, Any] | Response:
        nonlocal in_flight
        in_flight += 1
        try:
            if quick_on_loop and endpoint.quick:
                # One turn of the loop first, so that requests which arrived together with
                # this one count as in flight: then all go to threads and run side by side.
                await asyncio.sleep(0)
                if in_flight == 1:
                    return call(endpoint, args, user)
            # A search whose client leaves is stopped rather than left to run (disconnect.py).
            cancellation = Cancellation()
            watcher = asyncio.create_task(cancel_on_disconnect(receive, cancellation))
            try:
                return await asyncio.get_running_loop().run_in_executor(
                    workers, call_cancellable, cancellation, call, endpoint, args, user
                )
            finally:
                watcher.cancel()
        finally:
            in_flight -= 1

    async def api(scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        endpoint = endpoints.get(path) or endpoints.get(path.rstrip("/"))
        try:
            user = await authenticate(scope)
            if endpoint is None:
                raise ApiError(
                    f"No API endpoint {path!r}; see /api/2.0/runstack/openapi.json for the list.",
                    "ENDPOINT_NOT_FOUND",
                    404,
                )
            if method not in endpoint.methods:
                raise ApiError(
                    f"{method} is not allowed on {path}; use {' or '.join(endpoint.methods)}.",
                    "BAD_REQUEST",
                    405,
                )
            if config.read_only and endpoint.changes_state:
                raise _refuse_changes(endpoint)
            if method == "GET":
                query = QueryParams(scope.get("query_string", b"").decode("latin-1"))
                raw = query_to_raw(endpoint.fields, query)
            else:
                body = await _read_body(scope, receive, body_limit, config.body_timeout_s)
                raw = decode_object(body)
            args = parse_fields(endpoint.fields, raw)
            answered = await answer(endpoint, args, user, receive)
            response = answered if isinstance(answered, Response) else JSONResponse(answered)
        except RunstackError as error:
            response = error_response(error)
            if isinstance(error, ApiError) and error.status == 405 and endpoint is not None:
                response.headers["Allow"] = ", ".join(endpoint.methods)
            if isinstance(error, ApiError) and error.status in (408, 413):
                response.headers["Connection"] = "close"  # the rest of the body is unread
        except Exception:
            logger.exception("runstack server: %s %s failed", method, path)
            response = error_response(
                RunstackError(
                    f"The server failed to handle {method} {path}; its log has the details.",
                    "INTERNAL_ERROR",
                )
            )
        await response(scope, receive, send)

    async def guarded_artifacts(scope: Scope, receive: Receive, send: Send) -> None:
        """--auth: the artifact proxy for a user allowed the path's experiment."""
        assert guard is not None
        try:
            user = await authenticate(scope)
            assert user is not None
            route = scope["path"].split("/mlflow-artifacts/artifacts", 1)[-1]
            if not route.strip("/"):  # a listing names its folder in ?path=
                query = QueryParams(scope.get("query_string", b"").decode("latin-1"))
                route = query.get("path", "")
            await asyncio.get_running_loop().run_in_executor(
                workers, guard.check_artifact, user, scope["method"], route
            )
        except RunstackError as error:
            await error_response(error)(scope, receive, send)
            return
        await proxy(scope, receive, send)

    async def ui_gate(scope: Scope) -> Response | None:
        """--auth: the UI page only for a signed-in browser; others go to /login."""
        try:
            await authenticate(scope)
        except RunstackError:
            return RedirectResponse("/login", status_code=303)
        return None

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    async def health(request: Request) -> Response:
        return PlainTextResponse("OK")

    async def version(request: Request) -> Response:
        return PlainTextResponse(__version__)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        store = await loop.run_in_executor(workers, holder.get)
        sweeper = reaper.Reaper(store, config.reap_interval_s)
        sweeper.start()
        try:
            yield
        finally:
            sweeper.stop()
            proxy.close()
            await loop.run_in_executor(workers, holder.close)
            workers.shutdown(wait=False)

    rest = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/version", version, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            Route(_OPENAPI_PATH, openapi, methods=["GET"]),
            *(session_routes(guard, workers) if guard is not None else []),
            *_ui_routes(config.read_only),
        ],
        lifespan=lifespan,
    )
    rest.state.settings = config
    entry = guarded_artifacts if guard is not None else None
    app = TrackingApp(api, rest, config, proxy, entry)
    if guard is not None:
        app.ui_gate = ui_gate
    return GuardedApp(app, config.guards)


def app_from_environment() -> GuardedApp:
    """The factory uvicorn calls in each worker process (the URI comes in the environment)."""
    uri = settings.SERVER_BACKEND_STORE_URI.read()
    if not uri:
        raise InvalidParameterError(
            f"{settings.SERVER_BACKEND_STORE_URI.name} is not set; start the server with "
            "`runstack server` or runstack.server.serve()."
        )
    return create_app(uri)
