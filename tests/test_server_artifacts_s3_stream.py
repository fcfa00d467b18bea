"""Uploads through ``runstack server`` to an S3 destination stream straight into S3 (moto's S3
server), on SQLite and PostgreSQL: a large body goes up as a multipart upload in 8 MiB parts
and comes back byte-exact, a small one as one PutObject; a client that disconnects, and a
body over the size limit, abort the upload and leave neither an object nor parts."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from runstack.artifacts.registry import repository_for
from runstack.artifacts.s3_parts import PART_SIZE
from s3_server import free_port, s3_bucket, s3_endpoint  # noqa: F401  (fixtures)
from test_server_artifacts import ROUTE, Served, serve
from test_server_artifacts_memory import vm_peak

# A server and moto's S3 server per test, and tens of megabytes through them.
pytestmark = pytest.mark.slow

LIMIT = 20 * 1024 * 1024


@pytest.fixture
def s3(s3_bucket: str, s3_endpoint: str) -> Any:  # noqa: F811
    """A client of the test S3 server (made once ``s3_bucket`` has set the credentials)."""
    return boto3.client("s3", endpoint_url=s3_endpoint)


@pytest.fixture
def s3_served(
    store_uri: str,
    s3_bucket: str,  # noqa: F811
    tmp_path: Path,
) -> Iterator[Served]:
    server = serve(store_uri, f"s3://{s3_bucket}/proxied", max_upload_bytes=LIMIT)
    try:
        yield Served(server, tmp_path)
    finally:
        server.stop()


def keys(s3: Any, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def uploads(s3: Any, bucket: str) -> list[str]:
    return [item["Key"] for item in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def wait_for(condition: Any, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_large_upload_goes_up_in_parts(
    s3_served: Served,
    s3: Any,
    s3_bucket: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    data = os.urandom(LIMIT - 12_345)  # two full parts and a short last one
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    repo = repository_for("mlflow-artifacts:/0/r/artifacts", s3_served.url)
    repo.log_file(source, "m")
    key = "proxied/0/r/artifacts/m/big.bin"
    stored = s3.get_object(Bucket=s3_bucket, Key=key)
    assert stored["Body"].read() == data
    # A multipart object's ETag ends in "-<number of parts>".
    assert stored["ETag"].strip('"').endswith(f"-{-(-len(data) // PART_SIZE)}")
    assert repo.download("m/big.bin", tmp_path / "back").read_bytes() == data
    assert uploads(s3, s3_bucket) == []


def test_small_and_empty_uploads_are_one_put(
    s3_served: Served,
    s3: Any,
    s3_bucket: str,  # noqa: F811
) -> None:
    status, _h, _b = s3_served.request("PUT", f"{ROUTE}/0/r/artifacts/small.txt", b"hello")
    assert status == 200
    status, _h, _b = s3_served.request("PUT", f"{ROUTE}/0/r/artifacts/empty.txt", b"")
    assert status == 200
    small = s3.get_object(Bucket=s3_bucket, Key="proxied/0/r/artifacts/small.txt")
    assert small["Body"].read() == b"hello" and "-" not in small["ETag"]
    empty = s3.get_object(Bucket=s3_bucket, Key="proxied/0/r/artifacts/empty.txt")
    assert empty["Body"].read() == b""
    assert uploads(s3, s3_bucket) == []


def test_client_disconnect_aborts_the_upload(
    s3_served: Served,
    s3: Any,
    s3_bucket: str,  # noqa: F811
) -> None:
    host, port = s3_served.server.host, s3_served.server.port
    with socket.create_connection((host, port)) as raw:
        raw.sendall(
            f"PUT {ROUTE}/0/r/artifacts/model.bin HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Length: {LIMIT - 1}\r\n\r\n".encode()
        )
        raw.sendall(os.urandom(2 * PART_SIZE + 1000))
        wait_for(lambda: uploads(s3, s3_bucket), "no multipart upload started")
    wait_for(lambda: not uploads(s3, s3_bucket), "the multipart upload was not aborted")
    assert keys(s3, s3_bucket) == []


def test_size_limit_mid_stream_aborts_and_keeps_the_old_object(
    s3_served: Served,
    s3: Any,
    s3_bucket: str,  # noqa: F811
) -> None:
    key = "proxied/0/r/artifacts/model.bin"
    s3.put_object(Bucket=s3_bucket, Key=key, Body=b"the old model")
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set() and not seen:
            seen.extend(uploads(s3, s3_bucket))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()

    def body() -> Iterator[bytes]:  # chunked: the server learns the size only as it reads
        for _ in range(2 * LIMIT // (1 << 20)):
            yield os.urandom(1 << 20)

    connection = http.client.HTTPConnection(s3_served.server.host, s3_served.server.port)
    status = None
    try:
        connection.request("PUT", f"{ROUTE}/0/r/artifacts/model.bin", body(), encode_chunked=True)
        status = connection.getresponse().status
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close before the whole body is sent; checked below
    finally:
        connection.close()
        stop.set()
        watcher.join()
    assert status in (413, None)
    assert seen == [key], "the upload never reached S3 in parts"
    wait_for(lambda: not uploads(s3, s3_bucket), "the multipart upload was not aborted")
    assert keys(s3, s3_bucket) == [key]
    assert s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == b"the old model"


@pytest.mark.slow
def test_upload_to_s3_streams_in_constant_memory(
    s3: Any,
    s3_bucket: str,  # noqa: F811
    s3_endpoint: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """``runstack server`` in its own process: a 160 MiB upload to S3 grows its peak memory
    by a few parts, not by the body's size, and spools nothing to disk."""
    size = 160 * 1024 * 1024
    port = free_port()
    runstack = Path(sys.executable).with_name("runstack")
    spool = tmp_path / "tmp"
    spool.mkdir()
    server = subprocess.Popen(
        [
            str(runstack),
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path}/r.db",
            "--port",
            str(port),
            "--artifacts-destination",
            f"s3://{s3_bucket}/big",
        ],
        env={**os.environ, "TMPDIR": str(spool)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1).read()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        # Warm up (imports, the boto3 client, one multipart upload) before the baseline.
        warm = urllib.request.Request(f"{url}{ROUTE}/w.bin", b"w" * PART_SIZE * 2, method="PUT")
        urllib.request.urlopen(warm).read()
        before = vm_peak(server.pid)
        block = os.urandom(1 << 20)

        def body() -> Iterator[bytes]:
            for _ in range(size // len(block)):
                yield block

        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        try:
            connection.request(
                "PUT", f"{ROUTE}/0/r/artifacts/big.bin", body(), {"Content-Length": str(size)}
            )
            assert connection.getresponse().status == 200
        finally:
            connection.close()
        after = vm_peak(server.pid)
        assert list(spool.iterdir()) == []
    finally:
        server.terminate()
        server.wait(timeout=30)
    head = s3.head_object(Bucket=s3_bucket, Key="big/0/r/artifacts/big.bin")
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith(f"-{size // PART_SIZE}")
    assert after - before < 48 * 1024 * 1024, (before, after)
