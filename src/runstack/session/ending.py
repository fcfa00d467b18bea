"""Ending runs: the one rule for the status an exception means, and the one way a run of
the session is ended (its store first, then the stack).

``ActiveRun.__exit__``, ``end_run`` and the exit and signal hooks all end runs through
``end_active_run``, so a failed write always leaves the run active, whoever asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runstack import run_versions
from runstack.client import TrackingClient
from runstack.entities import Run
from runstack.session import stack

if TYPE_CHECKING:
    from runstack.session.active_run import ActiveRun


def status_for_exit_code(code: object) -> str:
    """FINISHED for ``sys.exit()`` / ``sys.exit(0)``, FAILED for any other exit code."""
    return "FINISHED" if code in (None, 0) else "FAILED"


def status_for_exception(exc_type: type[BaseException] | None, exc: BaseException | None) -> str:
    """FINISHED for no exception or ``SystemExit(0)``, KILLED for Ctrl-C, FAILED otherwise."""
    if exc_type is None:
        return "FINISHED"
    if issubclass(exc_type, KeyboardInterrupt):
        return "KILLED"
    if issubclass(exc_type, SystemExit):
        return status_for_exit_code(exc.code if isinstance(exc, SystemExit) else None)
    return "FAILED"


def end_active_run(run: ActiveRun, status: str) -> None:
    """Record the run's end in its store, then take it off the stack (not before: a failed
    write leaves it active)."""
    version_before = run_versions.version(run.run_id)
    run.take_end(run.client.set_terminated(run.run_id, status), version_before)
    if run in stack.active_runs():
        stack.remove(run)
        stack.record_ended(run)
    else:
        stack.open_runs.discard(run)


def end_innermost(status: str) -> None:
    """End the innermost active run of this context; no-op when there is none."""
    current = stack.innermost()
    if current is not None:
        end_active_run(current, status)


def end_run_and_those_above(run: ActiveRun, status: str) -> None:
    """End the runs still open above ``run`` in this context, innermost first, then ``run``
    itself; no-op when ``run`` is not on this context's stack (it was ended already)."""
    runs = stack.active_runs()
    if run not in runs:
        return
    for inner in reversed(runs[runs.index(run) :]):
        end_active_run(inner, status)


def last_active_run() -> Run | None:
    """The active run; else the run this context ended last, read fresh; else None."""
    current = stack.innermost()
    if current is not None:
        return current
    ended = stack.last_ended()
    if ended is None:
        return None
    return TrackingClient(ended.tracking_uri).get_run(ended.run_id)
