"""The run page's artifact endpoints (ui/artifacts/list and ui/artifacts/get) through a real
server on a real socket, on SQLite and PostgreSQL: listing folders, streaming files with the
proxy's safe headers (HTML and SVG as attachments), previews cut at max_bytes, runs whose
artifacts live in the server's destination (mlflow-artifacts:, a folder or S3 through moto's
server) or in a local folder, and every bad input as a 4xx JSON error."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from runstack.client import TrackingClient
from runstack.server.app import create_app
from runstack.server.artifact_settings import ArtifactSettings
from runstack.server.background import BackgroundServer
from runstack.server.config import ServerSettings
from s3_server import s3_bucket, s3_endpoint  # noqa: F401  (fixtures)

UI = "/api/2.0/runstack/ui/artifacts/"


class Served:
    def __init__(self, server: BackgroundServer) -> None:
        self.server = server
        self.url = server.url

    def get(self, endpoint: str, **params: Any) -> tuple[int, dict[str, str], bytes]:
        """One GET exactly as spelled (http.client leaves ``..`` alone)."""
        target = UI + endpoint + "?" + urlencode(params)
        connection = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
        try:
            connection.request("GET", target)
            response = connection.getresponse()
            headers = {k.lower(): v for k, v in response.getheaders()}
            return response.status, headers, response.read()
        finally:
            connection.close()

    def ok(self, endpoint: str, **params: Any) -> tuple[dict[str, str], bytes]:
        status, headers, body = self.get(endpoint, **params)
        assert status == 200, body
        return headers, body

    def listing(self, run_id: str, path: str = "") -> list[tuple[str, bool, int | None]]:
        _headers, body = self.ok("list", run_id=run_id, path=path)
        answer = json.loads(body)
        assert answer["truncated"] is False
        return [(f["path"], f["is_dir"], f["file_size"]) for f in answer["files"]]

    def error(self, status: int, endpoint: str, **params: Any) -> str:
        got, headers, body = self.get(endpoint, **params)
        assert got == status, (got, body)
        assert headers["content-type"] == "application/json"
        error = json.loads(body)
        assert set(error) == {"error_code", "message"}
        message: str = error["message"]
        return message


@pytest.fixture
def served(store_uri: str, tmp_path: Path) -> Iterator[Served]:
    app = create_app(
        store_uri, ServerSettings(), ArtifactSettings.create(store_uri, str(tmp_path / "dest"))
    )
    server = BackgroundServer(app=app)
    server.start()
    try:
        yield Served(server)
    finally:
        server.stop()


@pytest.fixture
def run_id(served: Served) -> str:
    """A run logged through the server: its artifacts are in the server's destination."""
    client = TrackingClient(served.url)
    run = client.create_run(client.create_experiment("arts"))
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    rid = run.info.run_id
    client.log_text(rid, "line one\nline two\n", "notes/readme.txt")
    client.log_dict(rid, {"lr": 0.1}, "config.json")
    client.log_text(rid, "<html><script>alert(1)</script></html>", "report/page.html")
    client.log_text(rid, '<svg xmlns="http://www.w3.org/2000/svg"></svg>', "report/plot.svg")
    return rid


def test_list_folders_lazily(served: Served, run_id: str) -> None:
    assert served.listing(run_id) == [
        ("config.json", False, 15),
        ("notes", True, None),
        ("report", True, None),
    ]
    assert served.listing(run_id, "notes") == [("notes/readme.txt", False, 18)]
    assert served.listing(run_id, "report/") == [
        ("report/page.html", False, 38),
        ("report/plot.svg", False, 46),
    ]
    assert served.listing(run_id, "missing") == []


def test_get_streams_the_file_with_safe_headers(served: Served, run_id: str) -> None:
    headers, body = served.ok("get", run_id=run_id, path="notes/readme.txt")
    assert body == b"line one\nline two\n"
    assert headers["content-type"].startswith("text/plain")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert headers["content-disposition"] == 'inline; filename="readme.txt"'
    assert headers["content-length"] == headers["x-artifact-size"] == "18"
    headers, body = served.ok("get", run_id=run_id, path="config.json")
    assert json.loads(body) == {"lr": 0.1} and headers["content-type"] == "application/json"
    # A preview: only the first bytes, the whole size beside them.
    headers, body = served.ok("get", run_id=run_id, path="notes/readme.txt", max_bytes=4)
    assert body == b"line" and headers["content-length"] == "4"
    assert headers["x-artifact-size"] == "18"


def test_html_and_svg_are_attachments(served: Served, run_id: str) -> None:
    for name, kind in (("page.html", "text/html"), ("plot.svg", "image/svg+xml")):
        headers, body = served.ok("get", run_id=run_id, path=f"report/{name}")
        assert headers["content-type"].startswith(kind)
        assert headers["content-disposition"] == f'attachment; filename="{name}"'
        assert headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in headers["content-security-policy"]
        assert body.startswith(b"<")


