"""MLflow's own Python client (mlflow-skinny 3.17, the ``test`` extra) against runstack's
server on a real socket gives the same results as the same calls made with runstack on an
embedded store (reference §15.5 lists the endpoints MLflow's client uses).

Each side runs one scenario script in its own interpreter: ``mlflow`` against the server,
``runstack`` (imported as mlflow) against a SQLite file. The script prints a normalised
summary (ids replaced by run names, volatile tags dropped) and the two must be equal.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runstack.server.background import BackgroundServer

MLFLOW_PYTHON = os.environ.get("RUNSTACK_TEST_MLFLOW_PYTHON", sys.executable)
MARKER = "SUMMARY:"

SCENARIO = r"""
import json, math, sys

mlflow = __import__(sys.argv[1])
mlflow.set_tracking_uri(sys.argv[2])
entities = mlflow.entities
client = mlflow.MlflowClient()

exp = mlflow.set_experiment("compat")
with mlflow.start_run(run_name="parent") as parent:
    mlflow.log_param("lr", 0.01)
    mlflow.log_params({"layers": 3, "act": "relu"})
    mlflow.log_metric("loss", 1.0, step=0)
    mlflow.log_metric("loss", 0.5, step=1)
    mlflow.log_metrics({"acc": 0.9, "bad": float("nan"), "big": float("inf")}, step=1)
    mlflow.set_tag("stage", "train")
    mlflow.set_tags({"a": "1", "b": "2"})
    mlflow.delete_tag("b")
    with mlflow.start_run(run_name="child", nested=True) as child:
        mlflow.log_metric("child_metric", 2.0)
with mlflow.start_run(run_id=parent.info.run_id):  # resumed
    mlflow.log_metric("loss", 0.25, step=2)
    mlflow.log_params({f"p{i}": i for i in range(150)})  # more than one MLflow batch
for status in ["FINISHED", "FAILED", "KILLED", "SCHEDULED", "RUNNING"]:
    mlflow.start_run(run_name="ended-" + status)
    mlflow.end_run(status)
client.log_batch(
    child.info.run_id,
    metrics=[entities.Metric("bm", float(i), 1000 + i, i) for i in range(5)],
    params=[entities.Param("bp", "x")],
    tags=[entities.RunTag("bt", "y")],
)
doomed = mlflow.start_run(run_name="doomed").info.run_id
mlflow.end_run()
mlflow.delete_run(doomed)
after_delete = sorted(r.info.run_name for r in mlflow.search_runs(output_format="list"))
deleted_stage = client.get_run(doomed).info.lifecycle_stage
client.restore_run(doomed)
restored_stage = client.get_run(doomed).info.lifecycle_stage
try:
    client.log_param(parent.info.run_id, "lr", 0.02)
    conflict = "accepted"
except Exception as error:
    conflict = getattr(error, "error_code", type(error).__name__)

try:  # an MLflow dataset object (mlflow-skinny has no numpy: a subclass of the base class)
    from mlflow.data.dataset import Dataset as MlflowDataset
    from mlflow.data.http_dataset_source import HTTPDatasetSource

    class Remote(MlflowDataset):
        def _compute_digest(self):
            return "d1g3st"

        @property
        def profile(self):
            return json.dumps({"num_rows": 3})

        @property
        def schema(self):
            return None

        def to_dict(self):  # schema and profile for "train" only: unset ones stay None
            if self.name != "train":
                return super().to_dict()
            return {**super().to_dict(), "profile": self.profile, "schema": '{"cols": ["x"]}'}

    train = Remote(HTTPDatasetSource("https://example.com/train.csv"), name="train")
    test = Remote(HTTPDatasetSource("https://example.com/tést.csv"), name="tëst", digest="t3st")
except ImportError:  # this interpreter has no mlflow: the same fields, duck-typed
    class Remote:
        def __init__(self, **fields):
            self.fields = fields

        def _to_mlflow_entity(self):
            return type("Entity", (), self.fields)

    train = Remote(name="train", digest="d1g3st", source_type="http",
                   source='{"url": "https://example.com/train.csv"}',
                   schema='{"cols": ["x"]}', profile=json.dumps({"num_rows": 3}))
    test = Remote(name="tëst", digest="t3st", source_type="http",
                  source='{"url": "https://example.com/t\\u00e9st.csv"}', schema=None,
                  profile=None)
with mlflow.start_run(run_name="with-data") as data_run:
    mlflow.log_input(train, context="training", tags={"fold": "1"})
    mlflow.log_input(train, context="again")  # the run has it already: kept as it is
    mlflow.log_inputs([test], contexts=["eval"], tags_list=[None])
def inputs_of(run):
    return [
        {"dataset": d.dataset.to_dictionary(), "tags": {t.key: t.value for t in d.tags}}
        for d in run.inputs.dataset_inputs
    ]
found_by_context = mlflow.search_runs(
    experiment_ids=[exp.experiment_id], filter_string="datasets.context = 'eval'",
    output_format="list",
)
data = {
    "get": inputs_of(client.get_run(data_run.info.run_id)),
    "search": [(r.info.run_name, inputs_of(r)) for r in found_by_context],
    "by_name": sorted(r.info.run_name for r in mlflow.search_runs(
        experiment_ids=[exp.experiment_id], filter_string="datasets.name LIKE 't%'",
        output_format="list")),
}

names = {}
def value(v):
    return "NaN" if math.isnan(v) else ("Infinity" if math.isinf(v) else v)
