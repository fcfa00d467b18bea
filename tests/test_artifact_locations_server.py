"""The server's experiments/create checks artifact locations as the client does: known
schemes only, relative paths made absolute (MLflow's REST test
test_create_get_search_experiment checks the latter); a bad one is a 400, nothing created.
This is the rule of a server that does not proxy artifacts; one that does accepts only
locations under its destination or its working directory (tests/test_server_artifacts.py)."""

from __future__ import annotations

from pathlib import Path

import httpx

from runstack.server.app import create_app
from runstack.server.artifact_settings import ArtifactSettings
from runstack.server.background import BackgroundServer


def test_server_checks_and_absolutises_locations(store_uri: str, clean_env: Path) -> None:
    no_proxy = ArtifactSettings.create(store_uri, serve=False)
    with BackgroundServer(app=create_app(store_uri, None, no_proxy)) as url:
        api = f"{url}/api/2.0/mlflow/experiments"
        created = httpx.post(f"{api}/create", json={"name": "rel", "artifact_location": "a/b"})
        assert created.status_code == 200, created.text
        got = httpx.get(f"{api}/get", params={"experiment_id": created.json()["experiment_id"]})
        assert got.json()["experiment"]["artifact_location"] == f"{clean_env}/a/b"
        for bad in ("ftp://host/x", "runs:/abc/model", "gs://bucket/x"):
            answer = httpx.post(f"{api}/create", json={"name": bad, "artifact_location": bad})
            assert answer.status_code == 400
            body = answer.json()
            assert body["error_code"] == "INVALID_PARAMETER_VALUE"
            assert repr(bad) in body["message"]
            missing = httpx.get(f"{api}/get-by-name", params={"experiment_name": bad})
            assert missing.status_code == 404
        kept = httpx.post(f"{api}/create", json={"name": "s3", "artifact_location": "s3://b/p"})
        got = httpx.get(f"{api}/get", params={"experiment_id": kept.json()["experiment_id"]})
        assert got.json()["experiment"]["artifact_location"] == "s3://b/p"


def test_a_proxying_server_takes_relative_locations_under_its_working_directory(
    store_uri: str, clean_env: Path
) -> None:
    # MLflow's REST test test_create_get_search_experiment, against a default server (which
    # proxies artifacts): "my_location" is kept, made absolute; "../../" still is not.
    with BackgroundServer(store_uri) as url:
        api = f"{url}/api/2.0/mlflow/experiments"
        made = httpx.post(f"{api}/create", json={"name": "e", "artifact_location": "my_location"})
        assert made.status_code == 200, made.text
        got = httpx.get(f"{api}/get", params={"experiment_id": made.json()["experiment_id"]})
        assert got.json()["experiment"]["artifact_location"] == f"{clean_env}/my_location"
        for bad in ("../../", "file:///etc", f"{clean_env}/../elsewhere"):
            refused = httpx.post(f"{api}/create", json={"name": bad, "artifact_location": bad})
            assert refused.status_code == 400, (bad, refused.text)
            assert "working directory" in refused.json()["message"]


def test_client_over_rest_logs_and_reads_artifacts(
    store_uri: str, clean_env: Path, tmp_path: Path
) -> None:
    import runstack

    with BackgroundServer(store_uri) as url:
        client = runstack.TrackingClient(url)
        run_id = client.create_run("0").info.run_id
        client.log_dict(run_id, {"a": 1}, "cfg/c.json")
        (tmp_path / "m.bin").write_bytes(b"\x00" * 10)
        client.log_artifact(run_id, str(tmp_path / "m.bin"), "model")
        assert [(f.path, f.is_dir) for f in client.list_artifacts(run_id)] == [
            ("cfg", True),
            ("model", True),
        ]
        local = client.download_artifacts(run_id, "cfg/c.json", str(tmp_path))
        assert Path(local).read_text() == '{\n  "a": 1\n}'
        assert client.list_artifacts(run_id, "model")[0].file_size == 10
