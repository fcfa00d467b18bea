"""What each request field accepts, as JSON Schema, so that the OpenAPI document says exactly
what the server's validation does (schemathesis checks both directions: no valid request
refused, no invalid one accepted).

The rules live here, next to each other, rather than in the endpoint tables: each mirrors a
check in ``validation`` or ``fields`` (named in the comments), and a test runs schemathesis
against the server to keep the two in step. Patterns are Python regular expressions (as
schemathesis evaluates them), anchored, since JSON Schema patterns otherwise match anywhere.
"""

from __future__ import annotations

from typing import Any

from runstack.validation import (
    MAX_EXPERIMENT_NAME_LENGTH,
    MAX_EXPERIMENT_TAG_VALUE_LENGTH,
    MAX_KEY_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_RUN_NAME_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    MAX_USER_ID_LENGTH,
)

Schema = dict[str, Any]

# request_json.check_text: no NUL in any string.
_NO_NUL = "^[^\\x00]*$"
# str.isspace(): what validate_experiment_name's strip() removes.
_SPACE = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
# validate_key: MLflow's characters, and a path that normpath leaves as it is (no empty, "."
# or ".." segment, no leading "/", not starting with "..").
_SEGMENT = "(?!\\.\\.?(?:/|$))[\\w.\\- :]+"
_KEY = f"^(?!\\.\\.)(?!/){_SEGMENT}(?:/{_SEGMENT})*$"

TEXT: Schema = {"type": "string", "pattern": _NO_NUL}
# artifacts.paths.safe_relative_path: no NUL, control character or backslash, not absolute,
# no drive letter, no ".." segment; safe_file_name: and some segment other than "" and ".".
_END = "(?![\\s\\S])"  # the very end (a "$" also matches before a final newline)
_SAFE_PATH = f"^(?!/)(?![A-Za-z]:)(?!(?:[^/]*/)*\\.\\.(?:/|{_END}))[^\\x00-\\x1f\\x7f\\\\]*{_END}"
ARTIFACT_PATH: Schema = {"type": "string", "pattern": _SAFE_PATH}
ARTIFACT_FILE: Schema = {
    "type": "string",
    "pattern": f"^(?=(?:[^/]*/)*(?!\\.(?:/|{_END}))[^/])" + _SAFE_PATH[1:],
}


def _at_most(limit: int) -> str:
    """A regex for decimal strings of at most ``len(str(limit))`` digits whose value is at
    most ``limit`` (leading zeros allowed, as int() takes them)."""
    digits = str(limit)
    shorter = f"[0-9]{{1,{len(digits) - 1}}}"
    same_length = [digits]
    for i, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - i - 1
            tail = f"[0-9]{{{rest}}}" if rest else ""
            same_length.append(f"{digits[:i]}[0-{int(digit) - 1}]{tail}")
    return f"^(?:{shorter}|{'|'.join(same_length)})$"


# validate_experiment_id: ASCII digits, at most the largest int64.
EXPERIMENT_ID: Schema = {"type": "string", "pattern": _at_most(2**63 - 1)}
RUN_ID: Schema = {"type": "string", "pattern": "^[a-zA-Z0-9][\\w\\-]{0,255}$"}  # validate_run_id
KEY: Schema = {"type": "string", "pattern": _KEY, "maxLength": MAX_KEY_LENGTH}
NAME: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_EXPERIMENT_NAME_LENGTH,
    "pattern": f"^[^\\x00]*[^\\x00{_SPACE}][^\\x00]*$",
}
INT64_TEXT = "^-?[0-9]{1,19}$"  # fields.to_int64
DOUBLE_TEXT = "^-?(?:[0-9]+\\.?[0-9]*|\\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?$"  # fields.to_double


def text(max_length: int) -> Schema:
    return {**TEXT, "maxLength": max_length}


