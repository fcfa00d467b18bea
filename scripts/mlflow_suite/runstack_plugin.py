"""A pytest plugin that points MLflow's own tracking-server tests at ``runstack server``.

MLflow's tests start MLflow's server in their fixtures. Loaded with ``-p runstack_plugin``, this
plugin swaps those fixtures, after each test module is imported and before pytest reads its
fixtures, for ones that start ``runstack server`` on a fresh store (SQLite or a new PostgreSQL
database) and a fresh artifacts destination, on 127.0.0.1. The tests themselves run unchanged.

Settings (environment): ``RUNSTACK_SUITE_BIN`` (the ``runstack`` executable),
``RUNSTACK_SUITE_STORES`` (``sqlite``, ``postgresql`` or both, comma-separated),
``RUNSTACK_SUITE_ARTIFACTS`` (``proxied``: the server keeps artifacts, as ``mlflow server``
does by default; ``direct``: no proxy and ``file:`` locations under the test's folder, as
the ``mlflow_client`` fixture of test_rest_tracking.py sets MLflow's server up; or both) and
``RUNSTACK_SUITE_PG`` (a PostgreSQL server URL without a database). With
``RUNSTACK_SUITE_MLFLOW_BIN`` (an ``mlflow`` executable) the same fixtures start MLflow's own
server instead: a baseline that shows which tests fail against MLflow itself.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_BIN = os.environ.get("RUNSTACK_SUITE_BIN", "runstack")
_STORES = [s for s in os.environ.get("RUNSTACK_SUITE_STORES", "sqlite").split(",") if s]
_MODES = [m for m in os.environ.get("RUNSTACK_SUITE_ARTIFACTS", "proxied").split(",") if m]
_REFERENCE = os.environ.get("RUNSTACK_SUITE_MLFLOW_BIN")
_PG = os.environ.get("RUNSTACK_SUITE_PG", "postgresql://postgres@127.0.0.1:5432").rstrip("/")
_HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _fresh_store(kind: str, folder: Path) -> Iterator[str]:
    """A store URI nobody has used: a new SQLite file or a new PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'runstack.db'}"
        return
    import sqlalchemy

    name = f"rs_suite_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(f"{_PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{_PG}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def start_server(
    store_uri: str, artifacts: str, log: Path, port: int | None = None, proxied: bool = True
) -> Any:
    """Start ``runstack server`` and return its process once /health answers. ``artifacts``
    is the proxy's destination, or (not ``proxied``) the root of new experiments' locations."""
    port = port or _free_port()
    server = [_REFERENCE, "server", "--workers", "1"] if _REFERENCE else [_BIN, "server"]
    cmd = [*server, "--backend-store-uri", store_uri, "--host", _HOST, "--port", str(port)]
    env = dict(os.environ)
    if proxied:
        cmd += ["--artifacts-destination", artifacts]
    elif _REFERENCE:
        cmd += ["--no-serve-artifacts", "--default-artifact-root", artifacts]
    else:
        cmd += ["--no-serve-artifacts"]
        env["RUNSTACK_ARTIFACT_ROOT"] = artifacts
    out = log.open("ab")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    proc.url = f"http://{_HOST}:{port}"  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"runstack server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{proc.url}/health", timeout=2):  # type: ignore[attr-defined]
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"runstack server did not answer within 60 s: {log.read_text()[-2000:]}")


def stop_server(proc: Any) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def runstack_server(setup: str, folder: Path) -> Iterator[str]:
    """A runstack server on a fresh store, set up as ``<store>-<artifacts mode>``; yields its
    URL."""
    kind, mode = setup.split("-")
    if mode == "proxied":
        proxied, artifacts = True, str(folder / "mlartifacts")
    else:  # as MLflow's fixture: default_artifact_root=tmp_path.as_uri(), no proxy
        proxied, artifacts = False, folder.as_uri()
    with _fresh_store(kind, folder) as uri:
        proc = start_server(uri, artifacts, folder / "server.log", proxied=proxied)
        try:
            yield proc.url
        finally:
            stop_server(proc)


# --- replacements for the fixtures of MLflow's test modules ---------------------------------


@pytest.fixture(params=[f"{store}-{mode}" for store in _STORES for mode in _MODES])
def store_type(request: Any) -> str:
    return str(request.param)


@pytest.fixture
def mlflow_client(store_type: str, tmp_path: Path) -> Iterator[Any]:
    from mlflow import MlflowClient

    with runstack_server(store_type, tmp_path) as url:
        yield MlflowClient(url)


@pytest.fixture
def mlflow_client_with_secrets() -> None:
    pytest.skip("gateway secrets: not part of runstack")


def _launch_server(host: str, port: int, backend_store_uri: str, default_artifact_root: str,
                   artifacts_destination: str) -> Any:  # fmt: skip
    """test_mlflow_artifacts.py's launcher, for runstack (which derives the default root)."""
    del host, default_artifact_root
    log = Path(artifacts_destination).parent / "server.log"
    return start_server(backend_store_uri, artifacts_destination, log, port)


_REPLACEMENTS: dict[str, dict[str, Any]] = {
    "test_rest_tracking": {
        "store_type": store_type,
        "mlflow_client": mlflow_client,
        "mlflow_client_with_secrets": mlflow_client_with_secrets,
    },
    "test_mlflow_artifacts": {"_launch_server": _launch_server},
}


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makemodule(module_path: Path, parent: Any) -> Any:
    module = yield
    replacements = _REPLACEMENTS.get(module_path.stem)
    if replacements and module is not None:
        try:
            obj = module.obj  # imports the test module now, so its names can be replaced
        except Exception:  # pytest reports the import error itself
            return module
        for name, value in replacements.items():
            setattr(obj, name, value)
    return module
