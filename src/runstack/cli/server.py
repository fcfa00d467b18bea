"""``runstack server`` and ``runstack ui``: the same app (API and web UI) over a store."""

from __future__ import annotations

import threading
import webbrowser
from typing import Any

import click

from runstack.errors import InvalidParameterError
from runstack.tracking_uri import get_tracking_uri, normalise_uri

_HOST = click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Beyond loopback (e.g. 0.0.0.0) needs --auth or "
    "--allow-unauthenticated.",
)
_ALLOW_UNAUTHENTICATED = click.option(
    "--allow-unauthenticated",
    is_flag=True,
    help="Allow listening beyond loopback without --auth (for a trusted network only).",
)
_SECONDS = click.FloatRange(0.1, 3600)


def _list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _security_options(command: Any) -> Any:
    """The request guards' and connection limits' options (docs/security.md)."""
    options = [
        click.option(
            "--allowed-hosts",
            envvar="RUNSTACK_SERVER_ALLOWED_HOSTS",
            metavar="HOSTS",
            help="Comma-separated Host names answered besides localhost (wildcards like "
            "*.corp; host:port; '*' for any). Default: loopback names, plus any IP address "
            "when listening beyond loopback.",
        ),
        click.option(
            "--cors-allowed-origins",
            envvar="RUNSTACK_SERVER_CORS_ALLOWED_ORIGINS",
            metavar="ORIGINS",
            help="Comma-separated origins (https://app.corp, wildcards, '*') whose pages may "
            "call the API and read its answers. Default: none but the server's own.",
        ),
        click.option(
            "--x-frame-options",
            default="SAMEORIGIN",
            show_default=True,
            type=click.Choice(["SAMEORIGIN", "DENY", "NONE"], case_sensitive=False),
            help="X-Frame-Options header on every answer (NONE: no header).",
        ),
        click.option(
            "--ssl-certfile",
            type=click.Path(exists=True, dir_okay=False),
            help="Serve HTTPS with this certificate (PEM).",
        ),
        click.option(
            "--ssl-keyfile",
            type=click.Path(exists=True, dir_okay=False),
            help="The private key of --ssl-certfile (PEM).",
        ),
        click.option(
            "--search-timeout",
            type=_SECONDS,
            default=10.0,
            show_default=True,
            help="Seconds one search statement may run; then a 400.",
        ),
        click.option(
            "--header-timeout",
            type=_SECONDS,
            default=10.0,
            show_default=True,
            help="Seconds a connection may take to send a request's headers.",
        ),
        click.option(
            "--body-timeout",
            type=_SECONDS,
            default=30.0,
            show_default=True,
            help="Seconds a request may take to send its JSON body.",
        ),
        click.option(
            "--idle-timeout",
            type=_SECONDS,
            default=5.0,
            show_default=True,
            help="Seconds a kept-alive connection may stay idle.",
        ),
        click.option(
            "--limit-concurrency",
            type=click.IntRange(1, 1_000_000),
            default=1000,
            show_default=True,
            help="Connections and requests per worker process; beyond it, 503.",
        ),
        _ALLOW_UNAUTHENTICATED,
    ]
    for option in reversed(options):
        command = option(command)
    return command


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
    security: dict[str, Any] | None = None,
) -> None:
    from runstack.server import serve
    from runstack.server.connection_limits import ConnectionLimits

    destination, serve_artifacts, max_artifact_bytes = artifacts
    security = security or {}
    limits = ConnectionLimits(
        header_timeout_s=security.get("header_timeout", 10.0),
        body_timeout_s=security.get("body_timeout", 30.0),
        idle_timeout_s=security.get("idle_timeout", 5.0),
        limit_concurrency=security.get("limit_concurrency", 1000),
    )
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
            allow_unauthenticated=security.get("allow_unauthenticated", False),
            allowed_hosts=_list(security.get("allowed_hosts")),
            cors_allowed_origins=_list(security.get("cors_allowed_origins")),
            x_frame_options=security.get("x_frame_options", "SAMEORIGIN").upper(),
            ssl_certfile=security.get("ssl_certfile"),
            ssl_keyfile=security.get("ssl_keyfile"),
            limits=limits,
            search_timeout_s=security.get("search_timeout"),
            auth=security.get("auth", False),
            auth_default_permission=security.get("auth_default_permission", "READ"),
        )
    except InvalidParameterError as error:
        raise click.ClickException(error.message) from None
    except ImportError as error:
        raise click.ClickException(
            f"The server needs extra packages ({error.name}); install them with "
            "`pip install 'runstack[server]'`."
        ) from None


_AUTH = click.option(
    "--auth",
    is_flag=True,
    help="Require a username and password or an API token on every API request, and "
    "per-experiment permissions (runstack users / runstack tokens).",
)
_AUTH_DEFAULT_PERMISSION = click.option(
    "--auth-default-permission",
    type=click.Choice(["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"], case_sensitive=False),
    default="READ",
    show_default=True,
    help="With --auth: what a user may do in an experiment where they have no grant.",
)


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
@_AUTH
@_AUTH_DEFAULT_PERMISSION
@_ARTIFACTS_DESTINATION
@_SERVE_ARTIFACTS
@_MAX_ARTIFACT_BYTES
@_security_options
def server(
    backend_store_uri: str | None,
    host: str,
    port: int,
    workers: int,
    read_only: bool,
    artifacts_destination: str | None,
    serve_artifacts: bool,
    max_artifact_bytes: int | None,
    **security: Any,
) -> None:
    """Serve MLflow's REST API (and runstack's, and the web UI at /) over a store, and proxy
    artifacts."""
    uri = normalise_uri(backend_store_uri) if backend_store_uri else get_tracking_uri()
    artifacts = (artifacts_destination, serve_artifacts, max_artifact_bytes)
    _serve(uri, host, port, workers, read_only, artifacts, security)


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
@_AUTH
@_AUTH_DEFAULT_PERMISSION
@_ALLOW_UNAUTHENTICATED
def ui(
    tracking_uri: str | None,
    host: str,
    port: int,
    open_browser: bool,
    read_only: bool,
    auth: bool,
    auth_default_permission: str,
    allow_unauthenticated: bool,
) -> None:
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
    security = {
        "allow_unauthenticated": allow_unauthenticated,
        "auth": auth,
        "auth_default_permission": auth_default_permission,
    }
    _serve(uri, host, port, 1, read_only, security=security)
