"""The local files a caller logs: checked once, and walked the same way by every repository
that uploads file by file (S3, a tracking server)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from runstack.artifacts.paths import join, safe_relative_path
from runstack.errors import InvalidParameterError


def source_file(local_file: Path | str) -> Path:
    """``local_file`` as a Path, refused unless it is a file."""
    source = Path(local_file)
    if not source.is_file():
        raise InvalidParameterError(f"Cannot log {str(local_file)!r}: it is not a file.")
    return source


def source_folder(local_dir: Path | str) -> Path:
    """``local_dir`` as a Path, refused unless it is a folder."""
    source = Path(local_dir)
    if not source.is_dir():
        raise InvalidParameterError(f"Cannot log {str(local_dir)!r}: it is not a folder.")
    return source


def files_to_log(local_dir: Path | str, artifact_path: str | None) -> Iterator[tuple[Path, str]]:
    """Each file under ``local_dir`` with the artifact folder it goes to (its own folder under
    ``artifact_path``), folder by folder, names sorted."""
    source = source_folder(local_dir)
    base = safe_relative_path(artifact_path)
    for folder, _dirs, files in os.walk(source):
        relative = Path(folder).relative_to(source).as_posix()
        destination = join(base, "" if relative == "." else relative)
        for name in sorted(files):
            yield Path(folder) / name, destination
