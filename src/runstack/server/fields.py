"""Request fields: what each endpoint accepts, and turning raw JSON or query values into them.

One table of ``Field``s per endpoint drives both parsing and the OpenAPI document, so the
two cannot drift apart. Parsing follows proto3 JSON: int64 values may be numbers or decimal
strings, doubles may be ``"NaN"``/``"Infinity"``/``"-Infinity"``, enums may be names or
numbers, and unknown fields are ignored (newer clients send fields older servers lack).
Every failure names the field, the value and the rule.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runstack.errors import InvalidParameterError
from runstack.server.request_json import check_json_value, check_text
from runstack.validation import INT64_MAX, INT64_MIN, preview
from runstack.wire import SPECIAL_DOUBLES

# Kinds of field; the OpenAPI document maps each to a JSON schema.
STRING = "string"
INT64 = "int64"
DOUBLE = "double"
BOOL = "bool"
ENUM = "enum"  # a name or its number; the handler checks which names exist
STRINGS = "strings"  # repeated string
KEY_VALUES = "key_values"  # repeated {key, value}
METRICS = "metrics"  # repeated {key, value, timestamp, step}
OBJECTS = "objects"  # repeated message runstack does not interpret
DATASET_INPUTS = "dataset_inputs"  # repeated DatasetInput, decoded by the handler
OBJECT = "object"  # one JSON object, checked by the handler
SCALAR_KINDS = (STRING, INT64, DOUBLE, BOOL, ENUM, OBJECT)


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    required: bool = False
    doc: str = ""
    alias: str | None = None  # a second accepted name, e.g. the deprecated ``run_uuid``

    @property
    def repeated(self) -> bool:
        return self.kind not in SCALAR_KINDS


def missing(name: str) -> InvalidParameterError:
    return InvalidParameterError(f"Missing value for required parameter '{name}'.")


def _bad(name: str, value: object, rule: str) -> InvalidParameterError:
    """MLflow's wording (the value as JSON, then "supplied"), which clients and MLflow's own
    tests match, followed by the rule."""
    return InvalidParameterError(
        f"Invalid value {_as_json(value)} for parameter '{name}' supplied: {rule}."
    )


def _as_json(value: object) -> str:
    """The value as the request spelled it (JSON), shortened like ``preview``."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return preview(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


# proto3 JSON's decimal forms, ASCII only: str.isdigit() also accepts "²" and "٣", and
# int() and float() accept spaces, "+", "_" and thousands of digits.
_INT64_TEXT = re.compile(r"-?[0-9]{1,19}")
_LONG_INT_TEXT = re.compile(r"-?[0-9]{20,}")  # well formed, but no int64 has that many digits
_DOUBLE_TEXT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_MAX_NUMBER_TEXT = 400
_SHOWN = 60  # characters of a bad value shown in an error
_DOUBLE_MAX_INT = int(1.7976931348623157e308)


def to_string(name: str, value: object) -> str:
    """A JSON string; a number is refused, as MLflow's server does (``"run_id": 31``)."""
    if isinstance(value, str):
        check_text(value, name)
        return value
    raise _bad(name, value, f"expected a string, got {_json_type(value)}")


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _integral_float(value: object) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def to_int64(name: str, value: object) -> int:
    number: int
    if isinstance(value, bool):
        raise _bad(name, value, "expected an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, (float, str)) and (
        _integral_float(value) or (isinstance(value, str) and _INT64_TEXT.fullmatch(value))
    ):
        number = int(value)
    elif isinstance(value, str) and _LONG_INT_TEXT.fullmatch(value):
        raise _bad(name, value, "outside the 64-bit integer range")
    else:
        raise _bad(name, value, "expected an integer (ASCII digits, an optional leading '-')")
    if not INT64_MIN <= number <= INT64_MAX:
        raise _bad(name, value, "outside the 64-bit integer range")
    return number


def to_double(name: str, value: object) -> float:
    if isinstance(value, bool):
        raise _bad(name, value, "expected a number")
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        if abs(value) > _DOUBLE_MAX_INT:
            raise _bad(name, value, "outside the range of a double")
        return float(value)
    if isinstance(value, str):
        special = SPECIAL_DOUBLES.get(value)
        if special is not None:
            return special
        if len(value) <= _MAX_NUMBER_TEXT and _DOUBLE_TEXT.fullmatch(value):
            return float(value)
    raise _bad(name, value, 'expected a number, "NaN", "Infinity" or "-Infinity"')


