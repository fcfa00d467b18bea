"""``runstack.artifacts``' functions (MLflow's ``mlflow.artifacts``): download, list, load.

Artifacts are addressed either by ``run_id`` (+ ``artifact_path``) or by one URI:
``runs:/<run_id>/<path>``, or a location URI such as ``/abs/mlruns/1/<run>/artifacts/f.txt``,
``file:///...``, ``s3://bucket/key`` or ``mlflow-artifacts:/...``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runstack.artifacts import encoders
from runstack.artifacts.client_methods import fetch, split_uri_path
from runstack.artifacts.optional import require
from runstack.artifacts.paths import safe_relative_path
from runstack.artifacts.registry import repository_for
from runstack.artifacts.repository import ArtifactRepository
from runstack.entities import FileInfo
from runstack.errors import InvalidParameterError


def _client(tracking_uri: str | None) -> Any:
    from runstack.client import TrackingClient

    return TrackingClient(tracking_uri)


def _parse_runs_uri(uri: str) -> tuple[str, str]:
    """(run_id, path) of ``runs:/<run_id>/<path>``."""
    parts = urlsplit(uri)
    segments = (parts.netloc + parts.path).strip("/").split("/", 1)
    if not segments[0]:
        raise InvalidParameterError(
            f"Invalid artifact URI {uri!r}: expected runs:/<run_id>/<path>."
        )
    return segments[0], safe_relative_path(segments[1] if len(segments) > 1 else "")


def _locate(
    artifact_uri: str | None,
    run_id: str | None,
    artifact_path: str | None,
    tracking_uri: str | None,
) -> tuple[ArtifactRepository, str]:
    """The repository and the relative path an MLflow-style address names."""
    if (artifact_uri is None) == (run_id is None):
        raise InvalidParameterError("Give exactly one of artifact_uri= and run_id=.")
    if artifact_uri is not None and artifact_path is not None:
        raise InvalidParameterError(
            "artifact_path= can only be given with run_id=, not with artifact_uri=."
        )
    if artifact_uri is not None and artifact_uri.startswith("runs:"):
        run_id, artifact_path = _parse_runs_uri(artifact_uri)
    if run_id is not None:
        client = _client(tracking_uri)
        return client.artifact_repository(run_id), safe_relative_path(artifact_path)
    assert artifact_uri is not None
    root, name = split_uri_path(artifact_uri)
    return repository_for(root, tracking_uri), name


def download_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    dst_path: str | None = None,
    tracking_uri: str | None = None,
) -> str:
    """Download an artifact file or folder; return its local path.

    ``dst_path`` is created when missing; without it, local artifacts are returned in place
    and remote ones go to a new temporary folder."""
    repository, relative = _locate(artifact_uri, run_id, artifact_path, tracking_uri)
    return fetch(repository, relative, dst_path)


def list_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    tracking_uri: str | None = None,
) -> list[FileInfo]:
    """The files and folders directly under the address, sorted by path."""
    repository, relative = _locate(artifact_uri, run_id, artifact_path, tracking_uri)
    return repository.list(relative)


def _read_bytes(artifact_uri: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="runstack-load-") as scratch:
        local = Path(download_artifacts(artifact_uri, dst_path=scratch))
        if local.is_dir():
            raise InvalidParameterError(f"Artifact {artifact_uri!r} is a folder, not a file.")
        return local.read_bytes()


def load_text(artifact_uri: str) -> str:
    """The artifact's content as text (UTF-8)."""
    try:
        return _read_bytes(artifact_uri).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameterError(
            f"Artifact {artifact_uri!r} is not valid UTF-8; download it with "
            "download_artifacts() and open it with its encoding."
        ) from None


def load_dict(artifact_uri: str) -> Any:
    """The artifact parsed as YAML (.yml/.yaml) or JSON (any other name)."""
    return encoders.parse_dict(_read_bytes(artifact_uri), artifact_uri)


def load_image(artifact_uri: str) -> Any:
    """The artifact as a ``PIL.Image.Image`` (needs Pillow), fully loaded."""
    image_module = require("PIL.Image", "Pillow", "load_image")
    with tempfile.TemporaryDirectory(prefix="runstack-load-") as scratch:
        local = download_artifacts(artifact_uri, dst_path=scratch)
        with image_module.open(local) as image:
            image.load()
            return image.copy()
