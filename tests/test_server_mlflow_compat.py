"""Server behaviour that MLflow's own REST tests check and runstack once lacked (found by running
them, scripts/mlflow_suite): MLflow's ``artifacts/list`` endpoint, ``text/plain`` for MLmodel
and MLproject files, and MLflow's wording of a bad request field. Both stores."""

from __future__ import annotations

from pathlib import Path

import httpx

from runstack.server.app import create_app
from runstack.server.artifact_settings import ArtifactSettings
from runstack.server.background import BackgroundServer

LIST = "/api/2.0/mlflow/artifacts/list"


def _put(url: str, path: str, body: bytes) -> None:
    answer = httpx.put(f"{url}/api/2.0/mlflow-artifacts/artifacts/{path}", content=body)
    assert answer.status_code == 200, answer.text


def test_artifacts_list_answers_as_mlflow(store_uri: str, clean_env: Path) -> None:
    with BackgroundServer(store_uri) as url:
        run = httpx.post(f"{url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).json()
        info = run["run"]["info"]
        root = info["artifact_uri"]
        assert root.startswith("mlflow-artifacts:/0/")
        stored = root[len("mlflow-artifacts:/") :]
        _put(url, f"{stored}/a.txt", b"0")
        _put(url, f"{stored}/dir/b.txt", b"12")

        top = httpx.get(f"{url}{LIST}", params={"run_id": info["run_id"]})
        assert top.status_code == 200, top.text
        assert top.json() == {
            "root_uri": root,
            "files": [
                {"path": "a.txt", "is_dir": False, "file_size": 1},
                {"path": "dir", "is_dir": True},
            ],
        }
        # The deprecated run_uuid, a sub-folder, and MLflow's UI prefix.
        nested = httpx.get(
            f"{url}/ajax-api/2.0/mlflow/artifacts/list",
            params={"run_uuid": info["run_id"], "path": "dir"},
        )
        assert nested.json() == {
            "root_uri": root,
            "files": [{"path": "dir/b.txt", "is_dir": False, "file_size": 2}],
        }
        # An empty or missing folder: no files key, as proto3 JSON leaves an empty list out.
        empty = httpx.get(f"{url}{LIST}", params={"run_id": info["run_id"], "path": "none"})
        assert empty.json() == {"root_uri": root}


def test_artifacts_list_refuses_bad_requests(store_uri: str, clean_env: Path) -> None:
    with BackgroundServer(store_uri) as url:
        run = httpx.post(f"{url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).json()
        run_id = run["run"]["info"]["run_id"]
        for bad in ("../path", "/etc", "a/../../b"):
            answer = httpx.get(f"{url}{LIST}", params={"run_id": run_id, "path": bad})
            assert answer.status_code == 400, (bad, answer.text)
            body = answer.json()
            assert body["error_code"] == "INVALID_PARAMETER_VALUE"
            assert repr(bad) in body["message"]
        unknown = httpx.get(f"{url}{LIST}", params={"run_id": "f" * 32})
        assert unknown.status_code == 404
        assert unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        missing = httpx.get(f"{url}{LIST}")
        assert missing.status_code == 400
        assert "run_id" in missing.json()["message"]


def test_artifacts_list_reads_a_local_location(
    store_uri: str, clean_env: Path, tmp_path: Path
) -> None:
    # A server that does not proxy: the run's artifacts are in a folder it can read.
    no_proxy = ArtifactSettings.create(store_uri, serve=False)
    with BackgroundServer(app=create_app(store_uri, None, no_proxy)) as url:
        api = f"{url}/api/2.0/mlflow"
        location = tmp_path / "art"
        made = httpx.post(
            f"{api}/experiments/create", json={"name": "e", "artifact_location": str(location)}
        ).json()
        run = httpx.post(f"{api}/runs/create", json={"experiment_id": made["experiment_id"]})
        info = run.json()["run"]["info"]
        folder = location / info["run_id"] / "artifacts" / "m"
        folder.mkdir(parents=True)
        (folder / "MLmodel").write_text("flavors: {}\n")
        listed = httpx.get(f"{url}{LIST}", params={"run_id": info["run_id"], "path": "m"})
        assert listed.json() == {
            "root_uri": info["artifact_uri"],
            "files": [{"path": "m/MLmodel", "is_dir": False, "file_size": 12}],
        }


def test_mlflow_project_files_download_as_text(store_uri: str, clean_env: Path) -> None:
    with BackgroundServer(store_uri) as url:
        for name in ("MLmodel", "MLproject", "mlproject", "x/MLmodel"):
            _put(url, name, b"name: x\n")
            got = httpx.get(f"{url}/api/2.0/mlflow-artifacts/artifacts/{name}")
            assert got.status_code == 200
            assert got.headers["content-type"].split(";")[0] == "text/plain", name
        _put(url, "MLmodel.bin", b"\x00")
        other = httpx.get(f"{url}/api/2.0/mlflow-artifacts/artifacts/MLmodel.bin")
        assert other.headers["content-type"] == "application/octet-stream"


def test_bad_fields_are_worded_as_mlflow_words_them(store_uri: str, clean_env: Path) -> None:
    # MLflow's clients and tests match "Invalid value <JSON> for parameter '<name>' supplied".
    with BackgroundServer(store_uri) as url:
        api = f"{url}/api/2.0/mlflow"
        cases = [
            (
                "experiments/create",
                {"name": 123},
                "Invalid value 123 for parameter 'name' supplied",
            ),
            (
                "experiments/create",
                {"name": "n", "tags": "5"},
                "Invalid value \"5\" for parameter 'tags' supplied: expected a list",
            ),
            (
                "runs/log-metric",
                {"run_id": "r", "key": "k", "value": 1, "timestamp": 1, "step": "foo"},
                "Invalid value \"foo\" for parameter 'step' supplied",
            ),
        ]
        for path, body, wording in cases:
            answer = httpx.post(f"{api}/{path}", json=body)
            assert answer.status_code == 400, answer.text
            assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
            assert wording in answer.json()["message"], answer.json()["message"]
        created = httpx.get(f"{api}/experiments/get-by-name", params={"experiment_name": "n"})
        assert created.status_code == 404  # nothing was created


def test_bulk_interval_keeps_the_order_of_the_runs_asked(store_uri: str, clean_env: Path) -> None:
    with BackgroundServer(store_uri) as url:
        api = f"{url}/api/2.0/mlflow"
        run_ids = []
        for value in range(4):
            made = httpx.post(f"{api}/runs/create", json={"experiment_id": "0"}).json()
            run_id = made["run"]["info"]["run_id"]
            metric = {"run_id": run_id, "key": "m", "value": value, "timestamp": 1, "step": 0}
            assert httpx.post(f"{api}/runs/log-metric", json=metric).status_code == 200
            run_ids.append(run_id)
        for order in (run_ids, run_ids[::-1], [run_ids[2], run_ids[0], run_ids[2]]):
            answer = httpx.get(
                f"{api}/metrics/get-history-bulk-interval",
                params={"run_ids": order, "metric_key": "m"},
            )
            assert answer.status_code == 200, answer.text
            assert [m["run_id"] for m in answer.json()["metrics"]] == list(dict.fromkeys(order))


def test_bulk_interval_refusals_are_worded_as_mlflow_words_them(
    store_uri: str, clean_env: Path
) -> None:
    with BackgroundServer(store_uri) as url:
        endpoint = f"{url}/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
        cases = [
            (
                {"run_ids": [f"{i:032x}" for i in range(101)], "metric_key": "m"},
                "request must specify at most 100 run_ids. Received 101 run_ids.",
            ),
            ({"run_ids": ["r"], "metric_key": "m", "max_results": 0}, "between 1 and 2500"),
            (
                {"run_ids": ["r"], "metric_key": "m", "start_step": 1, "end_step": 0},
                "end_step must be greater than start_step. Found start_step=1 and end_step=0.",
            ),
            (
                {"run_ids": ["r"], "metric_key": "m", "start_step": 1},
                "If either start step or end step are specified, both must be specified.",
            ),
            (
                {"run_ids": ["r"], "metric_key": "m", "end_step": 1},
                "If either start step or end step are specified, both must be specified.",
            ),
        ]
        for params, wording in cases:
            answer = httpx.get(endpoint, params=params)
            assert answer.status_code == 400, answer.text
            assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
            assert wording in answer.json()["message"], answer.json()["message"]


def test_an_empty_metric_key_is_missing(store_uri: str, clean_env: Path) -> None:
    with BackgroundServer(store_uri) as url:
        api = f"{url}/api/2.0/mlflow/metrics"
        for path, params in (
            ("get-history", {"run_id": "r", "metric_key": ""}),
            ("get-history-bulk-interval", {"run_ids": ["r"], "metric_key": ""}),
        ):
            answer = httpx.get(f"{api}/{path}", params=params)
            assert answer.status_code == 400, answer.text
            message = answer.json()["message"]
            assert message == "Missing value for required parameter 'metric_key'.", message
