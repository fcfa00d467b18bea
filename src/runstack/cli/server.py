"""``runstack server`` and ``runstack ui``: the same app (API and web UI) over a store."""

from __future__ import annotations

import threading
import webbrowser

import click

from runstack.tracking_uri import get_tracking_uri, normalise_uri

_HOST = click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; use 0.0.0.0 to accept connections from other hosts.",
)
_PORT = click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
_READ_ONLY = click.option(
    "--read-only",
    is_flag=True,
    default=False,
    help="Serve everything but refuse every change (403 PERMISSION_DENIED).",
)


_ARTIFACTS_DESTINATION = click.option(
    "--artifacts-destination",
    default=None,
    metavar="PATH|s3://BUCKET/PREFIX",
    help="Where the server keeps the artifacts it proxies [default: ./mlartifacts, beside "
    "the store for SQLite].",
)
_SERVE_ARTIFACTS = click.option(
    "--serve-artifacts/--no-serve-artifacts",
    default=True,
    show_default=True,
    help="Proxy artifact uploads and downloads (/api/2.0/mlflow-artifacts/artifacts).",
)
_MAX_ARTIFACT_BYTES = click.option(
    "--max-artifact-bytes",
    type=click.IntRange(min=1),
    default=None,
    metavar="BYTES",
    help="Largest artifact upload accepted; larger ones get a 413 [default: 64 GiB].",
)


def _serve(
    uri: str,
    host: str,
    port: int,
    workers: int,
    read_only: bool,
    artifacts: tuple[str | None, bool, int | None] = (None, True, None),
) -> None:
    from runstack.server import serve

    destination, serve_artifacts, max_artifact_bytes = artifacts
    try:
        serve(
            uri,
            host=host,
            port=port,
            workers=workers,
            read_only=read_only,
            artifacts_destination=destination,
            serve_artifacts=serve_artifacts,
            max_artifact_bytes=max_artifact_bytes,
        )
    except ImportError as error:
        raise click.ClickException(
            f"The server needs extra packages ({error.name}); install them with "
            "`pip install 'runstack[server]'`."
        ) from None


@click.command()
@click.option(
    "--backend-store-uri",
    envvar="MLFLOW_TRACKING_URI",
    default=None,
    metavar="URI",
    help="The store the server writes to [default: $MLFLOW_TRACKING_URI, else ./runstack.db].",
)
@_HOST
@_PORT
@click.option(
    "--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes."
)
@_READ_ONLY
@_ARTIFACTS_DESTINATION
@_SERVE_ARTIFACTS
@_MAX_ARTIFACT_BYTES
def server(
    backend_store_uri: str | None,
    host: str,
    port: int,
    workers: int,
    read_only: bool,
    artifacts_destination: str | None,
    serve_artifacts: bool,
    max_artifact_bytes: int | None,
) -> None:
    """Serve MLflow's REST API (and runstack's, and the web UI at /) over a store, and proxy
    artifacts."""
    uri = normalise_uri(backend_store_uri) if backend_store_uri else get_tracking_uri()
    artifacts = (artifacts_destination, serve_artifacts, max_artifact_bytes)
    _serve(uri, host, port, workers, read_only, artifacts)


def ui_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches the server."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if ":" in shown:  # an IPv6 address
        shown = "[::1]" if shown == "::" else f"[{shown}]"
    return f"http://{shown}:{port}/"


@click.command()
@click.option(
    "--tracking-uri",
    envvar="MLFLOW_TRACKING_URI",
    default=None,
    metavar="URI",
    help="The store to show [default: $MLFLOW_TRACKING_URI, else ./runstack.db].",
)
@_HOST
@_PORT
@click.option("--open", "open_browser", is_flag=True, help="Open the UI in a web browser.")
@_READ_ONLY
def ui(tracking_uri: str | None, host: str, port: int, open_browser: bool, read_only: bool) -> None:
    """Browse runs in a web browser: serve the web UI (and the API) over the local store."""
    from runstack.store.sql.database import redact

    uri = normalise_uri(tracking_uri) if tracking_uri else get_tracking_uri()
    url = ui_url(host, port)
    click.echo(f"runstack UI for {redact(uri)}: {url}" + (" (read-only)" if read_only else ""))
    click.echo("Press Ctrl+C to stop.")
    if open_browser:
        # Shortly after the server has started listening; a failed open is harmless.
        timer = threading.Timer(1.0, webbrowser.open, args=(url,))
        timer.daemon = True
        timer.start()
    _serve(uri, host, port, 1, read_only)
