"""The interface every artifact location kind implements (local folder, S3, a tracking server).

Paths are relative to the run's artifact root, "/"-separated, and checked with
``runstack.artifacts.paths.safe_relative_path`` by every implementation. Writes are atomic: a
file being written is invisible (to ``list`` and ``download``) until it is complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from runstack.entities import FileInfo


@runtime_checkable
class ArtifactRepository(Protocol):
    """The artifacts of one run (or of any root URI) at one location."""

    root_uri: str

    def log_file(self, local_file: Path, artifact_path: str | None = None) -> None:
        """Copy ``local_file`` to ``<artifact_path>/<its name>``."""
        ...

    def log_directory(self, local_dir: Path, artifact_path: str | None = None) -> None:
        """Copy the contents of ``local_dir`` (recursively) under ``artifact_path``."""
        ...

    def write_bytes(self, data: bytes, artifact_file: str) -> None:
        """Write ``data`` as the file ``artifact_file`` (replacing it)."""
        ...

    def list(self, path: str | None = None) -> list[FileInfo]:
        """The direct children of ``path`` sorted by path ([] for a file or a missing path)."""
        ...

    def download(self, path: str, dst_dir: Path) -> Path:
        """Copy the file or whole directory ``path`` to ``dst_dir/<path>``; return that path."""
        ...

    def delete(self, path: str | None = None) -> None:
        """Delete the file or directory ``path`` (the whole root when None)."""
        ...
