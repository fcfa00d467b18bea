"""Access decisions: what permission a user holds on an experiment, with short caches so
that a logging client costs no extra database reads per request.

A user's grants are read in one query and kept ``grants_ttl_s`` seconds (a grant or revoke
made by ``runstack users`` in another process takes effect within that time; one made
through this process is seen at once). A run never changes experiment, so run ->
experiment is cached for as long as there is room.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from runstack.auth.permissions import Permission
from runstack.auth.store import AuthStore, User


class Access:
    def __init__(
        self,
        store: AuthStore,
        default: Permission = Permission.READ,
        grants_ttl_s: float = 10.0,
        runs_cached: int = 100_000,
    ) -> None:
        self.store = store
        self.default = default
        self._grants_ttl_s = grants_ttl_s
        self._grants: dict[str, tuple[float, dict[str, Permission]]] = {}
        self._runs: OrderedDict[str, str] = OrderedDict()
        self._runs_cached = runs_cached
        self._lock = threading.Lock()

    def grants(self, username: str) -> dict[str, Permission]:
        entry = self._grants.get(username)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        found = self.store.grants(username)
        with self._lock:
            if len(self._grants) > 10_000:
                self._grants.clear()
            self._grants[username] = (time.monotonic() + self._grants_ttl_s, found)
        return found

    def forget(self, username: str) -> None:
        """Drop the cached grants of ``username`` (after a change through this process)."""
        with self._lock:
            self._grants.pop(username, None)

    def permission(self, user: User, experiment_id: str) -> Permission:
        """What ``user`` may do in the experiment: admins everything, else their grant, else
        the default."""
        if user.is_admin:
            return Permission.MANAGE
        return self.grants(user.username).get(experiment_id, self.default)

    def run_experiments(self, run_ids: list[str]) -> dict[str, str]:
        """run id -> experiment id for the runs that exist (unknown ones are left out)."""
        found = {r: e for r in run_ids if (e := self._runs.get(r)) is not None}
        missing = [r for r in run_ids if r not in found]
        if missing:
            looked_up = self.store.run_experiments(missing)
            with self._lock:
                for run_id, experiment_id in looked_up.items():
                    self._runs[run_id] = experiment_id
                while len(self._runs) > self._runs_cached:
                    self._runs.popitem(last=False)
            found.update(looked_up)
        return found
