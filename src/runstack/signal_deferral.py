"""Deferring signal-time work until the current thread has left its store call (used by the
stores around each transaction or request, and by the SIGTERM hook in the run session).

A SIGTERM handler runs in the main thread between two bytecodes, possibly while that thread
holds SQLite's write lock halfway through a transaction, or an HTTP connection pool's lock
halfway through a request. Writing from the handler then would wait on a lock its own thread
holds. So the handler asks ``run_or_defer``, and the store runs the deferred action as soon
as the transaction or request ends (``critical_section``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_state = threading.local()


def _depth() -> int:
    return getattr(_state, "depth", 0)


@contextmanager
def critical_section() -> Iterator[None]:
    _state.depth = _depth() + 1
    try:
        yield
    finally:
        _state.depth -= 1
        if _state.depth == 0:
            pending: Callable[[], None] | None = getattr(_state, "pending", None)
            if pending is not None:
                _state.pending = None
                pending()


def run_or_defer(action: Callable[[], None]) -> None:
    """Run now, or when this thread's current transaction is over."""
    if _depth() > 0:
        _state.pending = action
    else:
        action()
