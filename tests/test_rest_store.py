"""The REST store (``http://`` tracking URIs): retries only what is safe to repeat, passes on
the server's own errors, speaks plain MLflow to servers without runstack's endpoints, and
keeps runs alive with heartbeats through the server, which reaps the dead ones."""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import runstack
from conftest import run_python
from procs import children, wait_until
from runstack.entities import Metric, Param, RunTag
from runstack.errors import InvalidParameterError, InvalidStateError, StoreUnavailableError
from runstack.server.background import BackgroundServer
from runstack.store import get_store
from runstack.store.rest import RestStore, mlflow_batches

# Fake servers ---------------------------------------------------------------------------------


class FakeServer:
    """A stdlib HTTP server that answers from a script and counts requests per path."""

    def __init__(self, answers: dict[str, list[tuple[int, str] | None]]) -> None:
        self.answers = {path: list(replies) for path, replies in answers.items()}
        self.hits: dict[str, int] = {}
        self.bodies: list[tuple[str, object]] = []  # (path, JSON body) of each POST
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                path = self.path.split("?")[0]
                fake.hits[path] = fake.hits.get(path, 0) + 1
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                if self.command == "POST":
                    fake.bodies.append((path, json.loads(data)))
                replies = fake.answers.get(path) or [(404, "<html>Not Found</html>")]
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                if reply is None:  # drop the connection without answering
                    self.close_connection = True
                    return
                status, body = reply
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _error(code: str, message: str) -> str:
    return json.dumps({"error_code": code, "message": message})


RUN_JSON = json.dumps(
    {
        "run": {
            "info": {
                "run_id": "a" * 32,
                "experiment_id": "0",
                "status": "RUNNING",
                "start_time": 1,
                "lifecycle_stage": "active",
            }
        }
    }
)
API = "/api/2.0/mlflow/"
GET_RUN = API + "runs/get"
BATCH = "/api/2.0/runstack/runs/log-batch"
CREATE = "/api/2.0/runstack/runs/create"
INFO = "/api/2.0/runstack/server-info"
RUNSTACK_INFO = json.dumps({"server": "runstack", "api_version": 1})


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNSTACK_HTTP_MAX_RETRIES", "3")
    monkeypatch.setattr("runstack.store.rest.random.random", lambda: 0.0)


def test_reads_are_retried_on_temporary_failures() -> None:
    replies = [(503, _error("TEMPORARILY_UNAVAILABLE", "db down")), None, (200, RUN_JSON)]
    with FakeServer({GET_RUN: replies}) as fake:
        run = RestStore(fake.url, api="mlflow").get_run("a" * 32)
    assert run.info.run_id == "a" * 32 and run.info.end_time is None
    assert fake.hits[GET_RUN] == 3


def test_run_creation_is_never_replayed() -> None:
    with FakeServer({INFO: [(200, RUNSTACK_INFO)], CREATE: [None]}) as fake:
        store = RestStore(fake.url)
        with pytest.raises(StoreUnavailableError, match="may or may not have been applied"):
            store.create_run("0", "me", 1, "name", [], None, 60_000)
    assert fake.hits[CREATE] == 1
    replies = [(503, _error("TEMPORARILY_UNAVAILABLE", "database is down, try later"))]
    with (
        FakeServer({INFO: [(200, RUNSTACK_INFO)], CREATE: replies}) as fake,
        pytest.raises(StoreUnavailableError, match=r"^database is down, try later$"),
    ):
        RestStore(fake.url).create_run("0", "me", 1, "name", [], None, None)
    assert fake.hits[CREATE] == 1


def test_server_errors_keep_their_code_and_message_and_500_is_not_retried() -> None:
    with (
        FakeServer({GET_RUN: [(500, _error("INTERNAL_ERROR", "boom in the server"))]}) as fake,
        pytest.raises(runstack.RunstackError) as caught,
    ):
        RestStore(fake.url, api="mlflow").get_run("a" * 32)
    assert caught.value.error_code == "INTERNAL_ERROR"
    assert str(caught.value) == "boom in the server"
    assert fake.hits[GET_RUN] == 1
    with (
        FakeServer({GET_RUN: [(502, "<html>bad gateway</html>")]}) as fake,
        pytest.raises(runstack.RunstackError, match="HTTP 502"),
    ):
        RestStore(fake.url, api="mlflow").get_run("a" * 32)
    assert fake.hits[GET_RUN] == 4  # the first try and 3 retries