def int64(minimum: int | None = None, maximum: int | None = None) -> Schema:
    """An int64 as proto3 JSON has it: a number, or a decimal string (not range-checked)."""
    number: Schema = {"type": "integer", "format": "int64"}
    if minimum is not None:
        number["minimum"] = minimum
    if maximum is not None:
        number["maximum"] = maximum
    if minimum is None and maximum is None:
        return {"oneOf": [number, {"type": "string", "pattern": INT64_TEXT}]}
    return number


def enum(names: tuple[str, ...], numbers: range) -> Schema:
    """A proto enum: its name in any case, or its number (as a number or digits)."""
    words = "|".join(name.lower() for name in names)
    digits = "|".join(str(n) for n in numbers)
    # Digits are read as an int64 (fields.to_enum): 19 digits at most, leading zeros included.
    zeros = 19 - len(str(max(numbers)))
    return {
        "oneOf": [
            {"type": "string", "pattern": f"^(?i:{words})$|^0{{0,{zeros}}}(?:{digits})$"},
            {"type": "integer", "enum": list(numbers)},
        ]
    }


def key_values(value_length: int) -> Schema:
    return {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"key": KEY, "value": text(value_length)},
            "required": ["key"],
        },
    }


_VIEW = enum(("ACTIVE_ONLY", "DELETED_ONLY", "ALL"), range(1, 4))
_LEASE = {"type": "integer", "minimum": 1, "maximum": 7 * 24 * 3600 * 1000}
# validation.validate_timestamp: 0 or more; as a number or as digits (proto3 JSON).
MILLIS: Schema = {
    "oneOf": [
        {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**63 - 1},
        {"type": "string", "pattern": "^[0-9]{1,18}$"},
    ]
}

# Field name -> schema, for every endpoint that has the field ...
BY_NAME: dict[str, Schema] = {
    "experiment_id": EXPERIMENT_ID,
    "experiment_ids": {"type": "array", "items": EXPERIMENT_ID},
    "run_id": RUN_ID,
    "parent_run_id": RUN_ID,
    "run_ids": {"type": "array", "items": RUN_ID},
    "key": KEY,
    "metric_key": KEY,
    "name": NAME,
    "experiment_name": NAME,
    "new_name": NAME,
    "run_name": text(MAX_RUN_NAME_LENGTH),
    "user_id": text(MAX_USER_ID_LENGTH),
    "view_type": _VIEW,
    "run_view_type": _VIEW,
    "status": enum(("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"), range(1, 6)),
    "start_time": MILLIS,
    "end_time": MILLIS,
    "timestamp": MILLIS,
    "timeout_ms": _LEASE,
    "heartbeat_timeout_ms": _LEASE,
}
# ... unless the endpoint (its path after the prefix) has its own rule.
# The auth API (server/handlers_auth.py): auth.store.check_username, passwords.
# check_password_rule, handlers_auth._permission and _experiment_resource.
BY_NAME.update(
    {
        "username": {"type": "string", "pattern": f"^[A-Za-z0-9][A-Za-z0-9._@+-]{{0,254}}{_END}"},
        "password": {**TEXT, "minLength": 8, "maxLength": 1024},
        "permission": {"type": "string", "enum": ["NO_PERMISSIONS", "READ", "EDIT", "MANAGE"]},
        "resource_type": {"type": "string", "enum": ["experiment"]},
        "resource_id": EXPERIMENT_ID,
    }
)

