"""``runstack gc`` and ``runstack db upgrade``."""

from __future__ import annotations

import re
from pathlib import Path

import click

from runstack.cli.options import tracking_uri_option
from runstack.clock import now_ms
from runstack.errors import InvalidParameterError
from runstack.tracking_uri import get_tracking_uri, normalise_uri

_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``30d``, ``12h``, ``1d12h``, ``90m`` or ``45s``."""
    compact = text.replace(" ", "").lower()
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise InvalidParameterError(
            f"Invalid duration {text!r}: use numbers with units (w, d, h, m, s), e.g. 30d or 1d12h."
        )
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def _database_uri(tracking_uri: str | None) -> str:
    uri = normalise_uri(tracking_uri) if tracking_uri else get_tracking_uri()
    if not uri.startswith(("sqlite:", "postgresql")):
        raise InvalidParameterError(
            f"{uri!r} is not a database; run this against the server's store."
        )
    return uri


@click.command()
@tracking_uri_option
@click.option(
    "--older-than",
    default=None,
    metavar="DURATION",
    help="Only what was deleted at least this long ago, e.g. 30d [default: everything deleted].",
)
@click.option(
    "--artifacts-destination",
    default=None,
    metavar="URI",
    help="Where the tracking server keeps mlflow-artifacts:/ files (its "
    "--artifacts-destination) [default: the server's default for this store, when it exists].",
)
def gc(tracking_uri: str | None, older_than: str | None, artifacts_destination: str | None) -> None:
    """Permanently remove deleted runs and experiments, with their artifacts, freeing
    experiment names.

    Served artifacts (mlflow-artifacts:/ URIs) are deleted from --artifacts-destination, else
    from the folder `runstack server` uses by default for the same store (mlartifacts beside
    a SQLite file, else in the working directory) when it exists; without either, those runs
    are kept and counted in the output."""
    from rich.progress import Progress

    from runstack.artifacts.cleanup import human_size
    from runstack.cli.gc_artifacts import ArtifactSweeper
    from runstack.server.artifact_settings import default_destination
    from runstack.store.sql.store import SqlStore

    cutoff = now_ms()
    if older_than:
        cutoff -= int(parse_duration(older_than) * 1000)
    store_uri = _database_uri(tracking_uri)
    store = SqlStore.open(store_uri)
    default = default_destination(store_uri)
    destination = artifacts_destination or (default if Path(default).is_dir() else None)
    sweeper = ArtifactSweeper(store.db, destination)
    try:
        run_ids, experiment_ids = store.deleted_before(cutoff)
        removed_runs = 0
        with Progress(transient=True) as progress:
            task = progress.add_task("Removing runs", total=len(run_ids))
            for start in range(0, len(run_ids), 200):
                chunk = run_ids[start : start + 200]
                removed_runs += store.purge_runs(sweeper.sweep_runs(chunk))
                progress.update(task, advance=len(chunk))
        purged_experiments = [e for e in experiment_ids if sweeper.sweep_experiment(e)]
        removed_runs += store.purge_experiments(purged_experiments)
    finally:
        store.close()
    click.echo(
        f"Removed {removed_runs} run(s) and {len(purged_experiments)} experiment(s) for good; "
        f"freed {human_size(sweeper.freed)} of artifacts."
    )
    if artifacts_destination is None and sweeper.served:
        click.echo(
            f"Served (mlflow-artifacts:/) artifacts were deleted from {destination}, where "
            "`runstack server` keeps them by default for this store."
        )
    for problem in sweeper.problems:
        click.echo(f"Kept {problem}", err=True)
    if sweeper.unresolved:
        kept = list(sweeper.unresolved)
        shown = ", ".join(kept[:5]) + (", ..." if len(kept) > 5 else "")
        click.echo(
            f"Kept {len(kept)} run(s) whose mlflow-artifacts:/ files could not "
            f"be freed ({shown}): no artifacts destination is known (the server's default for "
            f"this store, {default}, does not exist). Run again with the server's "
            "--artifacts-destination.",
            err=True,
        )


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@tracking_uri_option
def upgrade(tracking_uri: str | None) -> None:
    """Upgrade the store's schema to this runstack's version (back it up first)."""
    from runstack.store.sql.database import Database
    from runstack.store.sql.migrate import upgrade as upgrade_schema

    uri = normalise_uri(tracking_uri) if tracking_uri else get_tracking_uri()
    database = Database(uri)
    try:
        before, after = upgrade_schema(database)
    finally:
        database.close()
    if before == after:
        click.echo(f"Schema already at version {after}.")
    else:
        click.echo(f"Schema upgraded from {before or 'empty'} to {after}.")
