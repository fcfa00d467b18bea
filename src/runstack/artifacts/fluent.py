"""The module-level artifact functions (``runstack.log_artifact`` and friends), as in MLflow.

Each logs to ``run_id`` when given, else to the active run (starting one, with a warning,
when none is active, like the other logging functions); the work is the client's.
"""

from __future__ import annotations

from typing import Any

from runstack.artifacts.locations import append_path
from runstack.session.experiment_choice import resolve_experiment_id
from runstack.session.starting import current_client, logging_target


def log_artifact(
    local_path: str, artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Copy a local file or folder into the run's artifacts (under ``artifact_path``)."""
    client, target = logging_target(run_id)
    client.log_artifact(target, local_path, artifact_path)


def log_artifacts(
    local_dir: str, artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Copy the contents of a local folder into the run's artifacts (under ``artifact_path``)."""
    client, target = logging_target(run_id)
    client.log_artifacts(target, local_dir, artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    """Write ``text`` as the artifact ``artifact_file``."""
    client, target = logging_target(run_id)
    client.log_text(target, text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Write ``dictionary`` as YAML (.yml/.yaml) or JSON (any other name)."""
    client, target = logging_target(run_id)
    client.log_dict(target, dictionary, artifact_file)


def log_figure(
    figure: Any,
    artifact_file: str,
    *,
    save_kwargs: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> None:
    """Save a matplotlib or plotly figure as the artifact ``artifact_file``."""
    client, target = logging_target(run_id)
    client.log_figure(target, figure, artifact_file, save_kwargs=save_kwargs)


def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
) -> None:
    """Save a numpy array or PIL image as the artifact ``artifact_file``."""
    client, target = logging_target(run_id)
    client.log_image(target, image, artifact_file, key, step, timestamp, synchronous)


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Write a dict or DataFrame as a table artifact (appending to an existing one)."""
    client, target = logging_target(run_id)
    client.log_table(target, data, artifact_file)


def load_table(
    artifact_file: str, run_ids: list[str] | None = None, extra_columns: list[str] | None = None
) -> Any:
    """The table ``artifact_file`` of the current experiment's runs (or of ``run_ids``) as
    one pandas DataFrame; see ``TrackingClient.load_table``."""
    client = current_client()
    experiment_id = resolve_experiment_id(client, None)
    return client.load_table(experiment_id, artifact_file, run_ids, extra_columns)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The active run's artifact URI, or that of ``artifact_path`` inside it."""
    client, target = logging_target(None)
    return append_path(client.get_run(target).info.artifact_uri, artifact_path)
