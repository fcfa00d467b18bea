"""Resuming a run with start_run(run_id) or MLFLOW_RUN_ID (SPEC §4): RUNNING again with no
end_time, renamed and tagged; refused (changing nothing) for a deleted run or an experiment
mismatch; MLFLOW_RUN_ID consumed only when the resume succeeds."""

from __future__ import annotations

import os

import pytest

import runstack
from readback import fresh_client, snapshot
from runstack.entities import Run
from runstack.errors import (
    InvalidParameterError,
    InvalidStateError,
    ResourceNotFoundError,
    RunAlreadyActiveError,
)


def _ended_run(status: str = "FINISHED", **kwargs: object) -> Run:
    run_id = runstack.start_run(**kwargs).info.run_id  # type: ignore[arg-type]
    runstack.end_run(status)
    return fresh_client().get_run(run_id)


def _same_state(a: Run, b: Run) -> bool:
    return a.info == b.info and a.data.tags == b.data.tags


def test_resume_clears_end_time_and_keeps_identity(tracking: str) -> None:
    ended = _ended_run(run_name="first")
    assert ended.info.end_time is not None
    active = runstack.start_run(ended.info.run_id)
    assert runstack.active_run() is active
    stored = fresh_client().get_run(ended.info.run_id)
    assert stored.info.status == "RUNNING"
    assert stored.info.end_time is None
    assert stored.info.run_name == "first"
    assert stored.info.experiment_id == ended.info.experiment_id
    assert stored.info.start_time == ended.info.start_time
    runstack.end_run()
    again = fresh_client().get_run(ended.info.run_id)
    assert again.info.status == "FINISHED"
    assert again.info.end_time >= ended.info.end_time


def test_resume_from_any_status(tracking: str, subtests: pytest.Subtests) -> None:
    for status in ("FAILED", "KILLED", "SCHEDULED", "RUNNING"):
        with subtests.test(status=status):
            ended = _ended_run(status)
            with runstack.start_run(run_id=ended.info.run_id):
                info = fresh_client().get_run(ended.info.run_id).info
                assert (info.status, info.end_time) == ("RUNNING", None)


def test_resume_keeps_logged_data(tracking: str) -> None:
    with runstack.start_run() as run:
        runstack.log_param("p", 1)
        runstack.log_metric("m", 2.0)
    with runstack.start_run(run.info.run_id):
        runstack.log_metric("m", 3.0, step=1)
    stored = fresh_client().get_run(run.info.run_id)
    assert stored.data.params == {"p": "1"}
    assert stored.data.metrics == {"m": 3.0}
    assert [m.value for m in fresh_client().get_metric_history(run.info.run_id, "m")] == [2.0, 3.0]


def test_resume_with_run_name_renames(tracking: str) -> None:
    ended = _ended_run(run_name="old")
    runstack.start_run(ended.info.run_id, run_name="new")
    stored = fresh_client().get_run(ended.info.run_id)
    assert stored.info.run_name == "new"
    assert stored.data.tags["mlflow.runName"] == "new"


def test_resume_applies_tags_and_description(tracking: str) -> None:
    ended = _ended_run(tags={"keep": "k", "change": "before"})
    runstack.start_run(ended.info.run_id, tags={"change": "after", "n": 3}, description="why")
    tags = fresh_client().get_run(ended.info.run_id).data.tags
    assert tags["keep"] == "k"
    assert tags["change"] == "after"
    assert tags["n"] == "3"
    assert tags["mlflow.note.content"] == "why"


def test_resume_with_matching_experiment_id(tracking: str) -> None:
    experiment_id = runstack.create_experiment("e")
    ended = _ended_run(experiment_id=experiment_id)
    runstack.start_run(ended.info.run_id, experiment_id=int(experiment_id))
    assert fresh_client().get_run(ended.info.run_id).info.status == "RUNNING"


def test_experiment_mismatch_is_an_error_that_changes_nothing(tracking: str) -> None:
    other = runstack.create_experiment("other")
    ended = _ended_run()
    counts = snapshot()
    with pytest.raises(InvalidParameterError) as caught:
        runstack.start_run(ended.info.run_id, experiment_id=other, run_name="renamed")
    message = str(caught.value)
    assert ended.info.run_id in message
    assert "experiment 0" in message and other in message
    assert _same_state(fresh_client().get_run(ended.info.run_id), ended)
    assert snapshot() == counts
    assert runstack.active_run() is None


