"""The statements that write params, tags and metrics inside a caller's transaction.

Shared by run creation, resume and batch logging, so each rule (params are immutable, the
latest metric wins by step then timestamp, the run name follows its tag) lives once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from runstack.entities import Metric
from runstack.errors import InvalidParameterError
from runstack.store.sql import schema as t
from runstack.store.sql.database import Prepared, Tx
from runstack.store.sql.rows import chunks, encode_value

RUN_NAME_TAG = "mlflow.runName"


def dialect_insert(dialect_name: str, table: sa.Table) -> Any:
    """INSERT with ON CONFLICT support for this database."""
    return (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(table)


def _upsert_tag(dialect_name: str) -> Any:
    statement = dialect_insert(dialect_name, t.tags)
    return statement.on_conflict_do_update(
        index_elements=[t.tags.c.run_id, t.tags.c.key], set_={"value": statement.excluded.value}
    )


def _upsert_latest(dialect_name: str) -> Any:
    return _when_newer(dialect_insert(dialect_name, t.latest_metrics))


def _when_newer(statement: Any) -> Any:
    """An INSERT into ``latest_metrics`` that, for a key already there, replaces the value
    only when the new one is newer (by step, then timestamp)."""
    new, current = statement.excluded, t.latest_metrics.c
    return statement.on_conflict_do_update(
        index_elements=[current.run_id, current.key],
        set_={
            "value": new.value,
            "value_kind": new.value_kind,
            "timestamp": new.timestamp,
            "step": new.step,
        },
        where=sa.or_(
            new.step > current.step,
            sa.and_(new.step == current.step, new.timestamp >= current.timestamp),
        ),
    )


_RUN: sa.BindParameter[str] = sa.bindparam("run_id")
_PARAM_VALUE = Prepared(
    sa.select(t.params.c.value).where(
        t.params.c.run_id == _RUN, t.params.c.key == sa.bindparam("key")
    )
)
_INSERT_PARAM = Prepared(sa.insert(t.params))
_UPSERT_TAG = Prepared(_upsert_tag)
_RENAME_RUN = Prepared(
    sa.update(t.runs).where(t.runs.c.run_id == _RUN).values(name=sa.bindparam("name"))
)
_INSERT_METRIC = Prepared(
    sa.insert(t.metric_log).values(
        run_id=_RUN,
        key=sa.bindparam("key"),
        value=sa.bindparam("value"),
        value_kind=sa.bindparam("value_kind"),
        timestamp=sa.bindparam("timestamp"),
        step=sa.bindparam("step"),
    )
)
_UPSERT_LATEST = Prepared(_upsert_latest)

# PostgreSQL: a batch of metrics as one statement per table, the columns bound as arrays and
# expanded by unnest(). psycopg's executemany sends one statement per row, so 1,000 values
# cost ~1,000 statements' worth of client and server work; two statements cost a few.
_METRIC_COLUMNS = ("key", "value", "value_kind", "timestamp", "step")
_ARRAY_TYPES: tuple[Any, ...] = (
    sa.String,
    sa.Float(53),
    sa.SmallInteger,
    sa.BigInteger,
    sa.BigInteger,
)
# Below this many rows executemany is as fast, and its statements are already prepared.
BULK_METRICS_MIN = 8


def _unnest_batch(with_ordinality: bool) -> tuple[sa.Select[Any], list[str]]:
    """``SELECT :run_id, key, value, ... FROM unnest(:keys, :values, ...)``, in the arrays'
    order when ``with_ordinality`` (so ``metric_log.seq`` is assigned in logging order)."""
    arrays = [
        sa.bindparam(f"{name}s", type_=postgresql.ARRAY(kind))
        for name, kind in zip(_METRIC_COLUMNS, _ARRAY_TYPES, strict=True)
    ]
    function = sa.func.unnest(*arrays)
    batch = (
        function.table_valued(*_METRIC_COLUMNS, with_ordinality="ord")
        if with_ordinality
        else function.table_valued(*_METRIC_COLUMNS)
    ).render_derived(name="batch")
    rows = sa.select(
        sa.bindparam("run_id", type_=sa.String), *(batch.c[name] for name in _METRIC_COLUMNS)
    )
    if with_ordinality:
        rows = rows.order_by(batch.c.ord)
    return rows, ["run_id", *_METRIC_COLUMNS]


def _bulk_insert_metrics(_dialect_name: str) -> Any:
    rows, columns = _unnest_batch(with_ordinality=True)
    return sa.insert(t.metric_log).from_select(columns, rows)


def _bulk_upsert_latest(_dialect_name: str) -> Any:
    rows, columns = _unnest_batch(with_ordinality=False)
    return _when_newer(postgresql.insert(t.latest_metrics).from_select(columns, rows))


_BULK_INSERT_METRICS = Prepared(_bulk_insert_metrics)
_BULK_UPSERT_LATEST = Prepared(_bulk_upsert_latest)
_log = t.metric_log.c
_LOG_LIMIT = Prepared(sa.select(sa.func.max(_log.seq)).where(_log.run_id == _RUN))
_MOVE_LOG = Prepared(
    sa.insert(t.metrics).from_select(
        ["seq", "run_id", "key", "value", "value_kind", "timestamp", "step"],
        sa.select(
            _log.seq, _log.run_id, _log.key, _log.value, _log.value_kind, _log.timestamp, _log.step
        )
        .where(_log.run_id == _RUN, _log.seq <= sa.bindparam("upto"))
        .order_by(_log.key, _log.seq),
    )
)
_CLEAR_LOG = Prepared(
    sa.delete(t.metric_log).where(_log.run_id == _RUN, _log.seq <= sa.bindparam("upto"))
)


def _existing_params(tx: Tx, run_id: str, keys: list[str]) -> dict[str, str]:
    if len(keys) == 1:
        value = tx.scalar(_PARAM_VALUE, {"run_id": run_id, "key": keys[0]})
        return {} if value is None else {keys[0]: value}
    found: dict[str, str] = {}
    for part in chunks(keys):
        query = sa.select(t.params.c.key, t.params.c.value).where(
            t.params.c.run_id == run_id, t.params.c.key.in_(part)
        )
        found.update((row.key, row.value) for row in tx.all(query))
    return found


def write_params(tx: Tx, run_id: str, params: Sequence[tuple[str, str]]) -> None:
    """Insert params; the same value again is fine, a different one is an error, checked
    before anything is inserted (a concurrent insert of the same key makes the transaction
    run again, see ``Database``)."""
    if not params:
        return
    wanted = dict(params)
    existing = _existing_params(tx, run_id, list(wanted))
    conflicts = [
        (k, existing[k], v) for k, v in wanted.items() if k in existing and existing[k] != v
    ]
    if conflicts:
        described = "; ".join(
            f"{key!r} was logged as {old!r}, new value {new!r}" for key, old, new in conflicts[:10]
        )
        more = f" (and {len(conflicts) - 10} more)" if len(conflicts) > 10 else ""
        raise InvalidParameterError(
            f"Params are immutable and run {run_id} already has different values: "
            f"{described}{more}. Log the new value under another key, or start a new run."
        )
    tx.many(
        _INSERT_PARAM,
        [{"run_id": run_id, "key": k, "value": v} for k, v in wanted.items() if k not in existing],
    )


def write_tags(tx: Tx, run_id: str, tags: Sequence[tuple[str, str]]) -> None:
    """Insert or overwrite tags; the run-name tag also renames the run."""
    if not tags:
        return
    latest = dict(tags)  # a key repeated in one call: the last value wins
    tx.many(_UPSERT_TAG, [{"run_id": run_id, "key": k, "value": v} for k, v in latest.items()])
    if RUN_NAME_TAG in latest:
        tx.run(_RENAME_RUN, {"run_id": run_id, "name": latest[RUN_NAME_TAG]})


def write_metrics(tx: Tx, run_id: str, metrics: Sequence[Metric]) -> None:
    """Append to the history and move each key's latest value forward where it is newer."""
    if not metrics:
        return
    history = []
    newest: dict[str, dict[str, Any]] = {}
    for metric in metrics:
        value, kind = encode_value(metric.value)
        row = {
            "run_id": run_id,
            "key": metric.key,
            "value": value,
            "value_kind": kind,
            "timestamp": metric.timestamp,
            "step": metric.step,
        }
        history.append(row)
        current = newest.get(metric.key)
        if current is None or (metric.step, metric.timestamp) >= (
            current["step"],
            current["timestamp"],
        ):
            newest[metric.key] = row
    latest = list(newest.values())
    # SQLite's executemany is already fast: it keeps the row-at-a-time statements.
    bulk = tx.dialect.name == "postgresql"
    if bulk and len(history) >= BULK_METRICS_MIN:
        tx.run(_BULK_INSERT_METRICS, _as_arrays(run_id, history))
    else:
        tx.many(_INSERT_METRIC, history)
    if bulk and len(latest) >= BULK_METRICS_MIN:
        tx.run(_BULK_UPSERT_LATEST, _as_arrays(run_id, latest))  # one row per key
    else:
        tx.many(_UPSERT_LATEST, latest)


def _as_arrays(run_id: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The parameters of an unnest() statement: one list per column (NaN is a NULL value)."""
    arrays: dict[str, Any] = {f"{name}s": [row[name] for row in rows] for name in _METRIC_COLUMNS}
    arrays["run_id"] = run_id
    return arrays


def compact_metrics(tx: Tx, run_id: str) -> int:
    """Move a run's logged values from ``metric_log`` into ``metrics`` in (key, seq) order,
    so each key's part of the index is written once per compaction rather than once per
    logging call. Returns how many values moved."""
    upto = tx.scalar(_LOG_LIMIT, {"run_id": run_id})
    if upto is None:
        return 0
    moved = tx.run(_MOVE_LOG, {"run_id": run_id, "upto": upto})
    tx.run(_CLEAR_LOG, {"run_id": run_id, "upto": upto})
    return moved