def to_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _bad(name, value, "expected true or false")


def to_enum(name: str, value: object) -> str | int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return int(value) if _INT64_TEXT.fullmatch(value) else value
    raise _bad(name, value, "expected a name or a number")


def _as_list(name: str, value: object) -> list[Any]:
    if isinstance(value, list):
        return value
    raise _bad(name, value, "expected a list")


def _object(name: str, value: object) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    raise _bad(name, value, "expected an object")


def to_key_values(name: str, value: object) -> list[tuple[str, str]]:
    """Repeated ``{key, value}``; a missing value is the empty string, as in proto."""
    pairs = []
    for i, item in enumerate(_as_list(name, value)):
        entry = _object(f"{name}[{i}]", item)
        if entry.get("key") is None:
            raise missing(f"{name}[{i}].key")
        pairs.append(
            (
                to_string(f"{name}[{i}].key", entry["key"]),
                to_string(f"{name}[{i}].value", entry.get("value", "")),
            )
        )
    return pairs


def to_metrics(name: str, value: object) -> list[dict[str, Any]]:
    """Repeated metric messages as dicts of key, value, timestamp and step (0 if absent)."""
    metrics = []
    for i, item in enumerate(_as_list(name, value)):
        if type(item) is dict:  # the usual, well-typed entry, checked in one go
            number, stamp, step = item.get("value"), item.get("timestamp"), item.get("step", 0)
            if (
                type(item.get("key")) is str
                and (type(number) is float or (type(number) is int and abs(number) < 2**53))
                and type(stamp) is int
                and INT64_MIN <= stamp <= INT64_MAX
                and (step is None or (type(step) is int and INT64_MIN <= step <= INT64_MAX))
            ):
                metrics.append(
                    {
                        "key": item["key"],
                        "value": float(number),
                        "timestamp": stamp,
                        "step": step or 0,
                    }
                )
                continue
        entry = _object(f"{name}[{i}]", item)
        for required in ("key", "value", "timestamp"):
            if entry.get(required) is None:
                raise missing(f"{name}[{i}].{required}")
        metrics.append(
            {
                "key": to_string(f"{name}[{i}].key", entry["key"]),
                "value": to_double(f"{name}[{i}].value", entry["value"]),
                "timestamp": to_int64(f"{name}[{i}].timestamp", entry["timestamp"]),
                "step": to_int64(f"{name}[{i}].step", entry.get("step", 0) or 0),
            }
        )
    return metrics


def to_object(name: str, value: object) -> dict[str, Any]:
    return dict(_object(name, value))


_SCALARS = {
    OBJECT: to_object,
    STRING: to_string,
    INT64: to_int64,
    DOUBLE: to_double,
    BOOL: to_bool,
    ENUM: to_enum,
}


def parse_fields(fields: tuple[Field, ...], raw: Mapping[str, Any]) -> dict[str, Any]:
    """The typed values of ``fields`` found in ``raw``; absent optional fields are None
    (empty lists for repeated fields)."""
    parsed: dict[str, Any] = {}
    for field in fields:
        value = raw.get(field.name)
        if value is None and field.alias is not None:
            value = raw.get(field.alias)
        if value is None or (field.repeated and value == []):
            if field.required:
                raise missing(field.name)
            parsed[field.name] = [] if field.repeated else None
            continue
        # Strings are checked for NUL where they are read as strings; an object's, here.
        check_json_value(value, field.name, fields=field.kind == OBJECT)
        if field.kind in _SCALARS:
            parsed[field.name] = _SCALARS[field.kind](field.name, value)
        elif field.kind == STRINGS:
            items = _as_list(field.name, value)
            parsed[field.name] = [to_string(f"{field.name}[{i}]", v) for i, v in enumerate(items)]
        elif field.kind == KEY_VALUES:
            parsed[field.name] = to_key_values(field.name, value)
        elif field.kind == METRICS:
            parsed[field.name] = to_metrics(field.name, value)
        else:
            parsed[field.name] = _as_list(field.name, value)
    return parsed


def query_to_raw(fields: tuple[Field, ...], multi: Any) -> dict[str, Any]:
    """GET query parameters (a multi-dict) as a JSON-like dict: repeated keys become lists."""
    raw: dict[str, Any] = {}
    for field in fields:
        for name in (field.name, field.alias):
            if name is None or name not in multi:
                continue
            values = multi.getlist(name)
            raw[name] = values if field.repeated else values[-1]
    return raw
