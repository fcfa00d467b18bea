"""The REST store's HTTP connections (``runstack.store.http_pool``) against real sockets:
kept-alive connections are reused, ones the server closed or that sat idle too long are
replaced without failing the request, environment proxies and TLS settings are honoured."""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from runstack.errors import StoreUnavailableError
from runstack.store import http_pool
from runstack.store.rest import UNSENT, HttpSession

PATH = "/api/2.0/mlflow/experiments/get"


class EchoServer:
    """An HTTP/1.1 server that answers every request with what it received, as JSON, and
    counts the connections it accepted. ``close_after_reply`` makes it close each connection
    right after answering, without saying so (as a server does when a keep-alive times out)."""

    def __init__(self, close_after_reply: bool = False, tls: ssl.SSLContext | None = None):
        self.connections = 0
        self.requests: list[dict[str, object]] = []
        echo = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                echo.connections += 1
                super().setup()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                seen = {"line": self.requestline, "headers": dict(self.headers), "body": body}
                echo.requests.append(seen)
                data = json.dumps(seen).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                if close_after_reply:
                    self.close_connection = True

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> EchoServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _no_proxy_or_tls_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("MLFLOW_TRACKING_SERVER_CERT_PATH", "MLFLOW_TRACKING_INSECURE_TLS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RUNSTACK_HTTP_MAX_RETRIES", "0")


def test_one_kept_alive_connection_serves_many_requests() -> None:
    with EchoServer() as server:
        session = HttpSession(server.url)
        for i in range(20):
            got = session.call("POST", PATH, {"i": i})
            assert json.loads(str(got["body"])) == {"i": i}
        session.close()
    assert server.connections == 1
    assert len(server.requests) == 20


def test_get_parameters_are_encoded_in_the_query() -> None:
    with EchoServer() as server:
        got = HttpSession(server.url).call("GET", PATH, {"run_ids": ["a b", "c&d"], "k": "é"})
    assert got["line"] == f"GET {PATH}?run_ids=a+b&run_ids=c%26d&k=%C3%A9 HTTP/1.1"


def test_a_connection_the_server_closed_is_replaced_even_for_requests_never_repeated() -> None:
    """A run creation is never sent twice; a socket the server closed while idle must not
    turn it into an 'outcome unknown' error either."""
    with EchoServer(close_after_reply=True) as server:
        session = HttpSession(server.url)
        for i in range(5):
            session.call("POST", PATH, {"i": i}, retry=UNSENT)
            time.sleep(0.05)  # idle: the server's close arrives
    assert server.connections == 5
    assert len(server.requests) == 5


def test_connections_idle_past_the_expiry_are_not_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_pool, "KEEPALIVE_EXPIRY_S", 0.0)
    with EchoServer() as server:
        session = HttpSession(server.url)
        for i in range(3):
            session.call("POST", PATH, {"i": i}, retry=UNSENT)
    assert server.connections == 3


def test_requests_go_through_the_environment_proxy_with_its_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with EchoServer() as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://al%40ice:s3cret@127.0.0.1:{proxy.port}")
        got = HttpSession("http://tracking.example:5000/prefix").call("POST", PATH, {})
    assert got["line"] == f"POST http://tracking.example:5000/prefix{PATH} HTTP/1.1"
    expected = "Basic " + base64.b64encode(b"al@ice:s3cret").decode()
    assert got["headers"]["Proxy-Authorization"] == expected  # type: ignore[index]


def test_no_proxy_hosts_are_reached_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    with EchoServer() as server:
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        got = HttpSession(server.url).call("POST", PATH, {})
    assert got["line"] == f"POST {PATH} HTTP/1.1"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl tool."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed; TLS tests need it to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        [openssl, *request, *subject, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[EchoServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with EchoServer(tls=context) as server:
        yield server


def test_https_verifies_the_server_against_the_given_certificate(
    tls_server: EchoServer, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(StoreUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
        HttpSession(tls_server.url).call("POST", PATH, {})
    assert tls_server.requests == []
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(certificate[0]))
    assert HttpSession(tls_server.url).call("POST", PATH, {"a": 1})["body"] == '{"a":1}'


def test_https_without_verification_when_asked(
    tls_server: EchoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    assert HttpSession(tls_server.url).call("POST", PATH, {})["body"] == "{}"


def test_a_file_body_is_sent_whole_with_its_headers(tmp_path: Path) -> None:
    payload = "".join(f"line {i}\n" for i in range(200_000))  # about 2 MB: several blocks
    source = tmp_path / "body.txt"
    source.write_text(payload)
    with EchoServer() as server:
        pool = http_pool.ConnectionPool(server.url, timeout=10)
        for _ in range(2):  # the second request reuses the kept-alive connection
            with (
                open(source, "rb") as body,
                pool.stream(
                    "PUT", "/upload", body, len(payload), {"Content-Type": "text/plain"}
                ) as response,
            ):
                seen = json.loads(response.read())
            assert seen["body"] == payload
            assert seen["line"] == "PUT /upload HTTP/1.1"
            assert seen["headers"]["Content-Length"] == str(len(payload))
            assert seen["headers"]["Content-Type"] == "text/plain"
            assert seen["headers"]["Host"] == f"127.0.0.1:{server.port}"
    assert server.connections == 1


def test_a_file_shorter_than_its_declared_length_fails_the_request(tmp_path: Path) -> None:
    source = tmp_path / "short.bin"
    source.write_bytes(b"x" * 1000)
    with EchoServer() as server:
        pool = http_pool.ConnectionPool(server.url, timeout=5)
        with (
            open(source, "rb") as body,
            pytest.raises(http_pool.TransportFailed, match="1000"),
            pool.stream("PUT", "/upload", body, 5000),
        ):
            pass
        # The broken connection is not reused: the next request gets a new one.
        assert json.loads(pool.request("GET", "/after").body)["line"] == "GET /after HTTP/1.1"
    assert server.connections == 2
