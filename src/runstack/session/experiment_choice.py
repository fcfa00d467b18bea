"""Which experiment a new run goes to, and ``set_experiment``.

Precedence (first that applies): the ``experiment_id`` argument; the experiment chosen with
``set_experiment`` in this process (for the current tracking URI); ``MLFLOW_EXPERIMENT_NAME``
(created if missing); ``MLFLOW_EXPERIMENT_ID`` (must exist); the default experiment "0".
When both variables are set they must name the same experiment.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from runstack.client import TrackingClient
from runstack.entities import DEFAULT_EXPERIMENT_ID, Experiment, LifecycleStage
from runstack.errors import (
    InvalidParameterError,
    InvalidStateError,
    ResourceAlreadyExistsError,
    ResourceNotFoundError,
)
from runstack.settings import EXPERIMENT_ID, EXPERIMENT_NAME
from runstack.validation import validate_experiment_id

logger = logging.getLogger(__name__)


class ActiveExperiment(NamedTuple):
    tracking_uri: str
    experiment_id: str


class _ExperimentChoice:
    """The experiment chosen by ``set_experiment``: process-wide, as in MLflow, but bound to
    the tracking URI it was chosen in, so switching stores never reuses a foreign id."""

    def __init__(self) -> None:
        self.value: ActiveExperiment | None = None

    def get(self, tracking_uri: str) -> str | None:
        value = self.value
        return value.experiment_id if value and value.tracking_uri == tracking_uri else None


active_experiment = _ExperimentChoice()


def reset() -> None:
    """Forget the experiment chosen with ``set_experiment`` (for tests; the environment
    variables it set are left alone)."""
    active_experiment.value = None


def get_or_create_by_name(client: TrackingClient, name: str) -> Experiment:
    """The experiment with this name, created if missing (safe against concurrent creators)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found
    try:
        client.create_experiment(name)
        logger.info("runstack: created experiment %r", name)
    except ResourceAlreadyExistsError:
        pass  # another process created it a moment ago
    found = client.get_experiment_by_name(name)
    if found is None:  # pragma: no cover - the name was just created or found taken
        raise ResourceNotFoundError(f"Experiment {name!r} vanished while being created.")
    return found


def _from_environment(client: TrackingClient) -> str | None:
    name = EXPERIMENT_NAME.read()
    raw_id = EXPERIMENT_ID.read()
    if name is not None:
        found = client.get_experiment_by_name(name)
        if raw_id is not None:
            wanted = validate_experiment_id(raw_id)
            if found is None or found.experiment_id != wanted:
                actual = "does not exist" if found is None else f"has id {found.experiment_id}"
                raise InvalidParameterError(
                    f"{EXPERIMENT_NAME.name}={name!r} and {EXPERIMENT_ID.name}={raw_id!r} "
                    f"disagree: that experiment {actual}. Unset one of them, or make them name "
                    "the same experiment."
                )
        if found is None:
            found = get_or_create_by_name(client, name)
        return found.experiment_id
    if raw_id is not None:
        try:
            experiment_id = validate_experiment_id(raw_id)
            return client.get_experiment(experiment_id).experiment_id
        except (InvalidParameterError, ResourceNotFoundError):
            raise InvalidParameterError(
                f"{EXPERIMENT_ID.name}={raw_id!r} does not name an existing experiment in "
                f"{client.tracking_uri}; set it to an existing id or unset it."
            ) from None
    return None


def resolve_experiment_id(client: TrackingClient, explicit: str | int | None) -> str:
    """The experiment id a new run (or a search without ids) uses."""
    if explicit is not None:
        return validate_experiment_id(explicit)
    chosen = active_experiment.get(client.tracking_uri)
    if chosen is not None:
        return chosen
    return _from_environment(client) or DEFAULT_EXPERIMENT_ID


def set_experiment(
    client: TrackingClient, experiment_name: str | None, experiment_id: str | int | None
) -> Experiment:
    """Make an experiment the active one for this process and its child processes."""
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidParameterError(
            "set_experiment() needs exactly one of experiment_name or experiment_id."
        )
    if experiment_name is not None:
        experiment = get_or_create_by_name(client, experiment_name)
    else:
        experiment = client.get_experiment(experiment_id)  # type: ignore[arg-type]
    if experiment.lifecycle_stage == LifecycleStage.DELETED:
        raise InvalidStateError(
            f"Experiment {experiment.name!r} (id {experiment.experiment_id}) is deleted and "
            "cannot be made active. Restore it with restore_experiment("
            f"{experiment.experiment_id!r}), or remove it for good with `runstack gc` to "
            "reuse the name."
        )
    active_experiment.value = ActiveExperiment(client.tracking_uri, experiment.experiment_id)
    # Both, so a child process never sees a name and an id that disagree.
    EXPERIMENT_ID.export(experiment.experiment_id)
    EXPERIMENT_NAME.export(experiment.name)
    return experiment
