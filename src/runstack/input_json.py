"""Dataset inputs in MLflow's REST JSON (its ``DatasetInput`` and ``RunInputs`` messages).

Shared by the REST store (requests out, runs in) and the server (requests in, runs out), so
both ends agree on one shape: ``{"tags": [{key, value}], "dataset": {name, digest,
source_type, source, schema?, profile?}}``. Unset values are left out, as proto JSON does.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from runstack.entities import Dataset, DatasetInput, InputTag, RunInputs
from runstack.errors import InvalidParameterError
from runstack.validation import preview

_DATASET_FIELDS = ("name", "digest", "source_type", "source", "schema", "profile")


def dataset_input_json(item: DatasetInput) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if item.tags:
        body["tags"] = [{"key": tag.key, "value": tag.value} for tag in item.tags]
    fields = item.dataset.to_dictionary()
    body["dataset"] = {k: v for k, v in fields.items() if v is not None}
    return body


def run_inputs_json(inputs: RunInputs) -> dict[str, Any]:
    """``{}`` for a run without inputs, as MLflow's server sends it."""
    if not inputs.dataset_inputs:
        return {}
    return {"dataset_inputs": [dataset_input_json(d) for d in inputs.dataset_inputs]}


def run_inputs_from_json(data: Any) -> RunInputs:
    """A server's ``inputs`` message; absent text fields are proto's empty string."""
    found = []
    for item in (data or {}).get("dataset_inputs", ()):
        fields = item.get("dataset") or {}
        dataset = Dataset(
            fields.get("name", ""),
            fields.get("digest", ""),
            fields.get("source_type", ""),
            fields.get("source", ""),
            fields.get("schema"),
            fields.get("profile"),
        )
        tags = tuple(InputTag(t.get("key", ""), t.get("value", "")) for t in item.get("tags", ()))
        found.append(DatasetInput(dataset, tags))
    return RunInputs(tuple(found))


def dataset_inputs_from_request(items: list[Any]) -> list[SimpleNamespace]:
    """A request's ``datasets`` as plain objects for ``input_validation`` to check; a missing
    field is None there, so that a required one is reported by name."""
    decoded = []
    for i, item in enumerate(items):
        where = f"datasets[{i}]"
        entry = _object(where, item)
        fields = _object(f"{where}.dataset", entry.get("dataset"))
        tags = entry.get("tags") or []
        if not isinstance(tags, list):
            raise InvalidParameterError(f"{where}.tags must be a list, got {preview(tags)}.")
        entries = [_object(f"{where}.tags[{j}]", tag) for j, tag in enumerate(tags)]
        decoded.append(
            SimpleNamespace(
                dataset=SimpleNamespace(**{name: fields.get(name) for name in _DATASET_FIELDS}),
                # A missing tag value is proto's empty string.
                tags=[SimpleNamespace(key=e.get("key"), value=e.get("value", "")) for e in entries],
            )
        )
    return decoded


def _object(where: str, value: object) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if value is None:
        raise InvalidParameterError(f"Missing value for required parameter '{where}'.")
    raise InvalidParameterError(f"{where} must be an object, got {preview(value)}.")
