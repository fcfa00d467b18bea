"""MLflow's run endpoints (``/api/2.0/mlflow/runs/...``): create, read, update, search, log.

Two of MLflow's quirks are fixed here: ``runs/create`` without ``start_time`` starts the run
now (MLflow records epoch 0), and ``runs/update`` with an unknown status is a 400 (MLflow
answers 200 and ignores it). ``runs/create`` applies the client's rules for a new run
(``runstack.run_creation``): tags validated like any other tags, the same name and parent
rules, the same errors.
"""

from __future__ import annotations

from typing import Any

from runstack.errors import InvalidParameterError, NotImplementedByRunstack
from runstack.input_validation import check_dataset_inputs
from runstack.metric_columns import make_metric
from runstack.run_creation import create_run
from runstack.server.endpoints import GET, POST, Endpoint
from runstack.server.fields import (
    DATASET_INPUTS,
    DOUBLE,
    ENUM,
    INT64,
    KEY_VALUES,
    METRICS,
    OBJECTS,
    STRING,
    STRINGS,
    Field,
)
from runstack.server.handlers_experiments import DEFAULT_MAX_RESULTS, view_type
from runstack.store.base import Store
from runstack.tags import DATA_CONTEXT
from runstack.validation import (
    validate_batch_params,
    validate_experiment_id,
    validate_key,
    validate_param,
    validate_run_id,
    validate_run_name,
    validate_status,
    validate_tag,
)
from runstack.wire import (
    dataset_inputs_from_request,
    encode_run,
    encode_run_info,
    encode_runs_page,
)

# MLflow's per-request limits for runs/log-batch.
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_BATCH_ENTITIES = 1000


