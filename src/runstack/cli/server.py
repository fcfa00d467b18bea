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
@click.option(
    "--artifacts-destination",
    default=None,
    metavar="PATH|s3://BUCKET/PREFIX",
    help="Where the server keeps the artifacts it proxies [default: ./mlartifacts, beside "
    "the store for SQLite].",
)
@click.option(
    "--serve-artifacts/--no-serve-artifacts",
    default=True,
    show_default=True,
    help="Proxy artifact uploads and downloads (/api/2.0/mlflow-artifacts/artifacts).",
)
@click.option(
    "--max-artifact-bytes",
    type=click.IntRange(min=1),
    default=None,
    metavar="BYTES",
    help="Largest artifact upload accepted; larger ones get a 413 [default: 64 GiB].",
)
def server(
    backend_store_uri: str | None,
    host: str,
    port: int,
    workers: int,
    artifacts_destination: str | None,
    serve_artifacts: bool,
    max_artifact_bytes: int | None,
) -> None:
    """Serve MLflow's REST API (and runstack's) over a store, and proxy artifacts."""
    from runstack.server import serve

    uri = normalise_uri(backend_store_uri) if backend_store_uri else get_tracking_uri()
    try:
        serve(
            uri,
            host=host,
            port=port,
            workers=workers,
            artifacts_destination=artifacts_destination,
            serve_artifacts=serve_artifacts,
            max_artifact_bytes=max_artifact_bytes,
        )
    except ImportError as error:
        raise click.ClickException(
            f"The server needs extra packages ({error.name}); install them with "
            "`pip install 'runstack[server]'`."
        ) from None
