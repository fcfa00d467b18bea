"""start_run on the new-run path (SPEC §4): what a new run looks like in the store, its tags,
and the atomic failure rule: a failed start_run creates nothing and leaves the stack alone."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import runstack
from readback import count_rows, fresh_client, snapshot
from runstack.errors import (
    InvalidParameterError,
    InvalidStateError,
    ResourceNotFoundError,
    RunAlreadyActiveError,
    RunstackError,
)

NAME_PATTERN = re.compile(r"[a-z]+-[a-z]+-\d{1,3}")


def test_new_run_is_running_in_default_experiment(tracking: str) -> None:
    before = int(time.time() * 1000)
    active = runstack.start_run()
    stored = fresh_client().get_run(active.info.run_id)
    assert re.fullmatch(r"[0-9a-f]{32}", stored.info.run_id)
    assert stored.info.status == "RUNNING"
    assert stored.info.end_time is None
    assert stored.info.experiment_id == "0"
    assert stored.info.lifecycle_stage == "active"
    assert before <= stored.info.start_time <= int(time.time() * 1000)
    assert isinstance(active, runstack.ActiveRun)
    assert isinstance(active, runstack.Run)
    assert runstack.active_run() is active


def test_run_name_is_stored_in_column_and_tag(tracking: str) -> None:
    run_id = runstack.start_run(run_name="my run").info.run_id
    stored = fresh_client().get_run(run_id)
    assert stored.info.run_name == "my run"
    assert stored.data.tags["mlflow.runName"] == "my run"


def test_generated_name_has_adjective_animal_number_shape(tracking: str) -> None:
    run_id = runstack.start_run().info.run_id
    stored = fresh_client().get_run(run_id)
    assert NAME_PATTERN.fullmatch(stored.info.run_name), stored.info.run_name
    assert stored.data.tags["mlflow.runName"] == stored.info.run_name


def test_generated_names_leave_global_random_alone(tracking: str) -> None:
    random.seed(1234)
    state = random.getstate()
    with runstack.start_run() as first:
        pass
    assert random.getstate() == state
    # Re-seeding the global generator does not repeat names (MLflow: same name again).
    random.seed(1234)
    with runstack.start_run() as second:
        pass
    assert first.info.run_name != second.info.run_name


def test_system_tags(tracking: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    run_id = runstack.start_run().info.run_id
    stored = fresh_client().get_run(run_id)
    tags = stored.data.tags
    assert tags["mlflow.user"] == "alice"
    assert stored.info.user_id == "alice"
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.source.name"] == (sys.argv[0] or "<console>")
    assert "mlflow.parentRunId" not in tags


def test_user_tags_override_system_tags_and_become_strings(tracking: str) -> None:
    tags = {"mlflow.user": "bob", "n": 5, "f": 0.5, "nothing": None, "mlflow.source.type": "JOB"}
    run_id = runstack.start_run(tags=tags).info.run_id
    stored = fresh_client().get_run(run_id)
    assert stored.info.user_id == "bob"
    assert stored.data.tags["mlflow.user"] == "bob"
    assert stored.data.tags["mlflow.source.type"] == "JOB"
    assert stored.data.tags["n"] == "5"
    assert stored.data.tags["f"] == "0.5"
    assert stored.data.tags["nothing"] == "None"


def test_description_becomes_note_tag(tracking: str) -> None:
    run_id = runstack.start_run(description="what this run tries").info.run_id
    assert fresh_client().get_run(run_id).data.tags["mlflow.note.content"] == "what this run tries"


def test_explicit_experiment_id_as_int(tracking: str) -> None:
    experiment_id = runstack.create_experiment("by-int")
    run_id = runstack.start_run(experiment_id=int(experiment_id)).info.run_id
    assert fresh_client().get_run(run_id).info.experiment_id == experiment_id


def test_second_top_level_run_is_refused(tracking: str) -> None:
    first = runstack.start_run()
    counts = snapshot()
    with pytest.raises(RunAlreadyActiveError) as caught:
        runstack.start_run()
    message = str(caught.value)
    assert first.info.run_id in message
    assert "nested=True" in message and "end_run" in message
    assert isinstance(caught.value, RunstackError)
    assert caught.value.error_code == "INVALID_STATE"
    assert snapshot() == counts
    assert runstack.active_run() is first


def _assert_nothing_happened(counts: dict[str, int]) -> None:
    assert snapshot() == counts
    assert runstack.active_run() is None
    assert runstack.last_active_run() is None


FAILING_STARTS: list[tuple[dict[str, object], type[Exception], str]] = [
    ({"description": "d", "tags": {"mlflow.note.content": "t"}}, InvalidParameterError, "descr"),
    ({"tags": {"a$b": "x"}}, InvalidParameterError, "a$b"),
    ({"tags": {"../up": "x"}}, InvalidParameterError, "../up"),
    ({"tags": {"long": "v" * 8001}}, InvalidParameterError, "8000"),
    ({"tags": ["not", "a", "dict"]}, InvalidParameterError, "dict"),
    ({"run_name": "n" * 251}, InvalidParameterError, "250"),
    ({"experiment_id": 1.5}, InvalidParameterError, "1.5"),
    ({"experiment_id": "abc"}, InvalidParameterError, "abc"),
    ({"experiment_id": "424242"}, ResourceNotFoundError, "424242"),
    ({"log_system_metrics": True}, InvalidParameterError, "log_system_metrics"),
    ({"parent_run_id": "bad id!"}, InvalidParameterError, "bad id!"),
    ({"parent_run_id": "0" * 32}, ResourceNotFoundError, "0" * 32),
]


def test_failed_start_creates_nothing(tracking: str, subtests: pytest.Subtests) -> None:
    counts = snapshot()
    for kwargs, error, fragment in FAILING_STARTS:
        with subtests.test(kwargs=repr(kwargs)[:60]):
            with pytest.raises(error) as caught:
                runstack.start_run(**kwargs)  # type: ignore[arg-type]
            assert fragment in str(caught.value)
            _assert_nothing_happened(counts)


def test_deleted_experiment_is_refused_with_restore_hint(tracking: str) -> None:
    experiment_id = runstack.create_experiment("gone")
    runstack.delete_experiment(experiment_id)
    counts = snapshot()
    with pytest.raises(InvalidStateError) as caught:
        runstack.start_run(experiment_id=experiment_id)
    assert "restore_experiment" in str(caught.value)
    _assert_nothing_happened(counts)


def test_failed_start_does_not_create_the_env_experiment(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation runs before MLFLOW_EXPERIMENT_NAME can create an experiment."""
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "from-env")
    counts = snapshot()
    with pytest.raises(InvalidParameterError):
        runstack.start_run(run_name="n" * 251)
    with pytest.raises(InvalidParameterError):
        runstack.start_run(tags={"bad key$": "v"})
    assert runstack.get_experiment_by_name("from-env") is None
    _assert_nothing_happened(counts)


