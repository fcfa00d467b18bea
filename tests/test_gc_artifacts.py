"""``runstack gc`` deletes the artifacts of the runs it removes and says how much it freed;
runs whose artifacts cannot be deleted are kept (both stores)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import runstack
from runstack.artifacts.cleanup import human_size, resolve
from runstack.cli import main
from runstack.errors import InvalidParameterError
from runstack.server.artifact_settings import default_destination
from test_server_artifacts import serve


def gc(uri: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["gc", "--tracking-uri", uri, *args])
    return result.exit_code, result.output


def test_gc_deletes_artifacts_of_purged_runs_only(
    tracking: str, client: runstack.TrackingClient
) -> None:
    experiment_id = client.create_experiment("doomed")
    kept = client.create_run("0").info.run_id
    deleted = client.create_run("0").info.run_id
    in_experiment = client.create_run(experiment_id).info.run_id
    client.log_text(kept, "k" * 100, "k.txt")
    client.log_text(deleted, "d" * 2048, "sub/d.txt")
    client.log_text(in_experiment, "e" * 1000, "e.txt")
    paths = {r: Path(client.get_run(r).info.artifact_uri) for r in (kept, deleted, in_experiment)}
    client.delete_run(deleted)
    client.delete_experiment(experiment_id)

    code, output = gc(tracking)
    assert code == 0, output
    assert "Removed 2 run(s) and 1 experiment(s) for good; freed 3.0 KB of artifacts." in output
    assert not paths[deleted].exists() and not paths[deleted].parent.exists()
    assert not paths[in_experiment].exists()
    assert (paths[kept] / "k.txt").read_text() == "k" * 100


def test_gc_keeps_runs_whose_artifacts_it_cannot_delete(
    tracking: str, client: runstack.TrackingClient
) -> None:
    experiment_id = client.create_experiment("served", artifact_location="mlflow-artifacts:/x")
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    code, output = gc(tracking)
    assert code == 0, output
    assert "Removed 0 run(s)" in output
    default = default_destination(tracking)
    assert not Path(default).exists()
    assert (
        f"Kept 1 run(s) whose mlflow-artifacts:/ files could not be freed ({run_id}): no "
        f"artifacts destination is known (the server's default for this store, {default}, "
        "does not exist). Run again with the server's --artifacts-destination."
    ) in " ".join(output.split())
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"


def test_gc_finds_the_servers_default_destination(
    tracking: str, client: runstack.TrackingClient
) -> None:
    """Runs logged through `runstack server` started without --artifacts-destination: gc
    deletes their files from the same default folder, with no flag."""
    server = serve(tracking, None)
    try:
        remote = runstack.TrackingClient(server.url)
        experiment_id = remote.create_experiment("served")
        doomed = remote.create_run(experiment_id).info.run_id
        kept = remote.create_run(experiment_id).info.run_id
        remote.log_text(doomed, "d" * 2048, "sub/d.txt")
        remote.log_text(kept, "k", "k.txt")
        remote.delete_run(doomed)
    finally:
        server.stop()
    destination = Path(default_destination(tracking))
    stored = destination / experiment_id / doomed / "artifacts"
    assert (stored / "sub" / "d.txt").is_file()
    code, output = gc(tracking)
    assert code == 0, output
    assert "Removed 1 run(s) and 0 experiment(s) for good; freed 2.0 KB of artifacts." in output
    assert f"deleted from {destination}," in " ".join(output.split())
    assert not stored.exists()
    assert (destination / experiment_id / kept / "artifacts" / "k.txt").read_text() == "k"
    with pytest.raises(runstack.ResourceNotFoundError):
        client.get_run(doomed)


def test_gc_maps_served_artifacts_onto_the_destination(
    tracking: str, client: runstack.TrackingClient, tmp_path: Path
) -> None:
    experiment_id = client.create_experiment("served", artifact_location="mlflow-artifacts:/7")
    run_id = client.create_run(experiment_id).info.run_id
    stored = tmp_path / "dest" / "7" / run_id / "artifacts"
    stored.mkdir(parents=True)
    (stored / "model.bin").write_bytes(b"x" * 10)
    client.delete_run(run_id)
    code, output = gc(tracking, "--artifacts-destination", str(tmp_path / "dest"))
    assert code == 0, output
    assert "Removed 1 run(s)" in output and "freed 10 bytes" in output
    assert not stored.exists()
    with pytest.raises(runstack.ResourceNotFoundError):
        client.get_run(run_id)


def test_resolve_and_sizes() -> None:
    assert resolve("/a/b", None) == "/a/b"
    assert resolve("mlflow-artifacts:/1/r/artifacts", "s3://bucket/p/") == (
        "s3://bucket/p/1/r/artifacts"
    )
    with pytest.raises(InvalidParameterError, match="mlflow-artifacts"):
        resolve("mlflow-artifacts:/1", None)
    with pytest.raises(InvalidParameterError, match=r"'\.\.'"):
        resolve("mlflow-artifacts:/../../etc", "/dest")
    assert [human_size(n) for n in (0, 1023, 1024, 5 * 1024**3)] == [
        "0 bytes",
        "1023 bytes",
        "1.0 KB",
        "5.0 GB",
    ]
