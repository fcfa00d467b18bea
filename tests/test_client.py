"""TrackingClient / MlflowClient (SPEC §1, §3, §4, §6): runs by explicit id, the
RUNNING-means-no-end_time invariant, delete/restore idempotence, and plain listings with
view types and page tokens."""

from __future__ import annotations

import pytest

import runstack
from readback import count_rows, fresh_client, snapshot
from runstack import TrackingClient
from runstack.entities import Run, ViewType
from runstack.errors import (
    InvalidParameterError,
    InvalidStateError,
    ResourceNotFoundError,
)


def test_mlflow_client_alias() -> None:
    assert runstack.MlflowClient is runstack.TrackingClient
    from runstack.client import MlflowClient

    assert MlflowClient is TrackingClient


def test_client_on_an_explicit_uri(tracking: str, tmp_path: object) -> None:
    other_uri = f"sqlite:///{tmp_path}/other.db"
    other = TrackingClient(other_uri)
    run = other.create_run("0")
    assert other.get_run(run.info.run_id).info.status == "RUNNING"
    with pytest.raises(ResourceNotFoundError):
        fresh_client().get_run(run.info.run_id)  # not in the current store


def test_create_run(tracking: str, client: TrackingClient) -> None:
    experiment_id = client.create_experiment("made-by-client")
    run = client.create_run(experiment_id, start_time=12345, tags={"k": 1}, run_name="named")
    assert isinstance(run, Run)
    stored = fresh_client().get_run(run.info.run_id)
    assert stored.info.experiment_id == experiment_id
    assert (stored.info.status, stored.info.end_time) == ("RUNNING", None)
    assert stored.info.start_time == 12345
    assert stored.info.run_name == "named"
    assert stored.info.user_id == "unknown"
    # No context tags: only the name and what the caller gave.
    assert stored.data.tags == {"k": "1", "mlflow.runName": "named"}
    assert stored.info.artifact_uri.endswith(f"/{run.info.run_id}/artifacts")
    assert runstack.active_run() is None  # the client never touches the fluent stack


def test_create_run_name_from_tag_or_generated(tracking: str, client: TrackingClient) -> None:
    from_tag = client.create_run("0", tags={"mlflow.runName": "tagged"})
    assert fresh_client().get_run(from_tag.info.run_id).info.run_name == "tagged"
    generated = fresh_client().get_run(client.create_run("0").info.run_id)
    assert generated.info.run_name
    assert generated.data.tags["mlflow.runName"] == generated.info.run_name


def test_create_run_refusals_write_nothing(tracking: str, client: TrackingClient) -> None:
    gone = client.create_experiment("gone")
    client.delete_experiment(gone)
    counts = snapshot()
    with pytest.raises(InvalidParameterError):
        client.create_run("0", tags={"mlflow.runName": "a"}, run_name="b")
    with pytest.raises(ResourceNotFoundError):
        client.create_run("31337")
    with pytest.raises(InvalidStateError):
        client.create_run(gone)
    with pytest.raises(InvalidParameterError):
        client.create_run("0", tags={"x": "y" * 8001})
    assert snapshot() == counts


def test_get_run_unknown(tracking: str, client: TrackingClient) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        client.get_run("c" * 32)
    assert "c" * 32 in str(caught.value)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(ResourceNotFoundError):
        client.get_metric_history("c" * 32, "m")


def test_update_run(tracking: str, client: TrackingClient) -> None:
    run_id = client.create_run("0", run_name="before").info.run_id
    client.update_run(run_id, name="after")
    stored = fresh_client().get_run(run_id)
    assert stored.info.run_name == "after"
    assert stored.data.tags["mlflow.runName"] == "after"
    assert stored.info.status == "RUNNING"
    client.update_run(run_id, status="FAILED")
    info = fresh_client().get_run(run_id).info
    assert info.status == "FAILED" and info.end_time is not None
    client.update_run(run_id, status="RUNNING")
    info = fresh_client().get_run(run_id).info
    assert (info.status, info.end_time) == ("RUNNING", None)
    with pytest.raises(InvalidParameterError):
        client.update_run(run_id, status="PAUSED")
    with pytest.raises(InvalidParameterError):
        client.update_run(run_id, name="n" * 251)
    assert fresh_client().get_run(run_id).info.run_name == "after"


def test_set_terminated(tracking: str, client: TrackingClient) -> None:
    run_id = client.create_run("0").info.run_id
    info = client.set_terminated(run_id)
    assert info.status == "FINISHED"
    stored = fresh_client().get_run(run_id).info
    assert stored.status == "FINISHED" and stored.end_time is not None
    client.set_terminated(run_id, "KILLED", end_time=stored.start_time + 5)
    stored = fresh_client().get_run(run_id).info
    assert (stored.status, stored.end_time) == ("KILLED", stored.start_time + 5)
    for status in ("RUNNING", "SCHEDULED"):
        client.set_terminated(run_id, status, end_time=stored.start_time + 9)
        info = fresh_client().get_run(run_id).info
        assert (info.status, info.end_time) == (status, None)  # never an end_time