def summary(run):
    tags = {k: v for k, v in run.data.tags.items()
            if not k.startswith(("mlflow.source.", "runstack.", "mlflow.user"))}
    parent_id = tags.pop("mlflow.parentRunId", None)
    return {
        "status": run.info.status,
        "ended": run.info.end_time is not None,
        "stage": run.info.lifecycle_stage,
        "params": run.data.params,
        "metrics": {k: value(v) for k, v in run.data.metrics.items()},
        "tags": tags,
        "parent": names.get(parent_id, parent_id),
    }
runs = mlflow.search_runs(experiment_ids=[exp.experiment_id], output_format="list",
                          run_view_type=entities.ViewType.ALL)
names.update({r.info.run_id: r.info.run_name for r in runs})
history = client.get_metric_history(parent.info.run_id, "loss")
print("SUMMARY:" + json.dumps({
    "experiment": [exp.name, exp.lifecycle_stage],
    "runs": {r.info.run_name: summary(client.get_run(r.info.run_id)) for r in runs},
    "history": [(m.value, m.step) for m in history],
    "bm_history": [(m.value, m.step, m.timestamp) for m in
                   client.get_metric_history(child.info.run_id, "bm")],
    "after_delete": after_delete,
    "deleted_stage": deleted_stage,
    "restored_stage": restored_stage,
    "conflict": conflict,
    "inputs": data,
}, sort_keys=True))
"""


def _mlflow_available() -> bool:
    if sys.executable != MLFLOW_PYTHON:
        return True
    return importlib.util.find_spec("mlflow") is not None


# MLflow's own client in child interpreters, against a real server: slow.
pytestmark = [
    pytest.mark.skipif(
        not _mlflow_available(),
        reason="mlflow-skinny is not installed (pip install -e '.[test]'), and "
        "RUNSTACK_TEST_MLFLOW_PYTHON names no interpreter that has it",
    ),
    pytest.mark.slow,
]


def _run_scenario(python: str, module: str, uri: str, cwd: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RUNSTACK_"))}
    env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"  # fail fast instead of retrying for minutes
    done = subprocess.run(
        [python, "-c", SCENARIO, module, uri],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{module} scenario failed:\n{done.stdout}\n{done.stderr}"
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
    assert lines, done.stdout
    result: dict[str, Any] = json.loads(lines[-1][len(MARKER) :])
    return result


def test_mlflow_client_matches_embedded_runstack(store_uri: str, tmp_path: Path) -> None:
    with BackgroundServer(store_uri) as url:
        through_server = _run_scenario(MLFLOW_PYTHON, "mlflow", url, tmp_path)
    embedded = _run_scenario(sys.executable, "runstack", f"sqlite:///{tmp_path}/local.db", tmp_path)
    assert through_server == embedded
    runs = embedded["runs"]
    # Spot checks, so that "equal" also means "right".
    assert runs["parent"]["status"] == "FINISHED" and runs["parent"]["params"]["p149"] == "149"
    assert runs["parent"]["metrics"] == {"loss": 0.25, "acc": 0.9, "bad": "NaN", "big": "Infinity"}
    assert runs["child"]["parent"] == "parent" and runs["child"]["params"] == {"bp": "x"}
    for status in ("FINISHED", "FAILED", "KILLED"):
        assert runs["ended-" + status] | {"tags": {}} == {
            "status": status,
            "ended": True,
            "stage": "active",
            "params": {},
            "metrics": {},
            "tags": {},
            "parent": None,
        }
    for status in ("SCHEDULED", "RUNNING"):
        assert runs["ended-" + status]["status"] == status
        assert runs["ended-" + status]["ended"] is False  # never an end time while running
    assert embedded["history"] == [[1.0, 0], [0.5, 1], [0.25, 2]]
    assert embedded["bm_history"] == [[float(i), i, 1000 + i] for i in range(5)]
    assert "doomed" not in embedded["after_delete"]
    assert (embedded["deleted_stage"], embedded["restored_stage"]) == ("deleted", "active")
    assert embedded["conflict"] == "INVALID_PARAMETER_VALUE"
    train, test = embedded["inputs"]["get"]
    assert train == {
        "dataset": {
            "name": "train",
            "digest": "d1g3st",
            "source_type": "http",
            "source": '{"url": "https://example.com/train.csv"}',
            "schema": '{"cols": ["x"]}',
            "profile": '{"num_rows": 3}',
        },
        "tags": {"mlflow.data.context": "training", "fold": "1"},
    }
    assert test["dataset"]["name"] == "tëst" and test["dataset"]["digest"] == "t3st"
    assert test["dataset"]["schema"] is None and test["dataset"]["profile"] is None
    assert test["tags"] == {"mlflow.data.context": "eval"}
    assert embedded["inputs"]["search"] == [["with-data", [train, test]]]
    assert embedded["inputs"]["by_name"] == ["with-data"]


def test_mlflow_runs_are_never_reaped(store_uri: str, tmp_path: Path) -> None:
    """A run created by MLflow's client sends no heartbeats, so no lease ever expires it."""
    code = (
        "import mlflow, sys; mlflow.set_tracking_uri(sys.argv[1]); "
        "print('RUN:' + mlflow.start_run().info.run_id)"
    )
    import runstack

    with BackgroundServer(store_uri) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RUNSTACK_"))}
        done = subprocess.run(
            [MLFLOW_PYTHON, "-c", code, url],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        run_id = next(line[4:] for line in done.stdout.splitlines() if line.startswith("RUN:"))
        client = runstack.TrackingClient(url)
        # MLflow's exit hook ends it FINISHED; set it RUNNING again as a crashed client leaves it.
        client.update_run(run_id, "RUNNING")
        from runstack.store import get_store

        assert get_store(store_uri).reap_dead_runs() == []
        assert client.get_run(run_id).info.status == "RUNNING"
        assert client.search_runs(["0"])[0].info.status == "RUNNING"
