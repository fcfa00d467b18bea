"""The statements that write params, tags and metrics inside a caller's transaction.

Shared by run creation, resume and batch logging, so each rule (params are immutable, the
latest metric wins by step then timestamp, the run name follows its tag) lives once.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from runstack.entities import Metric
from runstack.errors import InvalidParameterError
from runstack.metric_columns import MetricColumns
from runstack.store.sql import schema as t
from runstack.store.sql.block_summary import summary_row
from runstack.store.sql.database import Prepared, Tx
from runstack.store.sql.packing import Batch, pack_batch, pack_block, unpack_batch
from runstack.store.sql.rows import chunks, encode_value
from runstack.tags import RUN_NAME


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
_APPEND_BATCH = Prepared(
    sa.insert(t.metric_log).values(
        run_id=_RUN, n_points=sa.bindparam("n_points"), points=sa.bindparam("points")
    )
)
# The same row, written only if the run exists and is active: checking and writing in one
# statement saves a round trip on the hot path (metrics alone, one call per training step).
_APPEND_BATCH_IF_ACTIVE = Prepared(
    sa.insert(t.metric_log).from_select(
        ["run_id", "n_points", "points"],
        sa.select(
            t.runs.c.run_id,
            sa.bindparam("n_points", type_=sa.Integer),
            sa.bindparam("points", type_=sa.LargeBinary),
        ).where(t.runs.c.run_id == _RUN, t.runs.c.lifecycle_stage == "active"),
    )
)
_UPSERT_LATEST = Prepared(_upsert_latest)

# PostgreSQL: many latest values as one statement, the columns bound as arrays and expanded
# by unnest(). psycopg's executemany sends one statement per row.
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


def _bulk_upsert_latest(_dialect_name: str) -> Any:
    """``INSERT INTO latest_metrics SELECT :run_id, ... FROM unnest(:keys, :values, ...)``."""
    arrays = [
        sa.bindparam(f"{name}s", type_=postgresql.ARRAY(kind))
        for name, kind in zip(_METRIC_COLUMNS, _ARRAY_TYPES, strict=True)
    ]
    batch = sa.func.unnest(*arrays).table_valued(*_METRIC_COLUMNS).render_derived(name="batch")
    rows = sa.select(
        sa.bindparam("run_id", type_=sa.String), *(batch.c[name] for name in _METRIC_COLUMNS)
    )
    columns = ["run_id", *_METRIC_COLUMNS]
    return _when_newer(postgresql.insert(t.latest_metrics).from_select(columns, rows))


_BULK_UPSERT_LATEST = Prepared(_bulk_upsert_latest)
_log = t.metric_log.c
_PENDING_OF_RUN = Prepared(
    sa.select(_log.seq, _log.points)
    .where(_log.run_id == _RUN)
    .order_by(_log.seq)
    .with_for_update()  # PostgreSQL: a concurrent fold waits, then skips what this one took
)
_INSERT_BLOCK = Prepared(sa.insert(t.metric_blocks))
_INSERT_SUMMARY = Prepared(sa.insert(t.metric_summaries))


def _delete_folded(dialect_name: str) -> Any:
    """The folded log rows, by their numbers (PostgreSQL: rows committed since the fold read
    the log may have lower numbers, and must stay); on SQLite the fold holds the write lock, so
    everything up to the highest number read is what it read."""
    if dialect_name == "postgresql":
        seqs = sa.bindparam("seqs", type_=postgresql.ARRAY(sa.BigInteger))
        return sa.delete(t.metric_log).where(_log.seq == sa.any_(seqs))
    return sa.delete(t.metric_log).where(_log.run_id == _RUN, _log.seq <= sa.bindparam("upto"))


_DELETE_FOLDED = Prepared(_delete_folded)


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
    if RUN_NAME in latest:
        tx.run(_RENAME_RUN, {"run_id": run_id, "name": latest[RUN_NAME]})


def write_metrics(tx: Tx, run_id: str, metrics: Sequence[Metric], if_active: bool = False) -> bool:
    """Append one logging call's points to the run's log, as one packed row. With
    ``if_active``, only if the run exists and is active; returns whether it was written."""
    if not metrics:
        return True
    if isinstance(metrics, MetricColumns):  # log_metrics: one timestamp and step for all
        count = len(metrics)
        points = pack_batch(
            metrics.keys, metrics.values, [metrics.timestamp] * count, [metrics.step] * count
        )
    else:
        points = pack_batch(
            [m.key for m in metrics],
            [m.value for m in metrics],
            [m.timestamp for m in metrics],
            [m.step for m in metrics],
        )
    statement = _APPEND_BATCH_IF_ACTIVE if if_active else _APPEND_BATCH
    return tx.run(statement, {"run_id": run_id, "n_points": len(metrics), "points": points}) > 0


class _KeyPoints:
    """One key's points gathered by a fold, in logging order."""

    __slots__ = ("seqs", "steps", "timestamps", "values")

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.values: list[float] = []
        self.timestamps: list[int] = []
        self.steps: list[int] = []

    def newest(self) -> int:
        """Index of the latest value: highest step, then timestamp, then logged last."""
        return max(zip(self.steps, self.timestamps, range(len(self.steps)), strict=True))[2]


