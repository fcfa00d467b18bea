"""One set of rules for a new run: ``TrackingClient.create_run`` and the server's
``runs/create`` both go through ``runstack.run_creation``, so the same input makes the same
run, or the same error, either way. And sweeping dead runs is part of the ``Store`` protocol.
Both backends, a real server on a real socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import runstack
from runstack.errors import RunstackError
from runstack.server.background import BackgroundServer
from runstack.store import get_store
from runstack.store.rest import RestStore

API = "/api/2.0/mlflow/runs/create"


@pytest.fixture
def both(store_uri: str) -> Iterator[tuple[runstack.TrackingClient, httpx.Client]]:
    with BackgroundServer(store_uri) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield runstack.TrackingClient(store_uri), http


def _server_create(http: httpx.Client, **body: Any) -> httpx.Response:
    tags = [{"key": k, "value": v} for k, v in body.pop("tags", {}).items()]
    return http.post(API, json={"experiment_id": "0", "tags": tags, **body})


@pytest.mark.parametrize(
    "fields",
    [
        {"run_name": "a", "tags": {"mlflow.runName": "b"}},  # the name given twice, differently
        {"tags": {"mlflow.parentRunId": "f" * 32}},  # a parent that does not exist
        {"tags": {"mlflow.parentRunId": "not an id"}},
        {"start_time": -5},
        {"run_name": "x" * 300},
    ],
)
def test_the_client_and_the_server_refuse_the_same_run_with_the_same_error(
    both: tuple[runstack.TrackingClient, httpx.Client], fields: dict[str, Any]
) -> None:
    client, http = both
    with pytest.raises(RunstackError) as raised:
        client.create_run("0", **fields)
    answer = _server_create(http, **fields)
    assert answer.status_code == raised.value.http_status
    assert answer.json() == raised.value.to_dict()
    assert client.search_runs(["0"]) == []  # neither wrote anything


def test_the_client_and_the_server_make_the_same_run(
    both: tuple[runstack.TrackingClient, httpx.Client],
) -> None:
    client, http = both
    parent = client.create_run("0", run_name="parent")
    fields: dict[str, Any] = {
        "tags": {"mlflow.parentRunId": parent.info.run_id, "mlflow.runName": "child", "k": "v"},
        "start_time": 1234,
    }
    by_client = client.create_run("0", **fields)
    answer = _server_create(http, **fields)
    assert answer.status_code == 200, answer.text
    by_server = client.get_run(answer.json()["run"]["info"]["run_id"])
    for run in (client.get_run(by_client.info.run_id), by_server):
        assert run.info.run_name == "child" and run.info.start_time == 1234
        assert run.data.tags == {
            "mlflow.parentRunId": parent.info.run_id,
            "mlflow.runName": "child",
            "k": "v",
        }


def test_a_run_without_a_name_gets_a_generated_one_either_way(
    both: tuple[runstack.TrackingClient, httpx.Client],
) -> None:
    client, http = both
    answer = _server_create(http)
    assert answer.status_code == 200, answer.text
    for run_id in (client.create_run("0").info.run_id, answer.json()["run"]["info"]["run_id"]):
        run = client.get_run(run_id)
        assert run.info.run_name and run.data.tags["mlflow.runName"] == run.info.run_name


def test_reap_dead_runs_is_a_store_method(store_uri: str) -> None:
    client = runstack.TrackingClient(store_uri)
    dead = client.create_run("0", heartbeat_timeout_ms=1).info.run_id
    alive = client.create_run("0", heartbeat_timeout_ms=600_000).info.run_id
    never = client.create_run("0").info.run_id  # no lease: never reaped
    time.sleep(0.05)
    store = get_store(store_uri)
    assert store.reap_dead_runs() == [dead]
    assert store.reap_dead_runs() == []
    statuses = {r: client.get_run(r).info.status for r in (dead, alive, never)}
    assert statuses == {dead: "KILLED", alive: "RUNNING", never: "RUNNING"}
    assert "runstack.killedReason" in client.get_run(dead).data.tags


def test_the_rest_store_reaps_nothing_itself(store_uri: str) -> None:
    client = runstack.TrackingClient(store_uri)
    dead = client.create_run("0", heartbeat_timeout_ms=1).info.run_id
    time.sleep(0.05)
    with BackgroundServer(store_uri) as url:
        store = RestStore(url)
        try:
            assert store.reap_dead_runs() == []  # the server sweeps its own database
        finally:
            store.close()
    assert get_store(store_uri).reap_dead_runs() == [dead]
