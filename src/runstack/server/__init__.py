"""runstack's tracking server: MLflow's REST API over a runstack SQL store.

``serve`` runs it under uvicorn; ``runstack.server.app.create_app`` is the ASGI app. This
module imports no web framework itself, so ``import runstack.server`` stays cheap.
"""

from __future__ import annotations

from runstack.errors import InvalidParameterError

__all__ = ["check_backend", "serve"]


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
    """
    if workers < 1:
        raise InvalidParameterError(f"workers={workers!r}: use 1 or more worker processes.")
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

    from runstack.server.tcp import PROTOCOL
    from runstack.settings import SERVER_BACKEND_STORE_URI, SERVER_READ_ONLY

    SERVER_BACKEND_STORE_URI.export(backend_store_uri)  # read by each worker's app factory
    SERVER_READ_ONLY.export("true" if read_only else "false")
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
    )
