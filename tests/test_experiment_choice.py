"""Which experiment a new run goes to (SPEC §3): the explicit argument, set_experiment,
MLFLOW_EXPERIMENT_NAME, MLFLOW_EXPERIMENT_ID, then "0" (Default); set_experiment itself."""

from __future__ import annotations

import os

import pytest

import runstack
from conftest import run_python
from readback import count_rows, fresh_client, snapshot
from runstack.errors import InvalidParameterError, InvalidStateError, ResourceNotFoundError

NAME = "MLFLOW_EXPERIMENT_NAME"
ID = "MLFLOW_EXPERIMENT_ID"


def _new_run_experiment(**kwargs: object) -> str:
    with runstack.start_run(**kwargs) as run:  # type: ignore[arg-type]
        pass
    return fresh_client().get_run(run.info.run_id).info.experiment_id


def test_default_experiment(tracking: str) -> None:
    default = runstack.get_experiment("0")
    assert (default.experiment_id, default.name, default.lifecycle_stage) == (
        "0",
        "Default",
        "active",
    )
    assert runstack.get_experiment_by_name("Default").experiment_id == "0"
    assert _new_run_experiment() == "0"


def test_create_experiment_does_not_activate(tracking: str) -> None:
    created = runstack.create_experiment("not-active")
    assert created != "0"
    assert _new_run_experiment() == "0"
    assert NAME not in os.environ and ID not in os.environ


def test_explicit_argument_wins(tracking: str, monkeypatch: pytest.MonkeyPatch) -> None:
    a = runstack.create_experiment("a")
    b = runstack.create_experiment("b")
    runstack.set_experiment("a")
    monkeypatch.setenv(NAME, "a")
    monkeypatch.setenv(ID, a)
    assert _new_run_experiment(experiment_id=b) == b


