"""The module-level API (``runstack.start_run`` and friends), as in MLflow.

Each function delegates: runs are started, ended and looked up by the run session
(``runstack.session``), everything else is one ``TrackingClient`` call. No storage code and no
session state live here. A run on the stack stays bound to the store it was started in, so
changing the tracking URI mid-run never strands it.
"""

from __future__ import annotations

from typing import Any

from runstack import tracking_uri
from runstack.async_logging import RunOperations
from runstack.async_logging import flush as flush_async_logging
from runstack.entities import Experiment, Param, Run, RunTag, ViewType
from runstack.input_validation import (
    input_with_context,
    inputs_with_contexts,
    refuse_model_inputs,
)
from runstack.session import ending, experiment_choice, listing, stack, starting
from runstack.session.active_run import ActiveRun
from runstack.session.starting import current_client as _client
from runstack.session.starting import logging_target as _target
from runstack.tags import PARENT_RUN_ID
from runstack.validation import as_str_dict, validate_status

set_tracking_uri = tracking_uri.set_tracking_uri
get_tracking_uri = tracking_uri.get_tracking_uri
is_tracking_uri_set = tracking_uri.is_tracking_uri_set

__all__ = ["flush_async_logging"]


# Runs: start, end, look up -------------------------------------------------------------------


start_run = starting.start_run


def end_run(status: str = "FINISHED") -> None:
    """End the innermost active run of this context; no-op when there is none."""
    checked = validate_status("FINISHED" if status is None else status)  # None: as MLflow
    ending.end_innermost(checked)


def active_run() -> ActiveRun | None:
    """The innermost active run of this thread or task, or None."""
    return stack.innermost()


def last_active_run() -> Run | None:
    """The active run; else the run this context ended last, read fresh; else None."""
    return ending.last_active_run()


def get_run(run_id: str) -> Run:
    return _client().get_run(run_id)


def get_parent_run(run_id: str) -> Run | None:
    """The parent of a nested run (from its ``mlflow.parentRunId`` tag), or None."""
    client = _client()
    parent_id = client.get_run(run_id).data.tags.get(PARENT_RUN_ID)
    return None if parent_id is None else client.get_run(parent_id)


def delete_run(run_id: str) -> None:
    _client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    _client().restore_run(run_id)


# Logging ------------------------------------------------------------------------------------


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


def log_input(
    dataset: Any = None,
    context: str | None = None,
    tags: dict[str, str] | None = None,
    model: Any = None,
) -> None:
    """Record a dataset the active run uses (a runstack ``Dataset`` or an MLflow dataset)."""
    refuse_model_inputs([model])
    item = input_with_context(dataset, context, tags)
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
    items = inputs_with_contexts(datasets, contexts, tags_list)
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


def delete_experiment_tag(key: str) -> None:
    """Remove a tag from the current experiment (the one ``set_experiment_tag`` writes to)."""
    client = _client()
    client.delete_experiment_tag(experiment_choice.resolve_experiment_id(client, None), key)


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
    return listing.collect_experiments(_client(), view_type, max_results, filter_string, order_by)


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
    return listing.collect_runs(
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