def test_set_terminated_refusals_change_nothing(tracking: str, client: TrackingClient) -> None:
    run_id = client.create_run("0").info.run_id
    before = fresh_client().get_run(run_id).info
    with pytest.raises(InvalidParameterError) as caught:
        client.set_terminated(run_id, "DONE")
    assert "'DONE'" in str(caught.value)
    with pytest.raises(InvalidParameterError):
        client.set_terminated(run_id, "FINISHED", end_time=-5)
    assert fresh_client().get_run(run_id).info == before
    with pytest.raises(ResourceNotFoundError):
        client.set_terminated("d" * 32)


def test_delete_and_restore_are_idempotent(tracking: str, client: TrackingClient) -> None:
    run_id = client.create_run("0").info.run_id
    client.delete_run(run_id)
    client.delete_run(run_id)
    stored = fresh_client().get_run(run_id)  # still readable
    assert stored.info.lifecycle_stage == "deleted"
    client.restore_run(run_id)
    client.restore_run(run_id)
    assert fresh_client().get_run(run_id).info.lifecycle_stage == "active"
    runstack.delete_run(run_id)
    assert fresh_client().get_run(run_id).info.lifecycle_stage == "deleted"
    runstack.restore_run(run_id)
    assert runstack.get_run(run_id).info.lifecycle_stage == "active"
    for operation in (client.delete_run, client.restore_run):
        with pytest.raises(ResourceNotFoundError):
            operation("b" * 32)
    assert count_rows("runs") == 1


def test_search_experiments_pages_and_view_types(tracking: str, client: TrackingClient) -> None:
    created = [client.create_experiment(f"exp-{i}") for i in range(7)]
    client.delete_experiment(created[0])
    seen: list[runstack.Experiment] = []
    token = None
    while True:
        page = client.search_experiments(ViewType.ALL, max_results=3, page_token=token)
        assert len(page) <= 3
        seen.extend(page)
        token = page.token
        if token is None:
            break
    ids = [e.experiment_id for e in seen]
    assert len(ids) == len(set(ids)) == 8
    assert set(ids) == {"0", *created}
    order = [(-e.creation_time, int(e.experiment_id)) for e in seen]  # type: ignore[operator]
    assert order == sorted(order)  # newest first, then by id
    active = client.search_experiments()
    assert {e.experiment_id for e in active} == {"0", *created[1:]}
    assert active.token is None
    deleted = client.search_experiments(view_type="DELETED_ONLY")
    assert [e.experiment_id for e in deleted] == [created[0]]


def test_search_refuses_bad_arguments(tracking: str, client: TrackingClient) -> None:
    for bad in (0, -1, 50_001, True):
        with pytest.raises(InvalidParameterError):
            client.search_experiments(max_results=bad)
        with pytest.raises(InvalidParameterError):
            client.search_runs(["0"], max_results=bad)
    with pytest.raises(InvalidParameterError):
        client.search_experiments(page_token="not-a-token")
    with pytest.raises(InvalidParameterError):
        client.search_runs(["0"], page_token="not-a-token")
    with pytest.raises(InvalidParameterError):
        client.search_experiments(view_type=7)


def test_search_runs_newest_first_with_pages(tracking: str, client: TrackingClient) -> None:
    experiment_id = client.create_experiment("listing")
    starts = [5000, 1000, 3000, 3000, 2000, 4000]
    runs = [client.create_run(experiment_id, start_time=s).info.run_id for s in starts]
    client.create_run("0", start_time=9000)  # another experiment: not listed
    expected = [r for _, r in sorted(zip(starts, runs, strict=True), key=lambda p: (-p[0], p[1]))]
    listed = [r.info.run_id for r in client.search_runs([experiment_id])]
    assert listed == expected
    paged: list[str] = []
    token = None
    while True:
        page = client.search_runs([experiment_id], max_results=4, page_token=token)
        paged += [r.info.run_id for r in page]
        token = page.token
        if token is None:
            break
    assert paged == expected
    fluent = runstack.search_runs([experiment_id], output_format="list")
    assert [r.info.run_id for r in fluent] == expected


def test_search_runs_view_types(tracking: str, client: TrackingClient) -> None:
    kept = client.create_run("0", start_time=2000).info.run_id
    gone = client.create_run("0", start_time=1000).info.run_id
    client.delete_run(gone)

    def ids(view: ViewType) -> list[str]:
        return [r.info.run_id for r in client.search_runs(["0"], run_view_type=view)]

    assert ids(ViewType.ACTIVE_ONLY) == [kept]
    assert ids(ViewType.DELETED_ONLY) == [gone]
    assert ids(ViewType.ALL) == [kept, gone]
    assert [r.info.run_id for r in client.search_runs("0")] == [kept]
    assert client.search_runs(["424242"]) == []
