"""Rendering rows as a rich table, JSON or CSV."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections.abc import Sequence
from typing import Any

import click

FORMATS = ("table", "json", "csv")
format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)


def when(ms: int | None) -> str:
    """Milliseconds since the epoch as local ISO time, '' for none."""
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000).isoformat(sep=" ", timespec="seconds")


def emit(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], output_format: str, title: str = ""
) -> None:
    if output_format == "json":
        click.echo(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], indent=2))
    elif output_format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title or None)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        Console().print(table)
