"""`runstack ui` and `runstack server --read-only` as a user starts them: a real process on
a free port, over the store of the working directory by default."""

from __future__ import annotations

import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from procs import Child, Children, children


@pytest.fixture
def started() -> Iterator[Children]:
    with children() as running:  # killed at the end, pass or fail
        yield running


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + "health", timeout=2)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _start(
    started: Children, args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> Child:
    code = f"import sys; from runstack.cli import main; sys.exit(main({args!r}))"
    return started.start(code, env=env, cwd=cwd)


@pytest.mark.slow
def test_ui_serves_the_working_directory_store_read_only_and_opens_a_browser(
    tmp_path: Path, started: Children
) -> None:
    import runstack

    store = tmp_path / "runstack.db"
    runstack.TrackingClient(f"sqlite:///{store}").create_experiment("mine")
    port = _free_port()
    opened = tmp_path / "opened.txt"
    browser = f"{sys.executable} -c \"import sys; open('{opened}', 'w').write(sys.argv[1])\" %s"
    child = _start(
        started,
        ["ui", "--port", str(port), "--read-only", "--open"],
        tmp_path,
        {"BROWSER": browser},
    )
    url = f"http://127.0.0.1:{port}/"
    line = child.read_line()
    assert line.startswith("runstack UI for sqlite:///") and line.endswith(f"{url} (read-only)")
    _wait_until_up(url)
    api = url + "api/2.0/"
    assert httpx.get(api + "runstack/ui/config").json()["read_only"] is True
    names = [e["name"] for e in httpx.get(api + "runstack/ui/experiments").json()["experiments"]]
    assert "mine" in names
    refused = httpx.post(api + "mlflow/experiments/create", json={"name": "x"})
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"
    deadline = time.monotonic() + 30
    while not opened.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert opened.read_text() == url
    child.signal(signal.SIGINT)
    child.wait()


@pytest.mark.slow
def test_server_read_only_flag(tmp_path: Path, started: Children) -> None:
    port = _free_port()
    uri = f"sqlite:///{tmp_path}/other.db"
    child = _start(
        started,
        ["server", "--backend-store-uri", uri, "--port", str(port), "--read-only"],
        tmp_path,
    )
    url = f"http://127.0.0.1:{port}/"
    _wait_until_up(url)
    assert httpx.get(url + "api/2.0/runstack/ui/config").json()["read_only"] is True
    response = httpx.post(url + "api/2.0/mlflow/runs/create", json={"experiment_id": "0"})
    assert response.status_code == 403
    child.signal(signal.SIGINT)
    child.wait()
    assert not (tmp_path / "runstack.db").exists()  # the URI given was used, not the default


@pytest.mark.slow
def test_ui_with_auth_asks_for_credentials(tmp_path: Path, started: Children) -> None:
    from click.testing import CliRunner

    from runstack.cli import main

    uri = f"sqlite:///{tmp_path}/team.db"
    made = CliRunner().invoke(
        main, ["users", "create", "ana", "--password", "ana password", "--backend-store-uri", uri]
    )
    assert made.exit_code == 0, made.output
    port = _free_port()
    _start(started, ["ui", "--tracking-uri", uri, "--port", str(port), "--auth"], tmp_path)
    url = f"http://127.0.0.1:{port}/"
    _wait_until_up(url)
    search = url + "api/2.0/mlflow/experiments/search?max_results=10"
    refused = httpx.get(search)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")
    answered = httpx.get(search, auth=("ana", "ana password"))
    assert answered.status_code == 200
    assert [e["name"] for e in answered.json()["experiments"]] == ["Default"]
