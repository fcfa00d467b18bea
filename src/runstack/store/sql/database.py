"""Engines and transactions for SQLite and PostgreSQL, with the settings that make them safe
and fast.

SQLAlchemy builds every statement and compiles it for the database in use; the store then
runs the compiled SQL on a pooled DBAPI connection (``Tx``). Statements written once at module
level (``Prepared``) are compiled once per database, so logging a metric costs a few tens of
microseconds instead of the hundreds a full ORM-style round trip takes.

Every store operation is one short transaction through ``Database.write`` or
``Database.read``. Transactions that fail because another writer holds a lock (SQLite) or
because of a serialization failure or deadlock (PostgreSQL) are retried, so callers never see
"database is locked".
"""

from __future__ import annotations

import operator
import os
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.sql.expression import Executable

from runstack.errors import InvalidParameterError, StoreUnavailableError
from runstack.signal_deferral import critical_section
from runstack.store.sql import statement_timeout

T = TypeVar("T")

# How long SQLite waits for another connection's write lock before giving up (then we retry).
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CHECKPOINT_PAGES = 10_000
MAX_ATTEMPTS = 8
MAX_INTEGRITY_ATTEMPTS = 3
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
        # Transactions are begun explicitly (BEGIN / BEGIN IMMEDIATE), never by the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # First, so that every statement below already waits for locks instead of failing.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        # WAL: readers never block the writer and the writer never blocks readers.
        cursor.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL survives application crashes (not power loss) and makes each
        # commit far cheaper than FULL.
        cursor.execute("PRAGMA synchronous = NORMAL")
        # Deleting an experiment or run cascades to its rows only when this is on.
        cursor.execute("PRAGMA foreign_keys = ON")
        # Checkpoint the WAL every ~40 MB instead of ~4 MB: hot pages (the runs and tags
        # indexes) are copied back to the database once per checkpoint rather than ten times,
        # which took a start_run + end_run pair from ~280 to ~190 µs of SQLite time here.
        cursor.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_CHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # For SQLAlchemy connections (migrations): same rule as Database.write below.
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def create_engine(uri: str) -> Engine:
    """An engine for a ``sqlite:///`` or ``postgresql://`` URI, configured for concurrency."""
    try:
        url = sa.make_url(normalise_sql_url(uri))
    except sa.exc.ArgumentError:
        raise InvalidParameterError(f"Tracking URI {uri!r} is not a valid database URI.") from None
    # We always commit or roll back ourselves, so returning a connection needs no rollback.
    common: dict[str, Any] = {"pool_reset_on_return": None}
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
            paramstyle="named",
            pool_size=5,
            max_overflow=20,
            **common,
        )
        _configure_sqlite(engine)
        return engine
    if url.get_backend_name() == "postgresql":
        # No pre-ping (a round trip per transaction): a connection found dead is invalidated
        # and the transaction retried instead (Database._retrying).
        return sa.create_engine(url, pool_size=5, max_overflow=10, **common)
    raise InvalidParameterError(
        f"Tracking URI {uri!r} uses the database {url.get_backend_name()!r}; runstack supports "
        "sqlite:/// and postgresql:// (and http:// servers)."
    )


class Prepared:
    """A statement built once (with named ``bindparam``s) and compiled once per dialect.

    Give either a statement, or a function of the dialect name that builds one (for
    dialect-specific syntax such as ``INSERT ... ON CONFLICT``). Constants written into the
    statement (``status == "RUNNING"``) become bound defaults; the caller supplies the rest.
    """

    def __init__(self, statement: Executable | Callable[[str], Executable]) -> None:
        self._build = statement if callable(statement) else (lambda _name: statement)
        self._compiled: dict[str, tuple[str, dict[str, Any]]] = {}

    def sql(self, dialect: Dialect) -> tuple[str, dict[str, Any]]:
        """(SQL text, default parameter values) for this dialect."""
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self._build(dialect.name).compile(dialect=dialect)  # type: ignore[attr-defined]
            defaults = {
                name: bind.value for name, bind in compiled.binds.items() if not bind.required
            }
            found = (compiled.string, defaults)
            self._compiled[dialect.name] = found
        return found


@lru_cache(maxsize=256)
def _row_type(columns: tuple[str, ...]) -> Any:
    """A tuple subclass whose columns are also attributes (``row.run_id``).

    Built with ``type()`` rather than ``namedtuple``, which runs ``exec``: that happens at
    interpreter exit when the exit handler ends runs, and an ``exec`` there makes CPython
    forget that the process is ending because of Ctrl-C."""
    attributes: dict[str, Any] = {"__slots__": ()}
    for index, name in enumerate(columns):
        attributes.setdefault(name, property(operator.itemgetter(index)))
    return type("Row", (tuple,), attributes)


