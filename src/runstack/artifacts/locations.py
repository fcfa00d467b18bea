"""Artifact locations of experiments and runs: which are accepted, and how URIs are extended.

An experiment's location must be a local path (made absolute, as MLflow does, so that it
does not depend on the working directory of whoever reads it later) or a URI with a scheme
runstack can serve (``file``, ``s3``, ``mlflow-artifacts``). The tracking server may narrow
this further (only under its artifacts destination).
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from runstack.artifacts.paths import safe_relative_path
from runstack.artifacts.registry import LOCATION_SCHEMES, scheme_of
from runstack.errors import InvalidParameterError


def check_artifact_location(location: object) -> str | None:
    """``location`` checked and made absolute; None (the store's default) for None or ""."""
    if location is None or location == "":
        return None
    if not isinstance(location, str):
        raise InvalidParameterError(
            f"Invalid artifact location {location!r}: expected a string, got "
            f"{type(location).__name__}."
        )
    if "\x00" in location:
        raise InvalidParameterError(f"Invalid artifact location {location!r}: NUL bytes.")
    scheme = scheme_of(location)
    if scheme == "runs":
        raise InvalidParameterError(
            f"Invalid artifact location {location!r}: 'runs:' URIs cannot be used."
        )
    if scheme == "":
        return Path(location).absolute().as_posix()
    if scheme not in LOCATION_SCHEMES:
        raise InvalidParameterError(
            f"Invalid artifact location {location!r}: scheme {scheme!r} is not one of "
            f"{', '.join(LOCATION_SCHEMES)} (or a local path)."
        )
    if scheme == "file":
        parts = urlsplit(location)
        if not parts.path.startswith("/"):
            absolute = (Path.cwd() / (parts.netloc + parts.path)).as_posix()
            return urlunsplit(("file", "", absolute, parts.query, parts.fragment))
    return location


def append_path(uri: str, path: str | None) -> str:
    """``uri`` with the safe relative ``path`` appended ("/"-joined, query kept)."""
    relative = safe_relative_path(path)
    if not relative:
        return uri
    parts = urlsplit(uri)
    if scheme_of(uri) == "":
        return posixpath.join(uri, relative)
    return urlunsplit(parts._replace(path=posixpath.join(parts.path or "/", relative)))