def test_deleted_run_is_refused(tracking: str) -> None:
    ended = _ended_run()
    runstack.delete_run(ended.info.run_id)
    deleted = fresh_client().get_run(ended.info.run_id)
    with pytest.raises(InvalidStateError) as caught:
        runstack.start_run(ended.info.run_id)
    assert ended.info.run_id in str(caught.value)
    assert "restore_run" in str(caught.value)
    assert _same_state(fresh_client().get_run(ended.info.run_id), deleted)
    assert runstack.active_run() is None


def test_failed_resume_tags_change_nothing(tracking: str, subtests: pytest.Subtests) -> None:
    ended = _ended_run(run_name="orig")
    cases: list[dict[str, object]] = [
        {"tags": {"bad$key": "v"}},
        {"tags": {"t": "x" * 8001}},
        {"description": "d", "tags": {"mlflow.note.content": "t"}},
        {"run_name": "r" * 251},
    ]
    for kwargs in cases:
        with subtests.test(kwargs=repr(kwargs)[:50]):
            with pytest.raises(InvalidParameterError):
                runstack.start_run(ended.info.run_id, **kwargs)  # type: ignore[arg-type]
            assert _same_state(fresh_client().get_run(ended.info.run_id), ended)
            assert runstack.active_run() is None


def test_unknown_and_malformed_run_ids(tracking: str) -> None:
    counts = snapshot()
    with pytest.raises(ResourceNotFoundError) as caught:
        runstack.start_run("f" * 32)
    assert "f" * 32 in str(caught.value)
    with pytest.raises(InvalidParameterError) as caught_bad:
        runstack.start_run("not a run id")
    assert "not a run id" in str(caught_bad.value)
    assert snapshot() == counts
    assert runstack.active_run() is None


def test_resume_while_a_run_is_active_needs_nested(tracking: str) -> None:
    ended = _ended_run()
    current = runstack.start_run()
    with pytest.raises(RunAlreadyActiveError):
        runstack.start_run(ended.info.run_id)
    assert _same_state(fresh_client().get_run(ended.info.run_id), ended)
    assert runstack.active_run() is current


def test_mlflow_run_id_resumes_and_is_consumed(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ended = _ended_run()
    monkeypatch.setenv("MLFLOW_RUN_ID", ended.info.run_id)
    active = runstack.start_run()
    assert active.info.run_id == ended.info.run_id
    assert "MLFLOW_RUN_ID" not in os.environ
    assert fresh_client().get_run(ended.info.run_id).info.status == "RUNNING"
    runstack.end_run()
    # Consumed: the next start_run makes a new run.
    assert runstack.start_run().info.run_id != ended.info.run_id


def test_mlflow_run_id_kept_when_the_resume_fails(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ended = _ended_run()
    runstack.delete_run(ended.info.run_id)
    monkeypatch.setenv("MLFLOW_RUN_ID", ended.info.run_id)
    with pytest.raises(InvalidStateError):
        runstack.start_run()
    assert os.environ["MLFLOW_RUN_ID"] == ended.info.run_id
    with pytest.raises(InvalidParameterError):
        runstack.start_run(tags={"bad$": "x"})
    assert os.environ["MLFLOW_RUN_ID"] == ended.info.run_id
    missing = "a" * 32
    monkeypatch.setenv("MLFLOW_RUN_ID", missing)
    with pytest.raises(ResourceNotFoundError):
        runstack.start_run()
    assert os.environ["MLFLOW_RUN_ID"] == missing
    assert runstack.active_run() is None
    runstack.restore_run(ended.info.run_id)
    monkeypatch.setenv("MLFLOW_RUN_ID", ended.info.run_id)
    assert runstack.start_run().info.run_id == ended.info.run_id
    assert "MLFLOW_RUN_ID" not in os.environ


def test_run_id_argument_wins_over_the_variable(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _ended_run(), _ended_run()
    monkeypatch.setenv("MLFLOW_RUN_ID", first.info.run_id)
    assert runstack.start_run(second.info.run_id).info.run_id == second.info.run_id
    assert os.environ["MLFLOW_RUN_ID"] == first.info.run_id
    assert fresh_client().get_run(first.info.run_id).info.status == "FINISHED"


def test_with_block_on_a_resumed_run_ends_it_again(tracking: str) -> None:
    ended = _ended_run()
    with pytest.raises(ValueError), runstack.start_run(ended.info.run_id):
        raise ValueError("again")
    info = fresh_client().get_run(ended.info.run_id).info
    assert info.status == "FAILED"
    assert info.end_time is not None