def test_unreachable_server_says_so() -> None:
    with FakeServer({}) as fake:
        url = fake.url
    with pytest.raises(StoreUnavailableError, match="Cannot reach the tracking server"):
        RestStore(url, api="mlflow").get_run("a" * 32)


def test_servers_without_runstack_endpoints_get_mlflow_calls() -> None:
    with FakeServer({GET_RUN: [(200, RUN_JSON)]}) as fake:
        store = RestStore(fake.url)
        assert not store.is_runstack
        store.renew_heartbeats(["a" * 32], 1000)  # nothing to send to an MLflow server
    assert fake.hits == {INFO: 1}


def test_one_value_alone_goes_to_the_endpoint_for_one_value() -> None:
    run_id = "a" * 32
    done = [(200, "{}")]
    paths = ["runs/log-metric", "runs/log-parameter", "runs/set-tag"]
    answers = {INFO: [(200, RUNSTACK_INFO)], BATCH: done} | {API + path: done for path in paths}
    with FakeServer(answers) as fake:
        store = RestStore(fake.url)
        store.log_batch(run_id, [Metric("loss", math.nan, 5, 2)], [], [])
        store.log_batch(run_id, [], [("lr", "0.1")], [])
        store.log_batch(run_id, [], [], [("team", "a")])
        store.log_batch(run_id, [Metric("loss", 1.0, 6, 3)], [("p", "1")], [])
    metric = {"run_id": run_id, "key": "loss", "value": "NaN", "timestamp": 5, "step": 2}
    assert fake.bodies == [
        (API + "runs/log-metric", metric),
        (API + "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"}),
        (API + "runs/set-tag", {"run_id": run_id, "key": "team", "value": "a"}),
        (
            BATCH,
            {
                "run_id": run_id,
                "metrics": [{"key": "loss", "value": 1.0, "timestamp": 6, "step": 3}],
                "params": [{"key": "p", "value": "1"}],
                "tags": [],
            },
        ),
    ]


def test_one_metric_is_never_replayed_but_one_param_is() -> None:
    log_metric, log_param = API + "runs/log-metric", API + "runs/log-parameter"
    answers = {INFO: [(200, RUNSTACK_INFO)], log_metric: [None], log_param: [None, (200, "{}")]}
    with FakeServer(answers) as fake:
        store = RestStore(fake.url)
        with pytest.raises(StoreUnavailableError, match="may or may not have been applied"):
            store.log_batch("a" * 32, [Metric("loss", 1.0, 5, 2)], [], [])
        store.log_batch("a" * 32, [], [("lr", "0.1")], [])
    assert fake.hits[log_metric] == 1 and fake.hits[log_param] == 2


def test_mlflow_batches_respect_mlflow_limits() -> None:
    metrics = [Metric(f"m{i}", 1.0, 1, 0) for i in range(2500)]
    params = [(f"p{i}", "v") for i in range(250)]
    tags = [(f"t{i}", "v") for i in range(30)]
    pieces = mlflow_batches(metrics, params, tags)
    for piece in pieces:
        assert len(piece["params"]) <= 100 and len(piece["tags"]) <= 100
        assert len(piece["metrics"]) + len(piece["params"]) + len(piece["tags"]) <= 1000
    assert sum(len(p["metrics"]) for p in pieces) == 2500
    assert [p for piece in pieces for p in piece["params"]] == params
    assert mlflow_batches([], [], []) == [{"params": [], "tags": [], "metrics": []}]


# Against runstack's server ----------------------------------------------------------------------


