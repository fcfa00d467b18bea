"""S3 artifact repository against a real S3 API (moto's server on loopback, see s3_server.py):
round trips, listing across pages, multipart uploads, aborted and killed uploads, paths."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from runstack.artifacts import s3
from runstack.artifacts.registry import repository_for
from runstack.entities import FileInfo
from runstack.errors import InvalidParameterError, ResourceNotFoundError
from s3_server import s3_bucket, s3_endpoint  # noqa: F401  (fixtures)

MB = 1024 * 1024


def raw(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint)


def keys(endpoint: str, bucket: str) -> list[str]:
    answer = raw(endpoint).list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in answer.get("Contents", []))


@pytest.fixture
def repo(s3_bucket: str) -> s3.S3ArtifactRepository:  # noqa: F811
    found = repository_for(f"s3://{s3_bucket}/exp/1/run/artifacts")
    assert isinstance(found, s3.S3ArtifactRepository)
    return found


def test_round_trip(repo: s3.S3ArtifactRepository, tmp_path: Path, s3_endpoint: str) -> None:  # noqa: F811
    source = tmp_path / "src"
    (source / "sub" / "deeper").mkdir(parents=True)
    (source / "a.txt").write_text("alpha")
    (source / "sub" / "b.bin").write_bytes(bytes(range(256)))
    (source / "sub" / "deeper" / "c.json").write_text("{}")
    single = tmp_path / "model.pkl"
    single.write_bytes(b"weights")

    repo.log_directory(source, "data")
    repo.log_file(single)
    repo.log_file(single, "nested/dir")
    repo.write_bytes(b"hello", "notes/hello.txt")

    assert keys(s3_endpoint, repo.bucket) == [
        "exp/1/run/artifacts/data/a.txt",
        "exp/1/run/artifacts/data/sub/b.bin",
        "exp/1/run/artifacts/data/sub/deeper/c.json",
        "exp/1/run/artifacts/model.pkl",
        "exp/1/run/artifacts/nested/dir/model.pkl",
        "exp/1/run/artifacts/notes/hello.txt",
    ]
    assert repo.list() == [
        FileInfo("data", True, None),
        FileInfo("model.pkl", False, 7),
        FileInfo("nested", True, None),
        FileInfo("notes", True, None),
    ]
    assert repo.list("data/sub/") == [
        FileInfo("data/sub/b.bin", False, 256),
        FileInfo("data/sub/deeper", True, None),
    ]
    assert repo.list("model.pkl") == []
    assert repo.list("missing") == []

    out = tmp_path / "out"
    got = repo.download("data", out)
    assert got == out / "data"
    assert (out / "data" / "sub" / "b.bin").read_bytes() == bytes(range(256))
    assert (out / "data" / "sub" / "deeper" / "c.json").read_text() == "{}"
    assert repo.download("notes/hello.txt", out).read_bytes() == b"hello"
    everything = repo.download("", tmp_path / "all")
    assert sorted(p.relative_to(everything).as_posix() for p in everything.rglob("*.*")) == [
        "data/a.txt",
        "data/sub/b.bin",
        "data/sub/deeper/c.json",
        "model.pkl",
        "nested/dir/model.pkl",
        "notes/hello.txt",
    ]
    assert not [p for p in out.rglob("*") if p.name.startswith(".artifact")]
    with pytest.raises(ResourceNotFoundError, match=r"missing\.txt"):
        repo.download("missing.txt", out)

    repo.delete("data/sub")
    assert repo.list("data") == [FileInfo("data/a.txt", False, 5)]
    repo.delete("model.pkl")
    assert [info.path for info in repo.list()] == ["data", "nested", "notes"]
    repo.delete()
    assert keys(s3_endpoint, repo.bucket) == []


def test_listing_follows_pages(
    repo: s3.S3ArtifactRepository,
    monkeypatch: pytest.MonkeyPatch,
    s3_endpoint: str,  # noqa: F811
) -> None:
    for i in range(12):
        repo.write_bytes(b"x" * i, f"many/f{i:02d}")
        repo.write_bytes(b"y", f"many/d{i:02d}/inner")
    monkeypatch.setattr(s3, "LIST_PAGE_SIZE", 5)  # 24 entries: 5 pages
    listed = repo.list("many")
    assert [info.path for info in listed if not info.is_dir] == [
        f"many/f{i:02d}" for i in range(12)
    ]
    assert [info.path for info in listed if info.is_dir] == [f"many/d{i:02d}" for i in range(12)]
    assert [info.file_size for info in listed if not info.is_dir] == list(range(12))
    repo.delete("many")
    assert keys(s3_endpoint, repo.bucket) == []


def _small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3, "MULTIPART_THRESHOLD", 5 * MB)
    monkeypatch.setattr(s3, "MULTIPART_CHUNK", 5 * MB)  # S3's smallest part


@pytest.mark.slow
def test_large_file_goes_up_in_parts(
    repo: s3.S3ArtifactRepository,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    s3_endpoint: str,  # noqa: F811
) -> None:
    _small_parts(monkeypatch)
    big = tmp_path / "big.bin"
    data = os.urandom(12 * MB + 123)
    big.write_bytes(data)
    repo.log_file(big, "m")
    head = raw(s3_endpoint).head_object(Bucket=repo.bucket, Key=repo.key("m/big.bin"))
    assert head["ETag"].strip('"').endswith("-3")  # completed from three parts
    assert head["ContentLength"] == len(data)
    back = repo.download("m/big.bin", tmp_path / "back")
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(data).digest()


class FailingReader:
    """A file-like body that breaks after ``limit`` bytes, as a disk or a pipe can."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            raise OSError("disk read failed")
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return b"z" * size


