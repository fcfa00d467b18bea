"""Shared fixtures: a fresh store per test on SQLite and on PostgreSQL, and a clean fluent state.

PostgreSQL tests use the server named by ``RUNSTACK_TEST_POSTGRES_URI`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``); each test gets its own new, empty schema
in a database made for the session, dropped afterwards. When no server answers there, those
tests are skipped and say why (or fail, when ``RUNSTACK_REQUIRE_POSTGRES`` is set, as in CI).

``store_uri`` is empty (its first use migrates it: for tests of first use and migration);
``migrated_store_uri``, behind ``tracking`` and ``client``, already holds the schema, made from
a per-session template in milliseconds (store_templates.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runstack
import store_templates
from runstack import tracking_uri
from runstack.session import experiment_choice, heartbeat, stack
from runstack.store import close_stores

POSTGRES_ADMIN_URI = os.environ.get(
    "RUNSTACK_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/postgres"
)
_ENV_VARS = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_RUN_ID",
    "MLFLOW_ENABLE_ASYNC_LOGGING",
    "RUNSTACK_HEARTBEAT_INTERVAL",
    "RUNSTACK_HEARTBEAT_TIMEOUT",
    "RUNSTACK_ARTIFACT_ROOT",
)
_postgres_error: str | None = None
_postgres_checked = False


def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used (None when it can); checked once per session."""
    global _postgres_checked, _postgres_error
    if not _postgres_checked:
        _postgres_checked = True
        try:
            import psycopg

            with psycopg.connect(_plain(POSTGRES_ADMIN_URI), connect_timeout=3):
                pass
        except Exception as error:
            _postgres_error = (
                f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URI} ({error}); set "
                "RUNSTACK_TEST_POSTGRES_URI to a server to run these tests"
            )
    return _postgres_error


def _plain(uri: str) -> str:
    return uri.replace("postgresql+psycopg://", "postgresql://")


_session_database: str | None = None


def _admin() -> Any:
    import psycopg

    return psycopg.connect(_plain(POSTGRES_ADMIN_URI), autocommit=True)


def create_postgres_database() -> tuple[str, str]:
    """(uri of a new, empty store, a handle to drop it with).

    Each store is a fresh schema in one database created for the test session: creating and
    dropping a whole database per test costs ~0.6 s, a schema a few milliseconds. The URI
    selects the schema with ``options=-csearch_path=...``, so every process and every tool
    that opens it (migrations included) sees only that schema."""
    global _session_database
    if _session_database is None:
        name = f"runstack_test_{uuid.uuid4().hex[:12]}"
        with _admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
            # A test's commit need not wait for the disk: a crash of the test server loses
            # nothing anyone needs, and the tests do thousands of small commits.
            admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
        _session_database = name
    schema = f"t_{uuid.uuid4().hex[:16]}"
    base = _plain(POSTGRES_ADMIN_URI).rsplit("/", 1)[0]
    uri = f"{base}/{_session_database}"
    import psycopg

    with psycopg.connect(uri, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    return f"{uri}?options=-csearch_path%3D{schema}", schema


def drop_postgres_database(schema: str) -> None:
    """Drop a store made by ``create_postgres_database`` (what a stuck connection keeps
    alive goes with the session database at the end)."""
    import psycopg

    base = _plain(POSTGRES_ADMIN_URI).rsplit("/", 1)[0]
    try:
        with psycopg.connect(f"{base}/{_session_database}", autocommit=True) as connection:
            connection.execute("SET lock_timeout = '5s'")
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    except psycopg.Error:
        pass


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave the schemathesis module out of a run that deselects slow tests: schemathesis
    builds its cases while collecting (about 14 s of CPU per process), and its one test is
    marked slow anyway."""
    if collection_path.name == "test_openapi_schemathesis.py":
        expression = config.getoption("markexpr") or ""
        if "not slow" in expression.replace("  ", " "):
            return True
    return None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _session_database is not None:
        close_stores()
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{_session_database}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URI of a fresh, empty store, once per backend."""
    yield from _fresh_store(request.param, tmp_path, migrated=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_store_uri(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh store that already holds runstack's schema, as its first use would have made
    it, once per backend: for the tests that are not about first use or migration (made from
    a template in milliseconds, see store_templates.py)."""
    yield from _fresh_store(request.param, tmp_path, migrated=True, templates=tmp_path_factory)


_sqlite_template: Path | None = None
_postgres_pool: store_templates.PostgresPool | None = None


def _fresh_store(
    backend: str,
    tmp_path: Path,
    migrated: bool,
    templates: pytest.TempPathFactory | None = None,
) -> Iterator[str]:
    global _sqlite_template, _postgres_pool
    if backend == "sqlite":
        uri = f"sqlite:///{tmp_path}/runstack.db"
        if migrated:
            if _sqlite_template is None:
                assert templates is not None
                template = templates.mktemp("store-template") / "template.db"
                store_templates.migrate_empty(f"sqlite:///{template}")
                _sqlite_template = template
            store_templates.copy_sqlite(_sqlite_template, tmp_path / "runstack.db")
        yield uri
        close_stores()
        return
    reason = postgres_unavailable()
    if reason:
        if os.environ.get("RUNSTACK_REQUIRE_POSTGRES"):
            pytest.fail(reason + " (RUNSTACK_REQUIRE_POSTGRES is set)")
        pytest.skip(reason)
    if not migrated:
        uri, name = create_postgres_database()
        try:
            yield uri
        finally:
            close_stores()
            drop_postgres_database(name)
        return
    import psycopg

    def connect(uri: str) -> Any:
        return psycopg.connect(uri, autocommit=True)

    if _postgres_pool is None:
        template_uri, template = create_postgres_database()
        _postgres_pool = store_templates.PostgresPool(
            store_templates.record_migration(template_uri)
        )
        drop_postgres_database(template)
    uri, name = _postgres_pool.take(create_postgres_database, connect)
    try:
        yield uri
    finally:
        close_stores()
        _postgres_pool.give_back(uri, name, connect, drop_postgres_database)


def reset_fluent_state() -> None:
    """Forget every run, experiment choice and URI the fluent API holds."""
    heartbeat.heartbeat.stop()
    stack.reset()
    experiment_choice.reset()
    tracking_uri.reset()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No MLflow/runstack variables from the outside world; cwd is a fresh folder."""
    for name in _ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def tracking(migrated_store_uri: str, clean_env: Path) -> Iterator[str]:
    """The fluent API pointed at a fresh store holding the schema (both backends); state reset
    afterwards."""
    reset_fluent_state()
    runstack.set_tracking_uri(migrated_store_uri)
    try:
        yield migrated_store_uri
    finally:
        reset_fluent_state()
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        os.environ.pop("MLFLOW_EXPERIMENT_NAME", None)
        os.environ.pop("MLFLOW_EXPERIMENT_ID", None)


@pytest.fixture
def client(tracking: str) -> runstack.TrackingClient:
    return runstack.TrackingClient(tracking)


def run_python(
    code: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run a snippet in a fresh interpreter (with runstack importable) and wait for it."""
    full_env = {k: v for k, v in os.environ.items() if k not in _ENV_VARS}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
