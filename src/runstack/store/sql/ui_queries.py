"""The SQL store's reads for the web UI: run counts per experiment, the distinct keys of an
experiment, a run table page with only the chosen columns, and a run's per-key min/max/count.

A run table page reuses run search (``runstack.filters``, ``store/sql/query``) for filtering,
ordering and keyset paging, then reads only the page's requested columns, the few system
tags every row shows, and its child counts, with one statement each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from runstack import tags
from runstack.clock import now_ms
from runstack.entities import ViewType
from runstack.errors import InvalidParameterError
from runstack.filters import parse_run_filter
from runstack.store.sql import liveness
from runstack.store.sql import schema as t
from runstack.store.sql.database import Database, Prepared, Tx
from runstack.store.sql.packing import unpack_batch
from runstack.store.sql.query import build_run_search
from runstack.store.sql.rows import (
    LOGGED_OF_RUN,
    RUN_COLUMNS,
    chunks,
    decode_value,
    run_info_from_row,
)
from runstack.store.ui_types import (
    KEY_KINDS,
    Columns,
    ExperimentActivity,
    KeyKind,
    RunRow,
    RunTablePage,
    RunTableQuery,
)
from runstack.validation import validate_experiment_id

PARENT_TAG = tags.PARENT_RUN_ID
SOURCE_TAG = tags.SOURCE_NAME
GIT_COMMIT_TAG = tags.GIT_COMMIT
SYSTEM_TAGS = (PARENT_TAG, SOURCE_TAG, GIT_COMMIT_TAG, tags.KILLED_REASON)
STATUSES = t.RUN_STATUSES
_KEY_TABLES = {"metrics": t.latest_metrics, "params": t.params, "tags": t.tags}


def _experiment_ints(experiment_ids: Sequence[str]) -> list[int]:
    # ASCII digits in the int64 range (validation's rule: not " 1", "+1" or 5,000 digits).
    return [int(validate_experiment_id(value)) for value in experiment_ids]


_LAST_START = Prepared(
    sa.select(t.runs.c.start_time)
    .where(
        t.runs.c.experiment_id == sa.bindparam("experiment_id"),
        t.runs.c.lifecycle_stage == sa.bindparam("stage"),
    )
    .order_by(t.runs.c.start_time.desc())
    .limit(1)
)


def experiment_activity(tx: Tx, experiment_ids: Sequence[str]) -> dict[str, ExperimentActivity]:
    """Per experiment, its runs per status and their last start, end or heartbeat: the
    active runs of an active experiment, every run of a deleted one (all deleted with it or
    before).

    Counts and last ends come from ``ix_runs_experiment_activity`` alone; the last start is
    one backward step along ``ix_runs_experiment_start`` per experiment; heartbeats are read
    for RUNNING runs only."""
    ids = _experiment_ints(experiment_ids)
    counts: dict[int, dict[str, int]] = {i: dict.fromkeys(STATUSES, 0) for i in ids}
    times: dict[int, list[int]] = {i: [] for i in ids}
    stages: dict[int, str] = {}
    r, e = t.runs.c, t.experiments.c
    for part in chunks(ids):
        query = sa.select(e.experiment_id, e.lifecycle_stage).where(e.experiment_id.in_(part))
        stages.update((row.experiment_id, row.lifecycle_stage) for row in tx.all(query))
        by_status = (
            sa.select(
                r.experiment_id,
                r.lifecycle_stage,
                r.status,
                sa.func.count(),
                sa.func.max(r.end_time),
            )
            .where(r.experiment_id.in_(part))
            .group_by(r.experiment_id, r.lifecycle_stage, r.status)
        )
        for experiment_id, stage, status, count, ended in tx.all(by_status):
            if stage != stages.get(experiment_id, "active"):
                continue
            counts[experiment_id][status] = int(count)
            if ended is not None:
                times[experiment_id].append(ended)
        beats = (
            sa.select(r.experiment_id, sa.func.max(r.heartbeat_time))
            .where(r.experiment_id.in_(part), r.lifecycle_stage == "active", r.status == "RUNNING")
            .group_by(r.experiment_id)
        )
        for experiment_id, beat in tx.all(beats):
            if beat is not None and stages.get(experiment_id, "active") == "active":
                times[experiment_id].append(beat)
    for experiment_id in ids:
        stage = stages.get(experiment_id, "active")
        started = tx.scalar(_LAST_START, {"experiment_id": experiment_id, "stage": stage})
        if started is not None:
            times[experiment_id].append(started)
    return {str(i): ExperimentActivity(counts[i], max(times[i]) if times[i] else None) for i in ids}


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def experiment_keys(
    tx: Tx, experiment_ids: Sequence[str], kind: KeyKind, contains: str, max_results: int
) -> tuple[list[str], bool]:
    """Distinct keys of one kind in these experiments' runs, sorted, optionally those that
    contain ``contains`` (case-insensitive); and whether more than ``max_results`` matched.

    The distinct keys are walked through the (key, ...) index one key at a time (a loose
    index scan: one probe per distinct key, not a read of every run's rows); each is kept
    when some run of the experiments has it. The run's experiment is a correlated scalar
    subquery on purpose: as a join, PostgreSQL plans one hash join of every run per key
    (it cannot know that most keys have one row), 10x slower at 10,000 keys."""
    if kind not in KEY_KINDS:
        raise InvalidParameterError(
            f"Invalid value {kind!r} for parameter 'kind': use one of {', '.join(KEY_KINDS)}."
        )
    ids = _experiment_ints(experiment_ids)
    if not ids:
        return [], False
    table = _KEY_TABLES[kind].name
    placeholders = ", ".join(f":e{i}" for i in range(len(ids)))
    values: dict[str, Any] = {f"e{i}": v for i, v in enumerate(ids)}
    values["limit"] = max_results + 1
    match = ""
    if contains:
        match = "AND lower(k.key) LIKE :pattern ESCAPE '\\'"
        values["pattern"] = _like_pattern(contains)
    statement = sa.text(
        f"""
        WITH RECURSIVE k(key) AS (
            SELECT min(key) FROM {table}
            UNION ALL
            SELECT (SELECT min(x.key) FROM {table} x WHERE x.key > k.key)
            FROM k WHERE k.key IS NOT NULL
        )
        SELECT k.key FROM k
        WHERE k.key IS NOT NULL {match}
          AND EXISTS (
            SELECT 1 FROM {table} y
            WHERE y.key = k.key
              AND (SELECT r.experiment_id FROM runs r WHERE r.run_id = y.run_id)
                  IN ({placeholders})
          )
        ORDER BY k.key
        LIMIT :limit
        """
    )
    keys = [row[0] for row in tx.all(statement.bindparams(**values))]
    return keys[:max_results], len(keys) > max_results


def _scoped_filter(query: RunTableQuery) -> str | None:
    """The user's filter (checked on its own, so error positions are the user's), with the
    top-level / children-of condition added."""
    text = query.filter_string if query.filter_string and query.filter_string.strip() else None
    parse_run_filter(text)
    parent = query.parent_run_id
    if parent is None:
        return text
    if parent == "":
        extra = f"tags.{PARENT_TAG} IS NULL"
    else:
        if not (parent.isascii() and all(c.isalnum() or c in "_-" for c in parent)):
            raise InvalidParameterError(
                f"Invalid value {parent!r} for parameter 'parent_run_id': a run id is made of "
                "letters, digits, '_' and '-'; use '' for top-level runs only."
            )
        extra = f"tags.{PARENT_TAG} = '{parent}'"
    return extra if text is None else f"({text}) AND {extra}"


def _by_run(rows: list[Any], decode: bool = False) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        value = decode_value(row.value, row.value_kind) if decode else row.value
        found.setdefault(row.run_id, {})[row.key] = value
    return found


def _keyed(tx: Tx, table: sa.Table, run_ids: list[str], keys: Sequence[str]) -> list[Any]:
    if not keys or not run_ids:
        return []
    c = table.c
    columns = [c.run_id, c.key, c.value]
    if table is t.latest_metrics:
        columns.append(c.value_kind)
    rows: list[Any] = []
    for part in chunks(list(dict.fromkeys(keys)), 200):
        rows += tx.all(sa.select(*columns).where(c.run_id.in_(run_ids), c.key.in_(part)))
    return rows


def _child_counts(tx: Tx, run_ids: list[str], view_type: ViewType) -> dict[str, int]:
    if not run_ids:
        return {}
    g, r = t.tags.c, t.runs.c
    condition = [g.key == PARENT_TAG, g.value.in_(run_ids)]
    if tx.dialect.name == "postgresql":  # lets PostgreSQL use its (key, left(value)) index
        condition.append(sa.func.left(g.value, t.VALUE_PREFIX_CHARS).in_(run_ids))
    if view_type == ViewType.ACTIVE_ONLY:
        condition.append(r.lifecycle_stage == "active")
    elif view_type == ViewType.DELETED_ONLY:
        condition.append(r.lifecycle_stage == "deleted")
    query = (
        sa.select(g.value, sa.func.count())
        .select_from(t.tags.join(t.runs, r.run_id == g.run_id))
        .where(*condition)
        .group_by(g.value)
    )
    return {value: int(count) for value, count in tx.all(query)}


def runs_table(db: Database, query: RunTableQuery, fold_logged_metrics: Any) -> RunTablePage:
    """One page of a run table (see ``RunTableQuery``)."""
    search = build_run_search(
        _experiment_ints(query.experiment_ids),
        _scoped_filter(query),
        query.view_type,
        query.max_results,
        list(query.order_by) if query.order_by else None,
        query.page_token,
    )
    columns: Columns = query.columns
    if db.read(lambda tx: liveness.any_dead(tx, now_ms())):
        db.write(lambda tx: liveness.reap(tx, now_ms()))
    if search.reads_metrics or columns.metrics:
        fold_logged_metrics()

    def read(tx: Tx) -> RunTablePage:
        if tx.dialect.name == "postgresql":
            tx.run(sa.text("SET LOCAL max_parallel_workers_per_gather = 0"))
        page = search.fetch_page(tx)
        ids = page.run_ids
        if not ids:
            return RunTablePage([], page.next_page_token)
        infos = {
            row.run_id: row
            for row in tx.all(sa.select(*RUN_COLUMNS).where(t.runs.c.run_id.in_(ids)))
        }
        metrics = _by_run(_keyed(tx, t.latest_metrics, ids, columns.metrics), decode=True)
        params = _by_run(_keyed(tx, t.params, ids, columns.params))
        tag_values = _by_run(_keyed(tx, t.tags, ids, [*columns.tags, *SYSTEM_TAGS]))
        children = _child_counts(tx, ids, query.view_type)
        wanted_tags = set(columns.tags)
        rows = []
        for run_id in ids:
            run_tags = tag_values.get(run_id, {})
            rows.append(
                RunRow(
                    info=run_info_from_row(infos[run_id]),
                    metrics=metrics.get(run_id, {}),
                    params=params.get(run_id, {}),
                    tags={k: v for k, v in run_tags.items() if k in wanted_tags},
                    source=run_tags.get(SOURCE_TAG),
                    git_commit=run_tags.get(GIT_COMMIT_TAG),
                    parent_run_id=run_tags.get(PARENT_TAG),
                    killed_reason=run_tags.get(tags.KILLED_REASON),
                    child_count=children.get(run_id, 0),
                )
            )
        return RunTablePage(rows, page.next_page_token)

    return db.read(read)


def value_ranges(tx: Tx, run_id: str) -> dict[str, tuple[float | None, float | None, int]]:
    """(min, max, count) of every metric key of a run, NaN ignored in min and max: from the
    block summaries, plus the points still in the log."""
    s = t.metric_summaries.c
    query = (
        sa.select(
            s.key, sa.func.min(s.min_value), sa.func.max(s.max_value), sa.func.sum(s.n_points)
        )
        .where(s.run_id == run_id)
        .group_by(s.key)
    )
    ranges: dict[str, tuple[float | None, float | None, int]] = {
        key: (low, high, int(count)) for key, low, high, count in tx.all(query)
    }
    for row in tx.all(LOGGED_OF_RUN, {"run_id": run_id}):
        batch = unpack_batch(row.points)
        for key, value in zip(batch.keys, batch.values, strict=True):
            low, high, count = ranges.get(key, (None, None, 0))
            if not math.isnan(value):
                low = value if low is None else min(low, value)
                high = value if high is None else max(high, value)
            ranges[key] = (low, high, count + 1)
    return ranges
