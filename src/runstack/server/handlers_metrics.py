"""MLflow's metric-history endpoints (``/api/2.0/mlflow/metrics/...``).

The history of a key is append-only and kept in logging order, so a page token that is an
offset into it never skips or repeats a value, however much is logged between pages.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from runstack.entities import Metric
from runstack.errors import InvalidParameterError
from runstack.server.endpoints import GET, Endpoint
from runstack.server.fields import INT64, STRING, STRINGS, Field, missing
from runstack.server.handlers_runs import RUN_ID
from runstack.store.base import Store
from runstack.validation import validate_key, validate_run_id
from runstack.wire import encode_metric, omit_empty

MAX_HISTORY_PAGE = 50_000
MAX_BULK_RUNS = 100
DEFAULT_BULK_POINTS = 320
MAX_BULK_POINTS = 2500


def _encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_offset(token: str) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0:
            return offset
    except (binascii.Error, ValueError, KeyError, TypeError):
        pass
    raise InvalidParameterError(
        f"Invalid page token {token[:40]!r}: pass back the next_page_token of the previous page."
    )


def _positive(name: str, value: int, limit: int) -> int:
    if not 1 <= value <= limit:
        raise InvalidParameterError(
            f"Invalid value {value} for parameter '{name}' supplied: {name} must be between 1 "
            f"and {limit}."
        )
    return value


def _metric_key(args: dict[str, Any]) -> str:
    """The requested key; "" is proto3's unset value, so it is missing (as MLflow says)."""
    if args["metric_key"] == "":
        raise missing("metric_key")
    return validate_key(args["metric_key"], "Metric")


def get_history(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    run_id = validate_run_id(args["run_id"])
    history = store.get_metric_history(run_id, _metric_key(args))
    start = _decode_offset(args["page_token"]) if args["page_token"] else 0
    if args["max_results"] is None:
        page, token = history[start:], None
    else:
        size = _positive("max_results", args["max_results"], MAX_HISTORY_PAGE)
        page = history[start : start + size]
        token = _encode_offset(start + size) if start + size < len(history) else None
    return omit_empty({"metrics": [encode_metric(m) for m in page], "next_page_token": token})


def _sample(history: list[Metric], points: int) -> list[Metric]:
    """Every value at up to ``points`` steps spread evenly, first and last step included."""
    steps = sorted({m.step for m in history})
    if len(steps) > points:
        if points == 1:
            chosen = {steps[0]}
        else:
            chosen = {steps[round(i * (len(steps) - 1) / (points - 1))] for i in range(points)}
        history = [m for m in history if m.step in chosen]
    return sorted(history, key=lambda m: (m.step, m.timestamp))


def get_history_bulk_interval(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    run_ids = [validate_run_id(r) for r in args["run_ids"]]
    if not run_ids:
        raise InvalidParameterError("Missing value for required parameter 'run_ids'.")
    if len(run_ids) > MAX_BULK_RUNS:
        raise InvalidParameterError(
            f"GetMetricHistoryBulkInterval request must specify at most {MAX_BULK_RUNS} "
            f"run_ids. Received {len(run_ids)} run_ids."
        )
    key = _metric_key(args)
    points = args["max_results"]
    points = (
        DEFAULT_BULK_POINTS if points is None else _positive("max_results", points, MAX_BULK_POINTS)
    )
    low, high = args["start_step"], args["end_step"]
    if (low is None) != (high is None):
        raise InvalidParameterError(
            "If either start step or end step are specified, both must be specified. Give "
            "start_step and end_step together, or neither for every step."
        )
    if low is not None and high is not None and low > high:
        raise InvalidParameterError(
            f"end_step must be greater than start_step. Found start_step={low} and end_step={high}."
        )
    metrics = []
    for run_id in dict.fromkeys(run_ids):  # in the order asked, each once (as MLflow)
        history = [
            Metric(m.key, m.value, m.timestamp, m.step, run_id)
            for m in store.get_metric_history(run_id, key)
            if (low is None or m.step >= low) and (high is None or m.step <= high)
        ]
        metrics += [encode_metric(m, with_run_id=True) for m in _sample(history, points)]
    return omit_empty({"metrics": metrics})


_METRIC_KEY = Field("metric_key", STRING, required=True, doc="The metric's key.")

ENDPOINTS = (
    Endpoint(
        "metrics/get-history",
        GET,
        (
            RUN_ID,
            _METRIC_KEY,
            Field("max_results", INT64, doc="Page size (all values when absent)."),
            Field("page_token", STRING, doc="next_page_token of the previous page."),
        ),
        get_history,
        "Every value logged for a metric, in logging order.",
        "{metrics: [Metric], next_page_token?}",
    ),
    Endpoint(
        "metrics/get-history-bulk-interval",
        GET,
        (
            Field("run_ids", STRINGS, required=True, doc="Up to 100 run ids."),
            _METRIC_KEY,
            Field("start_step", INT64, doc="Lowest step included; only with end_step."),
            Field("end_step", INT64, doc="Highest step included; only with start_step."),
            Field("max_results", INT64, doc="Steps sampled per run (default 320)."),
        ),
        get_history_bulk_interval,
        "A metric's values for several runs, sampled at evenly spread steps.",
        "{metrics: [Metric with run_id]}",
    ),
)
