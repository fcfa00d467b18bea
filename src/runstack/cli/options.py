"""Options shared by several commands, and the client they configure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from runstack.client import TrackingClient
from runstack.entities import Experiment, ViewType
from runstack.errors import ResourceNotFoundError

F = TypeVar("F", bound=Callable[..., Any])

tracking_uri_option = click.option(
    "--tracking-uri",
    envvar="MLFLOW_TRACKING_URI",
    default=None,
    metavar="URI",
    help="Store to use: sqlite:///path, a .db path, postgresql://... "
    "[default: $MLFLOW_TRACKING_URI, else ./runstack.db]",
)


VIEWS = {"active": ViewType.ACTIVE_ONLY, "deleted": ViewType.DELETED_ONLY, "all": ViewType.ALL}
view_option = click.option(
    "--view", type=click.Choice(list(VIEWS)), default="active", show_default=True
)


def all_experiments(client: TrackingClient, view: ViewType) -> list[Experiment]:
    """Every experiment in this view, newest first, fetched page by page."""
    found: list[Experiment] = []
    token = None
    while True:
        page = client.search_experiments(view, 1000, None, None, token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def make_client(tracking_uri: str | None) -> TrackingClient:
    return TrackingClient(tracking_uri)


def find_experiment(client: TrackingClient, name_or_id: str) -> Experiment:
    """An experiment by id (all digits) or else by name."""
    if name_or_id.isascii() and name_or_id.isdigit():
        try:
            return client.get_experiment(name_or_id)
        except ResourceNotFoundError:
            pass
    found = client.get_experiment_by_name(name_or_id)
    if found is None:
        raise ResourceNotFoundError(f"No experiment with id or name {name_or_id!r}.")
    return found
