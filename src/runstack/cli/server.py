"""``runstack server``"""

from __future__ import annotations

import click

from runstack.errors import InvalidParameterError
from runstack.tracking_uri import get_tracking_uri, normalise_uri


def _list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


@click.command()
@click.option(
    "--backend-store-uri",
    envvar="MLFLOW_TRACKING_URI",
    default=None,
    metavar="URI",
    help="The store the server writes to [default: $MLFLOW_TRACKING_URI, else ./runstack.db].",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Beyond loopback (e.g. 0.0.0.0) needs --allow-unauthenticated.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes."
)
@click.option(
    "--allow-unauthenticated",
    is_flag=True,
    help="Allow listening beyond loopback although the server has no authentication yet.",
)
@click.option(
    "--allowed-hosts",
    envvar="RUNSTACK_SERVER_ALLOWED_HOSTS",
    metavar="HOSTS",
    help="Comma-separated Host names answered besides localhost (wildcards like *.corp; "
    "host:port; '*' for any). Default: loopback names, plus any IP address when listening "
    "beyond loopback.",
)
@click.option(
    "--cors-allowed-origins",
    envvar="RUNSTACK_SERVER_CORS_ALLOWED_ORIGINS",
    metavar="ORIGINS",
    help="Comma-separated origins (https://app.corp, wildcards, '*') whose pages may call "
    "the API and read its answers. Default: none but the server's own.",
)
@click.option(
    "--x-frame-options",
    default="SAMEORIGIN",
    show_default=True,
    type=click.Choice(["SAMEORIGIN", "DENY", "NONE"], case_sensitive=False),
    help="X-Frame-Options header on every answer (NONE: no header).",
)
@click.option(
    "--ssl-certfile",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Serve HTTPS with this certificate (PEM).",
)
@click.option(
    "--ssl-keyfile",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="The private key of --ssl-certfile (PEM).",
)
@click.option(
    "--search-timeout",
    type=click.FloatRange(0.1, 3600),
    default=10.0,
    show_default=True,
    help="Seconds one search statement may run; then a 400.",
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(0.1, 3600),
    default=10.0,
    show_default=True,
    help="Seconds a connection may take to send a request's headers.",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(0.1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds a request may take to send its JSON body.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(0.1, 3600),
    default=5.0,
    show_default=True,
    help="Seconds a kept-alive connection may stay idle.",
)
@click.option(
    "--limit-concurrency",
    type=click.IntRange(1, 1_000_000),
    default=1000,
    show_default=True,
    help="Connections and requests per worker process; beyond it, 503.",
)
def server(
    backend_store_uri: str | None,
    host: str,
    port: int,
    workers: int,
    allow_unauthenticated: bool,
    allowed_hosts: str | None,
    cors_allowed_origins: str | None,
    x_frame_options: str,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    search_timeout: float,
    header_timeout: float,
    body_timeout: float,
    idle_timeout: float,
    limit_concurrency: int,
) -> None:
    """Serve MLflow's REST API (and runstack's) over a store."""
    from runstack.server import serve
    from runstack.server.connection_limits import ConnectionLimits

    uri = normalise_uri(backend_store_uri) if backend_store_uri else get_tracking_uri()
    limits = ConnectionLimits(
        header_timeout_s=header_timeout,
        body_timeout_s=body_timeout,
        idle_timeout_s=idle_timeout,
        limit_concurrency=limit_concurrency,
    )
    try:
        serve(
            uri,
            host=host,
            port=port,
            workers=workers,
            allow_unauthenticated=allow_unauthenticated,
            allowed_hosts=_list(allowed_hosts),
            cors_allowed_origins=_list(cors_allowed_origins),
            x_frame_options=x_frame_options,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            limits=limits,
            search_timeout_s=search_timeout,
        )
    except InvalidParameterError as error:
        raise click.ClickException(error.message) from None
    except ImportError as error:
        raise click.ClickException(
            f"The server needs extra packages ({error.name}); install them with "
            "`pip install 'runstack[server]'`."
        ) from None
