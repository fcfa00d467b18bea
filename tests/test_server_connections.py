"""Connection limits (issue 10, finding 5) and how `runstack server` starts (bind refusal,
TLS), against real sockets."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from runstack.cli import main
from runstack.server.background import BackgroundServer
from runstack.server.connection_limits import ConnectionLimits

LIMITS = ConnectionLimits(header_timeout_s=1.0, body_timeout_s=1.0, idle_timeout_s=1.0)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BackgroundServer]:
    background = BackgroundServer(f"sqlite:///{tmp_path}/runstack.db", limits=LIMITS)
    background.start()
    try:
        yield background
    finally:
        background.stop()


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed ``sock`` within ``seconds`` (and what it sent first)."""
    sock.settimeout(seconds)
    received = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True, received
            received += chunk
    except TimeoutError:
        return False, received
    except ConnectionResetError:
        return True, received


def _connect(server: BackgroundServer) -> socket.socket:
    return socket.create_connection((server.host, server.port), timeout=5)


def test_idle_slow_header_and_slow_body_connections_are_closed(server: BackgroundServer) -> None:
    idle = [_connect(server) for _ in range(20)]
    slow_headers = [_connect(server) for _ in range(20)]
    for sock in slow_headers:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
    slow_bodies = [_connect(server) for _ in range(20)]
    for sock in slow_bodies:
        sock.sendall(
            b"POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na'
        )
    started = time.monotonic()
    # Meanwhile the server answers others.
    assert httpx.get(f"{server.url}/health").text == "OK"
    for sock in idle + slow_headers:
        closed, _ = _closed_within(sock, 5)
        assert closed
    for sock in slow_bodies:
        closed, answer = _closed_within(sock, 5)
        assert closed
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b'"error_code":"BAD_REQUEST"' in answer
    assert time.monotonic() - started < 8
    for sock in idle + slow_headers + slow_bodies:
        sock.close()


def test_trickled_headers_cannot_keep_a_connection(server: BackgroundServer) -> None:
    """One header byte every 0.3 s: uvicorn's own keep-alive timer stops at the first byte."""
    sock = _connect(server)
    started = time.monotonic()
    request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
    try:
        for byte in request:
            sock.sendall(bytes([byte]))
            time.sleep(0.3)
            if time.monotonic() - started > 6:
                break
        closed, _ = _closed_within(sock, 3)
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    assert closed
    assert time.monotonic() - started < 8
    sock.close()


def test_kept_alive_connection_serves_requests_then_idles_out(server: BackgroundServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        for _ in range(3):
            assert http.get("/health").text == "OK"
            time.sleep(0.5)  # under the 1 s idle and header timeouts: the same connection
    sock = _connect(server)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    closed, answer = _closed_within(sock, 4)
    assert answer.startswith(b"HTTP/1.1 200") and closed
    sock.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_server_refuses_a_non_loopback_bind_without_the_flag(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["server", "--backend-store-uri", f"sqlite:///{tmp_path}/r.db", "--host", "0.0.0.0"]
    )
    assert result.exit_code != 0
    assert "no authentication" in result.output and "--allow-unauthenticated" in result.output


def test_allow_unauthenticated_says_so_in_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """uvicorn.run is replaced (nothing listens beyond loopback in a test); the options the
    flags produce are checked instead."""
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    from runstack import settings
    from runstack.server.guards import GuardSettings

    exported = [s for s in settings.all_settings() if s.name.startswith("RUNSTACK_SE")]
    for setting in exported:  # serve() exports them for its workers: restored afterwards
        monkeypatch.setenv(setting.name, "")
    args = ["server", "--backend-store-uri", f"sqlite:///{tmp_path}/r.db", "--host", "0.0.0.0"]
    flags = ["--allow-unauthenticated", "--idle-timeout", "7", "--limit-concurrency", "50"]
    flags += ["--allowed-hosts", "tracking.corp", "--search-timeout", "3"]
    with caplog.at_level("WARNING", logger="runstack.server"):
        result = CliRunner().invoke(main, args + flags)
    assert result.exit_code == 0, result.output
    assert "WITHOUT AUTHENTICATION" in caplog.text
    assert seen["host"] == "0.0.0.0"
    assert seen["timeout_keep_alive"] == 7 and seen["limit_concurrency"] == 50
    workers_see = GuardSettings.from_environment()
    assert workers_see.host_allowed("tracking.corp") and workers_see.host_allowed("localhost")
    assert not workers_see.host_allowed("10.1.2.3") and not workers_see.host_allowed("evil.ex")
    assert settings.SEARCH_TIMEOUT.read() == 3.0


@pytest.mark.slow
def test_tls_with_a_self_signed_certificate(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed; it makes the test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    trust = ssl.create_default_context(cafile=str(cert))
    command = [sys.executable, "-c", "from runstack.cli import main; main()"]
    command += ["server", "--port", str(port)]
    command += ["--backend-store-uri", f"sqlite:///{tmp_path}/r.db"]
    command += ["--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RUNSTACK_"))}
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"https://127.0.0.1:{port}/health", verify=trust)
                break
            except httpx.ConnectError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert response.text == "OK"
        created = httpx.post(
            f"https://127.0.0.1:{port}/api/2.0/mlflow/experiments/create",
            json={"name": "over-tls"},
            verify=trust,
        )
        assert created.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"http://127.0.0.1:{port}/health")  # plain HTTP is not answered
    finally:
        process.terminate()
        process.wait(timeout=30)
