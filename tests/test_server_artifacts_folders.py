"""Empty folders through the server's artifact proxy, on SQLite and PostgreSQL: runstack's
REST store and MLflow's own client download them as MLflow's client does with MLflow's own
server (an empty folder inside a download is made empty; a run with no files downloads as an
empty folder), on a local and an S3 destination (moto's S3 server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

import runstack
import runstack.artifacts
from runstack.artifacts.registry import repository_for
from runstack.artifacts.s3 import S3ArtifactRepository
from runstack.entities import FileInfo
from runstack.errors import ResourceNotFoundError
from s3_server import s3_bucket, s3_endpoint  # noqa: F401  (fixtures)
from test_server_artifacts import ROUTE, Served, run_mlflow, serve

# A server (and for S3, moto's server) per test.
pytestmark = pytest.mark.slow


@pytest.fixture
def served(store_uri: str, tmp_path: Path) -> Iterator[Served]:
    server = serve(store_uri, str(tmp_path / "dest"))
    try:
        yield Served(server, tmp_path / "dest")
    finally:
        server.stop()


def tree(folder: Path) -> list[str]:
    """Every file and folder under ``folder`` (folders end in "/")."""
    return sorted(
        p.relative_to(folder).as_posix() + ("/" if p.is_dir() else "") for p in folder.rglob("*")
    )


def run_with_an_empty_folder(served: Served) -> tuple[runstack.TrackingClient, str]:
    """A run holding ``keep/a.txt``, an empty ``empty_dir`` and an empty ``keep/inner``."""
    client = runstack.TrackingClient(served.url)
    run = client.create_run("0")
    client.log_text(run.info.run_id, "alpha", "keep/a.txt")
    client.log_text(run.info.run_id, "x", "empty_dir/x.txt")
    client.log_text(run.info.run_id, "y", "keep/inner/y.txt")
    root = run.info.artifact_uri.removeprefix("mlflow-artifacts:/")
    (served.destination / root / "empty_dir" / "x.txt").unlink()
    (served.destination / root / "keep" / "inner" / "y.txt").unlink()
    return client, run.info.run_id


def test_runstack_client_downloads_empty_folders(served: Served, tmp_path: Path) -> None:
    client, run_id = run_with_an_empty_folder(served)
    assert client.list_artifacts(run_id, "empty_dir") == []
    whole = Path(
        runstack.artifacts.download_artifacts(
            run_id=run_id, dst_path=str(tmp_path / "all"), tracking_uri=served.url
        )
    )
    assert tree(whole) == ["empty_dir/", "keep/", "keep/a.txt", "keep/inner/"]
    (tmp_path / "one").mkdir()
    one = Path(client.download_artifacts(run_id, "empty_dir", str(tmp_path / "one")))
    assert one == tmp_path / "one" / "empty_dir" and one.is_dir() and tree(one) == []
    inner = Path(
        runstack.artifacts.download_artifacts(
            run_id=run_id, artifact_path="keep/inner", tracking_uri=served.url
        )
    )
    assert inner.name == "inner" and inner.is_dir() and tree(inner) == []
    # A file and a missing path are unchanged.
    assert Path(client.download_artifacts(run_id, "keep/a.txt")).read_text() == "alpha"
    with pytest.raises(ResourceNotFoundError, match="nope"):
        client.download_artifacts(run_id, "nope")


def test_runstack_client_downloads_a_run_without_files(served: Served) -> None:
    client = runstack.TrackingClient(served.url)
    run_id = client.create_run("0").info.run_id
    local = Path(runstack.artifacts.download_artifacts(run_id=run_id, tracking_uri=served.url))
    assert local.is_dir() and tree(local) == []
    assert tree(Path(client.download_artifacts(run_id, ""))) == []


MLFLOW_SCRIPT = r"""
import json, os, sys
import mlflow
from mlflow import MlflowClient
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

mlflow.set_tracking_uri(sys.argv[1])
work = sys.argv[2]
client = MlflowClient()
with mlflow.start_run() as empty_run:
    pass
with mlflow.start_run() as run:
    mlflow.log_text("alpha", "keep/a.txt")
    mlflow.log_text("x", "empty_dir/x.txt")
# Deleting the only file through the server leaves its folder, empty, on a local destination.
get_artifact_repository(run.info.artifact_uri).delete_artifacts("empty_dir/x.txt")

def tree(folder):
    return sorted(
        os.path.relpath(os.path.join(d, n), folder) + ("/" if n in ds else "")
        for d, ds, fs in os.walk(folder) for n in ds + fs
    )

def attempt(function):
    try:
        return ["ok", tree(function())]
    except Exception as error:
        return ["error", str(error)]