def test_large_file_arrives_whole(served: Served, tmp_path: Path) -> None:
    client = TrackingClient(served.url)
    run = client.create_run(client.create_experiment("big"))
    data = os.urandom(3 * 1024 * 1024 + 5)  # several blocks
    source = tmp_path / "weights.bin"
    source.write_bytes(data)
    client.log_artifact(run.info.run_id, str(source), "model")
    headers, body = served.ok("get", run_id=run.info.run_id, path="model/weights.bin")
    assert body == data and headers["content-type"] == "application/octet-stream"
    assert headers["content-disposition"].startswith("attachment")


def test_bad_input_is_a_json_4xx(served: Served, run_id: str) -> None:
    for path in ("..", "notes/../..", "/etc", "a\\b", "a\x00b", "C:/x"):
        for endpoint in ("list", "get"):
            message = served.error(400, endpoint, run_id=run_id, path=path)
            assert "Invalid artifact path" in message or "NUL" in message
    assert "give a file name" in served.error(400, "get", run_id=run_id, path="./")
    assert "folder" in served.error(400, "get", run_id=run_id, path="notes")
    assert "No artifact" in served.error(404, "get", run_id=run_id, path="notes/none.txt")
    served.error(400, "get", run_id=run_id, path="config.json", max_bytes=0)
    served.error(400, "get", run_id=run_id, path="config.json", max_bytes="many")
    served.error(400, "get", run_id=run_id)  # no path
    for endpoint in ("list", "get"):
        served.error(404, endpoint, run_id="0" * 32, path="config.json")
        served.error(400, endpoint, run_id="../x", path="config.json")


def test_run_with_a_local_folder(served: Served, store_uri: str, tmp_path: Path) -> None:
    client = TrackingClient(store_uri)  # straight to the database: a plain folder location
    location = tmp_path / "local-artifacts"
    run = client.create_run(client.create_experiment("local", artifact_location=str(location)))
    rid = run.info.run_id
    client.log_text(rid, "# Title\n", "docs/notes.md")
    assert served.listing(rid, "docs") == [("docs/notes.md", False, 8)]
    headers, body = served.ok("get", run_id=rid, path="docs/notes.md")
    assert body == b"# Title\n" and headers["content-type"].startswith("text/markdown")
    # A symlink out of the run's folder is not followed.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (Path(run.info.artifact_uri.removeprefix("file://")) / "link").symlink_to(outside)
    assert "symlink" in served.error(400, "get", run_id=rid, path="link/secret.txt")


def test_without_served_artifacts_a_proxied_run_is_a_clear_400(
    store_uri: str, tmp_path: Path
) -> None:
    with_proxy = create_app(
        store_uri, ServerSettings(), ArtifactSettings.create(store_uri, str(tmp_path / "d"))
    )
    with BackgroundServer(app=with_proxy) as url:
        client = TrackingClient(url)
        rid = client.create_run(client.create_experiment("p")).info.run_id
    without = create_app(
        store_uri, ServerSettings(), ArtifactSettings.create(store_uri, serve=False)
    )
    server = BackgroundServer(app=without)
    server.start()
    try:
        message = Served(server).error(400, "list", run_id=rid, path="")
        assert "--no-serve-artifacts" in message
    finally:
        server.stop()


def test_openapi_documents_both(served: Served) -> None:
    connection = http.client.HTTPConnection(served.server.host, served.server.port, timeout=30)
    connection.request("GET", "/api/2.0/runstack/openapi.json")
    paths = json.loads(connection.getresponse().read())["paths"]
    connection.close()
    assert "application/json" in paths[UI + "list"]["get"]["responses"]["200"]["content"]
    assert "*/*" in paths[UI + "get"]["get"]["responses"]["200"]["content"]


def test_s3_destination(store_uri: str, s3_bucket: str, tmp_path: Path) -> None:  # noqa: F811
    settings = ArtifactSettings.create(store_uri, f"s3://{s3_bucket}/proxied")
    server = BackgroundServer(app=create_app(store_uri, ServerSettings(), settings))
    server.start()
    try:
        served = Served(server)
        client = TrackingClient(served.url)
        rid = client.create_run(client.create_experiment("s3")).info.run_id
        data = os.urandom(2 * 1024 * 1024 + 3)
        source = tmp_path / "blob.bin"
        source.write_bytes(data)
        client.log_artifact(rid, str(source), "out")
        client.log_text(rid, "<svg></svg>", "out/x.svg")
        assert served.listing(rid) == [("out", True, None)]
        assert served.listing(rid, "out") == [
            ("out/blob.bin", False, len(data)),
            ("out/x.svg", False, 11),
        ]
        _headers, body = served.ok("get", run_id=rid, path="out/blob.bin")
        assert body == data
        headers, body = served.ok("get", run_id=rid, path="out/blob.bin", max_bytes=10)
        assert body == data[:10] and headers["x-artifact-size"] == str(len(data))
        headers, _body = served.ok("get", run_id=rid, path="out/x.svg")
        assert headers["content-disposition"].startswith("attachment")
        served.error(404, "get", run_id=rid, path="out/none.bin")
    finally:
        server.stop()
