"""Requests done as one statement (``Database.write_alone``: on PostgreSQL, creating a run,
ending it and a metrics-only logging call each run as a single autocommit statement).

The connection must go back to ordinary transactions afterwards, and when the single
statement writes nothing (a missing or deleted experiment, run or parent), the ordinary
transaction must raise the ordinary error and write nothing either. Run on both backends:
SQLite takes the ordinary transactions, so the two must agree."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

import runstack
from conftest import POSTGRES_ADMIN_URI
from readback import count_rows
from runstack.errors import InvalidStateError, ResourceNotFoundError, StoreUnavailableError
from runstack.store import get_store
from runstack.store.sql.database import Tx


def test_a_failed_transaction_after_single_statements_still_writes_nothing(tracking: str) -> None:
    client = runstack.MlflowClient()
    run = client.create_run("0")
    client.log_metric(run.info.run_id, "loss", 0.5)
    client.set_terminated(run.info.run_id)
    store = get_store(tracking)

    def half_done(tx: Tx) -> None:
        tx.run(
            sa.text("INSERT INTO experiment_tags (experiment_id, key, value) VALUES (0, 'k', 'v')")
        )
        raise RuntimeError("fails after its first write")

    with pytest.raises(RuntimeError):
        store.db.write(half_done)
    assert count_rows("experiment_tags") == 0


def test_single_statements_write_what_the_transactions_would(tracking: str) -> None:
    client = runstack.MlflowClient()
    parent = client.create_run("0", tags={"team": "a"})
    child = client.create_run(
        "0", run_name="child", tags={"mlflow.parentRunId": parent.info.run_id}
    )
    client.log_metric(child.info.run_id, "loss", 0.25, step=3)
    client.set_terminated(child.info.run_id, "KILLED", end_time=1234)
    stored = client.get_run(child.info.run_id)
    assert stored.info.status == "KILLED" and stored.info.end_time == 1234
    assert stored.info.run_name == "child"
    assert stored.info.artifact_uri.endswith(f"/0/{child.info.run_id}/artifacts")
    assert stored.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert stored.data.metrics == {"loss": 0.25}
    assert count_rows("metric_log") == 0  # ending the run folded its log
    assert client.get_run(parent.info.run_id).data.tags["team"] == "a"


def test_a_run_in_a_deleted_or_missing_experiment_is_refused_and_nothing_written(
    tracking: str,
) -> None:
    client = runstack.MlflowClient()
    experiment_id = client.create_experiment("gone")
    client.delete_experiment(experiment_id)
    with pytest.raises(InvalidStateError, match="is deleted"):
        client.create_run(experiment_id, tags={"k": "v"})
    with pytest.raises(ResourceNotFoundError, match="No experiment with id '987654'"):
        client.create_run("987654", tags={"k": "v"})
    assert count_rows("runs") == 0 and count_rows("tags") == 0


def test_ending_or_logging_to_a_deleted_run_is_refused_and_changes_nothing(tracking: str) -> None:
    client = runstack.MlflowClient()
    run_id = client.create_run("0").info.run_id
    client.delete_run(run_id)
    with pytest.raises(InvalidStateError, match="is deleted"):
        client.set_terminated(run_id, "FAILED")
    with pytest.raises(InvalidStateError, match="is deleted"):
        client.log_metric(run_id, "loss", 1.0)
    with pytest.raises(ResourceNotFoundError, match="does not exist"):
        client.set_terminated("0" * 32, "FAILED")
    with pytest.raises(ResourceNotFoundError, match="does not exist"):
        client.log_metric("0" * 32, "loss", 1.0)
    client.restore_run(run_id)
    assert client.get_run(run_id).info.status == "RUNNING"
    assert count_rows("metric_log") == 0 and count_rows("metric_blocks") == 0


def _close_connections_from_the_server(tracking: str) -> None:
    """What a PostgreSQL restart or an idle timeout does to the store's idle connections."""
    idle = list(get_store(tracking).db._idle)
    pids = [connection.dbapi_connection.info.backend_pid for connection in idle]
    assert pids
    admin_uri = POSTGRES_ADMIN_URI.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_uri, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM unnest(%s::int[]) AS pid", [pids]
        )


@pytest.mark.parametrize("migrated_store_uri", ["postgresql"], indirect=True)
def test_calls_go_on_after_postgresql_closed_the_connections(tracking: str) -> None:
    client = runstack.MlflowClient()
    run_id = client.create_run("0").info.run_id
    _close_connections_from_the_server(tracking)
    client.log_metric(run_id, "loss", 0.5)  # one statement, on a new connection
    _close_connections_from_the_server(tracking)
    client.set_terminated(run_id, "KILLED")
    _close_connections_from_the_server(tracking)
    client.create_run("0")
    _close_connections_from_the_server(tracking)
    client.set_tag(run_id, "after", "restart")  # an ordinary transaction
    _close_connections_from_the_server(tracking)
    run = client.get_run(run_id)
    assert run.info.status == "KILLED" and run.data.metrics == {"loss": 0.5}
    assert run.data.tags["after"] == "restart" and count_rows("runs") == 2


@pytest.mark.parametrize("migrated_store_uri", ["postgresql"], indirect=True)
def test_an_end_whose_fold_fails_is_still_an_end_and_loses_no_point(
    tracking: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    client = runstack.MlflowClient()
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "loss", 0.5, step=1)

    def unavailable(tx: Tx, run_id: str) -> int:
        raise StoreUnavailableError("the database went away")

    with monkeypatch.context() as patch, caplog.at_level("WARNING", logger="runstack.store"):
        patch.setattr("runstack.store.sql.store.fold_run", unavailable)
        client.set_terminated(run_id)
    assert f"Run {run_id} ended; folding its metric log failed" in caplog.text
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.metrics == {"loss": 0.5}
    assert count_rows("metric_log") == 1  # still waiting to be folded
    (found,) = client.search_runs(["0"], "metrics.loss < 1")  # folds first
    assert found.info.run_id == run_id
    assert count_rows("metric_log") == 0
