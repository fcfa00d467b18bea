"""``TrackingClient`` (also ``MlflowClient``): every operation, addressed by explicit ids.

The client validates and converts arguments, then makes exactly one store call, so a call
that fails validation never reaches the database and a call that fails in the database
changes nothing. The fluent functions (``runstack.fluent``, through the run session in
``runstack.session``) are thin wrappers over it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from runstack import async_logging, run_creation, run_versions
from runstack.artifacts.client_methods import ArtifactMethods
from runstack.artifacts.locations import check_artifact_location
from runstack.entities import (
    Experiment,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunTag,
    ViewType,
)
from runstack.errors import InvalidParameterError
from runstack.input_validation import check_dataset_inputs, refuse_model_inputs
from runstack.metric_columns import make_metric, make_metrics
from runstack.store import Store, get_store
from runstack.tracking_uri import get_tracking_uri, normalise_uri
from runstack.validation import (
    as_str_dict,
    preview,
    validate_batch_params,
    validate_experiment_id,
    validate_experiment_name,
    validate_experiment_tag,
    validate_key,
    validate_param,
    validate_run_id,
    validate_run_name,
    validate_status,
    validate_tag,
    validate_timestamp,
)


def _view_type(value: object) -> ViewType:
    try:
        if isinstance(value, str):
            return ViewType.from_string(value)
        return ViewType(int(value))  # type: ignore[call-overload]
    except (KeyError, ValueError):
        raise InvalidParameterError(
            f"Invalid view type {preview(value)}: use ViewType.ACTIVE_ONLY, DELETED_ONLY or ALL."
        ) from None


class TrackingClient(ArtifactMethods):
    """A client of one tracking store (the current tracking URI unless given); its artifact
    methods (``log_artifact``, ``list_artifacts``, ...) come from ``ArtifactMethods``."""

    def __init__(self, tracking_uri: str | None = None) -> None:
        self.tracking_uri = normalise_uri(tracking_uri) if tracking_uri else get_tracking_uri()
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = get_store(self.tracking_uri)
        return self._store

    # Experiments ---------------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: dict[str, Any] | None = None,
    ) -> str:
        """Create an experiment and return its id; it does not become the active one."""
        validate_experiment_name(name)
        location = check_artifact_location(artifact_location)
        checked = [validate_experiment_tag(k, v) for k, v in as_str_dict(tags, "tags").items()]
        return self.store.create_experiment(name, location, checked)

    def get_experiment(self, experiment_id: str | int) -> Experiment:
        return self.store.get_experiment(validate_experiment_id(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self.store.get_experiment_by_name(validate_experiment_name(name))

    def delete_experiment(self, experiment_id: str | int) -> None:
        self.store.delete_experiment(validate_experiment_id(experiment_id))

    def restore_experiment(self, experiment_id: str | int) -> None:
        self.store.restore_experiment(validate_experiment_id(experiment_id))

    def rename_experiment(self, experiment_id: str | int, new_name: str) -> None:
        self.store.rename_experiment(
            validate_experiment_id(experiment_id), validate_experiment_name(new_name)
        )

    def set_experiment_tag(self, experiment_id: str | int, key: str, value: Any) -> None:
        checked_key, checked_value = validate_experiment_tag(key, value)
        self.store.set_experiment_tag(
            validate_experiment_id(experiment_id), checked_key, checked_value
        )

    def delete_experiment_tag(self, experiment_id: str | int, key: str) -> None:
        self.store.delete_experiment_tag(
            validate_experiment_id(experiment_id), validate_key(key, "Experiment tag")
        )

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        return self.store.search_experiments(
            _view_type(view_type), max_results, filter_string, order_by, page_token
        )

    # Runs ----------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str | int,
        start_time: int | None = None,
        tags: dict[str, Any] | None = None,
        run_name: str | None = None,
        *,
        parent_run_id: str | None = None,
        heartbeat_timeout_ms: int | None = None,
    ) -> Run:
        """Create a RUNNING run. Tags are validated and converted to strings first; the
        rules for its name, parent and start time are ``runstack.run_creation``'s (the
        server's too).

        ``parent_run_id`` (or the tag ``mlflow.parentRunId``) links the run as a child of an
        existing, active run; ``heartbeat_timeout_ms`` promises heartbeats (see
        ``renew_heartbeats``) and makes the run reapable if they stop.
        """
        run = run_creation.create_run(
            self.store,
            experiment_id,
            start_time,
            as_str_dict(tags, "tags").items(),
            run_name,
            None,
            parent_run_id,
            heartbeat_timeout_ms,
        )
        run_versions.bump(run.info.run_id)
        return run

    def resume_run(
        self,
        run_id: str,
        *,
        experiment_id: str | int | None = None,
        run_name: str | None = None,
        tags: dict[str, Any] | None = None,
        heartbeat_timeout_ms: int | None = None,
    ) -> Run:
        """Set a run RUNNING again (clearing its end time), renamed and tagged, atomically."""
        validate_run_id(run_id)
        expected = None if experiment_id is None else validate_experiment_id(experiment_id)
        checked = [validate_tag(k, v) for k, v in as_str_dict(tags, "tags").items()]
        name = None if run_name is None else validate_run_name(run_name)
        run = self.store.resume_run(run_id, expected, name, checked, heartbeat_timeout_ms)
        run_versions.bump(run_id)
        return run

    def get_run(self, run_id: str) -> Run:
        return self.store.get_run(validate_run_id(run_id))

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        checked_status = None if status is None else validate_status(status)
        checked_name = None if name is None else validate_run_name(name)
        self.store.update_run(validate_run_id(run_id), checked_status, None, checked_name)
        run_versions.bump(run_id)

    def set_terminated(
        self, run_id: str, status: str | None = None, end_time: int | None = None
    ) -> RunInfo:
        """End a run (FINISHED unless told). A RUNNING or SCHEDULED status clears end_time."""
        checked_status = validate_status("FINISHED" if status is None else status)
        checked_end = None if not end_time else validate_timestamp(end_time, "end_time")
        async_logging.flush()
        info = self.store.update_run(validate_run_id(run_id), checked_status, checked_end, None)
        run_versions.bump(run_id)
        return info

    def delete_run(self, run_id: str) -> None:
        self.store.delete_run(validate_run_id(run_id))
        run_versions.bump(run_id)

    def restore_run(self, run_id: str) -> None:
        self.store.restore_run(validate_run_id(run_id))
        run_versions.bump(run_id)

    def renew_heartbeats(self, run_ids: Sequence[str], timeout_ms: int) -> None:
        self.store.renew_heartbeats(list(run_ids), timeout_ms)

    # Logging -------------------------------------------------------------------------------

    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        """Log one param (stored as ``str(value)``); returns ``value``."""
        self._log(run_id, [], [validate_param(key, value)], [], synchronous)
        return value

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
        synchronous: bool | None = None,
    ) -> async_logging.RunOperations | None:
        return self._log(run_id, [make_metric(key, value, timestamp, step)], [], [], synchronous)

    def set_tag(
        self, run_id: str, key: str, value: Any, synchronous: bool | None = None
    ) -> async_logging.RunOperations | None:
        return self._log(run_id, [], [], [validate_tag(key, value)], synchronous)

    def delete_tag(self, run_id: str, key: str) -> None:
        self.store.delete_tag(validate_run_id(run_id), validate_key(key, "Tag"))
        run_versions.bump(run_id)

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[Metric] = (),
        params: Iterable[Param] = (),
        tags: Iterable[RunTag] = (),
        synchronous: bool | None = None,
    ) -> async_logging.RunOperations | None:
        """Log all of it in one transaction: everything is stored, or nothing."""
        checked_metrics = [make_metric(m.key, m.value, m.timestamp, m.step) for m in metrics]
        checked_params = validate_batch_params((p.key, p.value) for p in params)
        checked_tags = [validate_tag(t.key, t.value) for t in tags]
        return self._log(run_id, checked_metrics, checked_params, checked_tags, synchronous)

    def log_metric_values(
        self,
        run_id: str,
        values: Mapping[Any, object],
        timestamp: int | None = None,
        step: int | None = None,
        synchronous: bool | None = None,
    ) -> async_logging.RunOperations | None:
        """Log a dict of metric values at one step and time, in one transaction (what
        ``runstack.log_metrics`` does; validated in one pass, no Metric objects needed)."""
        return self._log(run_id, make_metrics(values, timestamp, step), (), (), synchronous)

    def _log(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        params: Sequence[tuple[str, str]],
        tags: Sequence[tuple[str, str]],
        synchronous: bool | None,
    ) -> async_logging.RunOperations | None:
        validate_run_id(run_id)
        if synchronous is False or (synchronous is None and async_logging.enabled_by_default()):
            return async_logging.submit(self, run_id, metrics, params, tags)
        self.write_batch_now(run_id, metrics, params, tags)
        return None

    def write_batch_now(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        params: Sequence[tuple[str, str]],
        tags: Sequence[tuple[str, str]],
    ) -> None:
        """The synchronous write behind ``_log`` (used by the async logging worker)."""
        self.store.log_batch(run_id, metrics, params, tags)
        run_versions.bump(run_id)

    def log_inputs(
        self,
        run_id: str,
        datasets: Sequence[Any] | None = None,
        models: Sequence[Any] | None = None,
    ) -> None:
        """Record the datasets a run used, all or nothing. ``datasets`` holds ``DatasetInput``s
        (runstack's or MLflow's) or bare datasets; any logged-model input is refused."""
        validate_run_id(run_id)
        refuse_model_inputs(models)
        checked = check_dataset_inputs(datasets)
        self.store.log_inputs(run_id, checked)
        run_versions.bump(run_id)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every value logged for ``key``, in logging order ([] for an unknown key)."""
        return self.store.get_metric_history(validate_run_id(run_id), validate_key(key, "Metric"))

    def search_runs(
        self,
        experiment_ids: list[str] | str,
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        ids = [experiment_ids] if isinstance(experiment_ids, (str, int)) else experiment_ids
        checked = [validate_experiment_id(e) for e in ids]
        return self.store.search_runs(
            checked, filter_string, _view_type(run_view_type), max_results, order_by, page_token
        )


MlflowClient = TrackingClient
