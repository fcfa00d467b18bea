"""Experiments (SPEC §3): create, get, get by name, delete and restore (only the runs the
deletion hid), tags, unique names, and the plain search_experiments listing."""

from __future__ import annotations

import pytest

import runstack
from readback import count_rows, fresh_client, snapshot
from runstack.entities import ViewType
from runstack.errors import (
    InvalidParameterError,
    InvalidStateError,
    ResourceAlreadyExistsError,
    ResourceNotFoundError,
)


def test_create_and_get(tracking: str) -> None:
    experiment_id = runstack.create_experiment("exp", tags={"team": "ml", "n": 1})
    assert isinstance(experiment_id, str) and experiment_id.isdigit() and experiment_id != "0"
    got = fresh_client().get_experiment(experiment_id)
    assert got.name == "exp"
    assert got.lifecycle_stage == "active"
    assert got.tags == {"team": "ml", "n": "1"}
    assert got.artifact_location.endswith(f"/{experiment_id}")
    assert got.creation_time is not None and got.last_update_time is not None
    assert runstack.get_experiment(int(experiment_id)) == got
    assert runstack.get_experiment_by_name("exp") == got


def test_artifact_location_is_kept_and_runs_uris_refused(tracking: str) -> None:
    experiment_id = runstack.create_experiment("located", artifact_location="s3://bucket/x")
    assert fresh_client().get_experiment(experiment_id).artifact_location == "s3://bucket/x"
    with pytest.raises(InvalidParameterError) as caught:
        runstack.create_experiment("bad", artifact_location="runs:/abc/model")
    assert "runs:" in str(caught.value)
    assert runstack.get_experiment_by_name("bad") is None


def test_lookups_of_missing_experiments(tracking: str) -> None:
    assert runstack.get_experiment_by_name("nope") is None
    with pytest.raises(ResourceNotFoundError) as caught:
        runstack.get_experiment("4242")
    assert "4242" in str(caught.value)
    with pytest.raises(InvalidParameterError) as bad:
        runstack.get_experiment("abc")
    assert "abc" in str(bad.value)


def test_names_are_unique_and_errors_carry_no_sql(tracking: str) -> None:
    first = runstack.create_experiment("dup")
    counts = snapshot()
    with pytest.raises(ResourceAlreadyExistsError) as caught:
        runstack.create_experiment("dup")
    message = str(caught.value)
    assert "'dup'" in message and first in message
    for sql_word in ("INSERT", "SELECT", "UNIQUE", "sqlite3", "psycopg"):
        assert sql_word not in message
    assert caught.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert snapshot() == counts
    # Names are case-sensitive.
    assert runstack.create_experiment("DUP") != first


def test_deleted_names_stay_reserved(tracking: str) -> None:
    gone = runstack.create_experiment("reserved")
    runstack.delete_experiment(gone)
    with pytest.raises(ResourceAlreadyExistsError) as caught:
        runstack.create_experiment("reserved")
    assert "deleted" in str(caught.value) and "restore" in str(caught.value).lower()
    assert count_rows("experiments") == 2


def test_delete_experiment_hides_it_and_its_runs(tracking: str) -> None:
    experiment_id = runstack.create_experiment("doomed")
    with runstack.start_run(experiment_id=experiment_id) as run:
        pass
    runstack.delete_experiment(experiment_id)
    client = fresh_client()
    experiment = client.get_experiment(experiment_id)  # still readable
    assert experiment.lifecycle_stage == "deleted"
    assert runstack.get_experiment_by_name("doomed").lifecycle_stage == "deleted"
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    runstack.delete_experiment(experiment_id)  # again: no error
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"


