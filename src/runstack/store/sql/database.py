"""Engines and transactions for SQLite and PostgreSQL, with the settings that make them safe.

Every store operation runs as one short transaction through ``Database.write`` or
``Database.read``. Transactions that fail because another writer holds a lock (SQLite) or
because of a serialization failure or deadlock (PostgreSQL) are retried, so callers never
see "database is locked".
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from runstack.critical import critical_section
from runstack.errors import InvalidParameterError, StoreUnavailableError

T = TypeVar("T")

# How long SQLite waits for another connection's write lock before giving up (then we retry).
SQLITE_BUSY_TIMEOUT_MS = 30_000
MAX_ATTEMPTS = 8
# PostgreSQL SQLSTATEs worth retrying: serialization_failure, deadlock_detected.
_PG_RETRY_STATES = {"40001", "40P01"}


def normalise_sql_url(uri: str) -> str:
    """Accept MLflow-style URIs and pick the drivers runstack ships with."""
    if uri.startswith("postgresql://") or uri.startswith("postgres://"):
        return "postgresql+psycopg://" + uri.split("://", 1)[1]
    return uri


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event decide how transactions start (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # First, so that every statement below already waits for locks instead of failing.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        # WAL: readers never block the writer and the writer never blocks readers.
        cursor.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL is durable across application crashes (not power loss) and
        # makes each commit far cheaper than FULL.
        cursor.execute("PRAGMA synchronous = NORMAL")
        # Deleting an experiment or run cascades to its rows only when this is on.
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A write transaction takes the write lock up front (BEGIN IMMEDIATE): a deferred
        # transaction that reads, then tries to write after another writer committed, fails
        # at once with SQLITE_BUSY, which no busy timeout can fix.
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def create_engine(uri: str) -> Engine:
    """An engine for a ``sqlite:///`` or ``postgresql://`` URI, configured for concurrency."""
    url = sa.make_url(normalise_sql_url(uri))
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise InvalidParameterError(
                f"Tracking URI {uri!r} names no database file; use sqlite:///path/to/runstack.db."
            )
        folder = Path(database).parent
        if not folder.is_dir():
            raise InvalidParameterError(
                f"Tracking URI {uri!r}: the folder {str(folder)!r} does not exist; create it first."
            )
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=5,
            max_overflow=20,
        )
        _configure_sqlite(engine)
        return engine
    if url.get_backend_name() == "postgresql":
        return sa.create_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=True)
    raise InvalidParameterError(
        f"Tracking URI {uri!r} uses the database {url.get_backend_name()!r}; runstack supports "
        "sqlite:/// and postgresql:// (and http:// servers)."
    )


def _is_retryable(error: DBAPIError) -> bool:
    if isinstance(error, OperationalError):
        text = str(error.orig).lower()
        if "locked" in text or "busy" in text:
            return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    return sqlstate in _PG_RETRY_STATES


def describe_driver_error(error: DBAPIError) -> str:
    """The first line of the driver's message, without SQL or parameters."""
    return str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else type(error).__name__


class Database:
    """One engine plus transaction helpers with retries and error translation."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.engine = create_engine(uri)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._write_options = {"sqlite_begin": "IMMEDIATE"} if self.is_sqlite else {}
        self._pid = os.getpid()

    def _check_fork(self) -> None:
        # Pooled connections must never be shared with a forked child.
        if os.getpid() != self._pid:
            self.engine.dispose(close=False)
            self._pid = os.getpid()

    def write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one write transaction, retrying lock conflicts."""
        return self._run(work, self._write_options)

    def read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one read transaction (a consistent snapshot)."""
        return self._run(work, {})

    def _run(self, work: Callable[[Connection], T], options: dict[str, str]) -> T:
        self._check_fork()
        delay = 0.005
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with critical_section(), self.engine.connect() as connection:
                    if options:
                        connection = connection.execution_options(**options)
                    with connection.begin():
                        return work(connection)
            except DBAPIError as error:
                if attempt < MAX_ATTEMPTS and _is_retryable(error):
                    time.sleep(delay * (1 + random.random()))
                    delay = min(delay * 2, 1.0)
                    continue
                if isinstance(error, OperationalError) or error.connection_invalidated:
                    raise StoreUnavailableError(
                        f"The tracking database at {redact(self.uri)} is unavailable: "
                        f"{describe_driver_error(error)}"
                    ) from None
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self.engine.dispose()


def redact(uri: str) -> str:
    """The URI with any password hidden, for messages."""
    try:
        return sa.make_url(uri).render_as_string(hide_password=True)
    except Exception:
        return uri
