"""MLflow's REST JSON: the encode/decode pair for every entity that crosses the wire.

One module for both ends, so the server (entities out, requests in) and the REST store
(requests out, entities in) cannot drift apart. The shapes are those MLflow's protobuf
messages take in proto3 JSON, as MLflow's server writes them:

- absent values (an end time while a run is running) and empty lists (no params) are left
  out; decoding reads a missing text field as proto's empty string;
- int64 values are plain JSON numbers (decoding also accepts decimal strings);
- doubles that are not finite are the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``;
- maps are repeated ``{key, value}`` messages, sorted by key for stable output;
- a run info carries the run id twice, as ``run_id`` and as the deprecated ``run_uuid``;
- a run's dataset inputs are ``{"tags": [{key, value}], "dataset": {name, digest,
  source_type, source, schema?, profile?}}``.

``decode_x(encode_x(entity)) == entity`` for every entity (tests/test_wire.py), with two
deliberate exceptions: an ``end_time`` of 0 decodes as "not ended" (what a server that fills
unset fields with zero means), and a run's metrics travel without their run id (the decoded
metrics get the run's).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from runstack.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
)
from runstack.errors import InvalidParameterError
from runstack.validation import preview

# Every experiment lives in MLflow 3's single default workspace.
WORKSPACE = "default"
# proto3 JSON's spelling of the doubles JSON numbers cannot hold.
SPECIAL_DOUBLES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

_DATASET_FIELDS = ("name", "digest", "source_type", "source", "schema", "profile")


# Scalars and maps -------------------------------------------------------------------------


def encode_double(value: float) -> float | str:
    """A float as proto3 JSON: a number, or the string spelling of NaN and the infinities."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def decode_double(value: Any) -> float:
    special = SPECIAL_DOUBLES.get(value) if isinstance(value, str) else None
    return float(value) if special is None else special


def encode_pairs(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """``(key, value)`` pairs as repeated ``{key, value}`` messages, in the order given."""
    return [{"key": k, "value": v} for k, v in pairs]


def encode_key_values(mapping: Mapping[str, str]) -> list[dict[str, str]]:
    """``{k: v}`` as repeated ``{key, value}`` messages, sorted for stable output."""
    return encode_pairs(sorted(mapping.items()))


def decode_key_values(items: Any) -> dict[str, str]:
    return {item["key"]: item.get("value", "") for item in items or ()}


def omit_empty(body: dict[str, Any]) -> dict[str, Any]:
    """Drop None values and empty lists, as proto3 JSON leaves unset fields out."""
    return {k: v for k, v in body.items() if v is not None and v != []}


# Metrics, runs, experiments -------------------------------------------------------------------


def encode_metric(metric: Metric, with_run_id: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": metric.key,
        "value": encode_double(metric.value),
        "timestamp": metric.timestamp,
        "step": metric.step,
    }
    if with_run_id and metric.run_id:
        body["run_id"] = metric.run_id
    return body


def decode_metric(data: Mapping[str, Any], run_id: str | None = None) -> Metric:
    """``run_id`` is the run's, for metrics that travel inside a run or under a run id."""
    return Metric(
        data["key"],
        decode_double(data.get("value", 0.0)),
        int(data.get("timestamp", 0)),
        int(data.get("step", 0)),
        data.get("run_id", run_id),
    )


def encode_run_info(info: RunInfo) -> dict[str, Any]:
    return omit_empty(info.to_dictionary())


def decode_run_info(data: Mapping[str, Any]) -> RunInfo:
    end_time = data.get("end_time")
    return RunInfo(
        run_id=data.get("run_id") or data["run_uuid"],
        experiment_id=str(data.get("experiment_id", "")),
        run_name=data.get("run_name", ""),
        user_id=data.get("user_id", ""),
        status=data.get("status", "RUNNING"),
        start_time=int(data.get("start_time", 0)),
        end_time=int(end_time) if end_time else None,
        artifact_uri=data.get("artifact_uri", ""),
        lifecycle_stage=data.get("lifecycle_stage", "active"),
    )


def encode_run(run: Run) -> dict[str, Any]:
    data = run.data
    metrics = data.latest_metrics or tuple(
        Metric(k, v, 0, 0) for k, v in sorted(data.metrics.items())
    )
    return {
        "info": encode_run_info(run.info),
        "data": omit_empty(
            {
                "metrics": [encode_metric(m) for m in metrics],
                "params": encode_key_values(data.params),
                "tags": encode_key_values(data.tags),
            }
        ),
        "inputs": encode_run_inputs(run.inputs),
        "outputs": {},
    }


def decode_run(data: Mapping[str, Any]) -> Run:
    info = decode_run_info(data["info"])
    body = data.get("data") or {}
    metrics = (decode_metric(m, info.run_id) for m in body.get("metrics", ()))
    latest = tuple(sorted(metrics, key=lambda m: m.key))
    return Run(
        info=info,
        data=RunData(
            metrics={m.key: m.value for m in latest},
            params=decode_key_values(body.get("params")),
            tags=decode_key_values(body.get("tags")),
            latest_metrics=latest,
        ),
        inputs=decode_run_inputs(data.get("inputs")),
    )


def encode_runs_page(runs: Iterable[Run], token: str | None) -> dict[str, Any]:
    return omit_empty({"runs": [encode_run(r) for r in runs], "next_page_token": token or None})


def encode_experiment(experiment: Experiment) -> dict[str, Any]:
    return omit_empty(
        {
            "experiment_id": experiment.experiment_id,
            "name": experiment.name,
            "artifact_location": experiment.artifact_location,
            "lifecycle_stage": experiment.lifecycle_stage,
            "last_update_time": experiment.last_update_time,
            "creation_time": experiment.creation_time,
            "tags": encode_key_values(experiment.tags),
            "workspace": WORKSPACE,
        }
    )


def decode_experiment(data: Mapping[str, Any]) -> Experiment:
    created, updated = data.get("creation_time"), data.get("last_update_time")
    return Experiment(
        experiment_id=str(data["experiment_id"]),
        name=data.get("name", ""),
        artifact_location=data.get("artifact_location", ""),
        lifecycle_stage=data.get("lifecycle_stage", "active"),
        tags=decode_key_values(data.get("tags")),
        creation_time=None if created is None else int(created),
        last_update_time=None if updated is None else int(updated),
    )


# Dataset inputs (MLflow's DatasetInput and RunInputs messages) ------------------------------


def encode_dataset_input(item: DatasetInput) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if item.tags:
        body["tags"] = [{"key": tag.key, "value": tag.value} for tag in item.tags]
    fields = item.dataset.to_dictionary()
    body["dataset"] = {k: v for k, v in fields.items() if v is not None}
    return body


def decode_dataset_input(item: Mapping[str, Any]) -> DatasetInput:
    """A server's ``DatasetInput``; absent text fields are proto's empty string."""
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
    return DatasetInput(dataset, tags)


def encode_run_inputs(inputs: RunInputs) -> dict[str, Any]:
    """``{}`` for a run without inputs, as MLflow's server sends it."""
    if not inputs.dataset_inputs:
        return {}
    return {"dataset_inputs": [encode_dataset_input(d) for d in inputs.dataset_inputs]}


def decode_run_inputs(data: Any) -> RunInputs:
    items = (data or {}).get("dataset_inputs", ())
    return RunInputs(tuple(decode_dataset_input(item) for item in items))


def dataset_inputs_from_request(items: Sequence[Any]) -> list[SimpleNamespace]:
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