os.makedirs(f"{work}/c", exist_ok=True)
print("RESULT:" + json.dumps({
    "listing": [[f.path, f.is_dir] for f in client.list_artifacts(run.info.run_id)],
    "whole": attempt(lambda: mlflow.artifacts.download_artifacts(run_id=run.info.run_id)),
    "client_whole": attempt(lambda: client.download_artifacts(run.info.run_id, "", f"{work}/c")),
    "no_files": attempt(lambda: mlflow.artifacts.download_artifacts(run_id=empty_run.info.run_id)),
    "one": attempt(lambda: client.download_artifacts(run.info.run_id, "empty_dir")),
    "missing": attempt(lambda: client.download_artifacts(run.info.run_id, "nope")),
}))
"""


@pytest.mark.slow
def test_mlflow_client_downloads_empty_folders(served: Served, tmp_path: Path) -> None:
    result = run_mlflow(served.url, tmp_path, MLFLOW_SCRIPT)
    assert result["listing"] == [["empty_dir", True], ["keep", True]]
    assert result["whole"] == ["ok", ["empty_dir/", "keep/", "keep/a.txt"]]
    assert result["client_whole"] == ["ok", ["empty_dir/", "keep/", "keep/a.txt"]]
    assert result["no_files"] == ["ok", []]
    # Asked for the empty folder itself, MLflow's client lists nothing and GETs it as a file:
    # MLflow's own server answers 400 (a folder), and so does runstack's.
    kind, message = result["one"]
    assert kind == "error" and "empty_dir" in message
    kind, message = result["missing"]
    assert kind == "error" and "'nope'" in message


def test_a_folder_is_a_400_and_a_missing_file_a_404(served: Served) -> None:
    (served.destination / "0" / "r" / "artifacts" / "empty").mkdir(parents=True)
    status, _h, body = served.request("GET", f"{ROUTE}/0/r/artifacts/empty")
    assert status == 400 and json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"
    status, _h, body = served.request("GET", f"{ROUTE}/0/r/artifacts/missing")
    assert status == 404 and json.loads(body)["error_code"] == "RESOURCE_DOES_NOT_EXIST"


# S3 destination: an empty folder is a marker object ("folder/"), as S3 consoles make ----------


@pytest.fixture
def s3_served(
    store_uri: str,
    s3_bucket: str,  # noqa: F811
    tmp_path: Path,
) -> Iterator[Served]:
    server = serve(store_uri, f"s3://{s3_bucket}/proxied")
    try:
        yield Served(server, tmp_path)
    finally:
        server.stop()


def test_s3_empty_folders_through_the_server(
    s3_served: Served,
    s3_bucket: str,  # noqa: F811
    s3_endpoint: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    root = "proxied/0/r/artifacts"
    s3.put_object(Bucket=s3_bucket, Key=f"{root}/keep/a.txt", Body=b"alpha")
    s3.put_object(Bucket=s3_bucket, Key=f"{root}/keep/inner/", Body=b"")
    s3.put_object(Bucket=s3_bucket, Key=f"{root}/empty_dir/", Body=b"")
    status, _h, body = s3_served.request("GET", f"{ROUTE}/0/r/artifacts/empty_dir")
    assert status == 400 and b"folder" in body
    status, _h, body = s3_served.request("GET", f"{ROUTE}/0/r/artifacts/missing")
    assert status == 404
    repo = repository_for("mlflow-artifacts:/0/r/artifacts", s3_served.url)
    assert repo.list() == [FileInfo("empty_dir", True, None), FileInfo("keep", True, None)]
    whole = repo.download("", tmp_path / "all")
    assert tree(whole) == ["empty_dir/", "keep/", "keep/a.txt", "keep/inner/"]
    one = repo.download("empty_dir", tmp_path / "one")
    assert one.is_dir() and tree(one) == []


def test_s3_repository_empty_folders(
    s3_bucket: str,  # noqa: F811
    s3_endpoint: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.put_object(Bucket=s3_bucket, Key="run/keep/a.txt", Body=b"alpha")
    s3.put_object(Bucket=s3_bucket, Key="run/keep/inner/", Body=b"")
    s3.put_object(Bucket=s3_bucket, Key="run/empty_dir/", Body=b"")
    repo = S3ArtifactRepository(f"s3://{s3_bucket}/run")
    assert tree(repo.download("", tmp_path / "all")) == [
        "empty_dir/",
        "keep/",
        "keep/a.txt",
        "keep/inner/",
    ]
    assert tree(repo.download("empty_dir", tmp_path / "one")) == []
    with pytest.raises(ResourceNotFoundError):
        repo.download("missing", tmp_path / "none")
    # Deleting a folder takes its markers with it: it no longer lists as a folder.
    repo.delete("keep")
    assert repo.list() == [FileInfo("empty_dir", True, None)]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]] == [
        "run/empty_dir/"
    ]
