"""Dataset schemas as MLflow stores them: a column spec for a DataFrame
(``{"mlflow_colspec": [...]}``) and a tensor spec for arrays (``{"mlflow_tensorspec": ...}``).

A column whose values have no single scalar type (nested lists or dicts, mixed types) has no
column type here, and the dataset then has no schema (None), which MLflow also records when it
cannot infer one.
"""

from __future__ import annotations

import json
from typing import Any

# numpy dtype (kind, itemsize) -> MLflow's column type.
_NUMERIC = {
    ("b", 1): "boolean",
    ("i", 1): "integer",
    ("i", 2): "integer",
    ("i", 4): "integer",
    ("i", 8): "long",
    ("u", 1): "integer",
    ("u", 2): "integer",
    ("u", 4): "long",
    ("f", 2): "float",
    ("f", 4): "float",
    ("f", 8): "double",
}


def _object_type(values: Any) -> str | None:
    """The one scalar type of an object column's non-missing values, or None."""
    kinds = {type(value) for value in values if value is not None and value == value}
    if kinds and kinds <= {str}:
        return "string"
    if kinds and kinds <= {bytes}:
        return "binary"
    if kinds and kinds <= {bool}:
        return "boolean"
    return None


def _column_type(column: Any) -> str | None:
    import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]

    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _object_type(dtype.categories)
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    kind = getattr(dtype, "kind", None)
    if kind == "O":
        return _object_type(column)
    return _NUMERIC.get((str(kind), int(getattr(dtype, "itemsize", 0))))


def pandas_schema(frame: Any) -> str | None:
    """The column spec of a DataFrame as JSON, or None when a column has no scalar type."""
    columns = []
    for name in frame.columns:
        column = frame[name]
        kind = _column_type(column)
        if kind is None:
            return None
        columns.append({"type": kind, "name": str(name), "required": not column.isna().any()})
    return json.dumps({"mlflow_colspec": columns}) if columns else None


def _dtype_name(dtype: Any) -> str:
    """MLflow's name for an array's dtype: its numpy name, except text and bytes of any width."""
    return {"U": "str", "S": "bytes"}.get(dtype.kind, str(dtype))


def _tensors(value: Any) -> str:
    def spec(array: Any, name: str | None) -> dict[str, Any]:
        entry: dict[str, Any] = {} if name is None else {"name": name}
        entry["type"] = "tensor"
        entry["tensor-spec"] = {"dtype": _dtype_name(array.dtype), "shape": [-1, *array.shape[1:]]}
        return entry

    if isinstance(value, dict):
        return json.dumps([spec(array, str(key)) for key, array in value.items()])
    return json.dumps([spec(value, None)])


def numpy_schema(features: Any, targets: Any = None) -> str:
    """The tensor spec of feature (and target) arrays, or dicts of arrays, as JSON."""
    spec = {
        "features": _tensors(features),
        "targets": None if targets is None else _tensors(targets),
    }
    return json.dumps({"mlflow_tensorspec": spec})