class Tx:
    """One open transaction: runs compiled statements on a DBAPI cursor."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect

    def _sql(
        self, statement: Prepared | Executable, params: Mapping[str, Any] | None
    ) -> tuple[str, Mapping[str, Any]]:
        if isinstance(statement, Prepared):
            sql, defaults = statement.sql(self.dialect)
            return sql, ({**defaults, **params} if defaults else params) if params else defaults
        compiled = statement.compile(  # type: ignore[attr-defined]
            dialect=self.dialect, compile_kwargs={"render_postcompile": True}
        )
        return compiled.string, compiled.params

    def run(self, statement: Prepared | Executable, params: Mapping[str, Any] | None = None) -> int:
        """Execute; returns the affected row count."""
        sql, values = self._sql(statement, params)
        self.cursor.execute(sql, values)
        return int(self.cursor.rowcount)

    def many(self, statement: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            sql, defaults = statement.sql(self.dialect)
            if defaults:
                rows = [{**defaults, **row} for row in rows]
            self.cursor.executemany(sql, rows)

    def all(
        self, statement: Prepared | Executable, params: Mapping[str, Any] | None = None
    ) -> list[Any]:
        sql, values = self._sql(statement, params)
        self.cursor.execute(sql, values)
        row_type = _row_type(tuple(d[0] for d in self.cursor.description))
        return [row_type(row) for row in self.cursor.fetchall()]

    def first(
        self, statement: Prepared | Executable, params: Mapping[str, Any] | None = None
    ) -> Any:
        sql, values = self._sql(statement, params)
        self.cursor.execute(sql, values)
        row = self.cursor.fetchone()
        if row is None:
            return None
        return _row_type(tuple(d[0] for d in self.cursor.description))(row)

    def scalar(
        self, statement: Prepared | Executable, params: Mapping[str, Any] | None = None
    ) -> Any:
        row = self.first(statement, params)
        return None if row is None else row[0]


class _Disconnected(Exception):
    """The connection died during a transaction (retried once on a fresh connection)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class Database:
    """One engine plus transaction helpers with retries and error translation."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.engine = create_engine(uri)
        self.dialect = self.engine.dialect
        self.is_sqlite = self.dialect.name == "sqlite"
        dbapi = self.dialect.dbapi
        self._dbapi_error: type[Exception] = dbapi.Error if dbapi else Exception
        self.integrity_error: type[Exception] = dbapi.IntegrityError if dbapi else Exception
        self._begin = {True: "BEGIN IMMEDIATE", False: "BEGIN"} if self.is_sqlite else {}
        self._pid = os.getpid()
        # Connections kept checked out between transactions (last in, first out): checking a
        # connection in and out of SQLAlchemy's pool costs ~50 µs per transaction, a quarter
        # of a start_run on SQLite. At most as many as transactions ever ran at once.
        self._idle: deque[Any] = deque()
        # Each statement of a ``read(..., bounded=True)`` (searches) may run this long.
        self.search_timeout_s = statement_timeout.timeout_from_environment()

    def _check_fork(self) -> None:
        # Pooled connections must never be shared with a forked child.
        if os.getpid() != self._pid:
            self._idle = deque()  # the parent's: neither used nor closed here
            self.engine.dispose(close=False)
            self._pid = os.getpid()

    def _connection(self) -> Any:
        try:
            return self._idle.pop()
        except IndexError:
            return self.engine.raw_connection()

    def write(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` in one write transaction, retrying lock conflicts."""
        return self._retrying(lambda: self._once(work, write=True))

    def read(self, work: Callable[[Tx], T], *, bounded: bool = False) -> T:
        """Run ``work`` in one read transaction (a consistent snapshot). ``bounded``: each
        statement may run ``search_timeout_s`` at most (see statement_timeout.py)."""
        return self._retrying(lambda: self._once(work, write=False, bounded=bounded))

    def write_alone(self, work: Callable[[Tx], T]) -> T:
        """Run ``work``, which executes exactly one statement, as that statement's own
        transaction. On PostgreSQL it runs in autocommit mode: no BEGIN and no COMMIT, two
        round trips fewer than ``write``. SQLite has no round trips to save: ``write``."""
        if self.is_sqlite:
            return self.write(work)
        return self._retrying(lambda: self._once(work, write=True, alone=True))

    def write_with_connection(self, work: Callable[[Connection], T]) -> T:
        """A write transaction on a SQLAlchemy connection (for Alembic and DDL)."""

        def once() -> T:
            with self.engine.connect() as connection:
                connection = connection.execution_options(sqlite_begin="IMMEDIATE")
                with connection.begin():
                    return work(connection)

        return self._retrying(once)

    def _retrying(self, once: Callable[[], T]) -> T:
        self._check_fork()
        delay = 0.005
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with critical_section():
                    return once()
            except _Disconnected as lost:
                if attempt == 1:
                    continue
                raise StoreUnavailableError(
                    f"The tracking database at {redact(self.uri)} closed the connection: "
                    f"{describe_error(lost.error)}"
                ) from None
            except (self._dbapi_error, sa.exc.DBAPIError) as error:
                if statement_timeout.is_timeout(error, self.is_sqlite):
                    raise statement_timeout.timeout_error(self.search_timeout_s) from None
                if isinstance(error, (self.integrity_error, sa.exc.IntegrityError)):
                    # A concurrent writer inserted the same key first. Running the whole
                    # transaction again re-reads and applies the rules (params immutable,
                    # names unique) to what is there now.
                    if attempt < MAX_INTEGRITY_ATTEMPTS:
                        continue
                    raise StoreUnavailableError(
                        f"A write to {redact(self.uri)} kept conflicting with concurrent "
                        f"writes: {describe_error(error)}"
                    ) from None
                if attempt < MAX_ATTEMPTS and self._is_retryable(error):
                    time.sleep(delay * (1 + random.random()))
                    delay = min(delay * 2, 1.0)
                    continue
                raise StoreUnavailableError(
                    f"The tracking database at {redact(self.uri)} failed: {describe_error(error)}"
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(
        self, work: Callable[[Tx], T], write: bool, alone: bool = False, bounded: bool = False
    ) -> T:
        connection = self._connection()
        reusable = False
        try:
            cursor = connection.cursor()
            begin = self._begin.get(write)
            if begin:
                cursor.execute(begin)
            try:
                if bounded:
                    statement_timeout.begin_bounded(
                        connection, cursor, self.is_sqlite, self.search_timeout_s
                    )
                if alone:  # raises, like a statement, on a connection found broken
                    connection.dbapi_connection.autocommit = True
                result = work(Tx(cursor, self.dialect))
                connection.commit()
                reusable = True
                return result
            except self._dbapi_error as error:
                driver = connection.dbapi_connection
                if getattr(driver, "broken", False) or getattr(driver, "closed", False):
                    # The server went away (restart, idle timeout, network): drop this
                    # connection, and the idle ones (likely gone too), and let the caller
                    # retry on a new one.
                    connection.invalidate()
                    self._drop_idle()
                    raise _Disconnected(error) from error
                connection.rollback()
                reusable = True
                raise
            except BaseException:
                connection.rollback()
                reusable = True
                raise
        finally:
            if bounded:
                statement_timeout.end_bounded(connection, self.is_sqlite)
            if reusable:
                if alone:  # idle connections are all alike: transactions begin implicitly
                    connection.dbapi_connection.autocommit = False
                self._idle.append(connection)
            else:
                if alone and connection.is_valid:
                    connection.invalidate()  # the pool must never hand out autocommit ones
                connection.close()

    def _drop_idle(self) -> None:
        for connection in self._take_idle():
            connection.invalidate()

    def _take_idle(self) -> list[Any]:
        """Empty the idle connections, safely while other threads take some too."""
        taken = []
        while True:
            try:
                taken.append(self._idle.pop())
            except IndexError:
                return taken

    def _is_retryable(self, error: Exception) -> bool:
        original = getattr(error, "orig", None) or error
        text = str(original).lower()
        if self.is_sqlite:
            return "locked" in text or "busy" in text
        return getattr(original, "sqlstate", None) in _PG_RETRY_STATES

    def close(self) -> None:
        if os.getpid() == self._pid:
            for connection in self._take_idle():
                connection.close()
        self.engine.dispose()


def describe_error(error: Exception) -> str:
    """The first line of the driver's message, without SQL or parameters."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip()
    return text.splitlines()[0] if text else type(original).__name__


def redact(uri: str) -> str:
    """The URI with any password hidden, for messages."""
    try:
        return sa.make_url(uri).render_as_string(hide_password=True)
    except Exception:
        return uri
