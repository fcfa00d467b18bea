"""ActiveRun, active_run() and last_active_run() (SPEC §4): identity, fresh data, and the
context manager that ends its own run (and those above it) with a status that says how the
block ended."""

from __future__ import annotations

import pytest

import runstack
from readback import fresh_client


def _status(run_id: str) -> str:
    return fresh_client().get_run(run_id).info.status


def test_active_run_is_the_object_start_run_returned(tracking: str) -> None:
    assert runstack.active_run() is None
    outer = runstack.start_run()
    assert runstack.active_run() is outer
    inner = runstack.start_run(nested=True)
    assert runstack.active_run() is inner
    runstack.end_run()
    assert runstack.active_run() is outer
    runstack.end_run()
    assert runstack.active_run() is None


def test_active_run_data_follows_what_is_logged(tracking: str) -> None:
    run = runstack.start_run()
    assert run.data.metrics == {}
    runstack.log_metric("loss", 0.5)
    runstack.log_param("lr", 0.1)
    runstack.set_tag("phase", "train")
    current = runstack.active_run()
    assert current is run
    assert current.data.metrics == {"loss": 0.5}
    assert current.data.params == {"lr": "0.1"}
    assert current.data.tags["phase"] == "train"
    runstack.log_metric("loss", 0.25, step=1)
    assert run.data.metrics == {"loss": 0.25}
    # The same values as a fresh read from the store.
    stored = fresh_client().get_run(run.info.run_id)
    assert stored.data.metrics == run.data.metrics
    assert stored.data.params == run.data.params


def test_active_run_sees_client_writes_in_this_process(tracking: str) -> None:
    run = runstack.start_run()
    fresh_client().set_tag(run.info.run_id, "by-client", "yes")
    assert run.data.tags["by-client"] == "yes"


def test_info_status_after_end(tracking: str) -> None:
    run = runstack.start_run()
    assert run.info.status == "RUNNING"
    runstack.end_run("KILLED")
    assert run.info.status == "KILLED"
    assert run.info.end_time is not None


def test_the_ended_run_is_shown_without_reading_it_back(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = runstack.start_run(tags={"team": "a"})
    store = run.client.store
    read = store.get_run
    reads: list[str] = []
    monkeypatch.setattr(store, "get_run", lambda run_id: reads.append(run_id) or read(run_id))
    runstack.end_run("FAILED")
    assert run.info.status == "FAILED" and run.info.end_time is not None
    assert run.data.tags["team"] == "a"
    assert reads == []  # the store's answer to end_run was enough
    stored = fresh_client().get_run(run.info.run_id)
    assert run.info == stored.info and run.data.tags == stored.data.tags


def test_the_ended_run_still_shows_what_was_logged_before_the_end(tracking: str) -> None:
    run = runstack.start_run()
    runstack.log_metric("loss", 0.5)
    runstack.end_run()
    assert run.data.metrics == {"loss": 0.5} and run.info.status == "FINISHED"


def test_with_block_finishes_its_run(tracking: str) -> None:
    with runstack.start_run() as run:
        assert runstack.active_run() is run
    assert _status(run.info.run_id) == "FINISHED"
    assert run.info.status == "FINISHED"
    assert runstack.active_run() is None


EXCEPTION_STATUS: list[tuple[BaseException, str]] = [
    (ValueError("boom"), "FAILED"),
    (KeyboardInterrupt(), "KILLED"),
    (SystemExit(0), "FINISHED"),
    (SystemExit(None), "FINISHED"),
    (SystemExit(1), "FAILED"),
    (SystemExit("fatal"), "FAILED"),
    (GeneratorExit(), "FAILED"),
]


def test_status_for_exception_and_exception_propagates(
    tracking: str, subtests: pytest.Subtests
) -> None:
    for exception, status in EXCEPTION_STATUS:
        with subtests.test(exception=repr(exception)):
            with pytest.raises(type(exception)) as caught, runstack.start_run() as run:
                raise exception
            assert caught.value is exception
            assert _status(run.info.run_id) == status
            assert runstack.active_run() is None
            assert runstack.last_active_run().info.status == status


def test_exit_ends_runs_left_open_above_it_innermost_first(tracking: str) -> None:
    with runstack.start_run() as outer:
        child = runstack.start_run(nested=True)
        grandchild = runstack.start_run(nested=True)
    client = fresh_client()
    infos = [client.get_run(r.info.run_id).info for r in (outer, child, grandchild)]
    assert [i.status for i in infos] == ["FINISHED"] * 3
    assert infos[2].end_time <= infos[1].end_time <= infos[0].end_time
    assert runstack.active_run() is None
    assert runstack.last_active_run().info.run_id == outer.info.run_id


def test_exception_status_applies_to_runs_above_too(tracking: str) -> None:
    with pytest.raises(RuntimeError), runstack.start_run() as outer:
        child = runstack.start_run(nested=True)
        raise RuntimeError("x")
    assert _status(outer.info.run_id) == "FAILED"
    assert _status(child.info.run_id) == "FAILED"


def test_exit_of_an_inner_block_leaves_the_outer_active(tracking: str) -> None:
    with runstack.start_run() as outer:
        with runstack.start_run(nested=True) as inner:
            pass
        assert runstack.active_run() is outer
        assert _status(inner.info.run_id) == "FINISHED"
        assert _status(outer.info.run_id) == "RUNNING"
    assert _status(outer.info.run_id) == "FINISHED"


def test_exiting_an_outer_object_ends_its_run_not_just_the_top(tracking: str) -> None:
    """MLflow's __exit__ ends whatever is on top; runstack ends the run it belongs to."""
    outer = runstack.start_run()
    inner = runstack.start_run(nested=True)
    outer.__exit__(None, None, None)
    assert _status(inner.info.run_id) == "FINISHED"
    assert _status(outer.info.run_id) == "FINISHED"
    assert runstack.active_run() is None


def test_exit_of_an_already_ended_run_does_nothing(tracking: str) -> None:
    run = runstack.start_run()
    runstack.end_run()
    other = runstack.start_run()
    run.__exit__(ValueError, ValueError("late"), None)
    assert _status(run.info.run_id) == "FINISHED"
    assert runstack.active_run() is other
    assert _status(other.info.run_id) == "RUNNING"


def test_last_active_run(tracking: str) -> None:
    assert runstack.last_active_run() is None
    run = runstack.start_run()
    assert runstack.last_active_run() is run
    runstack.log_metric("m", 1.0)
    runstack.end_run("FAILED")
    last = runstack.last_active_run()
    assert not isinstance(last, runstack.ActiveRun)
    assert last.info.run_id == run.info.run_id
    assert last.info.status == "FAILED"
    assert last.data.metrics == {"m": 1.0}
    # Fetched fresh on every call: a later change by a client shows up.
    fresh_client().set_tag(run.info.run_id, "later", "1")
    assert runstack.last_active_run().data.tags["later"] == "1"


def test_last_active_run_ignores_runs_ended_by_the_client(tracking: str) -> None:
    client = fresh_client()
    run = client.create_run("0")
    client.set_terminated(run.info.run_id)
    assert runstack.last_active_run() is None


def test_last_active_run_after_with_block_failure(tracking: str) -> None:
    with pytest.raises(ZeroDivisionError), runstack.start_run() as run:
        1 / 0  # noqa: B018
    last = runstack.last_active_run()
    assert (last.info.run_id, last.info.status) == (run.info.run_id, "FAILED")
    assert last.info.end_time is not None


def test_active_run_repr_names_the_run(tracking: str) -> None:
    run = runstack.start_run()
    assert run.info.run_id in repr(run)
