"""Reading the store back for assertions, independently of the search code.

Row counts come straight from the tables, so a test that checks "nothing was written" does
not depend on ``search_runs`` (which another part of the code base owns).
"""

from __future__ import annotations

import sqlalchemy as sa

import runstack
from runstack.store import get_store
from runstack.store.sql import schema


def _tables() -> list[str]:
    """Every table of the store's schema (new tables are covered without editing this)."""
    return sorted(schema.metadata.tables)


def count_rows(table: str, uri: str | None = None) -> int:
    """How many rows ``table`` holds in the store at ``uri`` (default: the current URI)."""
    if table not in schema.metadata.tables:
        raise ValueError(f"unknown table {table!r}")
    store = get_store(uri or runstack.get_tracking_uri())
    return int(store.db.read(lambda tx: tx.scalar(sa.text(f"SELECT COUNT(*) FROM {table}"))))


def count_metric_values(uri: str | None = None) -> int:
    """Stored metric history points, wherever the store keeps them (the log of logging calls
    and the per-key blocks), counted from the rows' own point counts."""
    store = get_store(uri or runstack.get_tracking_uri())
    total = 0
    for table in ("metric_log", "metric_blocks"):
        query = sa.text(f"SELECT COALESCE(SUM(n_points), 0) FROM {table}")
        total += int(store.db.read(lambda tx, q=query: tx.scalar(q)))
    return total


def snapshot(uri: str | None = None) -> dict[str, int]:
    """Row counts of every table: equal snapshots before and after mean nothing was written."""
    return {table: count_rows(table, uri) for table in _tables()}


def fresh_client() -> runstack.TrackingClient:
    """A new client on the current tracking URI (no state shared with the fluent API)."""
    return runstack.TrackingClient(runstack.get_tracking_uri())