def test_failed_multipart_upload_is_aborted(
    repo: s3.S3ArtifactRepository,
    monkeypatch: pytest.MonkeyPatch,
    s3_endpoint: str,  # noqa: F811
) -> None:
    _small_parts(monkeypatch)
    with pytest.raises(OSError, match="disk read failed"):
        repo.upload_stream(FailingReader(17 * MB), repo.key("broken.bin"))  # type: ignore[arg-type]
    assert keys(s3_endpoint, repo.bucket) == []
    uploads = raw(s3_endpoint).list_multipart_uploads(Bucket=repo.bucket)
    assert uploads.get("Uploads", []) == []
    assert repo.list() == []


@pytest.mark.slow
def test_killed_upload_leaves_no_object(s3_bucket: str, s3_endpoint: str, tmp_path: Path) -> None:  # noqa: F811
    """A process killed mid-upload: its multipart upload never completes, so no object."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from runstack.artifacts import s3
        s3.MULTIPART_THRESHOLD = s3.MULTIPART_CHUNK = 5 * 1024 * 1024

        class Slow:
            sent = 0
            def read(self, size=-1):
                if self.sent >= 11 * 1024 * 1024:
                    print("PARTS SENT", flush=True)
                    time.sleep(60)
                size = 1024 * 1024 if size < 0 else size
                self.sent += size
                return b"k" * size

        repo = s3.S3ArtifactRepository("s3://{s3_bucket}/run")
        repo.upload_stream(Slow(), repo.key("killed.bin"))
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "PARTS SENT"
        time.sleep(0.5)  # let the first parts finish going up
        uploads = raw(s3_endpoint).list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
        assert [u["Key"] for u in uploads] == ["run/killed.bin"]  # it was on its way
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert keys(s3_endpoint, s3_bucket) == []
    assert s3.S3ArtifactRepository(f"s3://{s3_bucket}/run").list() == []


@pytest.mark.parametrize(
    "bad", ["../escape", "a/../../b", "/etc/passwd", "a\\b", "nul\x00byte", "C:/x"]
)
def test_paths_that_leave_the_root_are_refused(
    repo: s3.S3ArtifactRepository,
    bad: str,
    tmp_path: Path,
    s3_endpoint: str,  # noqa: F811
) -> None:
    with pytest.raises(InvalidParameterError, match="Invalid artifact path"):
        repo.write_bytes(b"x", bad)
    with pytest.raises(InvalidParameterError, match="Invalid artifact path"):
        repo.list(bad)
    with pytest.raises(InvalidParameterError, match="Invalid artifact path"):
        repo.download(bad, tmp_path)
    with pytest.raises(InvalidParameterError, match="Invalid artifact path"):
        repo.delete(bad)
    assert keys(s3_endpoint, repo.bucket) == []


@pytest.mark.parametrize(
    ("uri", "rule"),
    [("s3://", "use s3://bucket"), ("s3:///x", "use s3://bucket"), ("s3://b/x?y=1", "query")],
)
def test_bad_s3_uris(uri: str, rule: str) -> None:
    with pytest.raises(InvalidParameterError, match=rule):
        s3.parse_s3_uri(uri)


def test_missing_bucket_is_a_clear_error(s3_bucket: str) -> None:  # noqa: F811
    repo = s3.S3ArtifactRepository(f"s3://{s3_bucket}-gone/x")
    with pytest.raises(ResourceNotFoundError, match="bucket does not exist"):
        repo.list()


def test_settings_come_from_mlflow_and_aws_variables(
    s3_bucket: str,  # noqa: F811
    s3_endpoint: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = s3.s3_client()
    assert client.meta.endpoint_url == s3_endpoint
    assert client.meta.region_name == "us-east-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    assert s3.s3_client().meta.region_name == "eu-west-3"
    monkeypatch.setenv("MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE", "path")
    monkeypatch.setenv("MLFLOW_S3_IGNORE_TLS", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    other = s3.s3_client()
    assert other is not client  # new settings, new client
    assert other.meta.config.s3 == {"addressing_style": "path"}
    assert other.meta.region_name == "eu-west-3"
    # It still reaches the same server with the same credentials.
    repo = s3.S3ArtifactRepository(f"s3://{s3_bucket}/x")
    repo.write_bytes(b"1", "one.txt")
    assert repo.list() == [FileInfo("one.txt", False, 1)]


def test_without_boto3_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(ImportError, match=r"runstack\[s3\]"):
        s3._boto3()


def test_fluent_api_and_client_with_an_s3_experiment(
    tracking: str,
    s3_bucket: str,  # noqa: F811
    s3_endpoint: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Both stores: an experiment located in S3 keeps its runs' artifacts there."""
    import runstack
    import runstack.artifacts

    experiment_id = runstack.create_experiment("s3", artifact_location=f"s3://{s3_bucket}/exp")
    (tmp_path / "model.bin").write_bytes(b"\x00weights")
    with runstack.start_run(experiment_id=experiment_id) as run:
        runstack.log_artifact(str(tmp_path / "model.bin"), "model")
        runstack.log_dict({"lr": 0.1}, "config.json")
        runstack.log_text("spaced", "notes/a b é+%.txt")
        uri = runstack.get_artifact_uri()
    run_id = run.info.run_id
    assert uri == f"s3://{s3_bucket}/exp/{run_id}/artifacts"
    assert keys(s3_endpoint, s3_bucket) == [
        f"exp/{run_id}/artifacts/config.json",
        f"exp/{run_id}/artifacts/model/model.bin",
        f"exp/{run_id}/artifacts/notes/a b é+%.txt",
    ]
    client = runstack.TrackingClient()
    assert [(f.path, f.is_dir) for f in client.list_artifacts(run_id)] == [
        ("config.json", False),
        ("model", True),
        ("notes", True),
    ]
    assert [f.path for f in client.list_artifacts(run_id, "notes")] == ["notes/a b é+%.txt"]
    (tmp_path / "out").mkdir()
    got = Path(client.download_artifacts(run_id, "model", str(tmp_path / "out")))
    assert (got / "model.bin").read_bytes() == b"\x00weights"
    assert runstack.artifacts.load_dict(f"{uri}/config.json") == {"lr": 0.1}
    assert runstack.artifacts.load_text(f"{uri}/notes/a b é+%.txt") == "spaced"