def test_restore_brings_back_only_the_runs_the_deletion_hid(tracking: str) -> None:
    experiment_id = runstack.create_experiment("restorable")
    with runstack.start_run(experiment_id=experiment_id) as kept:
        pass
    with runstack.start_run(experiment_id=experiment_id) as deleted_alone:
        pass
    runstack.delete_run(deleted_alone.info.run_id)
    runstack.delete_experiment(experiment_id)
    runstack.restore_experiment(experiment_id)
    client = fresh_client()
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"
    assert client.get_run(kept.info.run_id).info.lifecycle_stage == "active"
    assert client.get_run(deleted_alone.info.run_id).info.lifecycle_stage == "deleted"


def test_restore_of_an_active_experiment_is_a_noop(tracking: str) -> None:
    experiment_id = runstack.create_experiment("alive")
    with runstack.start_run(experiment_id=experiment_id) as run:
        pass
    runstack.delete_run(run.info.run_id)
    before = fresh_client().get_experiment(experiment_id)
    runstack.restore_experiment(experiment_id)
    assert fresh_client().get_experiment(experiment_id) == before
    assert fresh_client().get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(ResourceNotFoundError):
        runstack.restore_experiment("9999")
    with pytest.raises(ResourceNotFoundError):
        runstack.delete_experiment("9999")


def test_experiment_tags(tracking: str) -> None:
    experiment_id = runstack.set_experiment("tagged").experiment_id
    runstack.set_experiment_tag("owner", "ana")
    runstack.set_experiment_tags({"stage": "dev", "version": 2})
    runstack.set_experiment_tag("owner", "bo")  # overwrites
    client = fresh_client()
    assert client.get_experiment(experiment_id).tags == {
        "owner": "bo",
        "stage": "dev",
        "version": "2",
    }
    client.delete_experiment_tag(experiment_id, "stage")
    assert "stage" not in client.get_experiment(experiment_id).tags
    with pytest.raises(ResourceNotFoundError) as caught:
        client.delete_experiment_tag(experiment_id, "stage")
    assert "stage" in str(caught.value)


def test_experiment_tag_rules(tracking: str) -> None:
    experiment_id = runstack.create_experiment("rules")
    client = fresh_client()
    client.set_experiment_tag(experiment_id, "big", "v" * 20000)
    assert len(client.get_experiment(experiment_id).tags["big"]) == 20000
    counts = snapshot()
    with pytest.raises(InvalidParameterError) as caught:
        client.set_experiment_tag(experiment_id, "bigger", "v" * 20001)
    assert "20001" in str(caught.value) and "20000" in str(caught.value)
    with pytest.raises(InvalidParameterError):
        client.set_experiment_tag(experiment_id, "bad$key", "v")
    assert snapshot() == counts
    runstack.delete_experiment(experiment_id)
    with pytest.raises(InvalidStateError):
        client.set_experiment_tag(experiment_id, "late", "v")


def test_default_experiment_tag_without_set_experiment(tracking: str) -> None:
    runstack.set_experiment_tag("on-default", "yes")
    assert fresh_client().get_experiment("0").tags == {"on-default": "yes"}


def test_search_experiments_lists_by_view_type(tracking: str) -> None:
    live = runstack.create_experiment("live")
    dead = runstack.create_experiment("dead")
    runstack.delete_experiment(dead)

    def ids(view: ViewType | None = None) -> set[str]:
        found = runstack.search_experiments() if view is None else runstack.search_experiments(view)
        assert all(isinstance(e, runstack.Experiment) for e in found)
        return {e.experiment_id for e in found}

    assert ids() == {"0", live}
    assert ids(ViewType.ACTIVE_ONLY) == {"0", live}
    assert ids(ViewType.DELETED_ONLY) == {dead}
    assert ids(ViewType.ALL) == {"0", live, dead}
    assert len(runstack.search_experiments(max_results=1)) == 1


def test_search_experiments_returns_every_experiment(tracking: str) -> None:
    created = {runstack.create_experiment(f"e{i}") for i in range(12)}
    found = [e.experiment_id for e in runstack.search_experiments()]
    assert len(found) == len(set(found)) == 13
    assert set(found) == created | {"0"}
