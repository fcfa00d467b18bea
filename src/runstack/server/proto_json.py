"""Entities to MLflow's REST JSON, the shapes MLflow's protobuf messages take on the wire.

proto3 JSON rules as MLflow's server applies them: absent values (an end time while a run is
running) and empty lists (no params) are omitted, int64 values are plain JSON numbers, and
non-finite doubles are the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``. Run infos
carry the run id twice, as ``run_id`` and as the deprecated ``run_uuid``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from runstack.entities import Experiment, Metric, Run, RunInfo
from runstack.input_json import run_inputs_json

# Every experiment lives in MLflow 3's single default workspace.
WORKSPACE = "default"


def encode_double(value: float) -> float | str:
    """A float as proto3 JSON: a number, or the string spelling of NaN and the infinities."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def key_values(mapping: Mapping[str, str]) -> list[dict[str, str]]:
    """``{k: v}`` as MLflow's repeated ``{key, value}`` messages, sorted for stable output."""
    return [{"key": k, "value": v} for k, v in sorted(mapping.items())]


def metric_json(metric: Metric, with_run_id: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": metric.key,
        "value": encode_double(metric.value),
        "timestamp": metric.timestamp,
        "step": metric.step,
    }
    if with_run_id and metric.run_id:
        body["run_id"] = metric.run_id
    return body


def run_info_json(info: RunInfo) -> dict[str, Any]:
    return omit_empty(info.to_dictionary())


def run_json(run: Run) -> dict[str, Any]:
    data = run.data
    metrics = data.latest_metrics or tuple(
        Metric(k, v, 0, 0) for k, v in sorted(data.metrics.items())
    )
    return {
        "info": run_info_json(run.info),
        "data": omit_empty(
            {
                "metrics": [metric_json(m) for m in metrics],
                "params": key_values(data.params),
                "tags": key_values(data.tags),
            }
        ),
        "inputs": run_inputs_json(run.inputs),
        "outputs": {},
    }


def experiment_json(experiment: Experiment) -> dict[str, Any]:
    return omit_empty(
        {
            "experiment_id": experiment.experiment_id,
            "name": experiment.name,
            "artifact_location": experiment.artifact_location,
            "lifecycle_stage": experiment.lifecycle_stage,
            "last_update_time": experiment.last_update_time,
            "creation_time": experiment.creation_time,
            "tags": key_values(experiment.tags),
            "workspace": WORKSPACE,
        }
    )


def omit_empty(body: dict[str, Any]) -> dict[str, Any]:
    """Drop None values and empty lists, as proto3 JSON leaves unset fields out."""
    return {k: v for k, v in body.items() if v is not None and v != []}


def runs_page(runs: Iterable[Run], token: str | None) -> dict[str, Any]:
    return omit_empty({"runs": [run_json(r) for r in runs], "next_page_token": token or None})
