"""The server's dead-run sweeper: marks RUNNING runs whose heartbeat lease expired KILLED.

Readers already reap the runs they read; the sweeper makes dead runs show as KILLED even
when nobody reads them. Every server process sweeps; the conditional update makes a run
reaped by one process a no-op for the others. Runs without a lease (created by clients that
send no heartbeats, such as MLflow's) are never touched.
"""

from __future__ import annotations

import logging
import threading

from runstack.store.base import Store

logger = logging.getLogger("runstack.server")


class Reaper:
    """A daemon thread that calls the store's ``reap_dead_runs`` every ``interval_s`` seconds
    (``RUNSTACK_SERVER_REAP_INTERVAL``)."""

    def __init__(self, store: Store, interval_s: float) -> None:
        self.store = store
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="runstack-reaper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                reaped = self.store.reap_dead_runs()
                if reaped:
                    logger.info("runstack server: marked dead runs KILLED: %s", reaped)
            except Exception as error:  # keep sweeping; the database may come back
                logger.warning("runstack server: dead-run sweep failed: %s", error)
