"""The module-level API (``runstack.start_run`` and friends), as in MLflow.

Each function is a few lines over ``TrackingClient`` and the run context in
``runstack.context``; no storage code lives here. A run on the stack stays bound to the store
it was started in, so changing the tracking URI mid-run never strands it.
"""

from __future__ import annotations

import logging
import os
from types import SimpleNamespace
from typing import Any

from runstack import changes, context, experiment_choice, heartbeat, lifecycle, tracking_uri
from runstack.active_run import ActiveRun
from runstack.async_logging import RunOperations
from runstack.async_logging import flush as flush_async_logging
from runstack.client import TrackingClient
from runstack.clock import now_ms
from runstack.entities import DatasetInput, Experiment, Param, Run, RunTag, ViewType
from runstack.errors import InvalidParameterError, InvalidStateError, RunAlreadyActiveError
from runstack.input_validation import CONTEXT_TAG, check_dataset_input, refuse_model_inputs
from runstack.source_tags import owner_tags, system_tags
from runstack.validation import (
    as_str_dict,
    validate_experiment_id,
    validate_run_id,
    validate_run_name,
    validate_status,
    validate_tag,
)

RUN_ID_ENV = "MLFLOW_RUN_ID"
PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"
NOTE_TAG = "mlflow.note.content"

logger = logging.getLogger("runstack")

set_tracking_uri = tracking_uri.set_tracking_uri
get_tracking_uri = tracking_uri.get_tracking_uri

__all__ = ["flush_async_logging"]


def _client() -> TrackingClient:
    return TrackingClient(tracking_uri.get_tracking_uri())


# Runs: start, end, look up -------------------------------------------------------------------


def _user_tags(tags: dict[str, Any] | None, description: str | None) -> dict[str, str]:
    checked = dict(validate_tag(k, v) for k, v in as_str_dict(tags, "tags").items())
    if description:
        if NOTE_TAG in checked:
            raise InvalidParameterError(
                f"The description is given twice: as description= and as the tag {NOTE_TAG!r}. "
                "Pass only one of them."
            )
        checked[NOTE_TAG] = validate_tag(NOTE_TAG, description)[1]
    return checked


