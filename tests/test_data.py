"""runstack.data (MLflow's mlflow.data): dataset objects described exactly as MLflow describes
them (compared with the installed mlflow-skinny), logged as run inputs on both stores and read
back, with clear refusals of bad arguments."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import runstack
from readback import fresh_client
from runstack import data
from runstack.errors import InvalidParameterError


def _mlflow_data() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow.data

        return mlflow.data


FRAMES = {
    "numbers": pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]}),
    "mixed scalars": pd.DataFrame(
        {
            "i32": np.array([1, 2, 3], dtype=np.int32),
            "f32": np.array([1, 2, 3], dtype=np.float32),
            "u8": np.array([1, 2, 3], dtype=np.uint8),
            "s": ["x", "y", "z"],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
            "flag": [True, False, True],
            "raw": [b"a", b"b", b"c"],
            "cat": pd.Categorical(["a", "b", "a"]),
        }
    ),
    "missing values": pd.DataFrame({"x": [1.0, None, 2.0], "name": ["a", None, "b"]}),
    "mixed object column": pd.DataFrame({"m": [1, "a", 2.0]}),
    "empty": pd.DataFrame(),
    "long": pd.DataFrame({"k": np.arange(25_000), "v": np.arange(25_000) * 0.5}),
}


@pytest.mark.parametrize("frame_name", list(FRAMES))
def test_from_pandas_describes_a_frame_as_mlflow_does(frame_name: str) -> None:
    frame = FRAMES[frame_name]
    ours = data.from_pandas(frame, source="data/train.csv", name="train").to_dict()
    theirs = _mlflow_data().from_pandas(frame, source="data/train.csv", name="train").to_dict()
    assert ours == theirs


@pytest.mark.parametrize(
    ("features", "targets"),
    [
        (np.arange(12, dtype=np.float64).reshape(4, 3), np.array([0, 1, 0, 1])),
        ({"f1": np.zeros((2, 2)), "f2": np.ones(2, dtype=np.int32)}, None),
        (np.array(["a", "b"]), np.array([b"x", b"y"])),
        (np.array(["2024-01-01"], dtype="datetime64[D]"), np.array([1.0], dtype=np.float16)),
    ],
)
def test_from_numpy_describes_arrays_as_mlflow_does(features: Any, targets: Any) -> None:
    ours = data.from_numpy(features, source="s3://bucket/x.npy", targets=targets).to_dict()
    theirs = _mlflow_data().from_numpy(features, source="s3://bucket/x.npy", targets=targets)
    assert ours == theirs.to_dict()


@pytest.mark.parametrize(
    ("source", "kind", "fields"),
    [
        ("https://example.com/x.csv", "http", {"url": "https://example.com/x.csv"}),
        ("s3://bucket/k.csv", "s3", {"uri": "s3://bucket/k.csv"}),
        ("/abs/train.csv", "local", {"uri": "/abs/train.csv"}),
        ("file:///tmp/x.csv", "local", {"uri": "file:///tmp/x.csv"}),
        (Path("rel/x.csv"), "local", {"uri": "rel/x.csv"}),
    ],
)
def test_sources_are_recorded_by_kind(source: Any, kind: str, fields: dict[str, str]) -> None:
    dataset = data.from_pandas(FRAMES["numbers"], source=source)
    assert dataset.to_dict()["source_type"] == kind
    assert json.loads(dataset.to_dict()["source"]) == fields


def test_no_source_means_the_code_that_built_it() -> None:
    dataset = data.from_pandas(FRAMES["numbers"])
    assert isinstance(dataset.source, data.CodeDatasetSource)
    tags = dataset.source.tags
    assert set(tags) == {"mlflow.user", "mlflow.source.name", "mlflow.source.type"}
    assert tags["mlflow.source.type"] == "LOCAL"
    assert dataset.name == "dataset"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: data.from_pandas(FRAMES["numbers"], targets="label"), "'label'"),
        (lambda: data.from_pandas(FRAMES["numbers"], predictions="p"), "'p'"),
        (lambda: data.from_pandas([[1, 2]]), "DataFrame, not list"),
        (lambda: data.from_pandas(FRAMES["numbers"], source="gs://b/k"), "'gs'"),
        (lambda: data.from_pandas(FRAMES["numbers"], source=""), "''"),
        (lambda: data.from_numpy(None), "needs features"),
        (lambda: data.get_source("x"), "str is not a dataset"),
    ],
)
def test_bad_arguments_are_refused_by_name(call: Any, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        call()


def test_logged_pandas_dataset_reads_back(tracking: str) -> None:
    frame = FRAMES["mixed scalars"]
    train = runstack.data.from_pandas(frame, source="data/train.csv", name="train", targets="s")
    with runstack.start_run() as run:
        runstack.log_input(train, context="training")
        runstack.log_input(runstack.data.from_numpy(np.ones((3, 2))), context="eval")
    (first, second) = fresh_client().get_run(run.info.run_id).inputs.dataset_inputs
    stored = first.dataset
    assert (stored.name, stored.digest, stored.source_type) == ("train", train.digest, "local")
    assert stored.schema == train.to_dict()["schema"]
    assert json.loads(stored.profile) == {"num_rows": 3, "num_elements": 24}
    assert [(t.key, t.value) for t in first.tags] == [("mlflow.data.context", "training")]
    source = data.get_source(first)
    assert isinstance(source, data.LocalArtifactDatasetSource)
    assert source.uri == "data/train.csv"
    assert data.get_source(second.dataset).to_dict()["tags"]["mlflow.source.type"] == "LOCAL"
    found = fresh_client().search_runs([run.info.experiment_id], "datasets.name = 'train'")
    assert [r.info.run_id for r in found] == [run.info.run_id]


def test_same_data_logged_twice_is_one_dataset(tracking: str) -> None:
    frame = FRAMES["numbers"]
    with runstack.start_run() as one:
        runstack.log_input(data.from_pandas(frame, name="d"))
    with runstack.start_run() as two:
        runstack.log_input(data.from_pandas(frame.copy(), name="d"))
    digests = {
        fresh_client().get_run(r.info.run_id).inputs.dataset_inputs[0].dataset.digest
        for r in (one, two)
    }
    assert digests == {data.from_pandas(frame).digest}