def test_set_experiment_wins_over_the_environment(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = runstack.set_experiment("chosen").experiment_id
    other = runstack.create_experiment("other")
    monkeypatch.setenv(NAME, "other")
    monkeypatch.setenv(ID, other)
    assert _new_run_experiment() == chosen


def test_name_variable_creates_the_experiment(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(NAME, "from-env")
    assert runstack.get_experiment_by_name("from-env") is None
    first = _new_run_experiment()
    assert runstack.get_experiment(first).name == "from-env"
    assert _new_run_experiment() == first  # found, not created again
    assert count_rows("experiments") == 2


def test_name_variable_uses_an_existing_experiment(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = runstack.create_experiment("existing")
    monkeypatch.setenv(NAME, "existing")
    assert _new_run_experiment() == existing


def test_id_variable(tracking: str, monkeypatch: pytest.MonkeyPatch) -> None:
    existing = runstack.create_experiment("by-id")
    monkeypatch.setenv(ID, existing)
    assert _new_run_experiment() == existing


def test_variables_are_read_on_every_start(tracking: str, monkeypatch: pytest.MonkeyPatch) -> None:
    a = runstack.create_experiment("first")
    b = runstack.create_experiment("second")
    monkeypatch.setenv(ID, a)
    assert _new_run_experiment() == a
    monkeypatch.setenv(ID, b)
    assert _new_run_experiment() == b
    monkeypatch.delenv(ID)
    assert _new_run_experiment() == "0"


def test_both_variables_agreeing(tracking: str, monkeypatch: pytest.MonkeyPatch) -> None:
    both = runstack.create_experiment("both")
    monkeypatch.setenv(NAME, "both")
    monkeypatch.setenv(ID, both)
    assert _new_run_experiment() == both


def test_both_variables_disagreeing_is_an_error(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runstack.create_experiment("one")
    two = runstack.create_experiment("two")
    monkeypatch.setenv(NAME, "one")
    monkeypatch.setenv(ID, two)
    counts = snapshot()
    with pytest.raises(InvalidParameterError) as caught:
        runstack.start_run()
    message = str(caught.value)
    assert NAME in message and ID in message and "'one'" in message
    assert snapshot() == counts
    assert runstack.active_run() is None


def test_bad_id_variable(tracking: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("12345", "abc"):
        monkeypatch.setenv(ID, value)
        counts = snapshot()
        with pytest.raises(InvalidParameterError) as caught:
            runstack.start_run()
        assert ID in str(caught.value) and value in str(caught.value)
        assert snapshot() == counts


def test_deleted_experiment_through_the_environment(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = runstack.create_experiment("gone")
    runstack.delete_experiment(gone)
    runs = count_rows("runs")
    for name, value in ((NAME, "gone"), (ID, gone)):
        monkeypatch.delenv(NAME, raising=False)
        monkeypatch.delenv(ID, raising=False)
        monkeypatch.setenv(name, value)
        with pytest.raises(InvalidStateError) as caught:
            runstack.start_run()
        assert "restore_experiment" in str(caught.value)
    assert count_rows("runs") == runs


def test_set_experiment_by_name_creates_and_returns(tracking: str) -> None:
    experiment = runstack.set_experiment("fresh")
    assert isinstance(experiment, runstack.Experiment)
    assert experiment.name == "fresh"
    assert experiment.lifecycle_stage == "active"
    assert fresh_client().get_experiment_by_name("fresh") == experiment
    assert _new_run_experiment() == experiment.experiment_id
    assert runstack.set_experiment("fresh").experiment_id == experiment.experiment_id
    assert count_rows("experiments") == 2


def test_set_experiment_by_id(tracking: str) -> None:
    created = runstack.create_experiment("by-id")
    experiment = runstack.set_experiment(experiment_id=int(created))
    assert (experiment.experiment_id, experiment.name) == (created, "by-id")
    assert _new_run_experiment() == created
    runstack.set_experiment(experiment_id="0")
    assert _new_run_experiment() == "0"


def test_set_experiment_sets_both_variables(tracking: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NAME, "stale")
    created = runstack.create_experiment("fresh-name")
    runstack.set_experiment(experiment_id=created)
    assert os.environ[ID] == created
    assert os.environ[NAME] == "fresh-name"
    runstack.set_experiment("another")
    assert os.environ[NAME] == "another"
    assert os.environ[ID] == runstack.get_experiment_by_name("another").experiment_id


@pytest.mark.slow
def test_child_process_follows_set_experiment(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's trap: NAME=e1 from outside, set_experiment("e2") inside, child fails."""
    monkeypatch.setenv(NAME, "e1")
    e2 = runstack.set_experiment("e2").experiment_id
    done = run_python(
        """
        import runstack
        with runstack.start_run() as run:
            print(run.info.experiment_id)
        """,
        env={
            "MLFLOW_TRACKING_URI": runstack.get_tracking_uri(),
            NAME: os.environ[NAME],
            ID: os.environ[ID],
        },
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == e2


def test_set_experiment_argument_errors(tracking: str) -> None:
    runstack.create_experiment("x")
    for kwargs in ({}, {"experiment_name": "x", "experiment_id": "1"}):
        with pytest.raises(InvalidParameterError) as caught:
            runstack.set_experiment(**kwargs)  # type: ignore[arg-type]
        assert "exactly one" in str(caught.value)
    with pytest.raises(ResourceNotFoundError):
        runstack.set_experiment(experiment_id="777")
    with pytest.raises(InvalidParameterError):
        runstack.set_experiment(experiment_id="seven")
    with pytest.raises(InvalidParameterError):
        runstack.set_experiment("")
    assert NAME not in os.environ and ID not in os.environ
    assert _new_run_experiment() == "0"


def test_deleted_experiment_is_refused_with_restore_hint(tracking: str) -> None:
    previous = runstack.set_experiment("previous").experiment_id
    gone = runstack.create_experiment("gone")
    runstack.delete_experiment(gone)
    for kwargs in ({"experiment_name": "gone"}, {"experiment_id": gone}):
        with pytest.raises(InvalidStateError) as caught:
            runstack.set_experiment(**kwargs)  # type: ignore[arg-type]
        message = str(caught.value)
        assert "'gone'" in message and f"restore_experiment({gone!r})" in message
    # Nothing changed: the previous choice stands, in the process and in the environment.
    assert os.environ[ID] == previous and os.environ[NAME] == "previous"
    assert _new_run_experiment() == previous
    runstack.restore_experiment(gone)
    assert runstack.set_experiment("gone").experiment_id == gone
