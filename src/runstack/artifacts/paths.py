"""Artifact paths: one rule for what may name a file inside a run's artifact root.

Every repository and the server pass caller-supplied paths through ``safe_relative_path``
before touching storage, so no upload, download, listing or deletion can reach outside the
run's root by spelling (``..``, absolute paths, backslashes, NUL bytes, drive letters), and
no name carries control characters.
Symlinks are a property of the storage, not of the spelling: the local repository checks them.
"""

from __future__ import annotations

import re

from runstack.errors import InvalidParameterError
from runstack.validation import preview

_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x01-\x1f\x7f]")


def _refuse(path: str, rule: str) -> InvalidParameterError:
    return InvalidParameterError(f"Invalid artifact path {preview(path)}: {rule}.")


MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024


def safe_relative_path(path: str | None) -> str:
    """``path`` normalised to "a/b/c" inside a run's artifact root ("" names the root itself).

    Empty and "." segments and a trailing "/" are dropped; anything that could leave the root
    or mean something else on another system is refused with ``InvalidParameterError``."""
    if path is None:
        return ""
    if not isinstance(path, str):
        raise InvalidParameterError(
            f"Invalid artifact path {path!r}: expected a string, got {type(path).__name__}."
        )
    if "\x00" in path:
        raise _refuse(path, "NUL bytes are not allowed")
    if _CONTROL.search(path):
        # S3's XML (listings, batch deletion) cannot carry most of them, and in a file name
        # they break logs, terminals and headers.
        raise _refuse(path, "control characters (newlines, tabs, ...) are not allowed")
    if "\\" in path:
        raise _refuse(path, "backslashes are not allowed; use '/' between folders")
    if path.startswith("/"):
        raise _refuse(path, "absolute paths are not allowed; give a path relative to the run")
    if _DRIVE.match(path):
        raise _refuse(path, "drive letters are not allowed; give a path relative to the run")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _refuse(path, "'..' segments are not allowed")
    # File systems cap a name at 255 bytes and S3 a key at 1,024: refuse here, clearly,
    # rather than fail later with an operating-system error.
    if any(len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for part in parts):
        raise _refuse(path, f"a file or folder name is longer than {MAX_NAME_BYTES} bytes")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise _refuse(path, f"the path is longer than {MAX_PATH_BYTES} bytes")
    return "/".join(parts)


def join(*parts: str | None) -> str:
    """Safe relative paths joined with "/", empty parts skipped."""
    return "/".join(p for p in (safe_relative_path(part) for part in parts) if p)


def safe_file_name(name: str, what: str = "artifact file") -> str:
    """A path that must name a file (not the root): ``safe_relative_path`` and non-empty."""
    checked = safe_relative_path(name)
    if not checked:
        raise InvalidParameterError(f"Invalid {what} {name!r}: give a file name.")
    return checked
