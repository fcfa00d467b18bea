"""runstack's tracking server: MLflow's REST API over a runstack SQL store.

``serve`` runs it under uvicorn; ``runstack.server.app.create_app`` is the ASGI app. This
module imports no web framework itself, so ``import runstack.server`` stays cheap.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from runstack.errors import InvalidParameterError

if TYPE_CHECKING:
    from runstack.auth.permissions import Permission
    from runstack.server.connection_limits import ConnectionLimits

__all__ = ["check_backend", "check_bind", "is_loopback", "serve"]

logger = logging.getLogger("runstack.server")


def check_backend(backend_store_uri: str) -> None:
    """Fail early, with a clear message, on a URI the server cannot serve from; give an empty
    database its schema once, before any worker starts."""
    scheme = backend_store_uri.split("://", 1)[0].lower() if "://" in backend_store_uri else ""
    if scheme in ("http", "https"):
        raise InvalidParameterError(
            f"Backend store {backend_store_uri!r} is a tracking server; a server needs a "
            "database: sqlite:///path/to/runstack.db or postgresql://user@host/db."
        )
    from runstack.store import open_store

    open_store(backend_store_uri).close()


def serve(
    backend_store_uri: str,
    host: str = "127.0.0.1",
    port: int = 5000,
    workers: int = 1,
    *,
    access_log: bool = False,
    read_only: bool = False,
    allow_unauthenticated: bool = False,
    allowed_hosts: Sequence[str] = (),
    cors_allowed_origins: Sequence[str] = (),
    x_frame_options: str = "SAMEORIGIN",
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    limits: ConnectionLimits | None = None,
    search_timeout_s: float | None = None,
    auth: bool = False,
    auth_default_permission: str = "READ",
    artifacts_destination: str | None = None,
    serve_artifacts: bool = True,
    max_artifact_bytes: int | None = None,
) -> None:
    """Serve the tracking API on ``host:port`` with ``workers`` processes until stopped;
    with ``read_only``, every request that would change data is refused (403).

    Each worker process opens its own store. With several workers, use PostgreSQL (SQLite
    works, but its single writer makes more workers pointless for writes). Artifacts are
    proxied from ``artifacts_destination`` (a folder or ``s3://bucket/prefix``; by default
    ``mlartifacts`` beside a SQLite store, else in the working directory) unless
    ``serve_artifacts`` is False; uploads over ``max_artifact_bytes`` are refused (413).
    With ``auth``, every API request must authenticate (users and tokens of ``runstack
    users`` / ``runstack tokens``) and needs a permission on the experiment it touches;
    ``auth_default_permission`` is what users hold where they have no grant. Without it,
    binding beyond loopback needs ``allow_unauthenticated=True``.
    The guards and limits are described in docs/security.md.
    """
    if workers < 1:
        raise InvalidParameterError(f"workers={workers!r}: use 1 or more worker processes.")
    check_bind(host, allow_unauthenticated or auth)
    default_permission = _permission(auth_default_permission)
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise InvalidParameterError(
            "TLS needs both --ssl-certfile and --ssl-keyfile (the key may also be inside the "
            "certificate file: then give that file twice)."
        )
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as error:
        raise ImportError(
            f"The tracking server needs {error.name!r}; install it with "
            "`pip install 'runstack[server]'`.",
            name=error.name,
        ) from None
    check_backend(backend_store_uri)
    from runstack.server.artifact_settings import ArtifactSettings

    artifact_settings = ArtifactSettings.create(
        backend_store_uri, artifacts_destination, serve_artifacts, max_artifact_bytes
    )

    from runstack.server.connection_limits import PROTOCOL, ConnectionLimits
    from runstack.server.guards import GuardSettings
    from runstack.settings import SEARCH_TIMEOUT, SERVER_BACKEND_STORE_URI, SERVER_READ_ONLY

    limits = limits or ConnectionLimits()
    guards = GuardSettings.for_bind(host, allowed_hosts, cors_allowed_origins, x_frame_options)
    # Read by each worker process: its app factory, its protocol class and its store.
    SERVER_BACKEND_STORE_URI.export(backend_store_uri)
    SERVER_READ_ONLY.export("true" if read_only else "false")
    guards.export(host)
    limits.export()
    if search_timeout_s is not None:
        SEARCH_TIMEOUT.export(repr(search_timeout_s))
    if auth:
        from runstack.server.auth_guard import AuthSettings

        AuthSettings(default_permission=default_permission).export()
        _warn_if_no_admin(backend_store_uri)
    else:
        from runstack.settings import SERVER_AUTH

        SERVER_AUTH.export("false")
    if not is_loopback(host) and not auth:
        logger.warning(
            "runstack server: listening on %s WITHOUT AUTHENTICATION (--allow-unauthenticated):"
            " anyone who can reach this address can read and change every experiment and run.",
            host,
        )
    artifact_settings.export()
    uvicorn.run(
        "runstack.server.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=PROTOCOL,
        access_log=access_log,
        log_level="info",
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        **limits.uvicorn_options(),
    )


def _permission(name: str) -> Permission:
    from runstack.auth.permissions import Permission

    try:
        return Permission.parse(name)
    except ValueError as error:
        raise InvalidParameterError(f"--auth-default-permission: {error}") from None


def _warn_if_no_admin(backend_store_uri: str) -> None:
    from runstack.auth.store import AuthStore

    store = AuthStore.open(backend_store_uri)
    try:
        if not any(user.is_admin for user in store.list_users()):
            logger.warning(
                "runstack server: authentication is on but the store has no admin user; "
                "create one with `runstack users create NAME --admin`."
            )
    finally:
        store.close()


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server on this machine."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_unauthenticated: bool) -> None:
    """Refuse an address beyond loopback unless unauthenticated access was asked for."""
    if not is_loopback(host) and not allow_unauthenticated:
        raise InvalidParameterError(
            f"Refusing to listen on {host!r} with no authentication: anyone who can reach that "
            "address could read and change every experiment and run. Pass --auth (users from "
            "`runstack users create`), or listen on 127.0.0.1 behind an authenticating "
            "reverse proxy, or pass --allow-unauthenticated if the network itself is trusted."
        )
