"""Reading the store back for assertions, independently of the search code.

Row counts come straight from the tables, so a test that checks "nothing was written" does
not depend on ``search_runs`` (which another part of the code base owns).
"""

from __future__ import annotations

import sqlalchemy as sa

import runstack
from runstack.store import get_store

_TABLES = frozenset(
    {"experiments", "experiment_tags", "runs", "params", "tags", "metrics", "latest_metrics"}
)


def count_rows(table: str, uri: str | None = None) -> int:
    """How many rows ``table`` holds in the store at ``uri`` (default: the current URI);
    "metrics" counts the whole metric history."""
    if table not in _TABLES:
        raise ValueError(f"unknown table {table!r}")
    store = get_store(uri or runstack.get_tracking_uri())
    # The metric history lives in two tables (metric_log, then metrics after compaction).
    tables = ("metrics", "metric_log") if table == "metrics" else (table,)
    return sum(
        int(store.db.read(lambda tx, name=name: tx.scalar(sa.text(f"SELECT COUNT(*) FROM {name}"))))
        for name in tables
    )


def snapshot(uri: str | None = None) -> dict[str, int]:
    """Row counts of every table: equal snapshots before and after mean nothing was written."""
    return {table: count_rows(table, uri) for table in sorted(_TABLES)}


def fresh_client() -> runstack.TrackingClient:
    """A new client on the current tracking URI (no state shared with the fluent API)."""
    return runstack.TrackingClient(runstack.get_tracking_uri())
