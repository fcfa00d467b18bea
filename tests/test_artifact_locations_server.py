"""The server's experiments/create checks artifact locations as the client does: known
schemes only, relative paths made absolute (MLflow's REST test
test_create_get_search_experiment checks the latter); a bad one is a 400, nothing created."""

from __future__ import annotations

from pathlib import Path

import httpx

from runstack.server.background import BackgroundServer


def test_server_checks_and_absolutises_locations(store_uri: str, clean_env: Path) -> None:
    with BackgroundServer(store_uri) as url:
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
