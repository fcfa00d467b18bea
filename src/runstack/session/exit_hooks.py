"""Ending runs when the process ends, with the status that says how it ended.

Installed on the first ``start_run``:

- ``atexit``: every run still open in any thread or task is ended, innermost first —
  FINISHED after a normal exit or ``sys.exit(0)``, FAILED after an uncaught exception or a
  non-zero ``sys.exit``, KILLED after an uncaught ``KeyboardInterrupt``.
- ``sys.excepthook`` and ``sys.exit`` wrappers record how the process is ending.
- ``threading.excepthook``: a thread that dies of an exception ends its own runs as FAILED.
- SIGTERM (when installed from the main thread): open runs end as KILLED, then the previous
  handler runs, or the process terminates by the signal as it would have.

What no process can do for itself (SIGKILL, OOM, power loss) is covered by heartbeats.
"""

from __future__ import annotations

import atexit
import builtins
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from runstack import async_logging
from runstack.session import stack
from runstack.session.ending import end_active_run, status_for_exception, status_for_exit_code
from runstack.session.heartbeat import heartbeat
from runstack.signal_deferral import run_or_defer

if TYPE_CHECKING:
    from runstack.session.active_run import ActiveRun

logger = logging.getLogger(__name__)

# How long SIGTERM waits for writes queued with synchronous=False before ending the runs.
SIGTERM_FLUSH_TIMEOUT_S = 5.0


class _ExitState:
    def __init__(self) -> None:
        self.status: str | None = None
        self.installed_pid: int | None = None
        self.signal_installed = False
        self.previous_sigterm: Any = None


_state = _ExitState()


def end_open_runs(status: str, runs: list[ActiveRun] | None = None) -> None:
    """End these runs (default: every open run of the process), innermost first."""
    for run in reversed(runs if runs is not None else stack.open_runs.snapshot()):
        try:
            end_active_run(run, status)
        except Exception as error:  # at exit there is nobody left to raise to
            logger.warning("runstack: could not end run %s as %s: %s", run.run_id, status, error)


def _at_exit() -> None:
    if os.getpid() != _state.installed_pid:
        return
    heartbeat.stop()
    end_open_runs(_state.status or "FINISHED")


def _record_exit_code(code: object) -> None:
    # The last exit request wins: an earlier one may have been caught (argparse, click,
    # a test harness) and the process went on to exit differently.
    _state.status = status_for_exit_code(code)


def _wrap_exit(original: Callable[..., Any]) -> Callable[..., Any]:
    def exit_recording_status(code: object = None) -> Any:
        _record_exit_code(code)
        return original(code)

    exit_recording_status.__wrapped__ = original  # type: ignore[attr-defined]
    return exit_recording_status


def _wrap_excepthook(original: Callable[..., Any]) -> Callable[..., Any]:
    def excepthook(
        exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> Any:
        _state.status = status_for_exception(exc_type, exc)
        return original(exc_type, exc, tb)

    return excepthook


def _wrap_thread_excepthook(original: Callable[..., Any]) -> Callable[..., Any]:
    def thread_excepthook(args: threading.ExceptHookArgs) -> Any:
        # Runs in the dying thread, so stack.active_runs() is that thread's stack.
        if args.exc_type is not SystemExit:
            end_open_runs("FAILED", list(stack.active_runs()))
        return original(args)

    return thread_excepthook


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    previous = _state.previous_sigterm

    def finish() -> None:
        heartbeat.stop()
        # Bounded: this thread may hold a lock the async-logging worker is waiting for.
        if not async_logging.flush_within(SIGTERM_FLUSH_TIMEOUT_S):
            logger.warning(
                "runstack: SIGTERM: gave up waiting for queued asynchronous logging after %g s",
                SIGTERM_FLUSH_TIMEOUT_S,
            )
        end_open_runs("KILLED")
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_IGN:
            return
        else:  # the default action: terminate by this signal
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    run_or_defer(finish)


def _install_sigterm() -> None:
    if _state.signal_installed or threading.current_thread() is not threading.main_thread():
        return
    try:
        previous = signal.getsignal(signal.SIGTERM)
        if previous == signal.SIG_IGN:
            # The process survives SIGTERM, so SIGTERM must not end its runs either.
            return
        _state.previous_sigterm = previous
        signal.signal(signal.SIGTERM, _on_sigterm)
        _state.signal_installed = True
    except (ValueError, OSError):  # not allowed here (e.g. embedded interpreters)
        pass


def install() -> None:
    """Install the exit handlers once per process (cheap to call on every start_run)."""
    if _state.installed_pid == os.getpid():
        _install_sigterm()  # the first run may have started outside the main thread
        return
    _state.installed_pid = os.getpid()
    _state.status = None
    atexit.register(_at_exit)
    sys.excepthook = _wrap_excepthook(sys.excepthook)
    threading.excepthook = _wrap_thread_excepthook(threading.excepthook)
    sys.exit = _wrap_exit(sys.exit)
    for name in ("exit", "quit"):
        quitter = getattr(builtins, name, None)
        if callable(quitter):
            setattr(builtins, name, _wrap_exit(quitter))
    _install_sigterm()
