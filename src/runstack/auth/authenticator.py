"""From an ``Authorization`` header to a user: HTTP Basic (username and password, as MLflow's
client sends from MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD) or a Bearer API token
(MLFLOW_TRACKING_TOKEN).

Verifying a password costs a deliberately slow scrypt (about 50 ms), so a verified header is
cached for ``cache_ttl_s`` seconds, keyed by the SHA-256 of the header (the secret itself is
never kept): a client logging thousands of values pays for one verification a minute. The
cost is that a changed password, a deleted user or a revoked token still works, in a server
process that verified it, until its cache entry expires (the process that made a change
through the API drops that user's entries at once: ``CredentialCache.forget_user``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from collections import OrderedDict

from runstack.auth.ratelimit import FailedLogins
from runstack.auth.store import AuthStore, User
from runstack.errors import ApiError

REALM = 'Basic realm="runstack"'
_BAD_CREDENTIALS = (
    "Authentication failed: the username and password or the token are missing or wrong. "
    "Set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN."
)


def unauthenticated() -> ApiError:
    """The 401 for missing or wrong credentials: one message, whoever asked."""
    return ApiError(_BAD_CREDENTIALS, "UNAUTHENTICATED", 401)


class CredentialCache:
    """Verified headers (by digest) -> user, each for ``ttl_s`` seconds, at most ``size``."""

    def __init__(self, ttl_s: float = 60.0, size: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self._size = size
        self._entries: OrderedDict[bytes, tuple[float, User]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> User | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            with self._lock:
                self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: bytes, user: User) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + self.ttl_s, user)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def forget(self, key: bytes) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def forget_user(self, username: str) -> None:
        """Drop every entry of ``username`` (after their password, admin flag or existence
        changed through this process): their next request is verified again."""
        with self._lock:
            for key in [k for k, (_, user) in self._entries.items() if user.username == username]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Authenticator:
    def __init__(
        self,
        store: AuthStore,
        cache: CredentialCache | None = None,
        failures: FailedLogins | None = None,
    ) -> None:
        self.store = store
        self.cache = cache or CredentialCache()
        self.failures = failures or FailedLogins()

    def cached(self, header: bytes | None) -> User | None:
        """The user of an ``Authorization`` header verified recently (no database, no hash)."""
        if not header:
            return None
        return self.cache.get(hashlib.sha256(header).digest())

    def authenticate(self, header: bytes | None, client: str) -> User:
        """The user the header proves, or ApiError 401 (429 after too many failures)."""
        if not header:
            raise unauthenticated()
        key = hashlib.sha256(header).digest()
        user = self.cache.get(key)
        if user is not None:
            return user
        scheme, _, value = header.decode("latin-1").partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        if scheme == "basic":
            username, password = _basic(value)
            keys: tuple[str, ...] = (f"user:{username}", f"addr:{client}")
            self._refuse_if_limited(keys)
            user = self.store.verify_password(username, password) if username else None
        elif scheme == "bearer" and value:
            keys = (f"addr:{client}",)
            self._refuse_if_limited(keys)
            user = self.store.verify_token(value)
        else:
            raise unauthenticated()
        if user is None:
            self.failures.record(keys)
            raise unauthenticated()
        self.cache.put(key, user)
        return user

    def _refuse_if_limited(self, keys: tuple[str, ...]) -> None:
        wait = self.failures.retry_after(keys)
        if wait > 0:
            raise ApiError(
                f"Too many failed logins for this user or from this address; try again in "
                f"{int(wait) + 1} s.",
                "REQUEST_LIMIT_EXCEEDED",
                429,
            )


def _basic(value: str) -> tuple[str, str]:
    """(username, password) of a Basic credential; ("", "") when it is malformed."""
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return "", ""
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else ("", "")
