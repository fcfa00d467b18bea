"""SPEC §5, liveness: a process renews a heartbeat lease on its RUNNING runs; once a lease
has expired, any reader (get_run, search_runs) marks the run KILLED with its last heartbeat
as end time. No server or daemon is involved: the test process is the only reader."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

import runstack
from procs import children, wait_until
from runstack.errors import InvalidParameterError
from runstack.session import heartbeat
from runstack.store.sql.database import normalise_sql_url

pytestmark = pytest.mark.usefixtures("clean_env")

INTERVAL_S = 0.2
TIMEOUT_S = 1.0
FAST_HEARTBEAT = {
    "RUNSTACK_HEARTBEAT_INTERVAL": str(INTERVAL_S),
    "RUNSTACK_HEARTBEAT_TIMEOUT": str(TIMEOUT_S),
}
KILLED_REASON_TAG = "runstack.killedReason"


def _env(store_uri: str) -> dict[str, str]:
    return {"MLFLOW_TRACKING_URI": store_uri, **FAST_HEARTBEAT}


def _statuses(client: runstack.TrackingClient) -> dict[str, str]:
    return {run.info.run_id: run.info.status for run in client.search_runs(["0"])}


@pytest.mark.slow
def test_sigkilled_run_reads_back_as_killed_once_its_lease_expires(tracking: str) -> None:
    store_uri = tracking  # the fluent API points at it too
    client = runstack.TrackingClient(store_uri)
    with children() as procs:
        child = procs.start(
            """
            import threading, time
            import runstack as mlflow

            main = mlflow.start_run(run_name="main-thread")
            print("RUN", main.info.run_id, flush=True)

            def work():
                run = mlflow.start_run(run_name="worker-thread")
                print("RUN", run.info.run_id, flush=True)
                time.sleep(120)

            threading.Thread(target=work, daemon=True).start()
            time.sleep(120)
            """,
            env=_env(store_uri),
        )
        main_id = child.read_value("RUN")
        worker_id = child.read_value("RUN")
        time.sleep(1.0)  # a few heartbeats
        assert client.get_run(main_id).info.status == "RUNNING"  # store opened before the kill
        child.kill()  # SIGKILL: no handler, no exit hook, nothing runs in the child
        killed_at_ms = time.time() * 1000
        assert child.returncode == -9

    # Its lease is still valid: for now it is indistinguishable from a live run.
    just_after = client.get_run(main_id)
    assert just_after.info.status == "RUNNING"
    assert just_after.info.end_time is None
    assert KILLED_REASON_TAG not in just_after.data.tags

    time.sleep(TIMEOUT_S + 0.5)
    # get_run reaps the run it reads ...
    run = client.get_run(main_id)
    assert run.info.status == "KILLED"
    end_time = run.info.end_time
    assert end_time is not None
    # ... with its last heartbeat as end time: before the kill, and renewed after the start.
    assert end_time <= killed_at_ms
    assert end_time >= killed_at_ms - (INTERVAL_S + 0.8) * 1000
    assert end_time >= run.info.start_time + 400
    reason = run.data.tags[KILLED_REASON_TAG]
    assert f"pid {child.pid}" in reason

    # ... and search_runs reaps every run it meets (the worker's run was not read yet).
    assert _statuses(client) == {main_id: "KILLED", worker_id: "KILLED"}
    worker = client.get_run(worker_id)
    assert worker.info.end_time is not None and worker.info.end_time <= killed_at_ms
    assert KILLED_REASON_TAG in worker.data.tags
    # The fluent API reads through the same reaping store.
    assert runstack.get_run(main_id).info.status == "KILLED"
    found = runstack.search_runs(output_format="list")
    assert {run.info.run_id: run.info.status for run in found} == _statuses(client)


@pytest.mark.slow
def test_a_live_run_keeps_heartbeating_and_is_never_reaped(store_uri: str) -> None:
    # Ten beats per timeout, so that a busy machine delaying a beat or two cannot fail this.
    env = {**_env(store_uri), "RUNSTACK_HEARTBEAT_INTERVAL": str(TIMEOUT_S / 10)}
    client = runstack.TrackingClient(store_uri)
    with children() as procs:
        child = procs.start(
            """
            import sys
            import runstack as mlflow
            run = mlflow.start_run()
            print("RUN", run.info.run_id, flush=True)
            sys.stdin.readline()  # until the test says so
            """,
            env=env,
            stdin=True,
        )
        run_id = child.read_value("RUN")
        started = time.monotonic()
        while time.monotonic() - started < 3.5 * TIMEOUT_S:
            assert client.get_run(run_id).info.status == "RUNNING"
            assert _statuses(client) == {run_id: "RUNNING"}
            time.sleep(0.25)
        child.send("done\n")
        assert child.wait(timeout=30) == 0, child.stderr
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert KILLED_REASON_TAG not in run.data.tags


@pytest.mark.slow
def test_runs_created_without_a_lease_are_never_reaped(store_uri: str) -> None:
    client = runstack.TrackingClient(store_uri)
    with children() as procs:
        child = procs.start(
            """
            import time
            import runstack as mlflow
            plain = mlflow.MlflowClient().create_run("0")  # as MLflow's client: no heartbeat
            print("RUN", plain.info.run_id)
            leased = mlflow.start_run()
            print("RUN", leased.info.run_id, flush=True)
            time.sleep(120)
            """,
            env=_env(store_uri),
        )
        plain_id = child.read_value("RUN")
        leased_id = child.read_value("RUN")
        time.sleep(0.5)
        child.kill()

    time.sleep(TIMEOUT_S + 0.5)
    # Reaping is happening (the leased run of the same dead process is KILLED) ...
    assert wait_until(lambda: client.get_run(leased_id).info.status == "KILLED", timeout=5)
    # ... but a run nobody promised heartbeats for stays as its writer left it.
    assert _statuses(client) == {plain_id: "RUNNING", leased_id: "KILLED"}
    plain = client.get_run(plain_id)
    assert plain.info.status == "RUNNING"
    assert plain.info.end_time is None
    assert KILLED_REASON_TAG not in plain.data.tags


@pytest.mark.parametrize(
    ("interval", "timeout"),
    [("5", "5"), ("10", "2"), ("0", "60"), ("-1", "60"), ("10", "soon")],
)
def test_misconfigured_heartbeat_is_rejected_by_start_run(
    tracking: str, monkeypatch: pytest.MonkeyPatch, interval: str, timeout: str
) -> None:
    monkeypatch.setenv("RUNSTACK_HEARTBEAT_INTERVAL", interval)
    monkeypatch.setenv("RUNSTACK_HEARTBEAT_TIMEOUT", timeout)
    with pytest.raises(InvalidParameterError, match="RUNSTACK_HEARTBEAT_") as raised:
        runstack.start_run()
    message = str(raised.value)
    assert interval in message or timeout in message  # names the offending value
    # Checked before anything was written or pushed.
    assert runstack.active_run() is None
    assert runstack.TrackingClient(tracking).search_runs(["0"]) == []


def _heartbeat_time(store_uri: str, run_id: str) -> int:
    engine = sa.create_engine(normalise_sql_url(store_uri), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT heartbeat_time FROM runs WHERE run_id = :run_id")
            return int(connection.execute(query, {"run_id": run_id}).scalar_one())
    finally:
        engine.dispose()


def test_heartbeat_beats_again_when_restarted_right_after_a_stop(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in FAST_HEARTBEAT.items():
        monkeypatch.setenv(name, value)
    beat = heartbeat.heartbeat
    with runstack.start_run() as run:
        # As after SIGTERM with a handler that lets the process go on, or a test reset: the
        # old thread is told to stop and a new run wants heartbeats at once.
        beat.stop()
        beat.ensure_running()
        first = _heartbeat_time(tracking, run.run_id)
        assert wait_until(lambda: _heartbeat_time(tracking, run.run_id) > first, timeout=3), (
            "the run's heartbeat was not renewed after the heartbeat thread was restarted"
        )
