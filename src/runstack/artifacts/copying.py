"""Local file copies that are fast and atomic: write a hidden temporary file, rename it in.

The bytes move inside the kernel (``copy_file_range``, else ``sendfile``, else a read/write
loop), so copying a large file costs about what ``cp`` costs. A temporary file left by a
killed process keeps its hidden prefix and never looks like a complete artifact.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

_CHUNK = 1 << 30  # bytes per copy_file_range/sendfile call (the kernel caps it anyway)
_FALLBACK_ERRORS = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM}
_use_copy_file_range = hasattr(os, "copy_file_range")


def _copy_fd(source: int, target: int) -> None:
    global _use_copy_file_range
    if _use_copy_file_range:
        try:
            while os.copy_file_range(source, target, _CHUNK):
                pass
            return
        except OSError as error:
            if error.errno not in _FALLBACK_ERRORS:
                raise
            _use_copy_file_range = False  # this kernel/filesystem cannot: stop trying
            os.lseek(source, 0, os.SEEK_SET)
            os.lseek(target, 0, os.SEEK_SET)
            os.ftruncate(target, 0)
    try:
        offset = 0
        while sent := os.sendfile(target, source, offset, _CHUNK):
            offset += sent
    except OSError as error:
        if error.errno not in _FALLBACK_ERRORS:
            raise
        os.lseek(source, 0, os.SEEK_SET)
        os.lseek(target, 0, os.SEEK_SET)
        os.ftruncate(target, 0)
        while block := os.read(source, 1 << 20):
            os.write(target, block)


def _temporary(folder: Path, prefix: str) -> tuple[int, str]:
    """A new, exclusive, hidden file in ``folder`` (mode from the umask, like ``open``)."""
    while True:
        name = os.path.join(folder, prefix + secrets.token_hex(8))
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), name
        except FileExistsError:
            continue


def _publish(fill: Callable[[int], None], destination: Path, prefix: str) -> None:
    fd, temporary = _temporary(destination.parent, prefix)
    try:
        try:
            fill(fd)
        finally:
            os.close(fd)
        os.replace(temporary, destination)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def copy_file_atomically(source: Path, destination: Path, prefix: str) -> None:
    """Copy ``source`` to ``destination`` (its folder exists); it appears only when complete."""
    source_fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _publish(lambda fd: _copy_fd(source_fd, fd), destination, prefix)
    finally:
        os.close(source_fd)


def write_atomically(data: bytes, destination: Path, prefix: str) -> None:
    """Write ``data`` to ``destination`` (its folder exists); it appears only when complete."""

    def fill(fd: int) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    _publish(fill, destination, prefix)


def copy_tree_atomically(
    source: Path,
    top: Path,
    prefix: str,
    check_name: Callable[[str], None],
    check_folder: Callable[[Path, str], Path],
) -> None:
    """Copy the files under ``source`` into ``top`` (which exists), each file atomically.

    Symlinks in ``source`` are followed (their content is copied), once per real folder.
    ``check_folder(path, shown)`` refuses a destination folder that leads out of the root."""
    seen: set[tuple[int, int]] = set()
    for folder, dirs, files in os.walk(source, followlinks=True):
        status = os.stat(folder)
        if (status.st_dev, status.st_ino) in seen:
            dirs.clear()
            continue
        seen.add((status.st_dev, status.st_ino))
        relative = os.path.relpath(folder, source)
        target = top if relative == "." else top / relative
        if relative != ".":
            target.mkdir(exist_ok=True)
            check_folder(target, relative.replace(os.sep, "/"))
        for name in files:
            check_name(name)
            copy_file_atomically(Path(folder, name), target / name, prefix)


def copy_tree_out(
    source: Path, destination: Path, prefix: str, inside: Callable[[Path, str], Path]
) -> None:
    """Copy a folder of artifacts out to ``destination``, skipping files being written and
    symlinks that lead out of the artifact root (``inside`` raises for those)."""
    destination.mkdir(parents=True, exist_ok=True)
    with os.scandir(source) as entries:
        for entry in entries:
            if entry.name.startswith(prefix):
                continue
            if entry.is_symlink():
                try:
                    inside(Path(entry.path), entry.name)
                except Exception:
                    continue
            if entry.is_dir():
                copy_tree_out(Path(entry.path), destination / entry.name, prefix, inside)
            else:
                copy_file_atomically(Path(entry.path), destination / entry.name, prefix)
