"""``runstack server``"""

from __future__ import annotations

import click

from runstack.tracking_uri import get_tracking_uri, normalise_uri


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
    help="Address to listen on; use 0.0.0.0 to accept connections from other hosts.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes."
)
def server(backend_store_uri: str | None, host: str, port: int, workers: int) -> None:
    """Serve MLflow's REST API (and runstack's) over a store."""
    from runstack.server import serve

    uri = normalise_uri(backend_store_uri) if backend_store_uri else get_tracking_uri()
    try:
        serve(uri, host=host, port=port, workers=workers)
    except ImportError as error:
        raise click.ClickException(
            f"The server needs extra packages ({error.name}); install them with "
            "`pip install 'runstack[server]'`."
        ) from None