def test_failed_nested_start_keeps_the_stack(tracking: str) -> None:
    outer = runstack.start_run()
    runs_before = count_rows("runs")
    with pytest.raises(InvalidParameterError):
        runstack.start_run(nested=True, tags={"bad key$": "v"})
    assert count_rows("runs") == runs_before
    assert runstack.active_run() is outer
    runstack.end_run()
    assert runstack.active_run() is None


def _fake_git_repo(root: Path, sha: str) -> None:
    git = root / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text(sha + "\n")


@pytest.mark.slow
def test_git_commit_tag_when_script_is_in_a_work_tree(tracking: str, tmp_path: Path) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "repo"
    repo.mkdir()
    _fake_git_repo(repo, sha)
    script = repo / "train.py"
    script.write_text("import runstack\nprint(runstack.start_run().info.run_id)\n")
    plain = tmp_path / "plain"
    plain.mkdir()
    outside = plain / "train.py"
    outside.write_text(script.read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_TRACKING_URI"] = runstack.get_tracking_uri()
    ids = []
    for path in (script, outside):
        done = subprocess.run(
            [sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        ids.append(done.stdout.strip().splitlines()[-1])
    inside_tags = fresh_client().get_run(ids[0]).data.tags
    assert inside_tags["mlflow.source.git.commit"] == sha
    assert inside_tags["mlflow.source.name"] == str(script)
    assert "mlflow.source.git.commit" not in fresh_client().get_run(ids[1]).data.tags


def test_run_name_wins_over_a_run_name_tag(tracking: str) -> None:
    # As MLflow's fluent API: the argument overrides the tag, without an error.
    run = runstack.start_run(run_name="from-argument", tags={"mlflow.runName": "from-tag"})
    stored = fresh_client().get_run(run.info.run_id)
    assert stored.info.run_name == "from-argument"
    assert stored.data.tags["mlflow.runName"] == "from-argument"
