"""end_run (SPEC §4): statuses, the RUNNING/SCHEDULED end_time invariant, and the rule that a
failed end_run (bad status, failed write) leaves the run active and unchanged."""

from __future__ import annotations

import time

import pytest

import runstack
from readback import fresh_client, snapshot
from runstack.entities import RunStatus
from runstack.errors import InvalidParameterError, InvalidStateError


def test_end_run_finishes_and_pops(tracking: str) -> None:
    run = runstack.start_run()
    before = int(time.time() * 1000)
    assert runstack.end_run() is None
    stored = fresh_client().get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.info.end_time is not None
    assert before <= stored.info.end_time <= int(time.time() * 1000)
    assert stored.info.end_time >= stored.info.start_time
    assert runstack.active_run() is None
    assert runstack.last_active_run().info.run_id == run.info.run_id


TERMINAL = [
    ("FAILED", "FAILED"),
    ("KILLED", "KILLED"),
    ("FINISHED", "FINISHED"),
    (RunStatus.KILLED, "KILLED"),
    (RunStatus.FAILED.value, "FAILED"),
    (None, "FINISHED"),  # as MLflow
]


def test_terminal_statuses(tracking: str, subtests: pytest.Subtests) -> None:
    for status, stored in TERMINAL:
        with subtests.test(status=status):
            run_id = runstack.start_run().info.run_id
            runstack.end_run(status)  # type: ignore[arg-type]
            info = fresh_client().get_run(run_id).info
            assert info.status == stored
            assert info.end_time is not None
            assert runstack.active_run() is None


def test_non_terminal_status_pops_but_keeps_no_end_time(
    tracking: str, subtests: pytest.Subtests
) -> None:
    for status in ("RUNNING", "SCHEDULED"):
        with subtests.test(status=status):
            run_id = runstack.start_run().info.run_id
            runstack.end_run(status)
            info = fresh_client().get_run(run_id).info
            assert info.status == status
            assert info.end_time is None  # invariant: RUNNING/SCHEDULED carry no end_time
            assert runstack.active_run() is None


def test_non_terminal_status_clears_an_earlier_end_time(tracking: str) -> None:
    run_id = runstack.start_run().info.run_id
    runstack.end_run("FAILED")
    runstack.start_run(run_id)
    runstack.end_run("SCHEDULED")
    info = fresh_client().get_run(run_id).info
    assert (info.status, info.end_time) == ("SCHEDULED", None)


def test_invalid_status_changes_nothing(tracking: str, subtests: pytest.Subtests) -> None:
    run = runstack.start_run()
    counts = snapshot()
    for status in ("BOGUS", "DONE", 42, "", 3.0):
        with subtests.test(status=status):
            with pytest.raises(InvalidParameterError) as caught:
                runstack.end_run(status)  # type: ignore[arg-type]
            message = str(caught.value)
            assert repr(status) in message
            assert "FINISHED" in message and "KILLED" in message
            assert runstack.active_run() is run
            info = fresh_client().get_run(run.info.run_id).info
            assert (info.status, info.end_time) == ("RUNNING", None)
            assert snapshot() == counts
    runstack.end_run()
    assert fresh_client().get_run(run.info.run_id).info.status == "FINISHED"


def test_no_active_run_is_a_silent_noop(tracking: str, capsys: pytest.CaptureFixture[str]) -> None:
    counts = snapshot()
    assert runstack.end_run() is None
    assert runstack.end_run("FAILED") is None
    assert snapshot() == counts
    assert runstack.last_active_run() is None
    assert capsys.readouterr() == ("", "")


def test_end_run_prints_nothing(tracking: str, capsys: pytest.CaptureFixture[str]) -> None:
    runstack.start_run()
    runstack.end_run()
    assert capsys.readouterr() == ("", "")


def test_ends_only_the_innermost_run(tracking: str) -> None:
    parent = runstack.start_run()
    child = runstack.start_run(nested=True)
    runstack.end_run("FAILED")
    client = fresh_client()
    assert client.get_run(child.info.run_id).info.status == "FAILED"
    assert client.get_run(parent.info.run_id).info.status == "RUNNING"
    assert client.get_run(parent.info.run_id).info.end_time is None
    assert runstack.active_run() is parent
    assert runstack.last_active_run() is parent  # the active run wins over the ended one
    runstack.end_run()
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"
    assert runstack.active_run() is None


def test_failed_write_keeps_the_run_on_the_stack(tracking: str) -> None:
    run = runstack.start_run()
    client = fresh_client()
    client.delete_run(run.info.run_id)  # someone deletes it: the store refuses the update
    with pytest.raises(InvalidStateError) as caught:
        runstack.end_run()
    assert run.info.run_id in str(caught.value)
    assert runstack.active_run() is run
    info = client.get_run(run.info.run_id).info
    assert (info.status, info.end_time) == ("RUNNING", None)
    client.restore_run(run.info.run_id)
    runstack.end_run("KILLED")
    assert client.get_run(run.info.run_id).info.status == "KILLED"
    assert runstack.active_run() is None
