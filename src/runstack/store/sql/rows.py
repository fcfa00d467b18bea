"""Turning rows into entities and values into rows: the store's read and encode helpers."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from runstack.entities import Experiment, Metric, Run, RunData, RunInfo
from runstack.store.sql import schema as t
from runstack.store.sql.database import Prepared, Tx
from runstack.store.sql.packing import unpack_batch

# SQLite limits bound variables per statement; stay far below it when chunking IN lists.
CHUNK = 500


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def encode_value(value: float) -> tuple[float | None, int]:
    """(column value, value_kind) that reads back as exactly ``value``."""
    if math.isnan(value):
        return None, t.VALUE_KIND_NAN
    if value == 0.0 and math.copysign(1.0, value) < 0:
        return 0.0, t.VALUE_KIND_NEGATIVE_ZERO
    return value, t.VALUE_KIND_NUMBER


def decode_value(value: float | None, kind: int) -> float:
    if kind == t.VALUE_KIND_NAN:
        return math.nan
    if kind == t.VALUE_KIND_NEGATIVE_ZERO:
        return -0.0
    return float(value) if value is not None else math.nan


def run_info_from_row(row: Any) -> RunInfo:
    return RunInfo(
        run_id=row.run_id,
        experiment_id=str(row.experiment_id),
        run_name=row.name,
        user_id=row.user_id,
        status=row.status,
        start_time=row.start_time,
        end_time=row.end_time,
        artifact_uri=row.artifact_uri,
        lifecycle_stage=row.lifecycle_stage,
    )


RUN_COLUMNS = (
    t.runs.c.run_id,
    t.runs.c.experiment_id,
    t.runs.c.name,
    t.runs.c.user_id,
    t.runs.c.status,
    t.runs.c.start_time,
    t.runs.c.end_time,
    t.runs.c.artifact_uri,
    t.runs.c.lifecycle_stage,
    t.runs.c.heartbeat_deadline,
)
_lm = t.latest_metrics.c
_LATEST_COLUMNS = (_lm.run_id, _lm.key, _lm.value, _lm.value_kind, _lm.timestamp, _lm.step)
_ID: sa.BindParameter[str] = sa.bindparam("run_id")

RUN_BY_ID = Prepared(sa.select(*RUN_COLUMNS).where(t.runs.c.run_id == _ID))
_PARAMS_OF_RUN = Prepared(
    sa.select(t.params.c.run_id, t.params.c.key, t.params.c.value).where(t.params.c.run_id == _ID)
)
_TAGS_OF_RUN = Prepared(
    sa.select(t.tags.c.run_id, t.tags.c.key, t.tags.c.value).where(t.tags.c.run_id == _ID)
)
_LATEST_OF_RUN = Prepared(sa.select(*_LATEST_COLUMNS).where(_lm.run_id == _ID))


def any_of_ids(column: sa.ColumnElement[Any], dialect_name: str) -> sa.ColumnElement[bool]:
    """``column`` is one of the ids bound as ``:ids``, in a form compiled once whatever the
    number of ids: ``= ANY(array)`` on PostgreSQL, ``IN (json_each(...))`` on SQLite."""
    if dialect_name == "postgresql":
        return column == sa.any_(sa.bindparam("ids", type_=postgresql.ARRAY(sa.String)))
    values: sa.Select[Any] = sa.select(sa.literal_column("value")).select_from(
        sa.func.json_each(sa.bindparam("ids"))
    )
    return column.in_(values.scalar_subquery())


def ids_param(tx: Tx, ids: Sequence[str]) -> dict[str, Any]:
    """The ``:ids`` parameter of ``any_of_ids`` for this database."""
    return {"ids": list(ids) if tx.dialect.name == "postgresql" else json.dumps(list(ids))}


_RUNS_BY_IDS = Prepared(lambda d: sa.select(*RUN_COLUMNS).where(any_of_ids(t.runs.c.run_id, d)))
_PARAMS_BY_IDS = Prepared(
    lambda d: sa.select(t.params.c.run_id, t.params.c.key, t.params.c.value).where(
        any_of_ids(t.params.c.run_id, d)
    )
)
_TAGS_BY_IDS = Prepared(
    lambda d: sa.select(t.tags.c.run_id, t.tags.c.key, t.tags.c.value).where(
        any_of_ids(t.tags.c.run_id, d)
    )
)
_LATEST_BY_IDS = Prepared(lambda d: sa.select(*_LATEST_COLUMNS).where(any_of_ids(_lm.run_id, d)))
_log = t.metric_log.c
# A run's log rows not folded yet, in logging order (merged by reads; see schema.py).
LOGGED_OF_RUN = Prepared(
    sa.select(_log.run_id, _log.seq, _log.points).where(_log.run_id == _ID).order_by(_log.seq)
)
_LOGGED_BY_IDS = Prepared(
    lambda d: (
        sa.select(_log.run_id, _log.points).where(any_of_ids(_log.run_id, d)).order_by(_log.seq)
    )
)


def load_runs(tx: Tx, run_ids: Sequence[str]) -> dict[str, Run]:
    """Whole runs (info, params, tags, latest metrics) for these ids; missing ids are absent.

    Every statement here is compiled once per process: reading a run, or a page of runs,
    costs only the queries themselves."""
    if not run_ids:
        return {}
    if len(run_ids) == 1:
        key = {"run_id": run_ids[0]}
        row = tx.first(RUN_BY_ID, key)
        if row is None:
            return {}
        return _assemble(
            {row.run_id: row},
            tx.all(_PARAMS_OF_RUN, key),
            tx.all(_TAGS_OF_RUN, key),
            tx.all(_LATEST_OF_RUN, key),
            tx.all(LOGGED_OF_RUN, key),
        )
    ids = ids_param(tx, run_ids)
    return _assemble(
        {r.run_id: r for r in tx.all(_RUNS_BY_IDS, ids)},
        tx.all(_PARAMS_BY_IDS, ids),
        tx.all(_TAGS_BY_IDS, ids),
        tx.all(_LATEST_BY_IDS, ids),
        tx.all(_LOGGED_BY_IDS, ids),
    )


def _newest_logged(logged: list[Any]) -> dict[tuple[str, str], Metric]:
    """Each (run, key)'s newest point among log rows not folded yet (in logging order)."""
    newest: dict[tuple[str, str], tuple[int, int, float]] = {}
    for row in logged:
        batch = unpack_batch(row.points)
        run_id = row.run_id
        for key, value, timestamp, step in zip(
            batch.keys, batch.values, batch.timestamps, batch.steps, strict=True
        ):
            current = newest.get((run_id, key))
            if current is None or (step, timestamp) >= current[:2]:
                newest[(run_id, key)] = (step, timestamp, value)
    return {
        (run_id, key): Metric(key, value, timestamp, step, run_id)
        for (run_id, key), (step, timestamp, value) in newest.items()
    }


