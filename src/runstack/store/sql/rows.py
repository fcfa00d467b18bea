"""Turning rows into entities and values into rows: the store's read and encode helpers."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runstack.entities import Experiment, Metric, Run, RunData, RunInfo
from runstack.store.sql import schema as t

# SQLite limits bound variables per statement; stay far below it when chunking IN lists.
CHUNK = 500


def now_ms() -> int:
    return int(time.time() * 1000)


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


_RUN_COLUMNS = (
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


def select_run_rows(connection: Connection, run_ids: Sequence[str]) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for part in chunks(run_ids):
        query = sa.select(*_RUN_COLUMNS).where(t.runs.c.run_id.in_(part))
        rows.update((row.run_id, row) for row in connection.execute(query))
    return rows


def load_runs(connection: Connection, run_ids: Sequence[str]) -> dict[str, Run]:
    """Whole runs (info, params, tags, latest metrics) for these ids; missing ids are absent."""
    rows = select_run_rows(connection, run_ids)
    return build_runs(connection, rows)


def build_runs(connection: Connection, rows: dict[str, Any]) -> dict[str, Run]:
    ids = list(rows)
    params: dict[str, dict[str, str]] = {run_id: {} for run_id in ids}
    tags: dict[str, dict[str, str]] = {run_id: {} for run_id in ids}
    latest: dict[str, list[Metric]] = {run_id: [] for run_id in ids}
    for part in chunks(ids):
        for row in connection.execute(
            sa.select(t.params.c.run_id, t.params.c.key, t.params.c.value).where(
                t.params.c.run_id.in_(part)
            )
        ):
            params[row.run_id][row.key] = row.value
        for row in connection.execute(
            sa.select(t.tags.c.run_id, t.tags.c.key, t.tags.c.value).where(t.tags.c.run_id.in_(part))
        ):
            tags[row.run_id][row.key] = row.value
        lm = t.latest_metrics.c
        for row in connection.execute(
            sa.select(lm.run_id, lm.key, lm.value, lm.value_kind, lm.timestamp, lm.step).where(
                lm.run_id.in_(part)
            )
        ):
            latest[row.run_id].append(
                Metric(
                    row.key,
                    decode_value(row.value, row.value_kind),
                    row.timestamp,
                    row.step,
                    row.run_id,
                )
            )
    runs: dict[str, Run] = {}
    for run_id, row in rows.items():
        metric_objs = tuple(sorted(latest[run_id], key=lambda m: m.key))
        runs[run_id] = Run(
            info=run_info_from_row(row),
            data=RunData(
                metrics={m.key: m.value for m in metric_objs},
                params=params[run_id],
                tags=tags[run_id],
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


def load_experiments(
    connection: Connection, where: sa.ColumnElement[bool], default_root: str
) -> list[Experiment]:
    rows = list(connection.execute(sa.select(t.experiments).where(where)))
    if not rows:
        return []
    ids = [row.experiment_id for row in rows]
    tags: dict[int, dict[str, str]] = {i: {} for i in ids}
    for part in chunks(ids):
        et = t.experiment_tags.c
        for tag in connection.execute(
            sa.select(et.experiment_id, et.key, et.value).where(et.experiment_id.in_(part))
        ):
            tags[tag.experiment_id][tag.key] = tag.value
    return [experiment_from_row(row, tags[row.experiment_id], default_root) for row in rows]
