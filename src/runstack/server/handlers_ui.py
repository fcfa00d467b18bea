"""The web UI's data endpoints (``/api/2.0/runstack/ui/...``), described in
``docs/ui-api.md``.

They return what a page draws and nothing more: experiments with run counts, the distinct
keys of an experiment (for a column picker), a run table page with only the chosen
columns, a run with per-key min/max/count, and metric series reduced for charts. Numbers
JSON cannot hold (NaN, infinities) are sent as "NaN", "Infinity" and "-Infinity".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from runstack import __version__
from runstack.entities import ViewType
from runstack.errors import FilterSyntaxError, InvalidParameterError, ResourceNotFoundError
from runstack.filters import parse_run_filter
from runstack.server.endpoints import GET, POST, RUNSTACK_PREFIX, Endpoint
from runstack.server.fields import INT64, OBJECT, STRING, STRINGS, Field
from runstack.store.base import Store
from runstack.store.ui_types import KEY_KINDS, Columns, KeyKind, RunRow, RunTableQuery
from runstack.tags import KILLED_REASON, PARENT_RUN_ID
from runstack.validation import validate_key, validate_run_id
from runstack.wire import encode_double, encode_run

MAX_EXPERIMENTS_PAGE = 1000
MAX_KEYS = 10_000
MAX_TABLE_PAGE = 1000
MAX_COLUMNS = 200
MAX_SERIES_RUNS = 200
DEFAULT_MAX_POINTS = 1000
MAX_POINTS = 100_000
MAX_CHILDREN = 1000
_VIEWS = {"active": ViewType.ACTIVE_ONLY, "deleted": ViewType.DELETED_ONLY, "all": ViewType.ALL}
_POSITION = re.compile(r" at position (\d+)")


def _double(value: float | None) -> float | str | None:
    return None if value is None else encode_double(value)


def _doubles(values: Sequence[float]) -> list[float | str]:
    if math.isfinite(sum(values)):  # no NaN or infinity in it (their sum would not be finite)
        return list(values)
    return [v if math.isfinite(v) else encode_double(v) for v in values]


def _view(value: str | None) -> ViewType:
    view = _VIEWS.get((value or "active").lower())
    if view is None:
        raise InvalidParameterError(
            f"Invalid value {value!r} for parameter 'view': use active, deleted or all."
        )
    return view


def _bounded(name: str, value: int | None, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if not low <= value <= high:
        raise InvalidParameterError(
            f"Invalid value {value} for parameter '{name}': it must be between {low} and {high}."
        )
    return value


def _checked_filter(text: str | None) -> str | None:
    try:
        parse_run_filter(text)
    except InvalidParameterError as error:
        found = _POSITION.search(error.message)
        raise FilterSyntaxError(error.message, int(found.group(1)) if found else None) from None
    return text


# --- handlers --------------------------------------------------------------------------------


def config(read_only: bool) -> Callable[[Store, dict[str, Any]], dict[str, Any]]:
    def handler(store: Store, args: dict[str, Any]) -> dict[str, Any]:
        return {"read_only": read_only, "version": __version__}

    return handler


def experiments(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    view = _view(args["view"])
    size = _bounded("max_results", args["max_results"], 100, 1, MAX_EXPERIMENTS_PAGE)
    name = args["name"] or ""
    text = None
    if name:
        text = "name ILIKE '%" + name.replace("'", "''") + "%'"
    page = store.search_experiments(view, size, text, None, args["page_token"] or None)
    # % and _ in the typed name are LIKE wildcards above: keep only real substring matches.
    found = [e for e in page if not name or name.lower() in e.name.lower()]
    activity = store.experiment_activity([e.experiment_id for e in found])
    return {
        "experiments": [
            {
                "experiment_id": e.experiment_id,
                "name": e.name,
                "lifecycle_stage": e.lifecycle_stage,
                "artifact_location": e.artifact_location,
                "creation_time": e.creation_time,
                "last_update_time": e.last_update_time,
                "tags": dict(e.tags),
                "run_counts": activity[e.experiment_id].run_counts,
                "last_activity": activity[e.experiment_id].last_activity,
            }
            for e in found
        ],
        "next_page_token": page.token or None,
    }


def experiment_keys(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    kind = args["kind"] or "metrics"
    if kind not in KEY_KINDS:
        raise InvalidParameterError(
            f"Invalid value {kind!r} for parameter 'kind': use metrics, params or tags."
        )
    size = _bounded("max_results", args["max_results"], 100, 1, MAX_KEYS)
    keys, truncated = store.experiment_keys(
        args["experiment_id"], _key_kind(kind), args["contains"] or "", size
    )
    return {"keys": keys, "truncated": truncated}


def _key_kind(kind: str) -> KeyKind:
    for known in KEY_KINDS:
        if known == kind:
            return known
    raise AssertionError(kind)


def _columns(raw: dict[str, Any] | None) -> Columns:
    if raw is None:
        return Columns()
    lists: dict[str, list[str]] = {}
    for name in KEY_KINDS:
        value = raw.get(name)
        value = [] if value is None else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidParameterError(
                f"Invalid value for parameter 'columns.{name}': expected a list of keys "
                'such as ["loss"].'
            )
        if len(value) > MAX_COLUMNS:
            raise InvalidParameterError(
                f"Invalid value for parameter 'columns.{name}': {len(value)} keys; at most "
                f"{MAX_COLUMNS} columns of each kind."
            )
        lists[name] = value
    unknown = sorted(set(raw) - set(KEY_KINDS))
    if unknown:
        raise InvalidParameterError(
            f"Invalid key {unknown[0]!r} in parameter 'columns': use metrics, params and tags."
        )
    return Columns(lists["metrics"], lists["params"], lists["tags"])


def _row_json(row: RunRow) -> dict[str, Any]:
    info = row.info
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "status": info.status,
        "lifecycle_stage": info.lifecycle_stage,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "user_id": info.user_id,
        "source": row.source,
        "git_commit": row.git_commit,
        "parent_run_id": row.parent_run_id,
        "killed_reason": row.killed_reason,
        "child_count": row.child_count,
        "metrics": {k: _double(v) for k, v in row.metrics.items()},
        "params": row.params,
        "tags": row.tags,
    }


def runs_table(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    parent = args["parent_run_id"]
    if parent:
        parent = validate_run_id(parent)
    query = RunTableQuery(
        experiment_ids=args["experiment_ids"],
        filter_string=_checked_filter(args["filter"]),
        order_by=args["order_by"] or None,
        max_results=_bounded("max_results", args["max_results"], 100, 1, MAX_TABLE_PAGE),
        page_token=args["page_token"] or None,
        view_type=_view(args["view"]),
        parent_run_id=parent,
        columns=_columns(args["columns"]),
    )
    page = store.runs_table(query)
    return {"runs": [_row_json(r) for r in page.rows], "next_page_token": page.next_page_token}


def run_detail(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    run_id = validate_run_id(args["run_id"])
    run = store.get_run(run_id)
    ranges = store.metric_value_ranges(run_id)
    metrics = []
    for latest in run.data.latest_metrics:
        low, high, count = ranges.get(latest.key, (None, None, 0))
        metrics.append(
            {
                "key": latest.key,
                "latest": encode_double(latest.value),
                "step": latest.step,
                "timestamp": latest.timestamp,
                "min": _double(low),
                "max": _double(high),
                "count": count,
            }
        )
    run_tags = run.data.tags
    parent: dict[str, str | None] | None = None
    parent_id = run_tags.get(PARENT_RUN_ID)
    if parent_id:
        try:
            parent = {"run_id": parent_id, "run_name": store.get_run(parent_id).info.run_name}
        except ResourceNotFoundError:  # purged since
            parent = {"run_id": parent_id, "run_name": None}
    children = store.runs_table(
        RunTableQuery(
            experiment_ids=[run.info.experiment_id],
            max_results=MAX_CHILDREN,
            view_type=ViewType.ALL,
            parent_run_id=run_id,
            order_by=["attributes.start_time ASC"],
        )
    )
    return {
        "run": encode_run(run),
        "metrics": metrics,
        "parent": parent,
        "children": [
            {"run_id": c.info.run_id, "run_name": c.info.run_name, "status": c.info.status}
            for c in children.rows
        ],
        "killed_reason": run_tags.get(KILLED_REASON),
    }


def metric_series(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    run_ids = [validate_run_id(r) for r in args["run_id"]]
    if len(run_ids) > MAX_SERIES_RUNS:
        raise InvalidParameterError(
            f"Invalid value for parameter 'run_id': {len(run_ids)} runs; at most "
            f"{MAX_SERIES_RUNS} per request."
        )
    key = validate_key(args["key"], "Metric")
    max_points = _bounded("max_points", args["max_points"], DEFAULT_MAX_POINTS, 4, MAX_POINTS)
    low, high = args["min_step"], args["max_step"]
    if low is not None and high is not None and low > high:
        raise InvalidParameterError(
            f"Invalid step range: min_step {low} is greater than max_step {high}."
        )
    series = store.metric_series(list(dict.fromkeys(run_ids)), key, max_points, low, high)
    return {
        "key": key,
        "series": [
            {
                "run_id": s.run_id,
                "total_points": s.total_points,
                "reduced": s.reduced,
                "steps": s.steps,
                "timestamps": s.timestamps,
                "values": _doubles(s.values),
            }
            for s in series
        ],
    }


_EXPERIMENT_IDS = Field("experiment_ids", STRINGS, required=True, doc="Experiments to list.")
CONFIG_PATH = "ui/config"


def config_endpoint(read_only: bool) -> Endpoint:
    """``ui/config`` as one app serves it (whether it refuses changes)."""
    return Endpoint(
        CONFIG_PATH,
        GET,
        (),
        config(read_only),
        "The UI's settings: whether this server refuses changes, and its version.",
        "{read_only, version}",
        RUNSTACK_PREFIX,
    )


ENDPOINTS = (
    config_endpoint(False),
    Endpoint(
        "ui/experiments",
        GET,
        (
            Field("view", STRING, doc="active (default), deleted or all."),
            Field("name", STRING, doc="Only experiments whose name contains this (any case)."),
            Field("max_results", INT64, doc=f"Page size, 1..{MAX_EXPERIMENTS_PAGE} (default 100)."),
            Field("page_token", STRING, doc="next_page_token of the previous page."),
        ),
        experiments,
        "Experiments with their active runs counted by status and their last activity.",
        "{experiments: [{experiment_id, name, lifecycle_stage, artifact_location, "
        "creation_time, last_update_time, tags, run_counts, last_activity}], next_page_token}",
        RUNSTACK_PREFIX,
    ),
    Endpoint(
        "ui/experiments/keys",
        GET,
        (
            Field("experiment_id", STRINGS, required=True, doc="One or more experiments."),
            Field("kind", STRING, doc="metrics (default), params or tags."),
            Field("contains", STRING, doc="Only keys containing this (any case)."),
            Field("max_results", INT64, doc=f"At most this many keys, 1..{MAX_KEYS} (100)."),
        ),
        experiment_keys,
        "The distinct metric, param or tag keys of the experiments' runs, sorted.",
        "{keys: [str], truncated: bool}",
        RUNSTACK_PREFIX,
    ),
    Endpoint(
        "ui/runs/table",
        POST,
        (
            _EXPERIMENT_IDS,
            Field("filter", STRING, doc="runstack's search grammar, as runs/search."),
            Field("order_by", STRINGS, doc='Order keys, e.g. "metrics.loss ASC".'),
            Field("max_results", INT64, doc=f"Page size, 1..{MAX_TABLE_PAGE} (default 100)."),
            Field("page_token", STRING, doc="next_page_token of the previous page."),
            Field("view", STRING, doc="active (default), deleted or all."),
            Field(
                "parent_run_id",
                STRING,
                doc='Absent: every run; "": top-level runs only; a run id: its children.',
            ),
            Field("columns", OBJECT, doc='{"metrics": [...], "params": [...], "tags": [...]}.'),
        ),
        runs_table,
        "One page of a run table with only the chosen columns, and each run's child count.",
        "{runs: [{run_id, run_name, experiment_id, status, lifecycle_stage, start_time, "
        "end_time, user_id, source, git_commit, parent_run_id, killed_reason, child_count, "
        "metrics, params, tags}], next_page_token}",
        RUNSTACK_PREFIX,
        reads_only=True,
    ),
    Endpoint(
        "ui/runs/detail",
        GET,
        (Field("run_id", STRING, required=True, doc="The run."),),
        run_detail,
        "A run, its metrics' latest/min/max/count, its parent and its children.",
        "{run: Run, metrics: [{key, latest, step, timestamp, min, max, count}], parent, "
        "children: [{run_id, run_name, status}], killed_reason}",
        RUNSTACK_PREFIX,
    ),
    Endpoint(
        "ui/metrics/series",
        GET,
        (
            Field("run_id", STRINGS, required=True, doc=f"Up to {MAX_SERIES_RUNS} runs."),
            Field("key", STRING, required=True, doc="The metric key."),
            Field(
                "max_points",
                INT64,
                doc=f"At most this many points per run, 4..{MAX_POINTS} (default 1000).",
            ),
            Field("min_step", INT64, doc="Only points at this step or later."),
            Field("max_step", INT64, doc="Only points at this step or earlier."),
        ),
        metric_series,
        "Each run's points of a key in a step range, in step order; over max_points, each "
        "bucket of steps keeps its first, last, lowest and highest point.",
        "{key, series: [{run_id, total_points, reduced, steps, timestamps, values}]}",
        RUNSTACK_PREFIX,
    ),
)