def checked_tags(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Validated tags; a key sent twice keeps its last value."""
    return dict(validate_tag(k, v) for k, v in pairs)


def new_run(
    store: Store,
    args: dict[str, Any],
    parent_run_id: str | None,
    heartbeat_timeout_ms: int | None,
) -> dict[str, Any]:
    """Shared by MLflow's runs/create and runstack's: the client's rules
    (``runstack.run_creation``), then one write."""
    run = create_run(
        store,
        args["experiment_id"],
        args["start_time"],
        args["tags"],
        args["run_name"] or None,
        args["user_id"] or "",
        parent_run_id,
        heartbeat_timeout_ms,
    )
    return {"run": encode_run(run)}


def create(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    # MLflow's clients send no heartbeats, so their runs are never reaped.
    return new_run(store, args, None, None)


def get(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    return {"run": encode_run(store.get_run(validate_run_id(args["run_id"])))}


def update(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    run_id = validate_run_id(args["run_id"])
    status = None if args["status"] is None else validate_status(args["status"])
    end_time = args["end_time"] or None
    if end_time is not None and end_time < 0:
        raise InvalidParameterError(
            f"Invalid value {end_time} for parameter 'end_time': use milliseconds since the epoch."
        )
    run_name = None if args["run_name"] is None else validate_run_name(args["run_name"])
    info = store.update_run(run_id, status, end_time, run_name)
    return {"run_info": encode_run_info(info)}


def delete(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    store.delete_run(validate_run_id(args["run_id"]))
    return {}


def restore(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    store.restore_run(validate_run_id(args["run_id"]))
    return {}


def search(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    max_results = args["max_results"]
    page = store.search_runs(
        [validate_experiment_id(e) for e in args["experiment_ids"]],
        args["filter"] or None,
        view_type("run_view_type", args["run_view_type"]),
        DEFAULT_MAX_RESULTS if max_results is None else max_results,
        args["order_by"] or None,
        args["page_token"] or None,
    )
    return encode_runs_page(page, page.token)


def log_metric(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    metric = make_metric(args["key"], args["value"], args["timestamp"], args["step"] or 0)
    store.log_batch(validate_run_id(args["run_id"]), [metric], [], [])
    return {}


def log_param(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    param = validate_param(args["key"], args["value"] or "")
    store.log_batch(validate_run_id(args["run_id"]), [], [param], [])
    return {}


def set_tag(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    tag = validate_tag(args["key"], args["value"] or "")
    store.log_batch(validate_run_id(args["run_id"]), [], [], [tag])
    return {}


def delete_tag(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    store.delete_tag(validate_run_id(args["run_id"]), validate_key(args["key"], "Tag"))
    return {}


def _check_limit(what: str, count: int, limit: int) -> None:
    if count > limit:
        raise InvalidParameterError(
            f"A batch logging request can contain at most {limit} {what}. Got {count} {what}. "
            f"Please split up {what} across multiple requests and try again."
        )


def write_batch(store: Store, args: dict[str, Any]) -> None:
    """Validate a whole batch, then write it in one transaction."""
    run_id = validate_run_id(args["run_id"])
    metrics = [
        make_metric(m["key"], m["value"], m["timestamp"], m["step"]) for m in args["metrics"]
    ]
    params = validate_batch_params(args["params"])
    tags = [validate_tag(k, v) for k, v in args["tags"]]
    store.log_batch(run_id, metrics, params, tags)


def log_batch(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    metrics, params, tags = len(args["metrics"]), len(args["params"]), len(args["tags"])
    _check_limit("metrics", metrics, MAX_BATCH_METRICS)
    _check_limit("params", params, MAX_BATCH_PARAMS)
    _check_limit("tags", tags, MAX_BATCH_TAGS)
    _check_limit("entities", metrics + params + tags, MAX_BATCH_ENTITIES)
    write_batch(store, args)
    return {}


def log_inputs(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    """Dataset inputs, validated whole before one transaction; logged-model inputs are a
    501 (runstack has no logged models), and then nothing is applied."""
    run_id = validate_run_id(args["run_id"])
    if args["models"]:
        raise NotImplementedByRunstack(
            "runstack does not record logged-model inputs (it has no logged models); the "
            "request was not applied. Send dataset inputs only."
        )
    datasets = check_dataset_inputs(dataset_inputs_from_request(args["datasets"]))
    store.log_inputs(run_id, datasets)
    return {}


RUN_ID = Field("run_id", STRING, required=True, doc="The run's id.", alias="run_uuid")
KEY = Field("key", STRING, required=True, doc="Key (250 characters max).")
TAGS = Field("tags", KEY_VALUES, doc="Tags, [{key, value}].")
RUN_CREATE_FIELDS = (
    Field("experiment_id", STRING, required=True, doc="The experiment to create the run in."),
    Field("user_id", STRING, doc="Who runs it."),
    Field("run_name", STRING, doc="Name; generated when absent."),
    Field("start_time", INT64, doc="Milliseconds since the epoch; now when absent."),
    TAGS,
)
BATCH_FIELDS = (
    RUN_ID,
    Field("metrics", METRICS, doc="[{key, value, timestamp, step}]."),
    Field("params", KEY_VALUES, doc="[{key, value}]; params are immutable."),
    Field("tags", KEY_VALUES, doc="[{key, value}]."),
)

ENDPOINTS = (
    Endpoint(
        "runs/create",
        POST,
        RUN_CREATE_FIELDS,
        create,
        "Create a RUNNING run.",
        "{run: Run}",
        quick=True,
    ),
    Endpoint("runs/get", GET, (RUN_ID,), get, "Get a run.", "{run: Run}"),
    Endpoint(
        "runs/update",
        POST,
        (
            RUN_ID,
            Field("status", ENUM, doc="RUNNING, SCHEDULED, FINISHED, FAILED or KILLED (or 1-5)."),
            Field("end_time", INT64, doc="Milliseconds since the epoch; now when ending."),
            Field("run_name", STRING, doc="New name."),
        ),
        update,
        "Change a run's status, end time or name; RUNNING and SCHEDULED clear the end time.",
        "{run_info: RunInfo}",
        quick=True,
    ),
    Endpoint("runs/delete", POST, (RUN_ID,), delete, "Soft-delete a run.", "{}"),
    Endpoint("runs/restore", POST, (RUN_ID,), restore, "Restore a deleted run.", "{}"),
    Endpoint(
        "runs/search",
        POST,
        (
            Field("experiment_ids", STRINGS, doc="Experiments to search."),
            Field("filter", STRING, doc='Filter string, e.g. "metrics.loss < 0.1".'),
            Field("run_view_type", ENUM, doc="ACTIVE_ONLY (1, default), DELETED_ONLY, ALL."),
            Field("max_results", INT64, doc="Page size, 1..50000 (default 1000)."),
            Field("order_by", STRINGS, doc='Order keys, e.g. "metrics.loss ASC".'),
            Field("page_token", STRING, doc="next_page_token of the previous page."),
        ),
        search,
        "Search runs, one page at a time.",
        "{runs: [Run], next_page_token?}",
        reads_only=True,
    ),
    Endpoint(
        "runs/log-metric",
        POST,
        (
            RUN_ID,
            KEY,
            Field("value", DOUBLE, required=True, doc='A number, "NaN" or "±Infinity".'),
            Field("timestamp", INT64, required=True, doc="Milliseconds since the epoch."),
            Field("step", INT64, doc="Integer step (default 0)."),
            Field("model_id", STRING, doc="Ignored by runstack."),
            Field("dataset_name", STRING, doc="Ignored by runstack."),
            Field("dataset_digest", STRING, doc="Ignored by runstack."),
        ),
        log_metric,
        "Log one metric value.",
        "{}",
        quick=True,
    ),
    Endpoint(
        "runs/log-parameter",
        POST,
        (RUN_ID, KEY, Field("value", STRING, doc="Value (6000 characters max).")),
        log_param,
        "Log one param (immutable once logged).",
        "{}",
        quick=True,
    ),
    Endpoint(
        "runs/set-tag",
        POST,
        (RUN_ID, KEY, Field("value", STRING, doc="Value (8000 characters max).")),
        set_tag,
        "Set a run tag.",
        "{}",
        quick=True,
    ),
    Endpoint("runs/delete-tag", POST, (RUN_ID, KEY), delete_tag, "Delete a run tag.", "{}"),
    Endpoint(
        "runs/log-batch",
        POST,
        BATCH_FIELDS,
        log_batch,
        "Log metrics, params and tags in one transaction (MLflow's per-request limits).",
        "{}",
    ),
    Endpoint(
        "runs/log-inputs",
        POST,
        (
            RUN_ID,
            Field(
                "datasets",
                DATASET_INPUTS,
                doc="[{dataset: {name, digest, source_type, source, schema?, profile?}, "
                "tags: [{key, value}]}], at most 1000; the context is the tag "
                f"{DATA_CONTEXT}.",
            ),
            Field("models", OBJECTS, doc="Logged-model inputs: not supported (501 unless empty)."),
        ),
        log_inputs,
        "Record dataset inputs of a run in one transaction (a dataset is reused by name and "
        "digest within the experiment; an input the run already has is kept as it is).",
        "{}",
    ),
)