BY_PATH: dict[tuple[str, str], Schema] = {
    ("runs/search", "max_results"): {"type": "integer", "minimum": 1, "maximum": 50_000},
    ("experiments/search", "max_results"): {"type": "integer", "minimum": 1, "maximum": 50_000},
    ("metrics/get-history", "max_results"): {"type": "integer", "minimum": 1, "maximum": 50_000},
    ("metrics/get-history-bulk-interval", "max_results"): {
        "type": "integer",
        "minimum": 1,
        "maximum": 2500,
    },
    ("metrics/get-history-bulk-interval", "run_ids"): {
        "type": "array",
        "items": RUN_ID,
        "minItems": 1,
        "maxItems": 100,
    },
    ("runs/log-parameter", "value"): text(MAX_PARAM_VALUE_LENGTH),
    ("runs/set-tag", "value"): text(MAX_TAG_VALUE_LENGTH),
    ("experiments/set-experiment-tag", "value"): text(MAX_EXPERIMENT_TAG_VALUE_LENGTH),
    ("experiments/create", "tags"): key_values(MAX_EXPERIMENT_TAG_VALUE_LENGTH),
    ("runs/create", "tags"): key_values(MAX_TAG_VALUE_LENGTH),
    ("runs/resume", "tags"): key_values(MAX_TAG_VALUE_LENGTH),
    ("runs/log-batch", "tags"): key_values(MAX_TAG_VALUE_LENGTH),
    ("runs/log-batch", "params"): key_values(MAX_PARAM_VALUE_LENGTH),
}


def _bounded(low: int, high: int) -> Schema:
    return {"type": "integer", "minimum": low, "maximum": high}


def _words(*words: str) -> Schema:
    """One of ``words`` in any case, or empty (the default)."""
    return {"type": "string", "pattern": f"^(?i:{'|'.join(words)})?$"}


_KEY_LIST: Schema = {"anyOf": [{"type": "array", "items": TEXT, "maxItems": 200}, {"type": "null"}]}
# MLflow's logged-model search (server/handlers_models.py) reads none of its fields: it answers
# an empty page whatever the ids, datasets and ordering are, as long as they are lists.
BY_PATH.update(
    {
        ("logged-models/search", "experiment_ids"): {"type": "array", "items": TEXT},
        ("logged-models/search", "datasets"): {"type": "array"},
        ("logged-models/search", "order_by"): {"type": "array"},
    }
)
# The web UI's data endpoints (server/handlers_ui.py).
BY_PATH.update(
    {
        ("ui/experiments", "max_results"): _bounded(1, 1000),
        ("ui/experiments", "name"): TEXT,
        ("ui/experiments", "view"): _words("active", "deleted", "all"),
        ("ui/experiments/keys", "max_results"): _bounded(1, 10_000),
        ("ui/experiments/keys", "kind"): {"type": "string", "pattern": "^(metrics|params|tags)?$"},
        ("ui/runs/table", "max_results"): _bounded(1, 1000),
        ("ui/runs/table", "view"): _words("active", "deleted", "all"),
        ("ui/runs/table", "parent_run_id"): {"anyOf": [RUN_ID, {"type": "string", "maxLength": 0}]},
        ("ui/runs/table", "columns"): {
            "type": "object",
            "properties": {"metrics": _KEY_LIST, "params": _KEY_LIST, "tags": _KEY_LIST},
            "additionalProperties": False,
        },
        ("ui/metrics/series", "max_points"): _bounded(4, 100_000),
        ("artifacts/list", "path"): ARTIFACT_PATH,
        ("ui/artifacts/list", "path"): ARTIFACT_PATH,
        ("ui/artifacts/get", "path"): ARTIFACT_FILE,
        ("ui/artifacts/get", "max_bytes"): _bounded(1, 1 << 40),
        ("ui/metrics/series", "run_id"): {
            "type": "array",
            "items": RUN_ID,
            "minItems": 1,
            "maxItems": 200,
        },
    }
)


def field_schema(path: str, name: str, default: Schema) -> Schema:
    """The schema of field ``name`` of the endpoint at ``path`` (relative to its prefix)."""
    found = BY_PATH.get((path, name)) or BY_NAME.get(name)
    if found is not None and default.get("type") == "array" and found.get("type") == "string":
        return {**default, "items": found}  # a repeated field: each item follows the rule
    if found is not None:
        return found
    if default.get("type") == "string" and "enum" not in default:
        return {**default, "pattern": _NO_NUL}
    return default
