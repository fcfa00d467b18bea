"""``synchronous=False`` logging: writes queued to one background thread, in order.

Each queued call is still one all-or-nothing transaction. ``RunOperations.wait()`` waits for
the calls it stands for and raises their first error; ``flush()`` waits for everything
queued. Ending a run flushes first, so nothing logged before ``end_run`` is lost.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from runstack.entities import Metric
from runstack.errors import RunstackError
from runstack.settings import ASYNC_LOGGING

if TYPE_CHECKING:
    from runstack.client import TrackingClient

# Reentrant: the SIGTERM handler flushes in the main thread, which may be inside submit().
_lock = threading.RLock()
_executor: ThreadPoolExecutor | None = None
_pending: set[Future[None]] = set()


def enabled_by_default() -> bool:
    return ASYNC_LOGGING.read()


class RunOperations:
    """Handle on queued logging calls."""

    def __init__(self, futures: Sequence[Future[None]]) -> None:
        self._futures = list(futures)

    def wait(self) -> None:
        errors = []
        for future in self._futures:
            error = future.exception()
            if error is not None:
                errors.append(error)
        if errors:
            if len(errors) == 1 and isinstance(errors[0], RunstackError):
                raise errors[0]
            raise RunstackError(
                "Asynchronous logging failed: " + "; ".join(str(e) for e in errors)
            ) from errors[0]


def submit(
    client: TrackingClient,
    run_id: str,
    metrics: Sequence[Metric],
    params: Sequence[tuple[str, str]],
    tags: Sequence[tuple[str, str]],
) -> RunOperations:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runstack-async")
        future = _executor.submit(client.write_batch_now, run_id, metrics, params, tags)
        _pending.add(future)
    future.add_done_callback(_pending.discard)
    return RunOperations([future])


def flush() -> None:
    """Wait until every queued call has been written (or has failed)."""
    with _lock:
        waiting = list(_pending)
    for future in waiting:
        future.exception()


def flush_within(timeout: float) -> bool:
    """``flush``, but waiting at most ``timeout`` seconds; False if calls were still queued.

    Those calls are then no longer waited for by later flushes. For the SIGTERM handler: it
    runs in the main thread, which may hold a lock the worker needs before it can go on (the
    executor's own, inside ``submit``), so an unbounded wait there could never end.
    """
    deadline = time.monotonic() + timeout
    with _lock:
        waiting = list(_pending)
    for future in waiting:
        try:
            future.exception(timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            with _lock:
                _pending.difference_update(waiting)
            return False
    return True


def _reset_after_fork() -> None:
    global _executor
    _executor = None
    _pending.clear()


os.register_at_fork(after_in_child=_reset_after_fork)