def _runs_of_same_keys(rows: Sequence[Any]) -> list[tuple[Sequence[str], list[tuple[int, Batch]]]]:
    """Log rows unpacked, in order, grouped where consecutive calls logged the same keys."""
    groups: list[tuple[Sequence[str], list[tuple[int, Batch]]]] = []
    for row in rows:
        batch = unpack_batch(row.points)
        if groups and groups[-1][0] == batch.keys:
            groups[-1][1].append((row.seq, batch))
        else:
            groups.append((batch.keys, [(row.seq, batch)]))
    return groups


def _joined(typecode: str, columns: list[Sequence[Any]]) -> array[Any]:
    """One array holding ``columns`` end to end."""
    joined: array[Any] = array(typecode)
    for column in columns:
        joined.extend(column)
    return joined


def _positions(keys: Sequence[str]) -> dict[str, list[int]]:
    """Where each key appears in one call's points (a key may appear more than once)."""
    found: dict[str, list[int]] = {}
    for position, key in enumerate(keys):
        found.setdefault(key, []).append(position)
    return found


def fold_run(tx: Tx, run_id: str) -> int:
    """Move a run's logged points from ``metric_log`` into per-key blocks and bring its
    ``latest_metrics`` up to date, in the caller's transaction. Returns how many points moved.

    Safe to run concurrently with logging and with other folds of the same run: the log rows
    it reads are locked (PostgreSQL) or the whole database is (SQLite), and only those rows
    are deleted."""
    rows = tx.all(_PENDING_OF_RUN, {"run_id": run_id})
    if not rows:
        return 0
    by_key: dict[str, _KeyPoints] = {}
    for keys, group in _runs_of_same_keys(rows):
        # Logging calls usually repeat one set of keys: laid end to end, a group's columns
        # hold each key's points at a fixed stride, so one slice per key and column gathers
        # them (in C) instead of a loop per point.
        width = len(keys)
        seqs = [seq for seq, _ in group]
        values = _joined("d", [batch.values for _, batch in group])
        timestamps = _joined("q", [batch.timestamps for _, batch in group])
        steps = _joined("q", [batch.steps for _, batch in group])
        for key, positions in _positions(keys).items():
            points = by_key.get(key)
            if points is None:
                points = by_key[key] = _KeyPoints()
            if len(positions) == 1:
                j = positions[0]
                points.seqs += seqs
                points.values += values[j::width]
                points.timestamps += timestamps[j::width]
                points.steps += steps[j::width]
                continue
            for n, seq in enumerate(seqs):  # a key logged more than once in one call
                for j in positions:
                    points.seqs.append(seq)
                    points.values.append(values[n * width + j])
                    points.timestamps.append(timestamps[n * width + j])
                    points.steps.append(steps[n * width + j])
    blocks, latest = [], []
    for key in sorted(by_key):  # one order for every fold: no lock-order deadlocks
        points = by_key[key]
        blocks.append(
            {
                "run_id": run_id,
                "key": key,
                "first_seq": points.seqs[0],
                "n_points": len(points.seqs),
                "points": pack_block(points.seqs, points.values, points.timestamps, points.steps),
            }
        )
        best = points.newest()
        stored, kind = encode_value(points.values[best])
        latest.append(
            {
                "run_id": run_id,
                "key": key,
                "value": stored,
                "value_kind": kind,
                "timestamp": points.timestamps[best],
                "step": points.steps[best],
            }
        )
    tx.many(_INSERT_BLOCK, blocks)
    tx.many(
        _INSERT_SUMMARY,
        [
            summary_row(run_id, key, points.seqs[0], points.values, points.timestamps, points.steps)
            for key, points in sorted(by_key.items())
        ],
    )
    if tx.dialect.name == "postgresql" and len(latest) >= BULK_METRICS_MIN:
        tx.run(_BULK_UPSERT_LATEST, _as_arrays(run_id, latest))
    else:
        tx.many(_UPSERT_LATEST, latest)
    if tx.dialect.name == "postgresql":
        tx.run(_DELETE_FOLDED, {"seqs": [row.seq for row in rows]})
    else:
        tx.run(_DELETE_FOLDED, {"run_id": run_id, "upto": rows[-1].seq})
    return sum(len(points.seqs) for points in by_key.values())


def _as_arrays(run_id: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The parameters of an unnest() statement: one list per column (NaN is a NULL value)."""
    arrays: dict[str, Any] = {f"{name}s": [row[name] for row in rows] for name in _METRIC_COLUMNS}
    arrays["run_id"] = run_id
    return arrays
