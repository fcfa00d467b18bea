"""One background thread per process renews the liveness lease of every open run.

``RUNSTACK_HEARTBEAT_INTERVAL`` (seconds, default 10) is how often; each renewal promises the
next one within ``RUNSTACK_HEARTBEAT_TIMEOUT`` (seconds, default 60). Past that, readers treat
the run as dead and mark it KILLED (see ``runstack.store.sql.liveness``).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING

from runstack.errors import InvalidParameterError
from runstack.session import stack
from runstack.settings import HEARTBEAT_INTERVAL, HEARTBEAT_TIMEOUT

if TYPE_CHECKING:
    from runstack.client import TrackingClient

logger = logging.getLogger(__name__)


def settings() -> tuple[float, int]:
    """(interval in seconds, timeout in milliseconds), checked for consistency."""
    interval = HEARTBEAT_INTERVAL.read()
    timeout = HEARTBEAT_TIMEOUT.read()
    if timeout <= interval:
        raise InvalidParameterError(
            f"{HEARTBEAT_TIMEOUT.name} ({timeout:g} s) must be longer than "
            f"{HEARTBEAT_INTERVAL.name} ({interval:g} s), "
            "or every run would be declared dead between two heartbeats."
        )
    return interval, int(timeout * 1000)


class Heartbeat:
    """The renewing thread; started with the first run, idle while no run is open."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def ensure_running(self) -> None:
        with self._lock:
            # A thread told to stop may still be alive for a moment: it will not beat again.
            if self._thread is not None and self._thread.is_alive() and not self._stop.is_set():
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._loop, args=(self._stop,), name="runstack-heartbeat", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self, stop: threading.Event) -> None:
        while True:
            try:
                interval, timeout_ms = settings()
            except InvalidParameterError:
                interval = HEARTBEAT_INTERVAL.default
                timeout_ms = int(HEARTBEAT_TIMEOUT.default * 1000)
            if stop.wait(interval):
                return
            self.beat(timeout_ms)

    @staticmethod
    def beat(timeout_ms: int) -> None:
        """Renew every open run now, one store call per tracking URI."""
        groups: dict[str, tuple[TrackingClient, set[str]]] = {}
        for run in stack.open_runs.snapshot():
            _, run_ids = groups.setdefault(run.tracking_uri, (run.client, set()))
            run_ids.add(run.run_id)
        for client, run_ids in groups.values():
            try:
                client.renew_heartbeats(sorted(run_ids), timeout_ms)
            except Exception as error:  # keep beating for the other stores
                logger.warning("runstack: could not renew run heartbeats: %s", error)

    def forget_thread(self) -> None:
        """After fork: the thread did not survive, start a new one when needed."""
        self._lock = threading.Lock()
        self._thread = None


heartbeat = Heartbeat()


os.register_at_fork(after_in_child=heartbeat.forget_thread)
