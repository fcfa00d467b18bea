"""The statements that write params, tags and metrics inside a caller's transaction.

Shared by run creation, resume and batch logging, so each rule (params are immutable, the
latest metric wins by step then timestamp, the run name follows its tag) lives once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from runstack.entities import Metric
from runstack.errors import InvalidParameterError
from runstack.store.sql import schema as t
from runstack.store.sql.rows import chunks, encode_value

RUN_NAME_TAG = "mlflow.runName"


def dialect_insert(connection: Connection, table: sa.Table) -> Any:
    """INSERT with ON CONFLICT support for the connection's database."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def write_params(connection: Connection, run_id: str, params: Sequence[tuple[str, str]]) -> None:
    """Insert params; the same value again is fine, a different one is an error (all checked
    before this transaction commits, so a conflict writes nothing)."""
    if not params:
        return
    wanted = dict(params)
    keys = list(wanted)
    existing: dict[str, str] = {}
    for part in chunks(keys):
        existing.update(
            connection.execute(
                sa.select(t.params.c.key, t.params.c.value).where(
                    t.params.c.run_id == run_id, t.params.c.key.in_(part)
                )
            ).all()
        )
    _raise_on_conflicts(run_id, wanted, existing)
    new = [{"run_id": run_id, "key": k, "value": v} for k, v in wanted.items() if k not in existing]
    for part in chunks(new):
        statement = dialect_insert(connection, t.params).values(list(part))
        result = connection.execute(statement.on_conflict_do_nothing())
        if result.rowcount != len(part):
            # Another writer inserted some of these keys since we looked: compare again.
            again = dict(
                connection.execute(
                    sa.select(t.params.c.key, t.params.c.value).where(
                        t.params.c.run_id == run_id,
                        t.params.c.key.in_([row["key"] for row in part]),
                    )
                ).all()
            )
            _raise_on_conflicts(run_id, wanted, again)


def _raise_on_conflicts(run_id: str, wanted: dict[str, str], existing: dict[str, str]) -> None:
    conflicts = [(k, existing[k], v) for k, v in wanted.items() if k in existing and existing[k] != v]
    if not conflicts:
        return
    described = "; ".join(
        f"{key!r} was logged as {old!r}, new value {new!r}" for key, old, new in conflicts[:10]
    )
    more = f" (and {len(conflicts) - 10} more)" if len(conflicts) > 10 else ""
    raise InvalidParameterError(
        f"Params are immutable and run {run_id} already has different values: {described}{more}. "
        "Log the new value under another key, or start a new run."
    )


def write_tags(connection: Connection, run_id: str, tags: Sequence[tuple[str, str]]) -> None:
    """Insert or overwrite tags; the run-name tag also renames the run."""
    if not tags:
        return
    latest = dict(tags)  # a key repeated in one call: the last value wins
    rows = [{"run_id": run_id, "key": k, "value": v} for k, v in latest.items()]
    for part in chunks(rows):
        statement = dialect_insert(connection, t.tags).values(list(part))
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=[t.tags.c.run_id, t.tags.c.key],
                set_={"value": statement.excluded.value},
            )
        )
    if RUN_NAME_TAG in latest:
        connection.execute(
            sa.update(t.runs).where(t.runs.c.run_id == run_id).values(name=latest[RUN_NAME_TAG])
        )


def write_metrics(connection: Connection, run_id: str, metrics: Sequence[Metric]) -> None:
    """Append to the history and move each key's latest value forward where it is newer."""
    if not metrics:
        return
    history = []
    newest: dict[str, tuple[Metric, float | None, int]] = {}
    for metric in metrics:
        value, kind = encode_value(metric.value)
        history.append(
            {
                "run_id": run_id,
                "key": metric.key,
                "value": value,
                "value_kind": kind,
                "timestamp": metric.timestamp,
                "step": metric.step,
            }
        )
        current = newest.get(metric.key)
        if current is None or (metric.step, metric.timestamp) >= (
            current[0].step,
            current[0].timestamp,
        ):
            newest[metric.key] = (metric, value, kind)
    connection.execute(sa.insert(t.metrics), history)
    latest_rows = [
        {
            "run_id": run_id,
            "key": key,
            "value": value,
            "value_kind": kind,
            "timestamp": metric.timestamp,
            "step": metric.step,
        }
        for key, (metric, value, kind) in newest.items()
    ]
    statement = dialect_insert(connection, t.latest_metrics)
    excluded = statement.excluded
    current = t.latest_metrics.c
    upsert = statement.on_conflict_do_update(
        index_elements=[current.run_id, current.key],
        set_={
            "value": excluded.value,
            "value_kind": excluded.value_kind,
            "timestamp": excluded.timestamp,
            "step": excluded.step,
        },
        where=sa.or_(
            excluded.step > current.step,
            sa.and_(excluded.step == current.step, excluded.timestamp >= current.timestamp),
        ),
    )
    connection.execute(upsert, latest_rows)
