"""The run session's state: the active-run stack, the last ended run, and the process-wide
list of open runs.

The stack lives in a ``ContextVar`` holding immutable tuples. A new thread starts with an
empty stack; an asyncio task starts with the stack as it was when the task was created and
changes only its own copy, so concurrent tasks never end each other's runs. Each value is
stamped with the process id, so a forked child starts empty.

The open-run registry is process-wide: it is what the heartbeat renews and what the exit
handler ends, whichever thread or task started the runs.
"""

from __future__ import annotations

import os
import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from runstack.session.active_run import ActiveRun


class _Stack(NamedTuple):
    pid: int
    runs: tuple[ActiveRun, ...]


class EndedRun(NamedTuple):
    pid: int
    run_id: str
    tracking_uri: str


_EMPTY = _Stack(0, ())
_stack: ContextVar[_Stack] = ContextVar("runstack_active_runs", default=_EMPTY)
_last_ended: ContextVar[EndedRun | None] = ContextVar("runstack_last_ended_run", default=None)


def active_runs() -> tuple[ActiveRun, ...]:
    """This context's active runs, outermost first."""
    current = _stack.get()
    return current.runs if current.pid == os.getpid() else ()


def innermost() -> ActiveRun | None:
    """The innermost active run of this context, or None."""
    runs = active_runs()
    return runs[-1] if runs else None


def push(run: ActiveRun) -> None:
    _stack.set(_Stack(os.getpid(), (*active_runs(), run)))
    open_runs.add(run)


def remove(run: ActiveRun) -> None:
    """Take this run (not necessarily the top) off this context's stack."""
    _stack.set(_Stack(os.getpid(), tuple(r for r in active_runs() if r is not run)))
    open_runs.discard(run)


def record_ended(run: ActiveRun) -> None:
    _last_ended.set(EndedRun(os.getpid(), run.run_id, run.tracking_uri))


def last_ended() -> EndedRun | None:
    ended = _last_ended.get()
    return ended if ended is not None and ended.pid == os.getpid() else None


class OpenRuns:
    """Every run started by this process and not yet ended, in start order."""

    def __init__(self) -> None:
        # Reentrant: the SIGTERM handler reads this in the main thread, which may hold it.
        self._lock = threading.RLock()
        self._runs: dict[int, ActiveRun] = {}

    def add(self, run: ActiveRun) -> None:
        with self._lock:
            self._runs[id(run)] = run

    def discard(self, run: ActiveRun) -> None:
        with self._lock:
            self._runs.pop(id(run), None)

    def snapshot(self) -> list[ActiveRun]:
        with self._lock:
            return list(self._runs.values())

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()


open_runs = OpenRuns()


def reset() -> None:
    """Forget every run of this context and of the process (for tests: no run is ended)."""
    _stack.set(_EMPTY)
    _last_ended.set(None)
    open_runs.clear()


def _reset_after_fork() -> None:
    open_runs.clear()


os.register_at_fork(after_in_child=_reset_after_fork)
