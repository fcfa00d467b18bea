"""MLflow's own client (mlflow-skinny 3.17) and runstack's REST store against
``runstack server --auth``: with a username and password, with a token, and without (401,
an MlflowException / RunstackError, never retried into a hang)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from runstack.auth.permissions import Permission
from runstack.auth.store import AuthStore
from runstack.entities import ViewType
from runstack.errors import RunstackError
from runstack.server.auth_guard import AuthSettings
from runstack.server.background import BackgroundServer
from runstack.server.config import ServerSettings
from runstack.store import open_store

MLFLOW_PYTHON = os.environ.get("RUNSTACK_TEST_MLFLOW_PYTHON", sys.executable)
AUTH_VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")

SCRIPT = r"""
import sys
import mlflow
from mlflow.exceptions import MlflowException

mlflow.set_tracking_uri(sys.argv[1])
try:
    experiment = mlflow.set_experiment(sys.argv[2])
    with mlflow.start_run():
        mlflow.log_metric("loss", 0.5, step=1)
        mlflow.log_param("lr", "0.1")
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    print("OK", len(runs), runs[0].data.metrics["loss"])
except MlflowException as error:
    print("ERROR", error.get_http_status_code(), error.error_code)
"""


@pytest.fixture
def served(store_uri: str) -> Iterator[tuple[str, str]]:
    auth = AuthStore.open(store_uri)
    auth.create_user("alice", "alice password")
    token, _ = auth.create_token("alice", "ci")
    auth.close()
    settings = ServerSettings(auth=AuthSettings(default_permission=Permission.NO_PERMISSIONS))
    server = BackgroundServer(store_uri, server_settings=settings)
    server.start()
    try:
        yield server.url, token
    finally:
        server.stop()


def _mlflow(url: str, experiment: str, **credentials: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in AUTH_VARIABLES}
    env.update(credentials)
    env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    done = subprocess.run(
        [MLFLOW_PYTHON, "-c", SCRIPT, url, experiment],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(("OK", "ERROR"))]
    assert lines, done.stderr[-2000:]
    return lines[-1]


@pytest.mark.slow
def test_mlflow_client_with_password_token_and_nothing(served: tuple[str, str]) -> None:
    pytest.importorskip("mlflow")
    url, token = served
    password = {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": "alice password"}
    assert _mlflow(url, "by-password", **password) == "OK 1 0.5"
    assert _mlflow(url, "by-token", MLFLOW_TRACKING_TOKEN=token) == "OK 1 0.5"
    assert _mlflow(url, "anonymous") == "ERROR 401 UNAUTHENTICATED"
    wrong = {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": "not it at all"}
    assert _mlflow(url, "wrong", **wrong) == "ERROR 401 UNAUTHENTICATED"


def _rest_store_names(url: str, create: str | None = None) -> list[str]:
    # A fresh REST store each time: a store reads the credentials when it opens its pool.
    store = open_store(url)
    try:
        if create is not None:
            store.create_experiment(create, None, [])
        return [
            e.name for e in store.search_experiments(ViewType.ACTIVE_ONLY, 100, None, None, None)
        ]
    finally:
        store.close()


def test_rest_store_with_password_token_and_nothing(
    served: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, token = served
    for name in AUTH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RunstackError) as refused:
        _rest_store_names(url)
    assert refused.value.error_code == "UNAUTHENTICATED"
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "alice password")
    assert _rest_store_names(url, create="rest") == ["rest"]  # Default is not hers to read
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    assert _rest_store_names(url) == ["rest"]
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token + "x")
    with pytest.raises(RunstackError, match="Authentication failed"):
        _rest_store_names(url)
