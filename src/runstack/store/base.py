"""The storage interface every backend implements: ``runstack.store.sql`` (SQLite and
PostgreSQL) and ``runstack.store.rest`` (a tracking server over HTTP).

The client (``runstack.client``) validates arguments and calls exactly one store method per
operation; each method is one transaction, so a failed call changes nothing (against an
MLflow server, which has no such endpoints, the REST store documents where it cannot be).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from runstack.entities import DatasetInput, Experiment, Metric, PagedList, Run, RunInfo, ViewType
from runstack.store.ui_types import (
    ExperimentActivity,
    KeyKind,
    MetricSeries,
    RunTablePage,
    RunTableQuery,
)


class Store(Protocol):
    """A tracking store. Ids are strings; times are integer milliseconds."""

    uri: str

    # Experiments ---------------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None, tags: Sequence[tuple[str, str]]
    ) -> str: ...

    def get_experiment(self, experiment_id: str) -> Experiment: ...

    def get_experiment_by_name(self, name: str) -> Experiment | None: ...

    def delete_experiment(self, experiment_id: str) -> None: ...

    def restore_experiment(self, experiment_id: str) -> None: ...

    def rename_experiment(self, experiment_id: str, new_name: str) -> None: ...

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None: ...

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None: ...

    def search_experiments(
        self,
        view_type: ViewType,
        max_results: int,
        filter_string: str | None,
        order_by: Sequence[str] | None,
        page_token: str | None,
    ) -> PagedList: ...

    # Runs ----------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        run_name: str,
        tags: Sequence[tuple[str, str]],
        parent_run_id: str | None,
        heartbeat_timeout_ms: int | None,
    ) -> Run:
        """Create a RUNNING run. Checks, in the same transaction: the experiment exists and is
        active, and the parent (if any) exists and is not deleted. A heartbeat timeout makes
        the run reapable when its heartbeats stop; None means it is never reaped."""
        ...

    def resume_run(
        self,
        run_id: str,
        expected_experiment_id: str | None,
        run_name: str | None,
        tags: Sequence[tuple[str, str]],
        heartbeat_timeout_ms: int | None,
    ) -> Run:
        """Set an existing, non-deleted run RUNNING again with no end time, in one transaction."""
        ...

    def get_run(self, run_id: str) -> Run: ...

    def update_run(
        self,
        run_id: str,
        status: str | None,
        end_time: int | None,
        run_name: str | None,
    ) -> RunInfo:
        """Change status/end time/name. RUNNING and SCHEDULED always clear the end time and
        the heartbeat lease (the caller no longer owns the run)."""
        ...

    def delete_run(self, run_id: str) -> None: ...

    def restore_run(self, run_id: str) -> None: ...

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        params: Sequence[tuple[str, str]],
        tags: Sequence[tuple[str, str]],
    ) -> None:
        """Write all of it in one transaction, or nothing."""
        ...

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        """Record checked dataset inputs of an existing, non-deleted run in one transaction:
        a dataset is reused by (name, digest) within the run's experiment, the first of
        duplicates in the call wins, and an input the run already has is kept as it is."""
        ...

    def delete_tag(self, run_id: str, key: str) -> None: ...

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]: ...

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None,
        view_type: ViewType,
        max_results: int,
        order_by: Sequence[str] | None,
        page_token: str | None,
    ) -> PagedList: ...

    def renew_heartbeats(self, run_ids: Sequence[str], timeout_ms: int) -> None:
        """Extend the liveness lease of these RUNNING runs."""
        ...

    # Web UI reads (runstack.store.ui_types; the SQL store only) ----------------------------
    def experiment_activity(self, experiment_ids: Sequence[str]) -> dict[str, ExperimentActivity]:
        """Runs per status (active ones; all of a deleted experiment) and their last start,
        end or heartbeat, per experiment."""
        ...

    def experiment_keys(
        self, experiment_ids: Sequence[str], kind: KeyKind, contains: str, max_results: int
    ) -> tuple[list[str], bool]:
        """Sorted distinct metric, param or tag keys of the experiments' runs containing
        ``contains`` (case-insensitive), and whether more than ``max_results`` matched."""
        ...

    def runs_table(self, query: RunTableQuery) -> RunTablePage:
        """One page of runs with only the requested columns (see ``RunTableQuery``)."""
        ...

    def metric_value_ranges(self, run_id: str) -> dict[str, tuple[float | None, float | None, int]]:
        """Per metric key of a run: (min, max, count) over its whole history, NaN ignored."""
        ...

    def metric_series(
        self,
        run_ids: Sequence[str],
        key: str,
        max_points: int,
        min_step: int | None,
        max_step: int | None,
    ) -> list[MetricSeries]:
        """Each run's points of ``key`` in the step range, in step order, reduced to each
        bucket's first, last, lowest and highest point when over ``max_points``."""
        ...

    def reap_dead_runs(self) -> list[str]:
        """Mark KILLED every RUNNING run whose heartbeat lease has expired (its last heartbeat
        as end time, a ``runstack.killedReason`` tag) and return their ids. Reads reap what
        they read anyway; this is for sweeping (the server's reaper). A store that does not
        own the database (the REST store) reaps nothing and returns []: the server behind
        it sweeps its own."""
        ...

    def close(self) -> None: ...
