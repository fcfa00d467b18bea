"""Every rule about what a caller may store, in one place and one message style.

Each check returns the normalised value or raises ``InvalidParameterError`` naming the bad
value and the rule it broke. Nothing is ever truncated: MLflow silently cuts long values,
runstack refuses them.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import posixpath
import re
from collections.abc import Iterable
from typing import Any

from runstack.entities import RunStatus
from runstack.errors import InvalidParameterError
from runstack.tags import RUN_NAME

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 20000
MAX_RUN_NAME_LENGTH = 250
MAX_USER_ID_LENGTH = 256
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

_KEY_PATTERN = re.compile(r"^[/\w.\- :]*$")
_RUN_ID_PATTERN = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
_ID_DIGITS = re.compile(r"[0-9]{1,19}")
_PREVIEW = 60


def preview(value: object) -> str:
    """A short printable form of a value for error messages."""
    text = repr(value)
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 3] + "..."


# Keys already found valid: training loops log the same few keys millions of times.
_VALID_KEYS: dict[str, None] = {}
_VALID_KEYS_LIMIT = 50_000


def validate_key(key: object, what: str) -> str:
    """Keys of params, metrics and tags: MLflow's character set, not path-like, ≤ 250 chars."""
    if type(key) is str and key in _VALID_KEYS:  # type first: lists and dicts are unhashable
        return key
    if not isinstance(key, str):
        raise InvalidParameterError(
            f"{what} key must be a string, got {preview(key)} of type {type(key).__name__}."
        )
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidParameterError(
            f"{what} key {preview(key)} is {len(key)} characters long; "
            f"the limit is {MAX_KEY_LENGTH}."
        )
    if not key or not _KEY_PATTERN.fullmatch(key):
        raise InvalidParameterError(
            f"Invalid {what.lower()} key {preview(key)}: keys must be non-empty and may only "
            "contain letters, digits, underscores (_), dashes (-), periods (.), spaces ( ), "
            "colons (:) and slashes (/)."
        )
    normalised = posixpath.normpath(key)
    if normalised != key or key == "." or key.startswith("..") or key.startswith("/"):
        raise InvalidParameterError(
            f"Invalid {what.lower()} key {preview(key)}: keys must not look like file paths "
            f"that resolve elsewhere (this one resolves to {normalised!r})."
        )
    if len(_VALID_KEYS) < _VALID_KEYS_LIMIT:
        _VALID_KEYS[key] = None
    return key


def _validate_text_value(value: object, what: str, limit: int) -> str:
    text = str(value)
    if len(text) > limit:
        raise InvalidParameterError(
            f"{what} value starting {preview(text[:40])} is {len(text)} characters long; "
            f"the limit is {limit}. runstack never truncates values: shorten it or log it "
            "as an artifact."
        )
    require_storable(text, f"{what} value")
    return text


def require_storable(text: str, what: str) -> None:
    """Text every backend stores alike: no NUL (SQLite would keep it, PostgreSQL cannot) and
    no lone surrogates (not encodable as UTF-8, so no driver can send them)."""
    if "\x00" in text:
        raise InvalidParameterError(
            f"{what} {preview(text)} contains a NUL character (\\x00), which cannot be "
            "stored; remove it."
        )
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise InvalidParameterError(
                f"{what} {preview(text)} contains the lone surrogate "
                f"{text[error.start]!r} at position {error.start}, which is not valid "
                "Unicode text and cannot be stored; remove it."
            ) from None


def validate_param(key: object, value: object) -> tuple[str, str]:
    return validate_key(key, "Param"), _validate_text_value(value, "Param", MAX_PARAM_VALUE_LENGTH)


def validate_batch_params(params: Iterable[tuple[object, object]]) -> list[tuple[str, str]]:
    """One batch's (key, value) params, each checked; a key given twice must keep its value,
    since params are immutable."""
    checked = [validate_param(key, value) for key, value in params]
    seen: dict[str, str] = {}
    for key, value in checked:
        if seen.setdefault(key, value) != value:
            raise InvalidParameterError(
                f"Param {key!r} appears twice in one batch with different values "
                f"({seen[key]!r} and {value!r}); params are immutable."
            )
    return checked


def validate_tag(key: object, value: object) -> tuple[str, str]:
    """A run tag; the ``mlflow.runName`` tag also renames the run, so it follows the run-name
    rules."""
    checked = validate_key(key, "Tag"), _validate_text_value(value, "Tag", MAX_TAG_VALUE_LENGTH)
    if checked[0] == RUN_NAME:
        validate_run_name(checked[1])
    return checked


def validate_experiment_tag(key: object, value: object) -> tuple[str, str]:
    return validate_key(key, "Experiment tag"), _validate_text_value(
        value, "Experiment tag", MAX_EXPERIMENT_TAG_VALUE_LENGTH
    )


def validate_metric_value(key: str, value: object) -> float:
    """Any real number (numpy scalars and one-element arrays included) becomes a float."""
    if type(value) is float:
        return value
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (int, float)):
        with contextlib.suppress(TypeError, ValueError):  # not a one-element array: go on
            value = item()
    if value is None:
        raise InvalidParameterError(f"Metric {key!r} has no value (None); log a number.")
    if isinstance(value, (str, bytes)):
        try:
            return float(value)
        except ValueError:
            raise InvalidParameterError(
                f"Metric {key!r} value {preview(value)} is not a number; log a float or int."
            ) from None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise InvalidParameterError(
            f"Metric {key!r} value {preview(value)} of type {type(value).__name__} is not a "
            "real number; log a float or int."
        ) from None


