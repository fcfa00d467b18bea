"""A run's artifacts in a local folder (``file:`` URIs and plain paths).

Every file is written under a temporary name in its destination folder and renamed into
place when complete, so a killed write leaves only a hidden ``.artifact.uploading.*`` file
(the prefix MLflow uses too), which listings and downloads skip. Copies use the kernel's
in-kernel copy (``copy_file_range``, then ``sendfile``), so a large file never passes through
Python. Nothing is fsync'ed: the rename protects against a killed process, not a power cut.

Paths are checked twice: their spelling (``paths.safe_relative_path``) and, on disk, that
no symlink inside the root leads out of it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

from runstack.artifacts import copying
from runstack.artifacts.paths import safe_relative_path
from runstack.artifacts.sources import source_file, source_folder
from runstack.entities import FileInfo
from runstack.errors import InvalidParameterError, ResourceNotFoundError

TEMP_PREFIX = ".artifact.uploading."


def local_path_of(uri: str) -> Path:
    """The absolute folder a ``file:`` URI or a plain path names."""
    parts = urlsplit(uri)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidParameterError(
                f"Unsupported artifact URI {uri!r}: a file: URI must name a local path "
                "(file:///path), not a host."
            )
        return Path(unquote(parts.path)).absolute()
    return Path(uri).absolute()


def check_name(name: str) -> None:
    if name.startswith(TEMP_PREFIX):
        raise InvalidParameterError(
            f"Invalid artifact file name {name!r}: names starting with {TEMP_PREFIX!r} are "
            "reserved for files being written."
        )


def check_names(relative: str) -> None:
    """``check_name`` for every file and folder name of a checked path: a folder with the
    reserved prefix would hide what is written into it from listings and downloads."""
    for name in relative.split("/"):
        check_name(name)


class LocalArtifactRepository:
    """Artifacts under one local folder (created on first write)."""

    def __init__(self, root_uri: str) -> None:
        self.root_uri = root_uri
        self.root = local_path_of(root_uri)

    # Paths ---------------------------------------------------------------------------------

    def _inside(self, target: Path, shown: str) -> Path:
        """``target`` after checking that, with symlinks resolved, it stays in the root."""
        real_root = os.path.realpath(self.root)
        real = os.path.realpath(target)
        if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
            raise InvalidParameterError(
                f"Invalid artifact path {shown!r}: it leads out of the run's artifact root "
                "through a symlink."
            )
        return target

    def local_path(self, path: str | None) -> Path:
        """The on-disk path of ``path`` inside the root (checked, not necessarily existing)."""
        relative = safe_relative_path(path)
        target = self.root / relative if relative else self.root
        return self._inside(target, relative)

    def _folder_for_writing(self, artifact_path: str | None) -> Path:
        check_names(safe_relative_path(artifact_path))
        folder = self.local_path(artifact_path)
        folder.mkdir(parents=True, exist_ok=True)
        # mkdir may have followed a symlink created meanwhile: check the result again.
        return self._inside(folder, safe_relative_path(artifact_path))

    # Writing -------------------------------------------------------------------------------

    def log_file(self, local_file: Path, artifact_path: str | None = None) -> None:
        source = source_file(local_file)
        check_name(source.name)
        folder = self._folder_for_writing(artifact_path)
        destination = folder / source.name
        if destination.exists() and os.path.samefile(source, destination):
            return
        copying.copy_file_atomically(source, destination, TEMP_PREFIX)

    def log_directory(self, local_dir: Path, artifact_path: str | None = None) -> None:
        source = source_folder(local_dir)
        shown = safe_relative_path(artifact_path)
        check_names(shown)
        top = self.local_path(shown)
        if top.exists() and os.path.samefile(source, top):
            return
        if top != self.root:
            self._folder_for_writing(top.parent.relative_to(self.root).as_posix())
        copying.copy_tree_atomically(source, top, TEMP_PREFIX, check_name, self._inside)

    def write_bytes(self, data: bytes, artifact_file: str) -> None:
        relative = safe_relative_path(artifact_file)
        if not relative:
            raise InvalidParameterError(f"Invalid artifact file {artifact_file!r}: give a name.")
        folder, _, name = relative.rpartition("/")
        check_name(name)
        destination = self._folder_for_writing(folder) / name
        if destination.is_dir():
            raise InvalidParameterError(
                f"Cannot write artifact {relative!r}: a folder of that name exists."
            )
        copying.write_atomically(data, destination, TEMP_PREFIX)

    # Reading -------------------------------------------------------------------------------

    def list(self, path: str | None = None) -> list[FileInfo]:
        relative = safe_relative_path(path)
        folder = self.local_path(relative)
        prefix = f"{relative}/" if relative else ""
        infos: list[FileInfo] = []
        try:
            entries = os.scandir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return []
        with entries:
            for entry in entries:
                if entry.name.startswith(TEMP_PREFIX):
                    continue
                if entry.is_symlink():
                    try:
                        self._inside(Path(entry.path), prefix + entry.name)
                    except InvalidParameterError:
                        continue  # a link out of the root is not an artifact of the run
                if entry.is_dir():
                    infos.append(FileInfo(prefix + entry.name, True, None))
                else:
                    infos.append(FileInfo(prefix + entry.name, False, entry.stat().st_size))
        infos.sort(key=lambda info: info.path)
        return infos

    def download(self, path: str, dst_dir: Path) -> Path:
        relative = safe_relative_path(path)
        source = self.local_path(relative)
        if not source.exists():
            raise ResourceNotFoundError(f"No artifact {relative!r} in {self.root_uri!r}.")
        destination = Path(dst_dir).absolute() / relative if relative else Path(dst_dir).absolute()
        if source.is_dir():
            copying.copy_tree_out(source, destination, TEMP_PREFIX, self._inside)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            copying.copy_file_atomically(source, destination, TEMP_PREFIX)
        return destination

    def delete(self, path: str | None = None) -> None:
        relative = safe_relative_path(path)
        target = self.local_path(relative)
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)

    def size(self) -> int:
        """Bytes under the root (0 when it does not exist); symlinks are not followed."""
        total = 0
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                try:
                    total += os.lstat(os.path.join(folder, name)).st_size
                except FileNotFoundError:
                    continue
        return total
