"""The server's REST API on a real socket: MLflow's JSON shapes, its error format on every
/api/ path, and the MLflow quirks runstack fixes (reference §15), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from json_api import JsonApi, served
from runstack.server import serve
from runstack.server.routes import ALL_ENDPOINTS

API = "/api/2.0/mlflow/"


class Api(JsonApi):
    """MLflow's REST API: errors on /api/ and /ajax-api/ paths have exactly MLflow's two keys."""

    prefix = API

    def has_json_errors(self, path: str) -> bool:
        return path.startswith(("/api/", "/ajax-api/"))


@pytest.fixture
def api(migrated_store_uri: str) -> Iterator[Api]:
    with served(Api, migrated_store_uri) as client:
        yield client


def _new_run(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"experiment_id": "0", **fields}
    run: dict[str, Any] = api.ok("POST", "runs/create", body)["run"]
    return run


def test_run_json_shape(api: Api) -> None:
    before = int(time.time() * 1000)
    run = _new_run(api, user_id="ann", tags=[{"key": "team", "value": "a"}])
    info = run["info"]
    assert info["run_id"] == info["run_uuid"] and len(info["run_id"]) == 32
    assert info["status"] == "RUNNING" and info["lifecycle_stage"] == "active"
    assert "end_time" not in info  # unset fields are omitted
    assert info["start_time"] >= before  # MLflow records 0 when start_time is absent
    assert info["user_id"] == "ann" and info["experiment_id"] == "0"
    assert info["run_name"]  # generated
    assert "params" not in run["data"] and "metrics" not in run["data"]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags == {"team": "a", "mlflow.runName": info["run_name"]}
    assert run["inputs"] == {} and run["outputs"] == {}


def test_metric_values_round_trip_as_proto_json(api: Api) -> None:
    run_id = _new_run(api)["info"]["run_id"]
    for value in ("NaN", "Infinity", "-Infinity", 1.5, -0.0):
        api.ok(
            "POST",
            "runs/log-metric",
            {"run_id": run_id, "key": "m", "value": value, "timestamp": 0, "step": 1},
        )
    history = api.ok("GET", "metrics/get-history", run_id=run_id, metric_key="m")["metrics"]
    assert [m["value"] for m in history] == ["NaN", "Infinity", "-Infinity", 1.5, -0.0]
    assert all(m["timestamp"] == 0 and m["step"] == 1 for m in history)
    batch = {
        "run_id": run_id,
        "metrics": [{"key": "b", "value": "9007199254740993", "timestamp": "12", "step": "3"}],
    }
    api.ok("POST", "runs/log-batch", batch)
    run = api.ok("GET", "runs/get", run_uuid=run_id)["run"]  # the deprecated name works too
    latest = {m["key"]: m for m in run["data"]["metrics"]}
    assert latest["b"] == {"key": "b", "value": 9007199254740992.0, "timestamp": 12, "step": 3}


def test_update_statuses_and_end_time(api: Api) -> None:
    run_id = _new_run(api)["info"]["run_id"]
    for status in ("FINISHED", "FAILED", "KILLED", 3):
        info = api.ok(
            "POST", "runs/update", {"run_id": run_id, "status": status, "end_time": 1234}
        )["run_info"]
        assert info["end_time"] == 1234
    for status in ("RUNNING", "SCHEDULED"):
        info = api.ok("POST", "runs/update", {"run_id": run_id, "status": status})["run_info"]
        assert info["status"] == status and "end_time" not in info
    renamed = api.ok("POST", "runs/update", {"run_id": run_id, "run_name": "new"})["run_info"]
    assert renamed["run_name"] == "new"


def test_invalid_status_is_a_400_and_changes_nothing(api: Api) -> None:
    run_id = _new_run(api)["info"]["run_id"]
    error = api.error(400, "POST", "runs/update", {"run_id": run_id, "status": "DONE"})
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "'DONE'" in error["message"] and "FINISHED" in error["message"]
    assert api.ok("GET", "runs/get", run_id=run_id)["run"]["info"]["status"] == "RUNNING"


def test_params_tags_delete_and_restore(api: Api) -> None:
    run_id = _new_run(api)["info"]["run_id"]
    api.ok("POST", "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"})
    api.ok("POST", "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"})
    error = api.error(
        400, "POST", "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.2"}
    )
    assert "'lr'" in error["message"] and "'0.2'" in error["message"]
    api.ok("POST", "runs/set-tag", {"run_id": run_id, "key": "t", "value": "v"})
    api.ok("POST", "runs/delete-tag", {"run_id": run_id, "key": "t"})
    error = api.error(404, "POST", "runs/delete-tag", {"run_id": run_id, "key": "t"})
    assert error["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    api.ok("POST", "runs/delete", {"run_id": run_id})
    assert api.ok("GET", "runs/get", run_id=run_id)["run"]["info"]["lifecycle_stage"] == "deleted"
    found = api.ok("POST", "runs/search", {"experiment_ids": ["0"]})
    assert "runs" not in found
    api.ok("POST", "runs/restore", {"run_id": run_id})
    found = api.ok("POST", "runs/search", {"experiment_ids": ["0"], "run_view_type": "ALL"})
    assert [r["info"]["run_id"] for r in found["runs"]] == [run_id]


def test_log_batch_limits_and_atomicity(api: Api) -> None:
    run_id = _new_run(api)["info"]["run_id"]
    too_many = [{"key": f"p{i}", "value": "1"} for i in range(101)]
    error = api.error(400, "POST", "runs/log-batch", {"run_id": run_id, "params": too_many})
    assert "at most 100 params" in error["message"]
    bad = {
        "run_id": run_id,
        "params": [{"key": "ok", "value": "1"}],
        "metrics": [{"key": "bad$key", "value": 1, "timestamp": 1}],
    }
    error = api.error(400, "POST", "runs/log-batch", bad)
    assert "bad$key" in error["message"]
    assert "params" not in api.ok("GET", "runs/get", run_id=run_id)["run"]["data"]


def test_run_create_validates_tags_and_parent(api: Api) -> None:
    error = api.error(
        400, "POST", "runs/create", {"experiment_id": "0", "tags": [{"key": "a$b", "value": "1"}]}
    )
    assert "a$b" in error["message"]
    error = api.error(400, "POST", "runs/create", {})
    assert error["message"] == "Missing value for required parameter 'experiment_id'."
    error = api.error(400, "POST", "runs/create", {"experiment_id": "0", "start_time": "soon"})
    assert '"soon"' in error["message"] and "start_time" in error["message"]
    error = api.error(404, "POST", "runs/create", {"experiment_id": "42"})
    assert "42" in error["message"]


def test_experiment_endpoints(api: Api) -> None:
    created = api.ok(
        "POST", "experiments/create", {"name": "exp", "tags": [{"key": "k", "value": "v"}]}
    )
    exp_id = created["experiment_id"]
    experiment = api.ok("GET", "experiments/get", experiment_id=exp_id)["experiment"]
    assert experiment["name"] == "exp" and experiment["lifecycle_stage"] == "active"
    assert experiment["tags"] == [{"key": "k", "value": "v"}]
    assert experiment["workspace"] == "default"
    assert isinstance(experiment["creation_time"], int)
    by_name = api.ok("GET", "experiments/get-by-name", experiment_name="exp")["experiment"]
    assert by_name == experiment
    error = api.error(404, "GET", "experiments/get-by-name", experiment_name="nope")
    assert error["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    error = api.error(400, "POST", "experiments/create", {"name": "exp"})
    assert error["error_code"] == "RESOURCE_ALREADY_EXISTS" and "INSERT" not in error["message"]
    error = api.error(400, "GET", "experiments/get", experiment_id="abc")
    assert "'abc'" in error["message"]
    api.ok("POST", "experiments/update", {"experiment_id": exp_id, "new_name": "renamed"})
    api.ok(
        "POST",
        "experiments/set-experiment-tag",
        {"experiment_id": exp_id, "key": "k2", "value": "v2"},
    )
    api.ok("POST", "experiments/delete-experiment-tag", {"experiment_id": exp_id, "key": "k"})
    experiment = api.ok("GET", "experiments/get", experiment_id=exp_id)["experiment"]
    assert experiment["name"] == "renamed" and experiment["tags"] == [{"key": "k2", "value": "v2"}]
    # MLflow answers 400 when max_results is omitted; here it defaults to 1000.
    names = [e["name"] for e in api.ok("POST", "experiments/search", {})["experiments"]]
    assert sorted(names) == ["Default", "renamed"]
    api.ok("POST", "experiments/delete", {"experiment_id": exp_id})
    found = api.ok("GET", "experiments/search", view_type="DELETED_ONLY", max_results="10")
    assert [e["name"] for e in found["experiments"]] == ["renamed"]
    api.ok("POST", "experiments/restore", {"experiment_id": exp_id})


def test_paging_of_runs_and_history(api: Api) -> None:
    run_ids = {_new_run(api)["info"]["run_id"] for _ in range(5)}
    seen: list[str] = []
    token = None
    while True:
        body = {
            "experiment_ids": ["0"],
            "max_results": 2,
            **({"page_token": token} if token else {}),
        }
        page = api.ok("POST", "runs/search", body)
        seen += [r["info"]["run_id"] for r in page["runs"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert sorted(seen) == sorted(run_ids)
    run_id = seen[0]
    metrics = [{"key": "m", "value": i, "timestamp": i, "step": i} for i in range(7)]
    api.ok("POST", "runs/log-batch", {"run_id": run_id, "metrics": metrics})
    values: list[float] = []
    token = None
    while True:
        params = {"run_id": run_id, "metric_key": "m", "max_results": 3}
        page = api.ok(
            "GET", "metrics/get-history", **params, **({"page_token": token} if token else {})
        )
        values += [m["value"] for m in page["metrics"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert values == list(range(7))
    bulk = api.ok(
        "GET", "metrics/get-history-bulk-interval", run_ids=[run_id], metric_key="m", max_results=3
    )["metrics"]
    assert [m["step"] for m in bulk] == [0, 3, 6] and {m["run_id"] for m in bulk} == {run_id}


def test_unknown_routes_and_methods_answer_json(api: Api) -> None:
    error = api.error(404, "GET", "/api/2.0/mlflow/no/such/thing")
    assert error["error_code"] == "ENDPOINT_NOT_FOUND"
    error = api.error(404, "POST", "/api/9.9/other")
    assert error["error_code"] == "ENDPOINT_NOT_FOUND"
    response = api.call("GET", "runs/create")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert "GET" in response.json()["message"]
    error = api.error(404, "GET", "/ajax-api/2.0/mlflow/nothing")
    assert error["error_code"] == "ENDPOINT_NOT_FOUND"
    # MLflow's UI prefix serves the same API.
    assert api.ok("GET", "/ajax-api/2.0/mlflow/experiments/get", experiment_id="0")


def test_bad_bodies(api: Api) -> None:
    response = api.http.post(API + "runs/create", content=b"{not json")
    assert response.status_code == 400 and response.json()["error_code"] == "BAD_REQUEST"
    response = api.http.post(API + "runs/create", content=b"[1, 2]")
    assert response.status_code == 400 and "JSON object" in response.json()["message"]
    response = api.http.post(API + "runs/log-batch", content=b" " * 1_000_001)
    assert response.status_code == 413
    assert response.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
        for _ in range(20):
            yield b" " * 100_000

    response = api.http.post(API + "runs/log-batch", content=chunks())
    assert response.status_code == 413
    error = api.error(
        400,
        "POST",
        "runs/log-metric",
        {"run_id": "x" * 40, "key": "m", "value": "high", "timestamp": 1},
    )
    assert '"high"' in error["message"] and "'value'" in error["message"]


def test_log_inputs_records_datasets(api: Api) -> None:
    run_id = _new_run(api)["info"]["run_id"]
    assert api.ok("POST", "runs/log-inputs", {"run_id": run_id}) == {}
    dataset = {"name": "d", "digest": "abc", "source_type": "http", "source": "{}"}
    used = {"tags": [{"key": "mlflow.data.context", "value": "train"}], "dataset": dataset}
    bare = {"dataset": {**dataset, "name": "e", "schema": "s", "profile": ""}}
    assert api.ok("POST", "runs/log-inputs", {"run_id": run_id, "datasets": [used, bare]}) == {}
    run = api.ok("GET", "runs/get", run_id=run_id)["run"]
    assert run["inputs"] == {"dataset_inputs": [used, bare]}  # unset fields omitted
    (found,) = api.ok("POST", "runs/search", {"experiment_ids": ["0"]})["runs"]
    assert found["inputs"] == run["inputs"]
    # Logged-model inputs: 501, and nothing of the request is applied.
    other = {"dataset": {**dataset, "name": "f"}}
    error = api.error(
        501,
        "POST",
        "runs/log-inputs",
        {"run_id": run_id, "datasets": [other], "models": [{"model_id": "m-1"}]},
    )
    assert error["error_code"] == "NOT_IMPLEMENTED" and "logged-model" in error["message"]
    # A required field missing, or a value over MLflow's limit: 400, nothing applied.
    missing = {"dataset": {k: v for k, v in dataset.items() if k != "digest"}}
    error = api.error(400, "POST", "runs/log-inputs", {"run_id": run_id, "datasets": [missing]})
    assert "digest" in error["message"] and "required" in error["message"]
    long_tag = {"tags": [{"key": "k", "value": "v" * 501}], "dataset": other["dataset"]}
    error = api.error(400, "POST", "runs/log-inputs", {"run_id": run_id, "datasets": [long_tag]})
    assert "501" in error["message"] and "500" in error["message"]
    error = api.error(400, "POST", "runs/log-inputs", {"run_id": run_id, "datasets": ["x"]})
    assert "datasets[0]" in error["message"]
    after = api.ok("GET", "runs/get", run_id=run_id)["run"]
    assert after["inputs"] == run["inputs"]
    unknown = {"run_id": "f" * 32, "datasets": [used]}
    assert api.error(404, "POST", "runs/log-inputs", unknown)["error_code"] == (
        "RESOURCE_DOES_NOT_EXIST"
    )


def test_openapi_document_lists_every_route(api: Api) -> None:
    document = api.ok("GET", "/api/2.0/runstack/openapi.json")
    assert document["openapi"].startswith("3.")
    for endpoint in ALL_ENDPOINTS:
        item = document["paths"][endpoint.full_path]
        assert {m.lower() for m in endpoint.methods} == set(item)
    assert document == api.ok("GET", "/openapi.json")
    create = document["paths"][API + "runs/create"]["post"]
    assert (
        "experiment_id"
        in create["requestBody"]["content"]["application/json"]["schema"]["required"]
    )
    assert json.dumps(document)  # plain JSON, no NaN


def test_health_and_version(api: Api) -> None:
    assert api.http.get("/health").text == "OK"
    assert api.http.get("/version").status_code == 200


def test_serve_binds_to_loopback_by_default() -> None:
    import inspect

    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
