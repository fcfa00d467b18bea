"""Failed logins, limited per username and per client address: after ``limit`` failures in
``window_s`` seconds, further attempts for that name or from that address are refused (429)
until the window has passed, whether or not the credentials would be right. Kept in this
process's memory (each server worker counts on its own)."""

from __future__ import annotations

import threading
import time
from collections import deque


class FailedLogins:
    def __init__(self, limit: int = 10, window_s: float = 60.0, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self._max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, keys: tuple[str, ...]) -> float:
        """Seconds until any of ``keys`` may try again (0: now)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if times is not None and len(times) >= self.limit:
                    wait = max(wait, times[0] + self.window_s - now)
        return wait

    def record(self, keys: tuple[str, ...]) -> None:
        """One failed attempt for each of ``keys``."""
        now = time.monotonic()
        with self._lock:
            if len(self._failures) >= self._max_keys:
                # Flooded with distinct names: forget the stale ones first, then everything.
                for key in list(self._failures):
                    self._recent(key, now)
                if len(self._failures) >= self._max_keys:
                    self._failures.clear()
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)
