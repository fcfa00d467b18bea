"""Per-run version counters: bumped by every write this process makes to a run.

``ActiveRun`` compares counters to know when its cached copy of the run is stale, so
``active_run().data`` shows what was logged without a database read on every access.
"""

from __future__ import annotations

import threading
from collections import defaultdict

# Reentrant: the SIGTERM handler ends runs (and bumps) in the main thread, which may hold it.
_lock = threading.RLock()
_versions: defaultdict[str, int] = defaultdict(int)


def bump(run_id: str) -> None:
    with _lock:
        _versions[run_id] += 1


def version(run_id: str) -> int:
    return _versions.get(run_id, 0)