def _assemble(
    rows: dict[str, Any], params: list[Any], tags: list[Any], latest: list[Any], logged: list[Any]
) -> dict[str, Run]:
    by_run_params: dict[str, dict[str, str]] = {run_id: {} for run_id in rows}
    by_run_tags: dict[str, dict[str, str]] = {run_id: {} for run_id in rows}
    by_run_latest: dict[str, list[Metric]] = {run_id: [] for run_id in rows}
    for p in params:
        by_run_params[p.run_id][p.key] = p.value
    for g in tags:
        by_run_tags[g.run_id][g.key] = g.value
    newer = _newest_logged(logged)
    for m in latest:
        pending = newer.get((m.run_id, m.key))
        if pending is not None and (pending.step, pending.timestamp) >= (m.step, m.timestamp):
            continue  # logged after the fold, and as new or newer: it wins
        newer.pop((m.run_id, m.key), None)
        by_run_latest[m.run_id].append(
            Metric(m.key, decode_value(m.value, m.value_kind), m.timestamp, m.step, m.run_id)
        )
    for (run_id, _key), metric in newer.items():
        if run_id in by_run_latest:
            by_run_latest[run_id].append(metric)
    runs: dict[str, Run] = {}
    for run_id, row in rows.items():
        metric_objs = tuple(sorted(by_run_latest[run_id], key=lambda m: m.key))
        runs[run_id] = Run(
            info=run_info_from_row(row),
            data=RunData(
                metrics={m.key: m.value for m in metric_objs},
                params=by_run_params[run_id],
                tags=by_run_tags[run_id],
                latest_metrics=metric_objs,
            ),
        )
    return runs


def experiment_from_row(row: Any, tags: dict[str, str], default_root: str) -> Experiment:
    location = row.artifact_location
    if location is None:
        location = f"{default_root}/{row.experiment_id}"
    return Experiment(
        experiment_id=str(row.experiment_id),
        name=row.name,
        artifact_location=location,
        lifecycle_stage=row.lifecycle_stage,
        tags=tags,
        creation_time=row.creation_time,
        last_update_time=row.last_update_time,
    )


_et = t.experiment_tags.c
_TAGS_OF_EXPERIMENT = Prepared(
    sa.select(_et.experiment_id, _et.key, _et.value).where(_et.experiment_id == sa.bindparam("id"))
)


def load_experiments(tx: Tx, where: sa.ColumnElement[bool], default_root: str) -> list[Experiment]:
    return with_experiment_tags(tx, tx.all(sa.select(t.experiments).where(where)), default_root)


def with_experiment_tags(tx: Tx, rows: Sequence[Any], default_root: str) -> list[Experiment]:
    """Experiments from their rows, with their tags (one experiment, as ``get_experiment``
    asks for, reads them with a statement compiled once)."""
    ids = [row.experiment_id for row in rows]
    tags: dict[int, dict[str, str]] = {i: {} for i in ids}
    if len(ids) == 1:
        tag_rows = tx.all(_TAGS_OF_EXPERIMENT, {"id": ids[0]})
    else:
        tag_rows = [
            tag
            for part in chunks(ids)
            for tag in tx.all(
                sa.select(_et.experiment_id, _et.key, _et.value).where(_et.experiment_id.in_(part))
            )
        ]
    for tag in tag_rows:
        tags[tag.experiment_id][tag.key] = tag.value
    return [experiment_from_row(row, tags[row.experiment_id], default_root) for row in rows]
