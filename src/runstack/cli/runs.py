"""``runstack runs ...``"""

from __future__ import annotations

import json
from typing import Any

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
from runstack.client import TrackingClient
from runstack.entities import Run, ViewType
from runstack.tags import DATA_CONTEXT, PARENT_RUN_ID


@click.group()
def runs() -> None:
    """List, show, delete and restore runs."""


def _duration(run: Run) -> str:
    if run.info.end_time is None:
        return ""
    seconds = max(0, run.info.end_time - run.info.start_time) / 1000
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}min"


def _search(
    client: TrackingClient,
    experiment_ids: list[str],
    filter_string: str,
    order_by: list[str] | None,
    max_results: int,
    view: ViewType = ViewType.ACTIVE_ONLY,
) -> list[Run]:
    found: list[Run] = []
    token = None
    while len(found) < max_results:
        size = min(1000, max_results - len(found))
        page = client.search_runs(experiment_ids, filter_string, view, size, order_by, token)
        found.extend(page)
        token = page.token
        if not token:
            break
    return found


@runs.command("list")
@tracking_uri_option
@click.option(
    "--experiment",
    "experiments",
    multiple=True,
    metavar="NAME|ID",
    help="Only runs of this experiment (repeatable) [default: all active ones].",
)
@click.option(
    "--filter",
    "filter_string",
    default="",
    metavar="F",
    help="A search filter, e.g. \"metrics.loss < 0.1 and params.lr = '0.01'\".",
)
@click.option(
    "--order-by",
    multiple=True,
    metavar="K",
    help="Sort key, e.g. 'metrics.loss ASC' (repeatable) [default: newest first].",
)
@click.option("--max-results", type=click.IntRange(1, 50_000), default=100, show_default=True)
@view_option
@format_option
def list_runs(
    tracking_uri: str | None,
    experiments: tuple[str, ...],
    filter_string: str,
    order_by: tuple[str, ...],
    max_results: int,
    view: str,
    output_format: str,
) -> None:
    """List runs."""
    client = make_client(tracking_uri)
    if experiments:
        ids = [find_experiment(client, e).experiment_id for e in experiments]
    else:
        ids = [e.experiment_id for e in all_experiments(client, ViewType.ACTIVE_ONLY)]
    found = _search(client, ids, filter_string, list(order_by) or None, max_results, VIEWS[view])
    if output_format == "json":
        click.echo(json.dumps([r.to_dictionary() for r in found], indent=2))
        return
    if output_format == "csv":
        _emit_csv(found)
        return
    rows = [
        (
            r.info.run_id,
            r.info.experiment_id,
            r.info.run_name,
            r.info.status,
            when(r.info.start_time),
            _duration(r),
            r.data.tags.get(PARENT_RUN_ID, ""),
        )
        for r in found
    ]
    emit(
        ("run_id", "exp", "name", "status", "started", "took", "parent"),
        rows,
        "table",
        title=f"{len(found)} run(s)",
    )


def _emit_csv(found: list[Run]) -> None:
    metric_keys = sorted({k for r in found for k in r.data.metrics})
    param_keys = sorted({k for r in found for k in r.data.params})
    columns = ["run_id", "experiment_id", "run_name", "status", "start_time", "end_time"]
    columns += [f"metrics.{k}" for k in metric_keys] + [f"params.{k}" for k in param_keys]
    rows: list[list[Any]] = []
    for r in found:
        row: list[Any] = [
            r.info.run_id,
            r.info.experiment_id,
            r.info.run_name,
            r.info.status,
            r.info.start_time,
            r.info.end_time,
        ]
        row += [r.data.metrics.get(k, "") for k in metric_keys]
        row += [r.data.params.get(k, "") for k in param_keys]
        rows.append(row)
    emit(columns, rows, "csv")


@runs.command("show")
@tracking_uri_option
@click.argument("run_id")
def show(tracking_uri: str | None, run_id: str) -> None:
    """Show one run: info, params, latest metrics, tags, datasets and its child runs as a
    tree."""
    from rich.console import Console
    from rich.table import Table
    from rich.tree import Tree

    client = make_client(tracking_uri)
    run = client.get_run(run_id)
    info = run.info
    console = Console()
    console.print(f"[bold]{info.run_name}[/bold]  {info.run_id}")
    details = Table.grid(padding=(0, 2))
    for label, value in (
        ("status", info.status),
        ("experiment", info.experiment_id),
        ("user", info.user_id),
        ("started", when(info.start_time)),
        ("ended", when(info.end_time)),
        ("duration", _duration(run)),
        ("lifecycle", info.lifecycle_stage),
        ("artifacts", info.artifact_uri),
    ):
        details.add_row(label, value or "")
    console.print(details)
    for title, mapping in (("params", run.data.params), ("tags", run.data.tags)):
        if mapping:
            table = Table(title=title, title_justify="left")
            table.add_column("key")
            table.add_column("value")
            for key in sorted(mapping):
                table.add_row(key, mapping[key])
            console.print(table)
    if run.data.latest_metrics:
        table = Table(title="metrics (latest)", title_justify="left")
        for column in ("key", "value", "step", "logged"):
            table.add_column(column)
        for metric in run.data.latest_metrics:
            table.add_row(metric.key, repr(metric.value), str(metric.step), when(metric.timestamp))
        console.print(table)
    if run.inputs.dataset_inputs:
        table = Table(title="datasets", title_justify="left")
        for column in ("name", "digest", "source type", "context"):
            table.add_column(column)
        for used in run.inputs.dataset_inputs:
            tags = {tag.key: tag.value for tag in used.tags}
            dataset = used.dataset
            context = tags.get(DATA_CONTEXT, "")
            table.add_row(dataset.name, dataset.digest, dataset.source_type, context)
        console.print(table)
    tree = Tree(f"{info.run_name} [{info.status}]")
    if _add_children(client, info.experiment_id, info.run_id, tree, depth=0):
        console.print("child runs")
        console.print(tree)


def _add_children(
    client: TrackingClient, experiment_id: str, run_id: str, node: Any, depth: int
) -> bool:
    if depth > 20:
        return False
    children = _search(
        client,
        [experiment_id],
        f"tags.`{PARENT_RUN_ID}` = '{run_id}'",
        ["attributes.start_time ASC"],
        50_000,
    )
    for child in children:
        branch = node.add(f"{child.info.run_name} [{child.info.status}] {child.info.run_id}")
        _add_children(client, experiment_id, child.info.run_id, branch, depth + 1)
    return bool(children)


@runs.command("delete")
@tracking_uri_option
@click.argument("run_id")
def delete(tracking_uri: str | None, run_id: str) -> None:
    """Delete a run (hidden from listings; `restore` undoes it, `gc` makes it permanent)."""
    make_client(tracking_uri).delete_run(run_id)
    click.echo(f"Deleted run {run_id}")


@runs.command("restore")
@tracking_uri_option
@click.argument("run_id")
def restore(tracking_uri: str | None, run_id: str) -> None:
    """Restore a deleted run."""
    make_client(tracking_uri).restore_run(run_id)
    click.echo(f"Restored run {run_id}")
