"""runstack: an experiment tracker with MLflow's run-management API.

``import runstack as mlflow`` runs existing MLflow run-management and logging code. Runs end
with the status that says how they ended, even after a crash, and the embedded SQLite store
(``./runstack.db``) needs no set-up.

This module imports no database, web or CLI library: the store is opened on first use.
"""

from __future__ import annotations

from runstack.active_run import ActiveRun
from runstack.client import MlflowClient, TrackingClient
from runstack.entities import (
    Experiment,
    ExperimentTag,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from runstack.errors import (
    InvalidParameterError,
    InvalidStateError,
    MlflowException,
    ResourceAlreadyExistsError,
    ResourceNotFoundError,
    RunAlreadyActiveError,
    RunstackError,
    StoreUnavailableError,
)
from runstack.fluent import (
    active_run,
    create_experiment,
    delete_experiment,
    delete_run,
    delete_tag,
    end_run,
    flush_async_logging,
    get_experiment,
    get_experiment_by_name,
    get_run,
    get_tracking_uri,
    last_active_run,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    restore_experiment,
    restore_run,
    search_experiments,
    search_runs,
    set_experiment,
    set_experiment_tag,
    set_experiment_tags,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "ActiveRun",
    "Experiment",
    "ExperimentTag",
    "InvalidParameterError",
    "InvalidStateError",
    "LifecycleStage",
    "Metric",
    "MlflowClient",
    "MlflowException",
    "Param",
    "ResourceAlreadyExistsError",
    "ResourceNotFoundError",
    "Run",
    "RunAlreadyActiveError",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "RunstackError",
    "StoreUnavailableError",
    "TrackingClient",
    "ViewType",
    "__version__",
    "active_run",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "flush_async_logging",
    "get_experiment",
    "get_experiment_by_name",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "restore_experiment",
    "restore_run",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
