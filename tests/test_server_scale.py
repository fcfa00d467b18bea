"""Scale-out: `runstack server` with 4 worker processes over PostgreSQL takes 16 client
processes x 50 runs x 20 metric points at once; every request succeeds and nothing is lost.

The server runs as a real `serve(..., workers=4)` subprocess, the clients as real processes
using runstack's fluent API over HTTP; the counts are read from the database afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from conftest import create_postgres_database, drop_postgres_database, postgres_unavailable
from procs import children
from readback import count_metric_values
from runstack.store import close_stores
from runstack.store.sql.database import normalise_sql_url

CLIENTS = 16
RUNS_PER_CLIENT = 50
POINTS_PER_RUN = 20

_CLIENT = f"""
import sys, runstack
runstack.set_experiment("scale")
for r in range({RUNS_PER_CLIENT}):
    with runstack.start_run(run_name=f"c{{sys.argv[1]}}-r{{r}}"):
        runstack.log_param("client", sys.argv[1])
        for step in range({POINTS_PER_RUN}):
            runstack.log_metric("loss", 1.0 / (step + 1), step=step)
print("DONE", flush=True)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served(backend: str, workers: int) -> Iterator[str]:
    port = _free_port()
    code = f"from runstack.server import serve; serve({backend!r}, port={port}, workers={workers})"
    server = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/health", timeout=1).text == "OK":
                    break
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "the server did not start within 60 s"
            time.sleep(0.1)
        yield url
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stderr is not None:
            server.stderr.close()


def _count(backend: str, sql: str) -> int:
    engine = sa.create_engine(normalise_sql_url(backend), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text(f"SELECT COUNT(*) FROM {sql}")).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture
def postgres_uri() -> Iterator[str]:
    """A fresh PostgreSQL store: scale-out is a PostgreSQL set-up (SQLite has one writer)."""
    reason = postgres_unavailable()
    if reason:
        if os.environ.get("RUNSTACK_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    uri, schema = create_postgres_database()
    try:
        yield uri
    finally:
        close_stores()
        drop_postgres_database(schema)


@pytest.mark.slow
def test_four_workers_sixteen_clients_lose_nothing(postgres_uri: str) -> None:
    store_uri = postgres_uri
    with served(store_uri, workers=4) as url, children() as procs:
        env = {"MLFLOW_TRACKING_URI": url, "RUNSTACK_HTTP_MAX_RETRIES": "0"}
        started = time.monotonic()
        clients = [
            procs.start(_CLIENT.replace("sys.argv[1]", repr(str(i))), env=env)
            for i in range(CLIENTS)
        ]
        for client in clients:
            assert client.wait(timeout=600) == 0, client.stderr
            assert "DONE" in client.stdout
            assert client.stderr.strip() == "", client.stderr
        elapsed = time.monotonic() - started
    runs = CLIENTS * RUNS_PER_CLIENT
    assert _count(store_uri, "runs") == runs
    assert _count(store_uri, "runs WHERE status = 'FINISHED' AND end_time IS NOT NULL") == runs
    assert _count(store_uri, "params") == runs
    assert count_metric_values(store_uri) == runs * POINTS_PER_RUN
    assert _count(store_uri, "latest_metrics") == runs
    requests = runs * (POINTS_PER_RUN + 4)
    print(f"{requests} requests in {elapsed:.1f} s ({requests / elapsed:.0f}/s)", file=sys.stderr)
