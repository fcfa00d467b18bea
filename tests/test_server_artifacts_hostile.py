"""Requests a careless or hostile client can send to the server's artifact proxy, on a local
and an S3 destination (moto's S3 server), SQLite and PostgreSQL: each is a 4xx with MLflow's
JSON error shape (never a 500) and stores nothing, or does what MLflow's server does."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s3_server import s3_bucket, s3_endpoint  # noqa: F401  (fixtures)
from test_server_artifacts import ROUTE, Served, files_under, serve

RUN = f"{ROUTE}/0/r/artifacts"


@pytest.fixture(params=["local", "s3"])
def proxy(request: pytest.FixtureRequest, store_uri: str, tmp_path: Path) -> Iterator[Served]:
    """A server over a local folder, or over an S3 prefix of a new bucket."""
    if request.param == "local":
        destination = str(tmp_path / "dest")
    else:
        bucket = request.getfixturevalue("s3_bucket")
        destination = f"s3://{bucket}/proxied"
    server = serve(store_uri, destination)
    try:
        yield Served(server, tmp_path / "dest")
    finally:
        server.stop()


def listing(proxy: Served, path: str = "0/r/artifacts") -> Any:
    status, body = proxy.json("GET", f"{ROUTE}?path={path}")
    assert status == 200
    return body


def assert_json_error(answer: tuple[int, dict[str, str], bytes], status: int, *words: str) -> None:
    got, headers, body = answer
    assert got == status, body
    assert headers["content-type"] == "application/json"
    error = json.loads(body)
    assert set(error) == {"error_code", "message"}
    for word in words:
        assert word in error["message"], error["message"]


def test_a_trailing_slash_names_no_file(proxy: Served) -> None:
    assert_json_error(proxy.request("PUT", f"{RUN}/dir/", b"x"), 400, "ends in '/'")
    assert listing(proxy) == {}


@pytest.mark.parametrize("spelling", ["nl%0Aname.txt", "tab%09.txt", "bell%07", "del%7F"])
def test_control_characters_are_refused(proxy: Served, spelling: str) -> None:
    assert_json_error(proxy.request("PUT", f"{RUN}/{spelling}", b"x"), 400, "control characters")
    assert_json_error(proxy.request("GET", f"{RUN}/{spelling}"), 400, "control characters")
    assert_json_error(proxy.request("DELETE", f"{RUN}/{spelling}"), 400, "control characters")
    status, _h, body = proxy.request("GET", f"{ROUTE}?path=0/r/{spelling}")
    assert status == 400 and b"control characters" in body
    assert listing(proxy) == {}


def test_an_empty_body_is_an_empty_file(proxy: Served) -> None:
    status, _h, _b = proxy.request("PUT", f"{RUN}/empty.txt", b"")
    assert status == 200
    status, _h, body = proxy.request("GET", f"{RUN}/empty.txt")
    assert status == 200 and body == b""
    assert listing(proxy) == {"files": [{"path": "empty.txt", "is_dir": False, "file_size": 0}]}


def test_an_encoded_slash_is_a_folder(proxy: Served) -> None:
    """As with MLflow's server, %2F is decoded before routing: it separates folders."""
    status, _h, _b = proxy.request("PUT", f"{RUN}/d%2Fe.txt", b"de")
    assert status == 200
    assert listing(proxy) == {"files": [{"path": "d", "is_dir": True}]}
    status, _h, body = proxy.request("GET", f"{RUN}/d/e.txt")
    assert status == 200 and body == b"de"


def test_unicode_names_round_trip(proxy: Served) -> None:
    status, _h, _b = proxy.request("PUT", f"{RUN}/%E2%9C%93%20r%C3%A9sum%C3%A9.txt", b"u")
    assert status == 200
    assert listing(proxy) == {"files": [{"path": "✓ résumé.txt", "is_dir": False, "file_size": 1}]}
    status, headers, body = proxy.request("GET", f"{RUN}/%E2%9C%93%20r%C3%A9sum%C3%A9.txt")
    assert status == 200 and body == b"u"
    assert "filename*=UTF-8''%E2%9C%93%20r%C3%A9sum%C3%A9.txt" in headers["content-disposition"]


