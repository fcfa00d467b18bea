"""``runstack experiments ...``"""

from __future__ import annotations

import click

from runstack.cli.options import (
    VIEWS,
    all_experiments,
    find_experiment,
    make_client,
    tracking_uri_option,
    view_option,
)
from runstack.cli.output import emit, format_option, when


@click.group()
def experiments() -> None:
    """List, create, rename, delete and restore experiments."""


@experiments.command("list")
@tracking_uri_option
@view_option
@format_option
def list_experiments(tracking_uri: str | None, view: str, output_format: str) -> None:
    """List experiments, newest first."""
    found = all_experiments(make_client(tracking_uri), VIEWS[view])
    rows = [
        (e.experiment_id, e.name, e.lifecycle_stage, when(e.creation_time), e.artifact_location)
        for e in found
    ]
    emit(("id", "name", "stage", "created", "artifact_location"), rows, output_format)


@experiments.command("create")
@tracking_uri_option
@click.argument("name")
@click.option("--artifact-location", default=None, help="Where its runs keep artifacts.")
def create(tracking_uri: str | None, name: str, artifact_location: str | None) -> None:
    """Create an experiment and print its id."""
    experiment_id = make_client(tracking_uri).create_experiment(name, artifact_location)
    click.echo(experiment_id)


@experiments.command("rename")
@tracking_uri_option
@click.argument("experiment")
@click.argument("new_name")
def rename(tracking_uri: str | None, experiment: str, new_name: str) -> None:
    """Rename EXPERIMENT (an id or a name) to NEW_NAME."""
    client = make_client(tracking_uri)
    found = find_experiment(client, experiment)
    client.rename_experiment(found.experiment_id, new_name)
    click.echo(f"Renamed experiment {found.experiment_id}: {found.name!r} -> {new_name!r}")


@experiments.command("delete")
@tracking_uri_option
@click.argument("experiment")
def delete(tracking_uri: str | None, experiment: str) -> None:
    """Delete EXPERIMENT (an id or a name) and hide its runs; `restore` undoes it."""
    client = make_client(tracking_uri)
    found = find_experiment(client, experiment)
    client.delete_experiment(found.experiment_id)
    click.echo(f"Deleted experiment {found.experiment_id} ({found.name!r})")


@experiments.command("restore")
@tracking_uri_option
@click.argument("experiment")
def restore(tracking_uri: str | None, experiment: str) -> None:
    """Restore a deleted EXPERIMENT (an id or a name) and the runs its deletion hid."""
    client = make_client(tracking_uri)
    found = find_experiment(client, experiment)
    client.restore_experiment(found.experiment_id)
    click.echo(f"Restored experiment {found.experiment_id} ({found.name!r})")
