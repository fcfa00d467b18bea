"""The ASGI app: MLflow's REST API over a runstack SQL store, plus runstack's own endpoints.

Every path under ``/api/`` (and MLflow's UI prefix ``/ajax-api/``) answers JSON, errors
included: ``{"error_code", "message"}`` with the HTTP status of the error code, for unknown
paths (404) and wrong methods (405) too. A request body over the limit (1 MB, as MLflow) is a
413 before it is read in full. Store calls block, so they run in a bounded thread pool; each
server process opens its own store.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from runstack import __version__
from runstack.errors import InvalidParameterError, RunstackError
from runstack.server import handlers_runstack, reaper
from runstack.server.endpoints import AJAX_PREFIX, MLFLOW_PREFIX, Endpoint
from runstack.server.fields import parse_fields, query_to_raw
from runstack.server.openapi import openapi_document
from runstack.server.routes import ALL_ENDPOINTS
from runstack.store import open_store
from runstack.store.base import Store

BACKEND_ENV = "RUNSTACK_SERVER_BACKEND_STORE_URI"
MAX_BODY_ENV = "RUNSTACK_SERVER_MAX_BODY_BYTES"
THREADS_ENV = "RUNSTACK_SERVER_THREADS"
DEFAULT_MAX_BODY_BYTES = 1_000_000
# Each thread may hold a database connection: stay within the SQL store's pool.
DEFAULT_THREADS = 12
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

logger = logging.getLogger("runstack.server")


class ApiError(RunstackError):
    """An error about the HTTP request itself, with its own status."""

    def __init__(self, message: str, error_code: str, status: int) -> None:
        super().__init__(message, error_code)
        self.status = status

    @property
    def http_status(self) -> int:
        return self.status


def _positive_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidParameterError(f"{name}={raw!r} is not a positive integer.")
    return int(raw)


class StoreHolder:
    """This process's store, opened at startup (or on first use, without a lifespan)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._store: Store | None = None
        self._lock = threading.Lock()

    def get(self) -> Store:
        store = self._store
        if store is None:
            with self._lock:
                if self._store is None:
                    self._store = open_store(self.uri)
                store = self._store
        return store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def error_response(error: RunstackError) -> JSONResponse:
    return JSONResponse(error.to_dict(), status_code=error.http_status)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError(
        f"The request body is {size} bytes or more; the limit is {limit} bytes. Split it "
        "into several requests (for example smaller log-batch calls).",
        "REQUEST_LIMIT_EXCEEDED",
        413,
    )


def _json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(
            f"The request body is not valid JSON ({error}); send a JSON object.",
            "BAD_REQUEST",
            400,
        ) from None
    if not isinstance(data, dict):
        raise ApiError(
            f"The request body must be a JSON object, not {type(data).__name__}.",
            "BAD_REQUEST",
            400,
        )
    return data


def _index() -> dict[str, Endpoint]:
    table = {}
    for endpoint in ALL_ENDPOINTS:
        table[endpoint.full_path] = endpoint
        if endpoint.prefix == MLFLOW_PREFIX:
            table[AJAX_PREFIX + endpoint.path] = endpoint
    return table


def create_app(backend_store_uri: str) -> Starlette:
    """The ASGI app serving the tracking API over the store at ``backend_store_uri``."""
    holder = StoreHolder(backend_store_uri)
    body_limit = _positive_env(MAX_BODY_ENV, DEFAULT_MAX_BODY_BYTES)
    limiter = anyio.CapacityLimiter(_positive_env(THREADS_ENV, DEFAULT_THREADS))
    handlers_runstack.SERVER_LIMITS["max_request_bytes"] = body_limit
    endpoints = _index()
    document = openapi_document(ALL_ENDPOINTS)

    async def api(request: Request) -> Response:
        path = request.url.path
        endpoint = endpoints.get(path) or endpoints.get(path.rstrip("/"))
        try:
            if endpoint is None:
                raise ApiError(
                    f"No API endpoint {path!r}; see /api/2.0/runstack/openapi.json for the list.",
                    "ENDPOINT_NOT_FOUND",
                    404,
                )
            if request.method not in endpoint.methods:
                raise ApiError(
                    f"{request.method} is not allowed on {path}; use "
                    f"{' or '.join(endpoint.methods)}.",
                    "BAD_REQUEST",
                    405,
                )
            if request.method == "GET":
                raw = query_to_raw(endpoint.fields, request.query_params)
            else:
                raw = _json_body(await _read_body(request, body_limit))
            args = parse_fields(endpoint.fields, raw)
            result = await anyio.to_thread.run_sync(
                endpoint.handler, holder.get(), args, limiter=limiter
            )
            return JSONResponse(result)
        except RunstackError as error:
            response = error_response(error)
            if isinstance(error, ApiError) and error.status == 405 and endpoint is not None:
                response.headers["Allow"] = ", ".join(endpoint.methods)
            return response
        except Exception:
            logger.exception("runstack server: %s %s failed", request.method, path)
            return error_response(
                RunstackError(
                    f"The server failed to handle {request.method} {path}; its log has the "
                    "details.",
                    "INTERNAL_ERROR",
                )
            )

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    async def health(request: Request) -> Response:
        return PlainTextResponse("OK")

    async def version(request: Request) -> Response:
        return PlainTextResponse(__version__)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await anyio.to_thread.run_sync(holder.get)
        sweeper = reaper.Reaper(store)
        sweeper.start()
        try:
            yield
        finally:
            sweeper.stop()
            await anyio.to_thread.run_sync(holder.close)

    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/version", version, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/api/2.0/runstack/openapi.json", openapi, methods=["GET"]),
            Route("/api/{rest:path}", api, methods=_ALL_METHODS),
            Route("/ajax-api/{rest:path}", api, methods=_ALL_METHODS),
        ],
        lifespan=lifespan,
    )
    app.state.store_holder = holder
    return app


def app_from_environment() -> Starlette:
    """The factory uvicorn calls in each worker process (the URI comes in the environment)."""
    uri = os.environ.get(BACKEND_ENV)
    if not uri:
        raise InvalidParameterError(
            f"{BACKEND_ENV} is not set; start the server with `runstack server` or "
            "runstack.server.serve()."
        )
    return create_app(uri)
