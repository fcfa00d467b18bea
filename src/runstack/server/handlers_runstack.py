"""runstack's own endpoints (``/api/2.0/runstack/...``), used by runstack's REST store.

MLflow's API cannot express what runstack's client promises: a run created under a checked
parent with a heartbeat lease, a resume that checks and writes in one transaction, lease
renewal, and a batch of any size (within the request size limit) written all or nothing.
These endpoints do each in one store call; MLflow's endpoints stay exactly MLflow-shaped.
"""

from __future__ import annotations

from typing import Any

from runstack import __version__
from runstack.errors import InvalidParameterError
from runstack.server.endpoints import GET, POST, RUNSTACK_PREFIX, Endpoint
from runstack.server.fields import INT64, STRING, STRINGS, Field
from runstack.server.handlers_runs import (
    BATCH_FIELDS,
    RUN_CREATE_FIELDS,
    RUN_ID,
    TAGS,
    checked_tags,
    new_run,
    write_batch,
)
from runstack.store.base import Store
from runstack.validation import validate_experiment_id, validate_run_id, validate_run_name
from runstack.wire import encode_run

# Bumped when these endpoints change incompatibly; the REST store checks it.
API_VERSION = 1
MAX_LEASE_MS = 7 * 24 * 3600 * 1000


def _lease(name: str, value: int | None, required: bool = False) -> int | None:
    if value is None and not required:
        return None
    if value is None or not 1 <= value <= MAX_LEASE_MS:
        raise InvalidParameterError(
            f"Invalid value {value} for parameter '{name}': a heartbeat timeout is between 1 "
            f"and {MAX_LEASE_MS} milliseconds."
        )
    return value


def server_info(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "server": "runstack",
        "version": __version__,
        "api_version": API_VERSION,
    }  # the app adds its limits (reports_limits)


def create_run(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    parent = args["parent_run_id"]
    return new_run(
        store,
        args,
        None if parent is None else validate_run_id(parent),
        _lease("heartbeat_timeout_ms", args["heartbeat_timeout_ms"]),
    )


def resume_run(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    expected = args["experiment_id"]
    run = store.resume_run(
        validate_run_id(args["run_id"]),
        None if expected is None else validate_experiment_id(expected),
        None if args["run_name"] is None else validate_run_name(args["run_name"]),
        list(checked_tags(args["tags"]).items()),
        _lease("heartbeat_timeout_ms", args["heartbeat_timeout_ms"]),
    )
    return {"run": encode_run(run)}


def renew_heartbeats(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    run_ids = [validate_run_id(r) for r in args["run_ids"]]
    timeout = _lease("timeout_ms", args["timeout_ms"], required=True)
    assert timeout is not None
    store.renew_heartbeats(run_ids, timeout)
    return {}


def log_batch(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    write_batch(store, args)
    return {}


_LEASE = Field(
    "heartbeat_timeout_ms",
    INT64,
    doc="The client promises heartbeats; without one for this long the run is marked KILLED.",
)

ENDPOINTS = (
    Endpoint(
        "server-info",
        GET,
        (),
        server_info,
        "Identifies a runstack server, its API version and request size limit.",
        "{server, version, api_version, max_request_bytes}",
        RUNSTACK_PREFIX,
        reports_limits=True,
    ),
    Endpoint(
        "runs/create",
        POST,
        (
            *RUN_CREATE_FIELDS,
            Field("parent_run_id", STRING, doc="Parent run; must exist and not be deleted."),
            _LEASE,
        ),
        create_run,
        "Create a run under a checked parent, with an optional heartbeat lease.",
        "{run: Run}",
        RUNSTACK_PREFIX,
        quick=True,
    ),
    Endpoint(
        "runs/resume",
        POST,
        (
            RUN_ID,
            Field("experiment_id", STRING, doc="If given, the run must belong to it."),
            Field("run_name", STRING, doc="Renames the run."),
            TAGS,
            _LEASE,
        ),
        resume_run,
        "Set a run RUNNING again with no end time, renamed and tagged, in one transaction.",
        "{run: Run}",
        RUNSTACK_PREFIX,
    ),
    Endpoint(
        "runs/renew-heartbeats",
        POST,
        (
            Field("run_ids", STRINGS, doc="RUNNING runs whose lease to extend."),
            Field("timeout_ms", INT64, required=True, doc="The new lease, from now."),
        ),
        renew_heartbeats,
        "Extend the heartbeat lease of RUNNING runs.",
        "{}",
        RUNSTACK_PREFIX,
    ),
    Endpoint(
        "runs/log-batch",
        POST,
        BATCH_FIELDS,
        log_batch,
        "Log metrics, params and tags all or nothing, with no per-kind count limit.",
        "{}",
        RUNSTACK_PREFIX,
    ),
)
