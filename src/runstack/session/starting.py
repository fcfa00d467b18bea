"""Starting runs: a new run or a resumed one, pushed on this context's stack, with the exit
hooks and the heartbeat installed; and the run a logging call without a run goes to.

Every check runs before the first write, so a start that raises created or changed nothing
and left the stack as it was.
"""

from __future__ import annotations

import logging
from typing import Any

from runstack import tracking_uri
from runstack.client import TrackingClient
from runstack.clock import now_ms
from runstack.entities import Run
from runstack.errors import InvalidParameterError, InvalidStateError, RunAlreadyActiveError
from runstack.session import exit_hooks, experiment_choice, heartbeat, stack
from runstack.session.active_run import ActiveRun
from runstack.settings import RUN_ID
from runstack.source_tags import owner_tags, system_tags
from runstack.tags import NOTE, PARENT_RUN_ID, RUN_NAME
from runstack.validation import (
    as_str_dict,
    validate_experiment_id,
    validate_run_id,
    validate_run_name,
    validate_tag,
)

logger = logging.getLogger("runstack")


def current_client() -> TrackingClient:
    """A client of the tracking URI in effect now."""
    return TrackingClient(tracking_uri.get_tracking_uri())


def _user_tags(tags_given: dict[str, Any] | None, description: str | None) -> dict[str, str]:
    checked = dict(validate_tag(k, v) for k, v in as_str_dict(tags_given, "tags").items())
    if description:
        if NOTE in checked:
            raise InvalidParameterError(
                f"The description is given twice: as description= and as the tag {NOTE!r}. "
                "Pass only one of them."
            )
        checked[NOTE] = validate_tag(NOTE, description)[1]
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
    and the active-run stack is as it was. (``runstack.start_run`` is this function.)
    """
    runs = stack.active_runs()
    if runs and not nested:
        top = runs[-1]
        raise RunAlreadyActiveError(
            f"Run {top.run_id} ({top.info.run_name!r}) is already active. End it with "
            "end_run() before starting another, or pass nested=True to start a child run."
        )
    if log_system_metrics:
        raise InvalidParameterError(
            "log_system_metrics=True is not supported by runstack; omit it or pass False."
        )
    explicit_experiment = None if experiment_id is None else validate_experiment_id(experiment_id)
    resume_id = run_id or RUN_ID.read()
    user_tags = _user_tags(tags, description)
    if run_name is not None:  # before MLFLOW_EXPERIMENT_NAME may create an experiment
        validate_run_name(run_name)
    _, timeout_ms = heartbeat.settings()
    client = current_client()
    if resume_id is not None:
        run = client.resume_run(
            validate_run_id(resume_id),
            experiment_id=explicit_experiment,
            run_name=run_name,
            tags={**user_tags, **owner_tags()},
            heartbeat_timeout_ms=timeout_ms,
        )
        if not run_id:
            RUN_ID.unset()  # consumed, as in MLflow
    else:
        run = _create_run(
            client,
            runs,
            explicit_experiment,
            run_name,
            nested,
            parent_run_id,
            user_tags,
            timeout_ms,
        )
    active = ActiveRun(run, client)
    stack.push(active)
    exit_hooks.install()
    heartbeat.heartbeat.ensure_running()
    return active


def _parent_for_new_run(
    client: TrackingClient,
    runs: tuple[ActiveRun, ...],
    nested: bool,
    parent_run_id: str | None,
) -> str | None:
    """The parent of a new run: ``parent_run_id`` (which must be the innermost active run,
    if any, and must exist and not be deleted), else the innermost run when nested."""
    if parent_run_id is None:
        return runs[-1].run_id if nested and runs else None
    parent = validate_run_id(parent_run_id)
    if runs and runs[-1].run_id != parent:
        raise InvalidParameterError(
            f"parent_run_id {parent!r} is not the active run {runs[-1].run_id}; a "
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
    runs: tuple[ActiveRun, ...],
    experiment_id: str | None,
    run_name: str | None,
    nested: bool,
    parent_run_id: str | None,
    user_tags: dict[str, str],
    timeout_ms: int,
) -> Run:
    parent = _parent_for_new_run(client, runs, nested, parent_run_id)
    all_tags = {**system_tags(), **user_tags}
    if parent is not None:
        all_tags[PARENT_RUN_ID] = parent
    if run_name:
        all_tags[RUN_NAME] = run_name  # run_name wins over a tag, as in MLflow
    return client.create_run(
        experiment_choice.resolve_experiment_id(client, experiment_id),
        start_time=now_ms(),
        tags=all_tags,
        run_name=run_name,
        parent_run_id=parent,
        heartbeat_timeout_ms=timeout_ms,
    )


def logging_target(run_id: str | None = None) -> tuple[TrackingClient, str]:
    """The client and run a logging call writes to: ``run_id``, else the active run, else a
    new run (started with a warning saying so)."""
    if run_id is not None:
        return current_client(), run_id
    current = stack.innermost()
    if current is None:
        current = start_run()
        logger.warning(
            "runstack: no active run, so started run %s to log to; call start_run() first "
            "to choose its name and experiment.",
            current.run_id,
        )
    return current.client, current.run_id
