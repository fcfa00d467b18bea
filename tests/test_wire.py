"""Round trips through MLflow's REST JSON: entity -> JSON text -> entity gives the entity back.

Every value goes through ``json.dumps``/``json.loads`` as it does between the server and the
REST store, so doubles that JSON numbers cannot hold (NaN, the infinities) and -0.0 are
covered by the real path. Floats are compared by their ``repr`` (NaN is not equal to itself,
and -0.0 equals 0.0).
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from runstack import wire
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

texts = st.text()
names = st.text(min_size=1)
int64s = st.integers(-(2**63), 2**63 - 1)
doubles = st.floats(allow_nan=True, allow_infinity=True)
string_maps = st.dictionaries(texts, texts, max_size=4)


def through_json(body: Any) -> Any:
    """What the other end reads: the body as strict JSON text (no bare NaN), parsed again."""
    return json.loads(json.dumps(body, allow_nan=False))


def comparable(value: Any) -> Any:
    """``value`` with every float replaced by its repr, so NaN == NaN and -0.0 != 0.0."""
    if isinstance(value, float):
        return ("float", repr(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, comparable(dataclasses.astuple(value)))
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [comparable(v) for v in value]
    return value


@given(doubles)
@example(math.nan)
@example(math.inf)
@example(-math.inf)
@example(-0.0)
@example(5e-324)
@example(1.7976931348623157e308)
def test_double_round_trip(value: float) -> None:
    decoded = wire.decode_double(through_json(wire.encode_double(value)))
    assert comparable(decoded) == comparable(value)


def test_non_finite_doubles_are_proto3_strings() -> None:
    encoded = [wire.encode_double(v) for v in (math.nan, math.inf, -math.inf, -0.0, 1.5)]
    assert json.dumps(encoded) == '["NaN", "Infinity", "-Infinity", -0.0, 1.5]'


@st.composite
def metrics(draw: st.DrawFn, run_id: str | None = None) -> Metric:
    return Metric(draw(texts), draw(doubles), draw(int64s), draw(int64s), run_id)


@given(metrics(), st.none() | names)
def test_metric_round_trip(metric: Metric, run_id: str | None) -> None:
    metric = dataclasses.replace(metric, run_id=run_id)
    body = through_json(wire.encode_metric(metric, with_run_id=True))
    assert comparable(wire.decode_metric(body)) == comparable(metric)


@given(metrics(run_id="r1"))
def test_metric_without_run_id_takes_the_given_one(metric: Metric) -> None:
    body = through_json(wire.encode_metric(metric))
    assert "run_id" not in body
    assert comparable(wire.decode_metric(body, "r1")) == comparable(metric)


run_infos = st.builds(
    RunInfo,
    run_id=names,
    experiment_id=st.integers(0, 2**63 - 1).map(str),
    run_name=texts,
    user_id=texts,
    status=st.sampled_from(["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]),
    start_time=int64s,
    # 0 reads as "not ended" (see the module docstring and the test below).
    end_time=st.none() | st.integers(1, 2**63 - 1),
    artifact_uri=texts,
    lifecycle_stage=st.sampled_from(["active", "deleted"]),
)


@given(run_infos)
def test_run_info_round_trip(info: RunInfo) -> None:
    body = through_json(wire.encode_run_info(info))
    assert body["run_uuid"] == body["run_id"] == info.run_id
    assert wire.decode_run_info(body) == info


def test_run_info_end_time_zero_reads_as_not_ended() -> None:
    info = RunInfo("r", "0", "n", "u", "RUNNING", 1, 0, "a", "active")
    assert wire.decode_run_info(through_json(wire.encode_run_info(info))).end_time is None


datasets = st.builds(
    Dataset,
    name=texts,
    digest=texts,
    source_type=texts,
    source=texts,
    schema=st.none() | texts,
    profile=st.none() | texts,
)
dataset_inputs = st.builds(
    DatasetInput,
    dataset=datasets,
    tags=st.lists(st.builds(InputTag, key=texts, value=texts), max_size=3).map(tuple),
)
run_inputs = st.builds(RunInputs, dataset_inputs=st.lists(dataset_inputs, max_size=3).map(tuple))


@given(run_inputs)
def test_run_inputs_round_trip(inputs: RunInputs) -> None:
    assert wire.decode_run_inputs(through_json(wire.encode_run_inputs(inputs))) == inputs


@st.composite
def runs(draw: st.DrawFn) -> Run:
    info = draw(run_infos)
    latest = draw(st.dictionaries(texts, doubles, max_size=4))
    points = tuple(
        Metric(key, value, draw(int64s), draw(int64s), info.run_id)
        for key, value in sorted(latest.items())
    )
    data = RunData(
        metrics=dict(latest),
        params=draw(string_maps),
        tags=draw(string_maps),
        latest_metrics=points,
    )
    return Run(info, data, draw(run_inputs))


@given(runs())
def test_run_round_trip(run: Run) -> None:
    assert comparable(wire.decode_run(through_json(wire.encode_run(run)))) == comparable(run)


def test_an_empty_run_leaves_empty_messages_out() -> None:
    info = RunInfo("r", "0", "", "", "RUNNING", 1, None, "", "active")
    body = through_json(wire.encode_run(Run(info, RunData())))
    assert body["data"] == {} and body["inputs"] == {} and "end_time" not in body["info"]
    assert wire.decode_run(body) == Run(info, RunData())


experiments = st.builds(
    Experiment,
    experiment_id=st.integers(0, 2**63 - 1).map(str),
    name=texts,
    artifact_location=texts,
    lifecycle_stage=st.sampled_from(["active", "deleted"]),
    tags=string_maps,
    creation_time=st.none() | int64s,
    last_update_time=st.none() | int64s,
)


@given(experiments)
def test_experiment_round_trip(experiment: Experiment) -> None:
    body = through_json(wire.encode_experiment(experiment))
    assert body["workspace"] == wire.WORKSPACE
    assert wire.decode_experiment(body) == experiment


@given(string_maps)
def test_key_values_round_trip_sorted(mapping: dict[str, str]) -> None:
    body = through_json(wire.encode_key_values(mapping))
    assert [item["key"] for item in body] == sorted(mapping)
    assert wire.decode_key_values(body) == mapping