def start_run(
    run_id: str | None = None,
    experiment_id: str | int | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: dict[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a new run, or resume ``run_id`` (else ``MLFLOW_RUN_ID``), and make it active.

    Every check runs before the first write: if this raises, no run was created or changed
    and the active-run stack is as it was.
    """
    stack = context.active_runs()
    if stack and not nested:
        top = stack[-1]
        raise RunAlreadyActiveError(
            f"Run {top.run_id} ({top.info.run_name!r}) is already active. End it with "
            "end_run() before starting another, or pass nested=True to start a child run."
        )
    if log_system_metrics:
        raise InvalidParameterError(
            "log_system_metrics=True is not supported by runstack; omit it or pass False."
        )
    explicit_experiment = None if experiment_id is None else validate_experiment_id(experiment_id)
    resume_id = run_id or os.environ.get(RUN_ID_ENV) or None
    user_tags = _user_tags(tags, description)
    if run_name is not None:  # before MLFLOW_EXPERIMENT_NAME may create an experiment
        validate_run_name(run_name)
    _, timeout_ms = heartbeat.settings()
    client = _client()
    if resume_id is not None:
        run = client.resume_run(
            validate_run_id(resume_id),
            experiment_id=explicit_experiment,
            run_name=run_name,
            tags={**user_tags, **owner_tags()},
            heartbeat_timeout_ms=timeout_ms,
        )
        if not run_id:
            os.environ.pop(RUN_ID_ENV, None)  # consumed, as in MLflow
    else:
        run = _create_run(
            client,
            stack,
            explicit_experiment,
            run_name,
            nested,
            parent_run_id,
            user_tags,
            timeout_ms,
        )
    active = ActiveRun(run, client)
    context.push(active)
    lifecycle.install()
    heartbeat.heartbeat.ensure_running()
    return active


def _parent_for_new_run(
    client: TrackingClient,
    stack: tuple[ActiveRun, ...],
    nested: bool,
    parent_run_id: str | None,
) -> str | None:
    """The parent of a new run: ``parent_run_id`` (which must be the innermost active run,
    if any, and must exist and not be deleted), else the innermost run when nested."""
    if parent_run_id is None:
        return stack[-1].run_id if nested and stack else None
    parent = validate_run_id(parent_run_id)
    if stack and stack[-1].run_id != parent:
        raise InvalidParameterError(
            f"parent_run_id {parent!r} is not the active run {stack[-1].run_id}; a "
            "nested run's parent must be the innermost active run."
        )
    # Checked here too (the store checks again when it creates the run), so that a bad
    # parent fails before MLFLOW_EXPERIMENT_NAME can create an experiment.
    if client.get_run(parent).info.lifecycle_stage != "active":
        raise InvalidStateError(
            f"Parent run {parent} is deleted; restore it with restore_run() before using it."
        )
    return parent


def _create_run(
    client: TrackingClient,
    stack: tuple[ActiveRun, ...],
    experiment_id: str | None,
    run_name: str | None,
    nested: bool,
    parent_run_id: str | None,
    user_tags: dict[str, str],
    timeout_ms: int,
) -> Run:
    parent = _parent_for_new_run(client, stack, nested, parent_run_id)
    all_tags = {**system_tags(), **user_tags}
    if parent is not None:
        all_tags[PARENT_TAG] = parent
    if run_name:
        all_tags[RUN_NAME_TAG] = run_name  # run_name wins over a tag, as in MLflow
    return client.create_run(
        experiment_choice.resolve_experiment_id(client, experiment_id),
        start_time=now_ms(),
        tags=all_tags,
        run_name=run_name,
        parent_run_id=parent,
        heartbeat_timeout_ms=timeout_ms,
    )


def end_active_run(run: ActiveRun, status: str) -> None:
    """Record the run's end in its store, then take it off the stack (not before: a failed
    write leaves it active)."""
    version_before = changes.version(run.run_id)
    run.take_end(run.client.set_terminated(run.run_id, status), version_before)
    if run in context.active_runs():
        context.remove(run)
        context.record_ended(run)
    else:
        context.open_runs.discard(run)


def end_run(status: str = "FINISHED") -> None:
    """End the innermost active run of this context; no-op when there is none."""
    checked = validate_status("FINISHED" if status is None else status)  # None: as MLflow
    stack = context.active_runs()
    if stack:
        end_active_run(stack[-1], checked)


def end_run_and_those_above(run: ActiveRun, status: str) -> None:
    """``ActiveRun.__exit__``: end the runs still open above ``run``, then ``run`` itself."""
    stack = context.active_runs()
    if run not in stack:
        return
    for inner in reversed(stack[stack.index(run) :]):
        end_active_run(inner, status)


def active_run() -> ActiveRun | None:
    """The innermost active run of this thread or task, or None."""
    stack = context.active_runs()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    """The active run; else the run this context ended last, read fresh; else None."""
    current = active_run()
    if current is not None:
        return current
    ended = context.last_ended()
    if ended is None:
        return None
    return TrackingClient(ended.tracking_uri).get_run(ended.run_id)


def get_run(run_id: str) -> Run:
    return _client().get_run(run_id)


def delete_run(run_id: str) -> None:
    _client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    _client().restore_run(run_id)


# Logging ------------------------------------------------------------------------------------


def _target(run_id: str | None = None) -> tuple[TrackingClient, str]:
    """The client and run to log to: ``run_id``, else the active run, else a new run."""
    if run_id is not None:
        return _client(), run_id
    current = active_run()
    if current is None:
        current = start_run()
        logger.warning(
            "runstack: no active run, so started run %s to log to; call start_run() first "
            "to choose its name and experiment.",
            current.run_id,
        )
    return current.client, current.run_id


def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    client, run_id = _target()
    return client.log_param(run_id, key, value, synchronous=synchronous)


def log_params(
    params: dict[str, Any], synchronous: bool | None = None, run_id: str | None = None
) -> RunOperations | None:
    client, target = _target(run_id)
    items = [Param(k, v) for k, v in as_str_dict(params, "params").items()]
    return client.log_batch(target, params=items, synchronous=synchronous)


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
) -> RunOperations | None:
    client, target = _target(run_id)
    return client.log_metric(target, key, value, timestamp, step, synchronous=synchronous)


def log_metrics(
    metrics: dict[str, float],
    step: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
) -> RunOperations | None:
    client, target = _target(run_id)
    values = as_str_dict(metrics, "metrics")
    return client.log_metric_values(target, values, timestamp, step, synchronous=synchronous)


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> RunOperations | None:
    client, run_id = _target()
    return client.set_tag(run_id, key, value, synchronous=synchronous)


def set_tags(tags: dict[str, Any], synchronous: bool | None = None) -> RunOperations | None:
    client, run_id = _target()
    items = [RunTag(k, v) for k, v in as_str_dict(tags, "tags").items()]
    return client.log_batch(run_id, tags=items, synchronous=synchronous)


def delete_tag(key: str) -> None:
    client, run_id = _target()
    client.delete_tag(run_id, key)


def _dataset_input(dataset: Any, context: Any, tags: dict[str, Any] | None) -> DatasetInput | None:
    """One checked input (the context becomes the tag ``mlflow.data.context``), or None when
    there is no dataset."""
    if dataset is None:
        if context or tags:
            raise InvalidParameterError(
                "A context or tags were given without a dataset; they describe how a dataset "
                "was used, so pass the dataset too."
            )
        return None
    pairs = [SimpleNamespace(key=k, value=v) for k, v in as_str_dict(tags, "tags").items()]
    if context:
        pairs.append(SimpleNamespace(key=CONTEXT_TAG, value=context))
    return check_dataset_input(SimpleNamespace(dataset=dataset, tags=pairs))


def log_input(
    dataset: Any = None,
    context: str | None = None,
    tags: dict[str, str] | None = None,
    model: Any = None,
) -> None:
    """Record a dataset the active run uses (a runstack ``Dataset`` or an MLflow dataset)."""
    refuse_model_inputs([model])
    item = _dataset_input(dataset, context, tags)
    client, run_id = _target()
    client.log_inputs(run_id, [] if item is None else [item])


def log_inputs(
    datasets: list[Any] | None = None,
    contexts: list[str | None] | None = None,
    tags_list: list[dict[str, str] | None] | None = None,
    models: list[Any] | None = None,
) -> None:
    """Record several datasets in one transaction; ``contexts`` and ``tags_list``, when given,
    pair with ``datasets`` by position (None entries mean none)."""
    refuse_model_inputs(models)
    given = list(datasets or [])
    context_list = [None] * len(given) if contexts is None else list(contexts)
    tag_dicts = [None] * len(given) if tags_list is None else list(tags_list)
    if not len(given) == len(context_list) == len(tag_dicts):
        raise InvalidParameterError(
            f"log_inputs got {len(given)} datasets, {len(context_list)} contexts and "
            f"{len(tag_dicts)} tags_list entries; give one of each per dataset (None for none)."
        )
    items = [
        item for item in map(_dataset_input, given, context_list, tag_dicts) if item is not None
    ]
    client, run_id = _target()
    client.log_inputs(run_id, items)


# Experiments --------------------------------------------------------------------------------


def set_experiment(
    experiment_name: str | None = None, experiment_id: str | int | None = None
) -> Experiment:
    """Make an experiment active for new runs (created by name if missing) and return it."""
    return experiment_choice.set_experiment(_client(), experiment_name, experiment_id)


def create_experiment(
    name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
) -> str:
    """Create an experiment and return its id; it does not become active."""
    return _client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str | int) -> Experiment:
    return _client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return _client().get_experiment_by_name(name)


def delete_experiment(experiment_id: str | int) -> None:
    _client().delete_experiment(experiment_id)


def restore_experiment(experiment_id: str | int) -> None:
    _client().restore_experiment(experiment_id)


def set_experiment_tag(key: str, value: Any) -> None:
    client = _client()
    client.set_experiment_tag(experiment_choice.resolve_experiment_id(client, None), key, value)


def set_experiment_tags(tags: dict[str, Any]) -> None:
    client = _client()
    experiment_id = experiment_choice.resolve_experiment_id(client, None)
    for key, value in as_str_dict(tags, "tags").items():
        client.set_experiment_tag(experiment_id, key, value)


def search_experiments(
    view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[Experiment]:
    """All matching experiments (or the first ``max_results``), fetching page by page."""
    client = _client()
    found: list[Experiment] = []
    token = None
    while max_results is None or len(found) < max_results:
        page_size = 1000 if max_results is None else min(1000, max_results - len(found))
        page = client.search_experiments(view_type, page_size, filter_string, order_by, token)
        found.extend(page)
        token = page.token
        if not token:
            break
    return found


def search_runs(
    experiment_ids: list[str] | None = None,
    filter_string: str = "",
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int = 100_000,
    order_by: list[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: list[str] | None = None,
) -> Any:
    """Runs as a list or a pandas DataFrame, fetching page by page."""
    from runstack.run_listing import collect_runs

    return collect_runs(
        _client(),
        experiment_ids,
        filter_string,
        run_view_type,
        max_results,
        order_by,
        output_format,
        search_all_experiments,
        experiment_names,
    )
