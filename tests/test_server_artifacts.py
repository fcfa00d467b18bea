"""The server's artifact proxy on a real socket, on SQLite and PostgreSQL: MLflow's own client
and runstack's HTTP repository upload, list and download through it; experiment locations;
path escapes of every spelling; size limit; a killed upload; content types and attachments;
an S3 destination (moto's S3 server)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import run_python
from runstack.artifacts.http import HttpArtifactRepository
from runstack.artifacts.registry import repository_for
from runstack.entities import FileInfo
from runstack.errors import InvalidParameterError, ResourceNotFoundError, StoreUnavailableError
from runstack.server.app import create_app
from runstack.server.artifact_settings import ArtifactSettings, default_destination
from runstack.server.background import BackgroundServer
from runstack.server.config import ServerSettings
from s3_server import s3_bucket, s3_endpoint  # noqa: F401  (fixtures)

ROUTE = "/api/2.0/mlflow-artifacts/artifacts"


class Served:
    """A running server, its destination folder and a raw-HTTP helper."""

    def __init__(self, server: BackgroundServer, destination: Path) -> None:
        self.server = server
        self.url = server.url
        self.destination = destination

    def request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request exactly as spelled (http.client does not normalise ``..``)."""
        connection = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
        try:
            connection.request(method, target, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def json(self, method: str, target: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        status, _headers, raw = self.request(method, target, data)
        return status, json.loads(raw) if raw else None


def serve(
    store_uri: str, destination: str, read_only: bool = False, **settings: Any
) -> BackgroundServer:
    app = create_app(
        store_uri,
        ServerSettings(read_only=read_only),
        ArtifactSettings.create(store_uri, destination, **settings),
    )
    server = BackgroundServer(app=app)
    server.start()
    return server


@pytest.fixture
def served(store_uri: str, tmp_path: Path) -> Iterator[Served]:
    destination = tmp_path / "dest"
    server = serve(store_uri, str(destination), max_upload_bytes=50_000_000)
    try:
        yield Served(server, destination)
    finally:
        server.stop()


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# MLflow's own client ---------------------------------------------------------------------------

MLFLOW_SCRIPT = r"""
import json, os, sys
import mlflow
from mlflow import MlflowClient

mlflow.set_tracking_uri(sys.argv[1])
work = sys.argv[2]
os.makedirs(f"{work}/src/sub", exist_ok=True)
open(f"{work}/model.pkl", "wb").write(bytes(range(256)) * 100)
open(f"{work}/src/a.txt", "w").write("alpha")
open(f"{work}/src/sub/b.csv", "w").write("x,y\n1,2\n")
experiment_id = mlflow.create_experiment("art")
with mlflow.start_run(experiment_id=experiment_id) as run:
    mlflow.log_artifact(f"{work}/model.pkl")
    mlflow.log_artifacts(f"{work}/src", "data")
    mlflow.log_text("hello", "notes/hello.txt")
    mlflow.log_dict({"k": [1, 2]}, "notes/d.json")
client = MlflowClient()
run_id = run.info.run_id
out = mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=f"{work}/out")
one = client.download_artifacts(run_id, "data/sub/b.csv", f"{work}/one")
def listing(path):
    return [[f.path, f.is_dir, f.file_size] for f in client.list_artifacts(run_id, path)]
print("RESULT:" + json.dumps({
    "experiment_location": mlflow.get_experiment(experiment_id).artifact_location,
    "default_location": mlflow.get_experiment("0").artifact_location,
    "artifact_uri": run.info.artifact_uri,
    "run_id": run_id,
    "root": listing(None),
    "data": listing("data"),
    "sub": listing("data/sub"),
    "file": listing("model.pkl"),
    "downloaded": sorted(
        os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs
    ),
    "one": open(one).read(),
    "text": mlflow.artifacts.load_text(run.info.artifact_uri + "/notes/hello.txt"),
    "dict": mlflow.artifacts.load_dict(run.info.artifact_uri + "/notes/d.json"),
}))
"""


def run_mlflow(url: str, work: Path, source: str = MLFLOW_SCRIPT) -> dict[str, Any]:
    """Run an MLflow-client script (``source``) against ``url``; its ``RESULT:`` JSON."""
    script = work / "script.py"
    script.write_text(source)
    done = run_python(
        f"import runpy, sys; sys.argv = ['s', {url!r}, {str(work)!r}]; "
        f"runpy.run_path({str(script)!r}, run_name='__main__')",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT:"))
    result: dict[str, Any] = json.loads(line[len("RESULT:") :])
    return result


@pytest.mark.slow
def test_mlflow_client_uploads_lists_and_downloads(served: Served, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    result = run_mlflow(served.url, work)
    experiment = result["experiment_location"]
    assert experiment.startswith("mlflow-artifacts:/") and experiment != "mlflow-artifacts:/0"
    assert result["default_location"] == "mlflow-artifacts:/0"
    assert result["artifact_uri"] == f"{experiment}/{result['run_id']}/artifacts"
    assert result["root"] == [
        ["data", True, None],
        ["model.pkl", False, 25600],
        ["notes", True, None],
    ]
    assert result["data"] == [["data/a.txt", False, 5], ["data/sub", True, None]]
    assert result["sub"] == [["data/sub/b.csv", False, 8]]
    assert result["file"] == []
    assert result["downloaded"] == [
        "data/a.txt",
        "data/sub/b.csv",
        "model.pkl",
        "notes/d.json",
        "notes/hello.txt",
    ]
    assert result["one"] == "x,y\n1,2\n"
    assert result["text"] == "hello"
    assert result["dict"] == {"k": [1, 2]}
    # On disk: under the destination, at the experiment's path, and nothing half-written.
    run_root = Path(experiment.removeprefix("mlflow-artifacts:/")) / result["run_id"] / "artifacts"
    stored = served.destination / run_root
    assert files_under(stored) == result["downloaded"]
    assert (stored / "model.pkl").read_bytes() == bytes(range(256)) * 100
    assert files_under(served.destination) == [
        f"{run_root.as_posix()}/{p}" for p in result["downloaded"]
    ]


# runstack's client -----------------------------------------------------------------------------


def test_runstack_http_repository_round_trip(served: Served, tmp_path: Path) -> None:
    repo = repository_for("mlflow-artifacts:/7/r1/artifacts", served.url)
    assert isinstance(repo, HttpArtifactRepository)
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("alpha")
    (source / "sub" / "b.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    single = tmp_path / "résumé notes.md"
    single.write_text("# hi")

    repo.log_directory(source, "data")
    repo.log_file(single)
    repo.write_bytes(b"{}", "meta/x.json")
    assert repo.list() == [
        FileInfo("data", True, None),
        FileInfo("meta", True, None),
        FileInfo("résumé notes.md", False, 4),
    ]
    assert repo.list("data/sub") == [FileInfo("data/sub/b.bin", False, 3 * 1024 * 1024 + 7)]
    assert repo.list("data/a.txt") == []
    assert repo.list("nothing/here") == []

    got = repo.download("", tmp_path / "out")
    assert files_under(got) == ["data/a.txt", "data/sub/b.bin", "meta/x.json", "résumé notes.md"]
    assert (got / "data/sub/b.bin").read_bytes() == (source / "sub" / "b.bin").read_bytes()
    assert repo.download("data/a.txt", tmp_path / "one").read_text() == "alpha"
    with pytest.raises(ResourceNotFoundError):
        repo.download("data/none.txt", tmp_path / "none")
    assert not (tmp_path / "none" / "data" / "none.txt").exists()
    assert not [p for p in (tmp_path / "none").rglob("*") if p.is_file()]

    # The same root through its http:// spelling.
    same = repository_for(f"{served.url}{ROUTE}/7/r1/artifacts", None)
    assert same.list("meta") == [FileInfo("meta/x.json", False, 2)]
    repo.delete("data/sub")
    assert repo.list("data") == [FileInfo("data/a.txt", False, 5)]
    repo.delete("résumé notes.md")
    assert files_under(served.destination) == [
        "7/r1/artifacts/data/a.txt",
        "7/r1/artifacts/meta/x.json",
    ]


def test_mlflow_artifacts_uri_needs_a_server_tracking_uri() -> None:
    with pytest.raises(InvalidParameterError, match="tracking URI"):
        repository_for("mlflow-artifacts:/1/r/artifacts", "sqlite:///x.db")
    with pytest.raises(InvalidParameterError, match="mlflow-artifacts/artifacts"):
        repository_for("http://host/some/other/path", None)
    assert HttpArtifactRepository("mlflow-artifacts://h:99/a/b", "https://x").base_url == (
        "https://h:99"
    )


# Experiment locations --------------------------------------------------------------------------


def test_experiment_locations_are_kept_under_the_destination(served: Served) -> None:
    create = "/api/2.0/mlflow/experiments/create"
    status, body = served.json("POST", create, {"name": "plain"})
    assert status == 200
    status, got = served.json(
        "GET", f"/api/2.0/mlflow/experiments/get?experiment_id={body['experiment_id']}"
    )
    assert got["experiment"]["artifact_location"] == f"mlflow-artifacts:/{body['experiment_id']}"

    inside = served.destination / "team" / "x"
    for name, location in [
        ("inside", str(inside)),
        ("inside-uri", f"file://{inside}"),
        ("proxy", "mlflow-artifacts:/team/y"),
    ]:
        status, body = served.json("POST", create, {"name": name, "artifact_location": location})
        assert status == 200, body

    for name, location in [
        ("etc", "file:///etc"),
        ("up", "../../"),
        ("abs", "/tmp"),
        ("sneaky", f"{served.destination}/../elsewhere"),
        ("proxy-up", "mlflow-artifacts:/../../x"),
        ("s3", "s3://bucket/x"),
    ]:
        status, body = served.json("POST", create, {"name": name, "artifact_location": location})
        assert status == 400, (location, body)
        assert body["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "Invalid artifact location" in body["message"], body
    status, body = served.json("POST", create, {"name": "etc2", "artifact_location": "/etc"})
    assert "must be mlflow-artifacts:/<path> or lie under" in body["message"]
    status, body = served.json("GET", "/api/2.0/mlflow/experiments/search?max_results=100")
    assert sorted(e["name"] for e in body["experiments"]) == [
        "Default",
        "inside",
        "inside-uri",
        "plain",
        "proxy",
    ]


def test_no_serve_artifacts(store_uri: str, tmp_path: Path) -> None:
    server = serve(store_uri, str(tmp_path / "dest"), serve=False)
    try:
        served = Served(server, tmp_path / "dest")
        status, body = served.json("GET", f"{ROUTE}?path=x")
        assert status == 404 and "--no-serve-artifacts" in body["message"]
        status, body = served.json("PUT", f"{ROUTE}/0/a.txt", None)
        assert status == 404
        status, body = served.json("POST", "/api/2.0/mlflow/experiments/create", {"name": "e"})
        status, got = served.json(
            "GET", f"/api/2.0/mlflow/experiments/get?experiment_id={body['experiment_id']}"
        )
        assert not got["experiment"]["artifact_location"].startswith("mlflow-artifacts:")
        # Without a proxy, any known location is the client's business (checked, made absolute).
        status, body = served.json(
            "POST",
            "/api/2.0/mlflow/experiments/create",
            {"name": "f", "artifact_location": "/tmp/x"},
        )
        assert status == 200
    finally:
        server.stop()
    assert not (tmp_path / "dest").exists()


def test_default_destination(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_destination(f"sqlite:///{tmp_path}/db/r.db") == f"{tmp_path}/db/mlartifacts"
    assert default_destination("sqlite:///rel.db") == f"{tmp_path}/mlartifacts"
    assert default_destination("postgresql://u@h/db") == f"{tmp_path}/mlartifacts"
    assert ArtifactSettings.create("sqlite:///x.db", "rel/dir").destination == f"{tmp_path}/rel/dir"
    assert ArtifactSettings.create("sqlite:///x.db", "s3://b/p/").destination == "s3://b/p"
    with pytest.raises(InvalidParameterError, match="ftp"):
        ArtifactSettings.create("sqlite:///x.db", "ftp://host/x")


# Path safety ----------------------------------------------------------------------------------

ESCAPES = [
    "/../escape.txt",
    "/0/../../escape.txt",
    "/%2e%2e/escape.txt",
    "/0/%2E%2E/%2e%2e/escape.txt",
    "/0/..%2f..%2fescape.txt",
    "/0/..%5c..%5cescape.txt",
    "/0/a\\b.txt",
    "/0/nul%00.txt",
    "//etc/escape.txt",
    "/%2fetc/escape.txt",
    "/C:/escape.txt",
]


@pytest.mark.parametrize("spelling", ESCAPES)
def test_path_escapes_are_refused(served: Served, tmp_path: Path, spelling: str) -> None:
    outside_before = sorted(p.name for p in tmp_path.iterdir())
    status, _h, body = served.request("PUT", ROUTE + spelling, b"evil")
    assert status == 400, (spelling, body)
    error = json.loads(body)
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Invalid artifact path" in error["message"]
    for method in ("GET", "DELETE"):
        status, _h, body = served.request(method, ROUTE + spelling)
        assert status == 400, (method, spelling, body)
    status, _h, body = served.request("GET", f"{ROUTE}?path={spelling[1:]}")
    assert status == 400, (spelling, body)
    assert sorted(p.name for p in tmp_path.iterdir()) == outside_before
    assert not served.destination.exists() or files_under(served.destination) == []


def test_listing_path_escapes_are_refused(served: Served) -> None:
    for query in ("..", "0/../..", "%2e%2e", "/etc", "a%5cb", "a%00"):
        status, _h, body = served.request("GET", f"{ROUTE}?path={query}")
        assert status == 400, (query, body)


def test_symlinks_out_of_the_destination_are_refused(served: Served, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    served.destination.mkdir(parents=True)
    (served.destination / "link").symlink_to(outside)
    status, _h, body = served.request("GET", f"{ROUTE}/link/secret.txt")
    assert status == 400 and b"symlink" in body
    status, _h, body = served.request("PUT", f"{ROUTE}/link/new.txt", b"x")
    assert status == 400
    status, _h, body = served.request("DELETE", f"{ROUTE}/link/secret.txt")
    assert status == 400
    status, _h, body = served.request("GET", f"{ROUTE}?path=link")
    assert status == 400
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_root_cannot_be_deleted_nor_downloaded(served: Served) -> None:
    for method in ("DELETE", "GET", "PUT"):
        status, _h, _b = served.request(method, f"{ROUTE}/")
        assert status == 400, method
    status, _h, _b = served.request("POST", f"{ROUTE}/0/x.txt", b"x")
    assert status == 405


def test_mlflow_multipart_routes_say_not_implemented(served: Served) -> None:
    status, body = served.json("POST", "/api/2.0/mlflow-artifacts/mpu/create/0/x.bin", {})
    assert status == 501
    assert body["message"].startswith(
        "Multipart upload is not supported for the current artifact repository"
    )


# Limits and failures --------------------------------------------------------------------------


def temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(".artifact*")] if folder.exists() else []


def test_upload_over_the_limit_is_a_413(store_uri: str, tmp_path: Path) -> None:
    server = serve(store_uri, str(tmp_path / "dest"), max_upload_bytes=100_000)
    try:
        served = Served(server, tmp_path / "dest")
        status, _h, body = served.request("PUT", f"{ROUTE}/0/ok.bin", b"x" * 100_000)
        assert status == 200
        status, _h, body = served.request("PUT", f"{ROUTE}/0/big.bin", b"x" * 100_001)
        assert status == 413
        error = json.loads(body)
        assert error["error_code"] == "REQUEST_LIMIT_EXCEEDED"
        assert "100000 bytes" in error["message"]

        # Without a length up front (chunked): refused once the limit is passed.
        def chunks() -> Iterator[bytes]:
            for _ in range(30):
                yield b"y" * 10_000

        connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
        try:
            connection.request("PUT", f"{ROUTE}/0/chunked.bin", body=chunks(), encode_chunked=True)
            response = connection.getresponse()
            assert response.status == 413
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close before the whole body is sent; checked below
        finally:
            connection.close()
        time.sleep(0.2)
        assert files_under(tmp_path / "dest") == ["0/ok.bin"]
        assert temp_files(tmp_path / "dest") == []
    finally:
        server.stop()


def test_killed_upload_leaves_nothing(served: Served) -> None:
    """A client that dies mid-upload: no file appears, and the partial one is removed."""
    with socket.create_connection((served.server.host, served.server.port)) as raw:
        raw.sendall(
            f"PUT {ROUTE}/0/run/artifacts/model.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Length: {10 * 1024 * 1024}\r\n\r\n".encode()
        )
        raw.sendall(b"m" * (3 * 1024 * 1024))
        deadline = time.monotonic() + 10
        while not temp_files(served.destination):  # the upload is under way
            assert time.monotonic() < deadline
            time.sleep(0.02)
    deadline = time.monotonic() + 10
    while temp_files(served.destination):
        assert time.monotonic() < deadline, temp_files(served.destination)
        time.sleep(0.05)
    assert files_under(served.destination) == []
    status, body = served.json("GET", f"{ROUTE}?path=0/run/artifacts")
    assert status == 200 and body == {}


# Downloads: types and attachments -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "disposition"),
    [
        ("page.html", "text/html", "attachment"),
        ("pic.svg", "image/svg+xml", "attachment"),
        ("app.js", "text/javascript", "attachment"),
        ("doc.xhtml", "application/xhtml+xml", "attachment"),
        ("model.pkl", "application/octet-stream", "attachment"),
        ("image.png", "image/png", "inline"),
        ("notes.txt", "text/plain", "inline"),
        ("data.json", "application/json", "inline"),
        ("table.csv", "text/csv", "inline"),
    ],
)
def test_download_types_and_attachments(
    served: Served, name: str, kind: str, disposition: str
) -> None:
    content = b"<script>alert(1)</script>"
    status, _h, _b = served.request("PUT", f"{ROUTE}/0/r/artifacts/{name}", content)
    assert status == 200
    status, headers, body = served.request("GET", f"{ROUTE}/0/r/artifacts/{name}")
    assert status == 200 and body == content
    lower = {k.lower(): v for k, v in headers.items()}
    assert lower["content-type"] == kind
    assert lower["x-content-type-options"] == "nosniff"
    assert lower["content-disposition"] == f'{disposition}; filename="{name}"'
    assert "sandbox" in lower["content-security-policy"]
    assert lower["content-length"] == str(len(content))


def test_download_of_missing_file_and_of_folder(served: Served) -> None:
    status, _h, body = served.request("GET", f"{ROUTE}/0/none.txt")
    assert status == 404 and json.loads(body)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    served.request("PUT", f"{ROUTE}/0/dir/a.txt", b"a")
    status, _h, body = served.request("GET", f"{ROUTE}/0/dir")
    assert status == 400 and b"folder" in body
    status, _h, body = served.request("PUT", f"{ROUTE}/0/dir", b"x")
    assert status == 400 and b"folder of that name" in body


# S3 destination -------------------------------------------------------------------------------


def test_s3_destination(store_uri: str, s3_bucket: str, s3_endpoint: str, tmp_path: Path) -> None:  # noqa: F811
    server = serve(store_uri, f"s3://{s3_bucket}/proxied")
    try:
        repo = repository_for("mlflow-artifacts:/3/run/artifacts", server.url)
        (tmp_path / "big.bin").write_bytes(os.urandom(2 * 1024 * 1024))
        repo.log_file(tmp_path / "big.bin", "m")
        repo.write_bytes(b"<svg/>", "p.svg")
        assert repo.list() == [FileInfo("m", True, None), FileInfo("p.svg", False, 6)]
        back = repo.download("m/big.bin", tmp_path / "back")
        assert back.read_bytes() == (tmp_path / "big.bin").read_bytes()
        served = Served(server, tmp_path)
        status, headers, body = served.request("GET", f"{ROUTE}/3/run/artifacts/p.svg")
        assert status == 200 and body == b"<svg/>"
        assert headers["content-disposition"].startswith("attachment")
        keys = boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(Bucket=s3_bucket)
        assert sorted(item["Key"] for item in keys["Contents"]) == [
            "proxied/3/run/artifacts/m/big.bin",
            "proxied/3/run/artifacts/p.svg",
        ]
        status, body = served.json(
            "POST",
            "/api/2.0/mlflow/experiments/create",
            {"name": "s3-inside", "artifact_location": f"s3://{s3_bucket}/proxied/team"},
        )
        assert status == 200, body
        status, body = served.json(
            "POST",
            "/api/2.0/mlflow/experiments/create",
            {"name": "s3-outside", "artifact_location": f"s3://{s3_bucket}/other"},
        )
        assert status == 400
        repo.delete("m")
        assert repo.list() == [FileInfo("p.svg", False, 6)]
    finally:
        server.stop()


# runstack's fluent API and REST store ---------------------------------------------------------

RUNSTACK_SCRIPT = r"""
import json, os, sys
import runstack
import runstack.artifacts

runstack.set_tracking_uri(sys.argv[1])
work = sys.argv[2]
os.makedirs(f"{work}/src/sub", exist_ok=True)
open(f"{work}/weights.bin", "wb").write(os.urandom(1024) * 64)
open(f"{work}/src/a.txt", "w").write("alpha")
open(f"{work}/src/sub/b.txt", "w").write("beta")
runstack.set_experiment("rs")
with runstack.start_run() as run:
    runstack.log_artifact(f"{work}/weights.bin", "model")
    runstack.log_artifacts(f"{work}/src", "data")
    runstack.log_text("hello", "notes/hello.txt")
    runstack.log_dict({"k": 1}, "notes/d.yaml")
    uri = runstack.get_artifact_uri()
client = runstack.TrackingClient()
run_id = run.info.run_id
out = runstack.artifacts.download_artifacts(run_id=run_id, dst_path=f"{work}/out")
print("RESULT:" + json.dumps({
    "uri": uri,
    "root": [[f.path, f.is_dir, f.file_size] for f in client.list_artifacts(run_id)],
    "data": [
        f.path for f in runstack.artifacts.list_artifacts(run_id=run_id, artifact_path="data")
    ],
    "downloaded": sorted(
        os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs
    ),
    "same": open(f"{out}/model/weights.bin", "rb").read()
    == open(f"{work}/weights.bin", "rb").read(),
    "text": runstack.artifacts.load_text(uri + "/notes/hello.txt"),
    "dict": runstack.artifacts.load_dict(uri + "/notes/d.yaml"),
}))
"""


def test_runstack_client_through_the_server(served: Served, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    script = work / "script.py"
    script.write_text(RUNSTACK_SCRIPT)
    done = run_python(
        f"import runpy, sys; sys.argv = ['s', {served.url!r}, {str(work)!r}]; "
        f"runpy.run_path({str(script)!r}, run_name='__main__')",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT:"))
    result = json.loads(line[len("RESULT:") :])
    assert result["uri"].startswith("mlflow-artifacts:/") and result["uri"].endswith("/artifacts")
    assert result["root"] == [
        ["data", True, None],
        ["model", True, None],
        ["notes", True, None],
    ]
    assert result["data"] == ["data/a.txt", "data/sub"]
    assert result["downloaded"] == [
        "data/a.txt",
        "data/sub/b.txt",
        "model/weights.bin",
        "notes/d.yaml",
        "notes/hello.txt",
    ]
    assert result["same"] is True
    assert result["text"] == "hello"
    assert result["dict"] == {"k": 1}
    run_root = result["uri"].removeprefix("mlflow-artifacts:/")
    assert files_under(served.destination / run_root) == result["downloaded"]


def test_ajax_prefix_serves_the_same_routes(served: Served) -> None:
    status, _h, _b = served.request("PUT", "/ajax-api/2.0/mlflow-artifacts/artifacts/0/a.txt", b"a")
    assert status == 200
    status, body = served.json("GET", "/ajax-api/2.0/mlflow-artifacts/artifacts?path=0")
    assert status == 200 and body == {"files": [{"path": "a.txt", "is_dir": False, "file_size": 1}]}
    status, _h, data = served.request("GET", f"{ROUTE}/0/a.txt")
    assert data == b"a"


def test_cli_refuses_an_unknown_destination_scheme(tmp_path: Path) -> None:
    runstack = Path(sys.executable).with_name("runstack")
    done = subprocess.run(
        [
            str(runstack),
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path}/r.db",
            "--artifacts-destination",
            "ftp://host/x",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "ftp://host/x" in done.stderr and "s3://bucket/prefix" in done.stderr
    helped = subprocess.run(
        [str(runstack), "server", "--help"], capture_output=True, text=True, timeout=60
    )
    for flag in ("--artifacts-destination", "--no-serve-artifacts", "--max-artifact-bytes"):
        assert flag in helped.stdout


def test_names_that_need_quoting(served: Served, tmp_path: Path) -> None:
    repo = repository_for("mlflow-artifacts:/1/r/artifacts", served.url)
    odd = "odd dir/a+b%20c#d?e=f&g;h.txt"
    repo.write_bytes(b"q", odd)
    assert repo.list("odd dir") == [FileInfo(odd, False, 1)]
    assert repo.download(odd, tmp_path / "o").read_bytes() == b"q"
    assert files_under(served.destination) == [f"1/r/artifacts/{odd}"]
    repo.delete(odd)
    assert repo.list("odd dir") == []


def test_read_only_server_refuses_artifact_changes(store_uri: str, tmp_path: Path) -> None:
    destination = tmp_path / "dest"
    (destination / "0").mkdir(parents=True)
    (destination / "0" / "kept.txt").write_text("kept")
    server = serve(store_uri, str(destination), read_only=True)
    try:
        served = Served(server, destination)
        for method in ("PUT", "DELETE"):
            status, _h, body = served.request(method, f"{ROUTE}/0/kept.txt", b"new")
            assert status == 403, body
            assert json.loads(body)["error_code"] == "PERMISSION_DENIED"
        status, _h, body = served.request("GET", f"{ROUTE}/0/kept.txt")
        assert status == 200 and body == b"kept"
        status, listed = served.json("GET", f"{ROUTE}?path=0")
        assert listed == {"files": [{"path": "kept.txt", "is_dir": False, "file_size": 4}]}
    finally:
        server.stop()
    assert files_under(destination) == ["0/kept.txt"]


class Flaky:
    """An ASGI wrapper answering the first ``failures`` artifact requests with a 503 (reading
    and dropping an upload's body first), as a proxy in front of a restarting server would."""

    def __init__(self, app: Any, failures: int) -> None:
        self.app, self.failures, self.refused = app, failures, 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        artifact = scope["type"] == "http" and "mlflow-artifacts" in scope["path"]
        if not artifact or self.refused >= self.failures:
            await self.app(scope, receive, send)
            return
        self.refused += 1
        while (await receive()).get("more_body"):
            pass
        body = b'{"error_code":"TEMPORARILY_UNAVAILABLE","message":"restarting"}'
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": body})


def test_http_repository_retries_what_may_succeed_later(
    store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    destination = tmp_path / "dest"
    flaky = Flaky(
        create_app(store_uri, None, ArtifactSettings.create(store_uri, str(destination))), 2
    )
    server = BackgroundServer(app=flaky)
    server.start()
    try:
        repo = repository_for("mlflow-artifacts:/0/r/artifacts", server.url)
        source = tmp_path / "w.bin"
        source.write_bytes(os.urandom(300_000))
        repo.log_file(source)  # two 503s, then the whole file again
        assert flaky.refused == 2
        assert (destination / "0/r/artifacts/w.bin").read_bytes() == source.read_bytes()
        flaky.refused = 0
        got = repo.download("w.bin", tmp_path / "out")  # the listing gets the 503s
        assert got.read_bytes() == source.read_bytes()
        monkeypatch.setenv("RUNSTACK_HTTP_MAX_RETRIES", "0")
        flaky.refused = 0
        with pytest.raises(StoreUnavailableError, match="restarting"):
            repo.write_bytes(b"x", "x.txt")
        assert not (destination / "0/r/artifacts/x.txt").exists()
    finally:
        server.stop()


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder on a 1 MB file system of its own (tmpfs; mounting needs root)."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a 1 MB tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)  # the store plays no part
def test_a_full_destination_is_a_507_that_stores_nothing(store_uri: str, tiny_folder: Path) -> None:
    server = serve(store_uri, str(tiny_folder))
    try:
        served = Served(server, tiny_folder)
        status, _headers, raw = served.request(
            "PUT", f"{ROUTE}/0/r1/artifacts/big.bin", b"x" * 3_000_000
        )
        assert status == 507
        body = json.loads(raw)
        assert body["error_code"] == "RESOURCE_EXHAUSTED"
        assert "No space left on device" in body["message"]
        assert "nothing was stored" in body["message"]
        assert files_under(tiny_folder) == []  # the partial file is gone, and its space
        status, _headers, raw = served.request("PUT", f"{ROUTE}/0/r1/artifacts/ok.txt", b"fits")
        assert status == 200, raw
        assert files_under(tiny_folder) == ["0/r1/artifacts/ok.txt"]
    finally:
        server.stop()