def validate_step(key: str, step: object) -> int:
    """Steps are 64-bit integers; a float with an integral value is accepted."""
    if type(step) is int and INT64_MIN <= step <= INT64_MAX:
        return step
    if step is None:
        return 0
    if isinstance(step, bool):
        raise InvalidParameterError(f"Metric {key!r} step {step!r} is a bool; use an integer.")
    if isinstance(step, numbers.Integral):
        number = int(step)
    elif isinstance(step, numbers.Real) and math.isfinite(float(step)) and float(step).is_integer():
        number = int(float(step))
    else:
        raise InvalidParameterError(
            f"Metric {key!r} step {preview(step)} is not an integer; steps must be whole numbers."
        )
    if not INT64_MIN <= number <= INT64_MAX:
        raise InvalidParameterError(
            f"Metric {key!r} step {number} is outside the 64-bit integer range."
        )
    return number


def validate_timestamp(timestamp: object, what: str = "timestamp") -> int:
    """Milliseconds since the epoch: a non-negative 64-bit integer (0 is kept as 0)."""
    if type(timestamp) is int and 0 <= timestamp <= INT64_MAX:
        return timestamp
    if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Real):
        raise InvalidParameterError(
            f"Invalid {what} {preview(timestamp)}: use integer milliseconds since the epoch."
        )
    if isinstance(timestamp, int):  # exact, however large (float() would overflow)
        if not 0 <= timestamp <= INT64_MAX:
            raise InvalidParameterError(
                f"Invalid {what} {preview(timestamp)}: it must be between 0 and {INT64_MAX} "
                "milliseconds."
            )
        return int(timestamp)
    try:
        as_float = float(timestamp)
    except OverflowError:
        as_float = math.inf
    if not math.isfinite(as_float):
        raise InvalidParameterError(f"Invalid {what} {timestamp!r}: it must be finite.")
    # Exact for Python ints; other reals (numpy scalars, floats) are far below 2**53 here.
    number = timestamp if isinstance(timestamp, int) else math.floor(as_float)
    if not 0 <= number <= INT64_MAX:
        raise InvalidParameterError(
            f"Invalid {what} {number}: it must be between 0 and {INT64_MAX} milliseconds."
        )
    return number


def validate_run_id(run_id: object) -> str:
    if not isinstance(run_id, str) or not _RUN_ID_PATTERN.fullmatch(run_id):
        raise InvalidParameterError(
            f"Invalid run id {preview(run_id)}: run ids are 1-256 letters, digits, '_' or '-', "
            "starting with a letter or digit."
        )
    return run_id


def validate_experiment_id(experiment_id: object) -> str:
    """Experiment ids are integers given as str or int; returns the canonical string."""
    if isinstance(experiment_id, bool) or not isinstance(experiment_id, (str, int)):
        raise InvalidParameterError(
            f"Invalid experiment id {preview(experiment_id)} of type "
            f"{type(experiment_id).__name__}: use a str or int."
        )
    text = str(experiment_id)
    # ASCII digits only: str.isdigit() also takes "²", and int() takes " 1" and "+1".
    if not _ID_DIGITS.fullmatch(text) or int(text) > INT64_MAX:
        raise InvalidParameterError(
            f"Invalid experiment id {preview(experiment_id)}: experiment ids are non-negative "
            "integers."
        )
    return str(int(text))


def validate_experiment_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterError(
            f"Invalid experiment name {preview(name)}: use a non-empty string."
        )
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidParameterError(
            f"Experiment name {preview(name)} is {len(name)} characters long; "
            f"the limit is {MAX_EXPERIMENT_NAME_LENGTH}."
        )
    require_storable(name, "Experiment name")
    return name


def validate_run_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidParameterError(
            f"Invalid run name {preview(name)} of type {type(name).__name__}: use a string."
        )
    if len(name) > MAX_RUN_NAME_LENGTH:
        raise InvalidParameterError(
            f"Run name {preview(name)} is {len(name)} characters long; "
            f"the limit is {MAX_RUN_NAME_LENGTH}."
        )
    require_storable(name, "Run name")
    return name


def validate_user_id(user_id: object) -> str:
    """The user recorded on a run: a string of at most 256 characters (MLflow's column)."""
    if not isinstance(user_id, str):
        raise InvalidParameterError(
            f"Invalid user_id {preview(user_id)} of type {type(user_id).__name__}: use a string."
        )
    if len(user_id) > MAX_USER_ID_LENGTH:
        raise InvalidParameterError(
            f"Invalid user_id {preview(user_id)}: it is {len(user_id)} characters long; the "
            f"limit is {MAX_USER_ID_LENGTH}."
        )
    require_storable(user_id, "user_id")
    return user_id


def validate_status(status: object) -> str:
    """A status name (any case) or a ``RunStatus`` value; returns the upper-case name."""
    if isinstance(status, RunStatus):
        return status.name
    if isinstance(status, int) and not isinstance(status, bool):
        try:
            return RunStatus(status).name
        except ValueError:
            pass
    elif isinstance(status, str) and status.upper() in RunStatus.__members__:
        return status.upper()
    valid = ", ".join(RunStatus.__members__)
    raise InvalidParameterError(f"Invalid run status {preview(status)}: use one of {valid}.")


def as_str_dict(mapping: Any, what: str) -> dict[Any, Any]:
    if mapping is None:
        return {}
    if not hasattr(mapping, "items"):
        raise InvalidParameterError(f"{what} must be a dict, got {type(mapping).__name__}.")
    return dict(mapping)