def test_listing_a_file_or_a_missing_path_is_empty(proxy: Served) -> None:
    proxy.request("PUT", f"{RUN}/a.txt", b"a")
    assert listing(proxy, "0/r/artifacts/a.txt") == {}
    assert listing(proxy, "0/r/artifacts/a.txt/b") == {}
    assert listing(proxy, "0/r/artifacts/missing") == {}
    assert_json_error(proxy.request("GET", f"{RUN}/a.txt/b"), 404, "a.txt/b")
    assert_json_error(proxy.request("GET", f"{RUN}/missing"), 404, "missing")


def test_methods_and_bad_routes(proxy: Served) -> None:
    assert_json_error(proxy.request("POST", f"{RUN}/a.txt", b"x"), 405, "POST")
    assert_json_error(proxy.request("PATCH", ROUTE, b"x"), 405, "PATCH")
    assert_json_error(proxy.request("GET", f"{ROUTE}/"), 400, "give a file name")
    status, _h, body = proxy.request("HEAD", f"{RUN}/a.txt")
    assert status == 405 and body == b""  # a HEAD answer has no body


# Local destination only --------------------------------------------------------------------


@pytest.fixture
def local(store_uri: str, tmp_path: Path) -> Iterator[Served]:
    server = serve(store_uri, str(tmp_path / "dest"))
    try:
        yield Served(server, tmp_path / "dest")
    finally:
        server.stop()


def test_upload_below_a_file_is_refused(local: Served) -> None:
    local.request("PUT", f"{RUN}/a.txt", b"a")
    for below in ("a.txt/b.txt", "a.txt/x/y.txt"):
        assert_json_error(local.request("PUT", f"{RUN}/{below}", b"b"), 400, "a file stands")
    assert files_under(local.destination) == ["0/r/artifacts/a.txt"]


def test_reserved_prefix_is_refused_for_folders_too(local: Served) -> None:
    """A folder named like a file being written would hide what is put in it."""
    answer = local.request("PUT", f"{RUN}/.artifact.uploading.x/y.txt", b"x")
    assert_json_error(answer, 400, "reserved")
    assert not local.destination.exists() or files_under(local.destination) == []


def test_upload_racing_a_delete_of_its_folder_is_a_409(local: Served) -> None:
    """The folder goes while the body is arriving: nothing is stored, and the client is told
    to send it again (a conflict, not a server failure)."""
    host, port = local.server.host, local.server.port
    answer: list[bytes] = []

    def upload() -> None:
        with socket.create_connection((host, port)) as raw:
            raw.sendall(
                f"PUT {RUN}/x/big.bin HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Length: {4_000_000}\r\n\r\n".encode()
            )
            raw.sendall(b"a" * 2_000_000)
            folder = local.destination / "0" / "r" / "artifacts" / "x"
            deadline = time.monotonic() + 10
            while not (folder.exists() and any(folder.iterdir())):
                assert time.monotonic() < deadline
                time.sleep(0.02)
            status, _h, _b = local.request("DELETE", f"{RUN}/x")
            assert status == 200
            raw.sendall(b"a" * 2_000_000)
            raw.settimeout(10)
            received = b""
            while not received.endswith(b"}"):
                block = raw.recv(4096)
                if not block:
                    break
                received += block
            answer.append(received)

    worker = threading.Thread(target=upload)
    worker.start()
    worker.join(30)
    head, _, body = answer[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 409"), answer[0][:300]
    error = json.loads(body)
    assert error["error_code"] == "RESOURCE_CONFLICT" and "Send it again" in error["message"]
    assert files_under(local.destination) == []