@pytest.fixture
def server(migrated_store_uri: str) -> Iterator[BackgroundServer]:
    server = BackgroundServer(migrated_store_uri)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_mlflow_api_mode_against_runstack_server(server: BackgroundServer) -> None:
    """The code path used for MLflow servers, exercised against runstack's MLflow endpoints."""
    store = RestStore(server.url, api="mlflow")
    parent = store.create_run("0", "me", 5, "parent", [("a", "1")], None, 60_000)
    child = store.create_run(
        "0",
        "me",
        6,
        "child",
        [("mlflow.parentRunId", parent.info.run_id)],
        parent.info.run_id,
        None,
    )
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    store.log_batch(
        parent.info.run_id,
        [Metric("m", float(i), i, i) for i in range(1500)],
        [(f"p{i}", str(i)) for i in range(250)],
        [("t", "v")],
    )
    got = store.get_run(parent.info.run_id)
    assert len(got.data.params) == 250 and got.data.metrics == {"m": 1499.0}
    assert len(store.get_metric_history(parent.info.run_id, "m")) == 1500
    store.update_run(parent.info.run_id, "FINISHED", 10, None)
    resumed = store.resume_run(parent.info.run_id, "0", "again", [("r", "1")], None)
    assert (resumed.info.status, resumed.info.run_name, resumed.data.tags["r"]) == (
        "RUNNING",
        "again",
        "1",
    )
    with pytest.raises(InvalidParameterError, match="belongs to experiment 0"):
        store.resume_run(parent.info.run_id, "7", None, [], None)
    store.delete_run(parent.info.run_id)
    with pytest.raises(InvalidStateError, match="deleted"):
        store.create_run("0", "me", 7, "orphan", [], parent.info.run_id, None)
    with pytest.raises(InvalidStateError, match="deleted"):
        store.resume_run(parent.info.run_id, None, None, [], None)


def test_errors_are_the_servers_messages(server: BackgroundServer) -> None:
    client = runstack.TrackingClient(server.url)
    run_id = client.create_run("0").info.run_id
    client.log_param(run_id, "lr", "0.1")
    with pytest.raises(InvalidParameterError) as caught:
        client.log_param(run_id, "lr", "0.2")
    direct = runstack.TrackingClient(server.backend_store_uri)
    with pytest.raises(InvalidParameterError) as expected:
        direct.log_param(run_id, "lr", "0.2")
    assert str(caught.value) == str(expected.value)


@pytest.mark.slow
def test_a_batch_over_the_request_limit_is_refused_whole(server: BackgroundServer) -> None:
    client = runstack.TrackingClient(server.url)
    run_id = client.create_run("0").info.run_id
    metrics = [
        Metric(f"metric_number_{i}", 0.123456789, 1_700_000_000_000, i) for i in range(20_000)
    ]
    with pytest.raises(InvalidParameterError, match="request limit"):
        client.log_batch(run_id, metrics=metrics)
    assert client.get_run(run_id).data.metrics == {}
    client.log_batch(run_id, metrics=metrics[:5000], params=[Param("p", 1)], tags=[RunTag("t", 2)])
    assert len(client.get_run(run_id).data.metrics) == 5000


def test_using_a_rest_store_imports_no_server_or_database_library(server: BackgroundServer) -> None:
    done = run_python(
        f"""
        import sys, runstack
        runstack.set_tracking_uri({server.url!r})
        with runstack.start_run():
            runstack.log_metric("m", 1.0)
        print(sorted(m for m in ("starlette", "uvicorn", "sqlalchemy") if m in sys.modules))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow
def test_heartbeats_keep_runs_alive_and_the_server_reaps_dead_ones(
    store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNSTACK_SERVER_REAP_INTERVAL", "0.2")
    backend = get_store(store_uri)

    def stored_status(run_id: str) -> str:
        # Read the database directly: get_run and search would reap by themselves.
        import sqlalchemy as sa

        from runstack.store.sql.schema import runs

        query = sa.select(runs.c.status).where(runs.c.run_id == run_id)
        return str(backend.db.read(lambda tx: tx.scalar(query)))  # type: ignore[attr-defined]

    with BackgroundServer(store_uri) as url, children() as procs:
        env = {
            "MLFLOW_TRACKING_URI": url,
            "RUNSTACK_HEARTBEAT_INTERVAL": "0.2",
            "RUNSTACK_HEARTBEAT_TIMEOUT": "1.0",
        }
        child = procs.start(
            """
            import sys, runstack
            run = runstack.start_run()
            print("RUN", run.info.run_id, flush=True)
            sys.stdin.readline()
            """,
            env=env,
            stdin=True,
        )
        run_id = child.read_value("RUN")
        time.sleep(2.0)  # twice the timeout: only heartbeats through the server keep it alive
        assert stored_status(run_id) == "RUNNING"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert wait_until(lambda: stored_status(run_id) == "KILLED", timeout=15)
        run = runstack.TrackingClient(url).get_run(run_id)
        assert "No heartbeat" in run.data.tags["runstack.killedReason"]
        assert run.info.end_time is not None
