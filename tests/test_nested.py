"""Nested runs (SPEC §4): the parent tag, parent_run_id (must be the innermost active run),
and atomic failure: a refused nested start creates no run and leaves the stack as it was."""

from __future__ import annotations

import pytest

import runstack
from readback import count_rows, fresh_client
from runstack.errors import (
    InvalidParameterError,
    InvalidStateError,
    ResourceNotFoundError,
    RunAlreadyActiveError,
)
from runstack.session import stack as context

PARENT = "mlflow.parentRunId"


def _tags(run_id: str) -> dict[str, str]:
    return fresh_client().get_run(run_id).data.tags


def test_nested_run_gets_the_parent_tag(tracking: str) -> None:
    outer = runstack.start_run()
    child = runstack.start_run(nested=True)
    grandchild = runstack.start_run(nested=True)
    assert _tags(child.info.run_id)[PARENT] == outer.info.run_id
    assert _tags(grandchild.info.run_id)[PARENT] == child.info.run_id
    assert PARENT not in _tags(outer.info.run_id)
    assert context.active_runs() == (outer, child, grandchild)
    client = fresh_client()
    assert [client.get_run(r.info.run_id).info.status for r in (outer, child)] == ["RUNNING"] * 2


def test_nested_with_an_empty_stack_is_a_top_level_run(tracking: str) -> None:
    run = runstack.start_run(nested=True)
    assert PARENT not in _tags(run.info.run_id)
    assert runstack.active_run() is run


def test_siblings_share_the_parent(tracking: str) -> None:
    with runstack.start_run() as outer:
        with runstack.start_run(nested=True) as first:
            pass
        with runstack.start_run(nested=True) as second:
            pass
    assert _tags(first.info.run_id)[PARENT] == outer.info.run_id
    assert _tags(second.info.run_id)[PARENT] == outer.info.run_id


def test_the_real_parent_overrides_a_user_parent_tag(tracking: str) -> None:
    outer = runstack.start_run()
    child = runstack.start_run(nested=True, tags={PARENT: "f" * 32})
    assert _tags(child.info.run_id)[PARENT] == outer.info.run_id


def test_parent_run_id_equal_to_the_top(tracking: str) -> None:
    outer = runstack.start_run()
    child = runstack.start_run(nested=True, parent_run_id=outer.info.run_id)
    assert _tags(child.info.run_id)[PARENT] == outer.info.run_id
    assert runstack.active_run() is child


def test_parent_run_id_without_active_runs_links_but_does_not_push(tracking: str) -> None:
    with runstack.start_run() as parent:
        pass
    child = runstack.start_run(parent_run_id=parent.info.run_id)
    assert _tags(child.info.run_id)[PARENT] == parent.info.run_id
    assert context.active_runs() == (child,)
    runstack.end_run()
    assert runstack.active_run() is None
    assert fresh_client().get_run(parent.info.run_id).info.status == "FINISHED"


def test_parent_run_id_must_be_the_innermost_run(tracking: str) -> None:
    outer = runstack.start_run()
    inner = runstack.start_run(nested=True)
    stack = context.active_runs()
    runs = count_rows("runs")
    with pytest.raises(InvalidParameterError) as caught:
        runstack.start_run(nested=True, parent_run_id=outer.info.run_id)
    message = str(caught.value)
    assert outer.info.run_id in message
    assert inner.info.run_id in message
    assert count_rows("runs") == runs
    assert context.active_runs() == stack
    assert runstack.active_run() is inner


def test_parent_run_id_with_an_active_run_and_nested_false(tracking: str) -> None:
    outer = runstack.start_run()
    runs = count_rows("runs")
    with pytest.raises(RunAlreadyActiveError):
        runstack.start_run(parent_run_id=outer.info.run_id)
    assert count_rows("runs") == runs
    assert context.active_runs() == (outer,)


def test_missing_or_deleted_parent_creates_nothing(tracking: str) -> None:
    with runstack.start_run() as gone:
        pass
    runstack.delete_run(gone.info.run_id)
    runs = count_rows("runs")
    tags = count_rows("tags")
    with pytest.raises(InvalidStateError) as deleted:
        runstack.start_run(parent_run_id=gone.info.run_id)
    assert gone.info.run_id in str(deleted.value)
    with pytest.raises(ResourceNotFoundError) as missing:
        runstack.start_run(parent_run_id="e" * 32)
    assert "e" * 32 in str(missing.value)
    assert (count_rows("runs"), count_rows("tags")) == (runs, tags)
    assert context.active_runs() == ()


def test_failed_nested_start_inside_a_with_block(tracking: str) -> None:
    with runstack.start_run() as outer:
        runs = count_rows("runs")
        with pytest.raises(InvalidParameterError):
            runstack.start_run(nested=True, run_name="x" * 251)
        with pytest.raises(ResourceNotFoundError):
            runstack.start_run(nested=True, experiment_id="98765")
        assert count_rows("runs") == runs
        assert context.active_runs() == (outer,)
    assert fresh_client().get_run(outer.info.run_id).info.status == "FINISHED"


def test_nested_run_in_another_experiment(tracking: str) -> None:
    other = runstack.create_experiment("children")
    outer = runstack.start_run()
    child = runstack.start_run(nested=True, experiment_id=other)
    stored = fresh_client().get_run(child.info.run_id)
    assert stored.info.experiment_id == other
    assert stored.data.tags[PARENT] == outer.info.run_id


def test_bad_parent_does_not_create_the_environment_experiment(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "made-by-env")
    with pytest.raises(ResourceNotFoundError):
        runstack.start_run(parent_run_id="f" * 32)
    deleted = fresh_client().create_run("0")
    fresh_client().delete_run(deleted.info.run_id)
    with pytest.raises(InvalidStateError, match="deleted"):
        runstack.start_run(parent_run_id=deleted.info.run_id)
    assert fresh_client().get_experiment_by_name("made-by-env") is None
    assert runstack.active_run() is None
