"""The server's settings, read once when an app is created and kept on it (``app.settings``),
never in module globals: two apps in one process (tests, or a server embedded in a program)
each keep their own."""

from __future__ import annotations

from dataclasses import dataclass, field

from runstack import settings
from runstack.server.auth_guard import AuthSettings
from runstack.server.guards import GuardSettings


@dataclass(frozen=True)
class ServerSettings:
    """What one server app works with; the defaults are ``runstack.settings``'s."""

    max_body_bytes: int = settings.SERVER_MAX_BODY_BYTES.default
    threads: int = settings.SERVER_THREADS.default
    reap_interval_s: float = settings.SERVER_REAP_INTERVAL.default
    # Refuse every request that would change data (403 PERMISSION_DENIED).
    read_only: bool = settings.SERVER_READ_ONLY.default
    # Hosts, origins and frame options the request guards allow (docs/security.md).
    guards: GuardSettings = field(default_factory=GuardSettings)
    # From a request's headers to the last byte of its JSON body (then 408).
    body_timeout_s: float = settings.SERVER_BODY_TIMEOUT.default
    # Authentication and permissions (``--auth``); None: every request is served as before.
    auth: AuthSettings | None = None

    @classmethod
    def from_environment(cls) -> ServerSettings:
        """The settings the environment gives (a bad value raises ``SettingError``)."""
        return cls(
            max_body_bytes=settings.SERVER_MAX_BODY_BYTES.read(),
            threads=settings.SERVER_THREADS.read(),
            reap_interval_s=settings.SERVER_REAP_INTERVAL.read(),
            read_only=settings.SERVER_READ_ONLY.read(),
            guards=GuardSettings.from_environment(),
            body_timeout_s=settings.SERVER_BODY_TIMEOUT.read(),
            auth=AuthSettings.from_environment(),
        )

    def client_limits(self) -> dict[str, int]:
        """The limits clients are told (``runstack/server-info``), so they can split a batch
        before sending it."""
        return {"max_request_bytes": self.max_body_bytes}
