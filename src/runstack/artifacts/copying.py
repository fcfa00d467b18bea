"""Local file copies that are fast and atomic: write a hidden temporary file, rename it in.

The bytes move inside the kernel (``copy_file_range``, else ``sendfile``, else a read/write
loop), so copying a large file costs about what ``cp`` costs. A temporary file left by a
killed process keeps its hidden prefix and never looks like a complete artifact.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
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


def _plain_copy(source: str, destination: str) -> None:
    """Copy one file to a new name (the caller makes it visible by renaming a parent)."""
    source_fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        target_fd = os.open(destination, flags, 0o666)
        try:
            _copy_fd(source_fd, target_fd)
        finally:
            os.close(target_fd)
    finally:
        os.close(source_fd)


def _real_id(path: str) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_dev, status.st_ino


def _stage_tree(
    source: str, staged: str, check_name: Callable[[str], None], seen: frozenset[tuple[int, int]]
) -> None:
    """Copy a folder into the new hidden folder ``staged`` with plain writes: nothing in it
    is visible until ``staged`` is renamed into place."""
    with os.scandir(source) as entries:
        for entry in entries:
            check_name(entry.name)
            target = os.path.join(staged, entry.name)
            if entry.is_dir():  # symlinks followed, each real folder once per branch
                real = _real_id(entry.path)
                if real in seen:
                    continue
                os.mkdir(target)
                _stage_tree(entry.path, target, check_name, seen | {real})
            else:
                _plain_copy(entry.path, target)


def _publish_folder(
    staged: str, target: Path, check_folder: Callable[[Path, str], Path], shown: str
) -> None:
    """Rename a complete staged folder into place; merge it when the target exists."""
    try:
        os.rename(staged, target)
        return
    except OSError as error:
        if error.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            raise
    # The target appeared meanwhile: move the (complete) staged files in one by one, once
    # it is known not to lead out of the root.
    check_folder(target, shown)
    for folder, _dirs, files in os.walk(staged):
        relative = os.path.relpath(folder, staged)
        into = target if relative == "." else target / relative
        into.mkdir(exist_ok=True)
        for name in files:
            os.replace(os.path.join(folder, name), into / name)
    shutil.rmtree(staged, ignore_errors=True)


def copy_tree_atomically(
    source: Path,
    top: Path,
    prefix: str,
    check_name: Callable[[str], None],
    check_folder: Callable[[Path, str], Path],
    _shown: str = "",
    _seen: frozenset[tuple[int, int]] = frozenset(),
) -> None:
    """Copy the contents of ``source`` into the folder ``top``.

    When ``top`` does not exist, the tree is copied into a hidden staging folder beside it
    and renamed into place. Otherwise a folder that does not exist yet at the destination is
    staged and renamed the same way (one rename, however many files); a file, or a
    folder that exists, is merged file by file, each file atomically. Symlinks in ``source``
    are followed (once per real folder). ``check_folder(path, shown)`` refuses an existing
    destination folder that leads out of the artifact root."""
    if not _shown and not os.path.lexists(top):
        # A new destination: the whole tree appears at once.
        top.parent.mkdir(parents=True, exist_ok=True)
        staged = os.path.join(top.parent, prefix + secrets.token_hex(8))
        os.mkdir(staged)
        try:
            _stage_tree(str(source), staged, check_name, frozenset({_real_id(str(source))}))
            _publish_folder(staged, top, check_folder, top.name)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        return
    seen = _seen | {_real_id(str(source))}
    with os.scandir(source) as entries:
        for entry in entries:
            check_name(entry.name)
            target = top / entry.name
            shown = f"{_shown}/{entry.name}" if _shown else entry.name
            if not entry.is_dir():
                copy_file_atomically(Path(entry.path), target, prefix)
                continue
            real = _real_id(entry.path)
            if real in seen:
                continue
            if os.path.lexists(target):
                check_folder(target, shown)
                copy_tree_atomically(
                    Path(entry.path), target, prefix, check_name, check_folder, shown, seen
                )
                continue
            staged = os.path.join(top, prefix + secrets.token_hex(8))
            os.mkdir(staged)
            try:
                _stage_tree(entry.path, staged, check_name, seen | {real})
                _publish_folder(staged, target, check_folder, shown)
            except BaseException:
                shutil.rmtree(staged, ignore_errors=True)
                raise


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
