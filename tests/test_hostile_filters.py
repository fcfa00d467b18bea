"""Bounded work per search (issue 10, finding 2): filter limits checked while parsing, and a
statement timeout on both databases that stops a search with a 400 clients do not retry."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
import sqlalchemy as sa

import runstack
from runstack.errors import InvalidParameterError
from runstack.filters.limits import (
    MAX_FILTER_CLAUSES,
    MAX_FILTER_DEPTH,
    MAX_FILTER_LENGTH,
    MAX_FILTER_VALUES,
)
from runstack.server.background import BackgroundServer
from runstack.store.sql import statement_timeout
from runstack.store.sql.database import Database
from runstack.store.sql.statement_timeout import SearchTimeoutError

CLAUSE = "params.p = '1'"
HOSTILE = {
    "2,000 NOTs": "NOT " * 2000 + CLAUSE,
    "500 parentheses": "(" * 500 + CLAUSE + ")" * 500,
    "3,000 ORs": " or ".join(["params.p='1'"] * 3000),  # 48,000 characters
    "too long": f"params.p = '{'x' * MAX_FILTER_LENGTH}'",
    "too many IN values": "params.p IN (" + ",".join(["'1'"] * (MAX_FILTER_VALUES + 1)) + ")",
}
LIMIT_WORDS = {
    "2,000 NOTs": f"{MAX_FILTER_DEPTH} levels",
    "500 parentheses": f"{MAX_FILTER_DEPTH} levels",
    "3,000 ORs": f"{MAX_FILTER_CLAUSES} clauses",
    "too long": f"{MAX_FILTER_LENGTH} characters",
    "too many IN values": f"{MAX_FILTER_VALUES} values",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_run_filters_are_refused_quickly_naming_the_limit(
    client: runstack.TrackingClient, name: str
) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidParameterError) as caught:
        client.search_runs(["0"], HOSTILE[name])
    assert time.monotonic() - started < 2
    assert LIMIT_WORDS[name] in caught.value.message
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"


def test_hostile_experiment_filter_is_refused(client: runstack.TrackingClient) -> None:
    with pytest.raises(InvalidParameterError, match=f"{MAX_FILTER_CLAUSES} clauses"):
        client.search_experiments(filter_string=" OR ".join(["name = 'x'"] * 999))
    with pytest.raises(InvalidParameterError, match=f"{MAX_FILTER_DEPTH} levels"):
        client.search_experiments(filter_string="NOT " * 3000 + "name = 'x'")


def test_filters_at_the_limits_still_work(client: runstack.TrackingClient) -> None:
    run = client.create_run("0")
    client.log_param(run.info.run_id, "p", "1")
    at_limit = " OR ".join([CLAUSE] * MAX_FILTER_CLAUSES)
    assert [r.info.run_id for r in client.search_runs(["0"], at_limit)] == [run.info.run_id]
    nested = "(" * (MAX_FILTER_DEPTH - 1) + "NOT " + CLAUSE + ")" * (MAX_FILTER_DEPTH - 1)
    assert client.search_runs(["0"], nested) == []


def _slow_statement(db: Database) -> sa.TextClause:
    if db.is_sqlite:  # ~10 s of SQLite work when nothing stops it
        return sa.text(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000000)"
            " SELECT count(*) FROM c"
        )
    return sa.text("SELECT pg_sleep(20)")


def test_statement_timeout_stops_a_bounded_read(store_uri: str) -> None:
    db = Database(store_uri)
    try:
        db.search_timeout_s = 0.3
        started = time.monotonic()
        with pytest.raises(SearchTimeoutError, match=r"stopped after 0\.3 s") as caught:
            db.read(lambda tx: tx.all(_slow_statement(db)), bounded=True)
        assert time.monotonic() - started < 3
        assert caught.value.http_status == 400
        # The connection is fine afterwards, and the limit does not outlive the transaction.
        assert db.read(lambda tx: tx.scalar(sa.text("SELECT 1"))) == 1
        if not db.is_sqlite:
            assert db.read(lambda tx: tx.scalar(sa.text("SHOW statement_timeout"))) == "0"
    finally:
        db.close()


@pytest.mark.parametrize("store_uri", ["postgresql"], indirect=True)  # JIT is PostgreSQL's
def test_search_transactions_turn_postgres_jit_off(store_uri: str) -> None:
    db = Database(store_uri)
    try:
        found = db.read(lambda tx: tx.scalar(sa.text("SHOW jit")), bounded=True)
        assert found == "off"
    finally:
        db.close()


@pytest.mark.slow
def test_server_answers_a_timed_out_search_with_a_400_that_is_not_retried(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's search is made slow with a statement that never ends; the server answers
    400 after the timeout and the REST store raises at once, without retrying."""
    from runstack.store.sql import search

    real_run_search = search.search_runs

    def slow(db: Database, *args: object, **kwargs: object) -> object:
        db.search_timeout_s = 0.5
        db.read(lambda tx: tx.all(_slow_statement(db)), bounded=True)
        return real_run_search(db, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(search, "search_runs", slow)
    with BackgroundServer(store_uri) as url:
        response = httpx.post(
            f"{url}/api/2.0/mlflow/runs/search", json={"experiment_ids": ["0"]}, timeout=30
        )
        assert response.status_code == 400
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "stopped after 0.5 s" in response.json()["message"]
        rest = runstack.TrackingClient(url)
        started = time.monotonic()
        with pytest.raises(InvalidParameterError, match="not a temporary failure"):
            rest.search_runs(["0"])
        assert time.monotonic() - started < 5  # one attempt (~0.5 s), no retries
        # Other requests are answered meanwhile and afterwards.
        assert httpx.get(f"{url}/health").text == "OK"


def test_a_cancelled_bounded_read_stops_and_the_connection_is_reused_safely(
    store_uri: str,
) -> None:
    db = Database(store_uri)
    cancellation = statement_timeout.Cancellation()
    outcome: dict[str, object] = {}

    def search() -> None:
        statement_timeout.current_cancellation.set(cancellation)
        started = time.monotonic()
        try:
            db.read(lambda tx: tx.all(_slow_statement(db)), bounded=True)
        except SearchTimeoutError as error:
            outcome["error"] = error.message
        outcome["seconds"] = time.monotonic() - started

    try:
        db.search_timeout_s = 60
        worker = threading.Thread(target=search)
        worker.start()
        time.sleep(0.5)
        cancellation.cancel()
        worker.join(timeout=30)
        assert outcome["error"] == "The search was cancelled: its client disconnected."
        assert float(outcome["seconds"]) < 5  # not the statement's ~10-20 s
        # Once a read has ended, cancelling its request again touches nothing: the pooled
        # connection now serves another read.
        done = statement_timeout.Cancellation()
        token = statement_timeout.current_cancellation.set(done)
        assert db.read(lambda tx: tx.scalar(sa.text("SELECT 1")), bounded=True) == 1
        statement_timeout.current_cancellation.reset(token)
        done.cancel()
        assert db.read(lambda tx: tx.scalar(sa.text("SELECT 2")), bounded=True) == 2
    finally:
        db.close()


@pytest.mark.slow
def test_a_search_whose_client_disconnects_is_stopped(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's search is made slow (a statement of 10-20 s); the client sends it and
    hangs up; the server stops the statement at once instead of running it to the end."""
    from runstack.store.sql import search

    ended: dict[str, object] = {}

    def slow(db: Database, *args: object, **kwargs: object) -> object:
        db.search_timeout_s = 60
        try:
            db.read(lambda tx: tx.all(_slow_statement(db)), bounded=True)
        except SearchTimeoutError as error:
            ended["error"] = error.message
            raise
        finally:
            ended["at"] = time.monotonic()
        raise AssertionError("the slow statement finished")

    monkeypatch.setattr(search, "search_runs", slow)
    with BackgroundServer(store_uri) as url:
        host, port = url.removeprefix("http://").split(":")
        body = b'{"experiment_ids": ["0"]}'
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(
                b"POST /api/2.0/mlflow/runs/search HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
                b"Content-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode() + b"\r\n\r\n" + body
            )  # fmt: skip
            time.sleep(0.5)
        closed = time.monotonic()
        deadline = closed + 30
        while "at" not in ended and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ended.get("error") == "The search was cancelled: its client disconnected."
        assert float(ended["at"]) - closed < 5  # type: ignore[arg-type]
        assert httpx.get(f"{url}/health").text == "OK"


def test_a_search_cancelled_before_it_starts_does_not_run(store_uri: str) -> None:
    db = Database(store_uri)
    cancelled = statement_timeout.Cancellation()
    cancelled.cancel()  # the client left while the request waited for a worker thread
    token = statement_timeout.current_cancellation.set(cancelled)
    try:
        db.search_timeout_s = 60
        started = time.monotonic()
        with pytest.raises(SearchTimeoutError, match="client disconnected"):
            db.read(lambda tx: tx.all(_slow_statement(db)), bounded=True)
        assert time.monotonic() - started < 2
    finally:
        statement_timeout.current_cancellation.reset(token)
        db.close()
