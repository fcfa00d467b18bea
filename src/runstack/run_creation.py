"""The rules for a new run, applied alike by ``TrackingClient.create_run`` and by the server's
``runs/create`` (MLflow's and runstack's), so a run is the same whichever way it is created.

- Tags are validated first; a key given twice keeps its last value.
- The name is ``run_name``, else the ``mlflow.runName`` tag, else a generated one; a
  ``run_name`` that differs from the tag is an error, and the tag always ends up equal to it.
- The parent is ``parent_run_id``, else the ``mlflow.parentRunId`` tag; the store checks that
  it exists and is active, and the tag names it.
- No start time (or 0, protobuf's default) means now.
- The user is the caller's (the server's request field), else the ``mlflow.user`` tag.

Everything is checked before the one store call, so a refused run writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from runstack.clock import now_ms
from runstack.entities import Run
from runstack.errors import InvalidParameterError
from runstack.store.base import Store
from runstack.tags import PARENT_RUN_ID, RUN_NAME, USER
from runstack.validation import (
    validate_experiment_id,
    validate_run_id,
    validate_run_name,
    validate_tag,
    validate_timestamp,
)


def create_run(
    store: Store,
    experiment_id: object,
    start_time: object,
    tags: Iterable[tuple[object, object]],
    run_name: str | None,
    user_id: str | None,
    parent_run_id: str | None,
    heartbeat_timeout_ms: int | None,
) -> Run:
    """Check everything, then create the RUNNING run in one store call. ``user_id`` None
    means the ``mlflow.user`` tag, else "unknown"."""
    checked_experiment = validate_experiment_id(experiment_id)
    checked = dict(validate_tag(k, v) for k, v in tags)
    tag_name = checked.get(RUN_NAME) or None
    if run_name and tag_name and run_name != tag_name:
        raise InvalidParameterError(
            f"run_name {run_name!r} differs from the {RUN_NAME} tag {tag_name!r}; give the "
            "name once."
        )
    name = run_name or tag_name
    if name:
        validate_run_name(name)
    else:
        from runstack.run_names import generate_run_name  # only when no name is given

        name = generate_run_name()
    parent = parent_run_id or checked.get(PARENT_RUN_ID) or None
    if parent is not None:
        parent = checked[PARENT_RUN_ID] = validate_run_id(parent)
    start = now_ms() if not start_time else validate_timestamp(start_time, "start_time")
    return store.create_run(
        checked_experiment,
        checked.get(USER, "unknown") if user_id is None else user_id,
        start,
        name,
        list(checked.items()),
        parent,
        heartbeat_timeout_ms,
    )
