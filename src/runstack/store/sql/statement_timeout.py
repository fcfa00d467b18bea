"""A time limit on the statements of one read transaction (searches), on both databases.

PostgreSQL enforces ``statement_timeout`` itself; the search transaction also turns JIT off,
because compiling a plan with hundreds of OR-ed clauses took minutes there and ignored
cancellation (measured: a 999-clause experiment search ran ~10 minutes with JIT, 0.6 s
without). SQLite has no timeout setting: a progress handler, called every few thousand
virtual-machine steps, interrupts the statement once the deadline has passed.

A statement stopped this way raises ``SearchTimeoutError``: a 400, because the same search
would be stopped again, so clients must not retry it.

A bounded read can also be cancelled from another thread (``Cancellation``): the server does
it when the client that asked for a search disconnects, so an abandoned search stops at once
instead of running until its timeout.
"""

from __future__ import annotations

import contextlib
import threading
import time
from contextvars import ContextVar
from typing import Any

from runstack import settings
from runstack.errors import SearchTimeoutError

TIMEOUT_ENV = settings.SEARCH_TIMEOUT.name
# SQLite calls the handler every this many virtual-machine instructions (~0.1 ms of work).
_SQLITE_STEPS = 10_000
_PG_QUERY_CANCELED = "57014"


class Cancellation:
    """Stops the bounded statements running for one request, from any thread.

    ``begin_bounded`` attaches the connection it bounds and ``end_bounded`` detaches it, under
    one lock with ``cancel``: a connection back in the pool, serving someone else, is never
    cancelled."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._driver: Any = None
        self.cancelled = False

    def attach(self, driver: Any) -> None:
        with self._lock:
            self._driver = driver
            if self.cancelled:
                _interrupt(driver)

    def detach(self) -> None:
        with self._lock:
            self._driver = None

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            if self._driver is not None:
                _interrupt(self._driver)


def _interrupt(driver: Any) -> None:
    """Stop what ``driver`` (sqlite3 or psycopg connection) is running, from another thread."""
    stop = (
        getattr(driver, "interrupt", None)  # sqlite3
        or getattr(driver, "cancel_safe", None)  # psycopg >= 3.2
        or getattr(driver, "cancel", None)
    )
    if stop is not None:
        with contextlib.suppress(Exception):  # gone already: nothing left to stop
            stop()


# The cancellation of the request this thread works for (set by the server around a call).
current_cancellation: ContextVar[Cancellation | None] = ContextVar(
    "runstack_cancellation", default=None
)


def timeout_from_environment() -> float:
    """Seconds from ``RUNSTACK_SEARCH_TIMEOUT`` (default 30; the server sets it per flag)."""
    return settings.SEARCH_TIMEOUT.read()


def begin_bounded(connection: Any, cursor: Any, is_sqlite: bool, seconds: float) -> None:
    """Limit the statements that follow on ``connection`` (a pooled DBAPI connection) to
    ``seconds`` each: until ``end_bounded`` on SQLite, until the transaction ends on
    PostgreSQL (``SET LOCAL``)."""
    cancellation = current_cancellation.get()
    if cancellation is not None and cancellation.cancelled:
        # The client left before the search began: interrupting an idle connection would
        # be a no-op on both drivers, so do not start.
        raise timeout_error(seconds)
    if is_sqlite:
        deadline = time.monotonic() + seconds

        def stop_now() -> int:
            cancelled = cancellation is not None and cancellation.cancelled
            return int(cancelled or time.monotonic() > deadline)

        connection.dbapi_connection.set_progress_handler(stop_now, _SQLITE_STEPS)
    else:
        cursor.execute(f"SET LOCAL statement_timeout = {max(1, round(seconds * 1000))}")
        cursor.execute("SET LOCAL jit = off")
    if cancellation is not None:
        cancellation.attach(connection.dbapi_connection)


def end_bounded(connection: Any, is_sqlite: bool) -> None:
    cancellation = current_cancellation.get()
    if cancellation is not None:
        cancellation.detach()
    driver = connection.dbapi_connection  # None once the connection was invalidated
    if is_sqlite and driver is not None:
        driver.set_progress_handler(None, 0)


def is_timeout(error: BaseException, is_sqlite: bool) -> bool:
    """Whether a driver error is a statement stopped by ``begin_bounded``'s limit."""
    original = getattr(error, "orig", None) or error
    if is_sqlite:
        return "interrupted" in str(original).lower()
    return getattr(original, "sqlstate", None) == _PG_QUERY_CANCELED


def timeout_error(seconds: float) -> SearchTimeoutError:
    cancellation = current_cancellation.get()
    if cancellation is not None and cancellation.cancelled:
        return SearchTimeoutError("The search was cancelled: its client disconnected.")
    return SearchTimeoutError(
        f"The search was stopped after {seconds:g} s, the statement timeout of this store "
        f"({TIMEOUT_ENV} / runstack server --search-timeout): the filter or ordering asks "
        "too much of the database. This is not a temporary failure (the same search would be "
        "stopped again): narrow the filter, restrict it to fewer experiments, or ask for "
        "fewer results per page."
    )
