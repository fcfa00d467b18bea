"""Which store a process talks to: ``set_tracking_uri``, else ``MLFLOW_TRACKING_URI``, else
an embedded SQLite file ``runstack.db`` in the working directory.

Relative SQLite paths are made absolute when first resolved, so a later ``os.chdir`` never
moves a running program to another database.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from runstack.errors import InvalidParameterError
from runstack.settings import TRACKING_URI

DEFAULT_DB_NAME = "runstack.db"

_lock = threading.Lock()
_explicit_uri: str | None = None
# Relative forms seen so far -> their absolute form at first resolution.
_resolved: dict[str, str] = {}


def normalise_uri(uri: str | os.PathLike[str]) -> str:
    """Canonical form: absolute ``sqlite:///`` paths; plain ``.db`` paths mean SQLite."""
    text = os.fspath(uri).strip()
    if not text:
        raise InvalidParameterError(
            "The tracking URI is empty; use sqlite:///path, postgresql://... or http://host:port."
        )
    cached = _resolved.get(text)
    if cached is not None:
        return cached
    if text.startswith("sqlite:///"):
        path = text[len("sqlite:///") :]
        result = "sqlite:///" + str(Path(path).expanduser().resolve()) if path else text
    elif text.startswith("file:"):
        raise InvalidParameterError(
            f"Tracking URI {text!r}: runstack has no file store; use sqlite:///path/to/runstack.db."
        )
    elif "://" not in text:
        if not text.endswith(".db"):
            raise InvalidParameterError(
                f"Tracking URI {text!r} is neither a URI nor a path to a .db file; use "
                "sqlite:///path, postgresql://user@host/db or http://host:port."
            )
        result = "sqlite:///" + str(Path(text).expanduser().resolve())
    else:
        result = text
    with _lock:
        _resolved[text] = result
    return result


def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    """Use this store from now on in this process (and, through the environment, in its
    child processes). ``None`` goes back to the environment or the default."""
    global _explicit_uri
    if uri is None:
        _explicit_uri = None
        TRACKING_URI.unset()
        return
    resolved = normalise_uri(uri)
    _explicit_uri = resolved
    TRACKING_URI.export(resolved)


def reset() -> None:
    """Forget the URI given to ``set_tracking_uri`` (for tests; the environment is left as
    it is)."""
    global _explicit_uri
    _explicit_uri = None


def is_tracking_uri_set() -> bool:
    """Whether a store was chosen: by ``set_tracking_uri`` or ``MLFLOW_TRACKING_URI``
    (False means the default, ``./runstack.db``, is in effect)."""
    return _explicit_uri is not None or bool(TRACKING_URI.read())


def get_tracking_uri() -> str:
    """The URI in effect now, always in absolute form."""
    if _explicit_uri is not None:
        return _explicit_uri
    from_env = TRACKING_URI.read()
    if from_env:
        return normalise_uri(from_env)
    return normalise_uri(DEFAULT_DB_NAME)
