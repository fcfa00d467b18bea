"""Deleting the artifacts of runs removed for good (``runstack gc``), counting the bytes freed.

``mlflow-artifacts:`` URIs name files a tracking server keeps under its artifacts
destination; they are deleted there when ``destination`` is given, and otherwise refused
(the caller then keeps the run, so that no artifact is orphaned).
"""

from __future__ import annotations

import contextlib
import os
from urllib.parse import urlsplit

from runstack.artifacts.local import LocalArtifactRepository
from runstack.artifacts.locations import append_path
from runstack.artifacts.registry import repository_for, scheme_of
from runstack.artifacts.repository import ArtifactRepository
from runstack.errors import InvalidParameterError


def resolve(artifact_uri: str, destination: str | None) -> str:
    """The storage URI behind ``artifact_uri`` (``mlflow-artifacts:`` mapped onto
    ``destination``)."""
    if scheme_of(artifact_uri) != "mlflow-artifacts":
        return artifact_uri
    if destination is None:
        raise InvalidParameterError(
            f"Artifact URI {artifact_uri!r} is served by a tracking server; give its "
            "--artifacts-destination to delete it."
        )
    return append_path(destination.rstrip("/"), urlsplit(artifact_uri).path.lstrip("/"))


def tree_size(repository: ArtifactRepository, path: str = "") -> int:
    """Bytes under ``path``, by listing (for repositories without a faster way)."""
    total = 0
    for info in repository.list(path):
        total += tree_size(repository, info.path) if info.is_dir else info.file_size or 0
    return total


def delete_run_artifacts(run_id: str, artifact_uri: str, destination: str | None = None) -> int:
    """Delete everything under a run's artifact URI; return the bytes it held."""
    repository = repository_for(resolve(artifact_uri, destination))
    if isinstance(repository, LocalArtifactRepository):
        freed = repository.size()
        repository.delete()
        # <location>/<run_id>/artifacts: the run's own folder goes too, when nothing else
        # is in it.
        if repository.root.name == "artifacts" and repository.root.parent.name == run_id:
            with contextlib.suppress(OSError):
                os.rmdir(repository.root.parent)
        return freed
    freed = tree_size(repository)
    repository.delete()
    return freed


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
