"""Request guards: what a browser on another site, or a DNS-rebound name, may not do.

Without authentication, the network position of a browser is a credential: any page a user
opens can send requests to ``http://127.0.0.1:5000``. The guards, outermost in the ASGI
stack, stop what such a page could do:

- **Host allow-list** (DNS rebinding): a page whose name is re-pointed at 127.0.0.1 sends
  ``Host: evil.example``; only the names in ``allowed_hosts`` are answered. An IP-literal Host
  cannot be rebound, so a server bound beyond loopback also answers its addresses.
- **Same-origin changes** (cross-site request forgery): a state-changing request (POST, PUT,
  PATCH, DELETE) from a browser must come from this server's own origin (``Origin`` and
  ``Sec-Fetch-Site`` say so) or from an origin in ``cors_allowed_origins``; a JSON API body
  that declares a type must declare ``application/json``, which a cross-site form or a
  "simple" fetch cannot send without asking first (a CORS preflight, refused here).
- **No CORS headers** unless the request's origin is allowed, so other sites cannot read
  answers either.

Authentication, when it comes, is another guard in this chain (see ``GuardedApp``). Every
refusal is a 4xx with the JSON error shape.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runstack import settings
from runstack.server import is_loopback

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Answered whatever the Host: load balancers probe them by address, and they reveal nothing.
_HOST_EXEMPT = frozenset({"/health", "/version"})
_JSON_API = ("/api/", "/ajax-api/")
# MLflow's artifact upload is a PUT of raw bytes, not JSON.
_RAW_BODY_API = ("/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/")
_CORS_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
_CORS_HEADERS = "Content-Type, Authorization"


def _split_list(raw: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (raw or "").split(",") if item.strip())


@dataclass(frozen=True)
class GuardSettings:
    """Which hosts and origins the guards let through (see the module docstring)."""

    allowed_hosts: tuple[str, ...] = LOOPBACK_NAMES
    # Any IP-literal Host is answered (it cannot be rebound); set for non-loopback binds.
    allow_ip_hosts: bool = False
    cors_allowed_origins: tuple[str, ...] = ()
    x_frame_options: str = "SAMEORIGIN"

    @classmethod
    def for_bind(
        cls,
        bind_host: str = "127.0.0.1",
        allowed_hosts: Iterable[str] = (),
        cors_allowed_origins: Iterable[str] = (),
        x_frame_options: str = "SAMEORIGIN",
    ) -> GuardSettings:
        """Defaults for a server bound to ``bind_host``: loopback names on loopback; beyond
        it, also any IP address (names must then be listed in ``allowed_hosts``)."""
        hosts = tuple(h.lower() for h in allowed_hosts)
        return cls(
            allowed_hosts=(*LOOPBACK_NAMES, *hosts),
            allow_ip_hosts=not hosts and not is_loopback(bind_host),
            cors_allowed_origins=tuple(cors_allowed_origins),
            x_frame_options=x_frame_options.upper(),
        )

    @classmethod
    def from_environment(cls) -> GuardSettings:
        """What ``runstack.server.serve`` passed to its worker processes."""
        return cls.for_bind(
            settings.SERVER_BIND_HOST.read() or "127.0.0.1",
            _split_list(settings.SERVER_ALLOWED_HOSTS.read()),
            _split_list(settings.SERVER_CORS_ALLOWED_ORIGINS.read()),
            settings.SERVER_X_FRAME_OPTIONS.read() or "SAMEORIGIN",
        )

    def export(self, bind_host: str) -> None:
        """For the worker processes ``runstack server`` starts."""
        settings.SERVER_BIND_HOST.export(bind_host)
        listed = [h for h in self.allowed_hosts if h not in LOOPBACK_NAMES]
        settings.SERVER_ALLOWED_HOSTS.export(",".join(listed))
        settings.SERVER_CORS_ALLOWED_ORIGINS.export(",".join(self.cors_allowed_origins))
        settings.SERVER_X_FRAME_OPTIONS.export(self.x_frame_options)

    def host_allowed(self, host: str) -> bool:
        """``host`` is a Host header: a name or address, maybe with a port."""
        if "*" in self.allowed_hosts:
            return True
        name, port = _split_host(host.lower())
        if not name:
            return True  # browsers always send Host: no request without one is rebound
        if self.allow_ip_hosts and _is_ip(name):
            return True
        for pattern in self.allowed_hosts:
            want_name, want_port = _split_host(pattern)
            if fnmatch.fnmatchcase(name, want_name) and want_port in (None, port):
                return True
        return False

    def origin_allowed(self, origin: str) -> bool:
        return any(
            pattern == "*" or fnmatch.fnmatchcase(origin, pattern)
            for pattern in self.cors_allowed_origins
        )


def _split_host(host: str) -> tuple[str, str | None]:
    """(name or address without IPv6 brackets, port or None) of a Host header or pattern."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, rest[1:] if rest.startswith(":") else None
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        return name, port
    return host, None  # a name, or a bare IPv6 address


def _host_name(host: str) -> str:
    return _split_host(host)[0]


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _same_origin(origin: str, host: str) -> bool:
    """Whether a browser's ``Origin`` is this server as the browser reached it (scheme aside:
    behind a TLS-terminating proxy the server itself sees http)."""
    _, _, authority = origin.partition("://")
    if not authority or authority == origin:
        return False
    return authority.lower() == host.lower() or (
        # Browsers leave out default ports: "http://h" is h:80, "https://h" h:443.
        _host_name(authority.lower()) == _host_name(host.lower())
        and ":" not in authority.rsplit("]", 1)[-1]
        and host.lower().endswith((":80", ":443"))
    )


def _refusal(message: str, code: str, status: int) -> Response:
    return JSONResponse({"error_code": code, "message": message}, status_code=status)


class GuardedApp:
    """The ASGI app behind the request guards; security headers on every answer."""

    def __init__(self, app: ASGIApp, guards: GuardSettings) -> None:
        self.app = app
        self.guards = guards

    def __getattr__(self, name: str) -> Any:
        """The wrapped app's attributes (``settings``, ``api``, ...) stay reachable."""
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal, cors_origin = self.check(scope, headers)
        if refusal is None and cors_origin and scope["method"] == "OPTIONS":
            refusal = Response(status_code=204)  # an allowed origin's preflight
        if refusal is not None:
            await refusal(scope, receive, self._with_headers(send, cors_origin))
            return
        await self.app(scope, receive, self._with_headers(send, cors_origin))

    def check(self, scope: Scope, headers: Headers) -> tuple[Response | None, str | None]:
        """(a refusal or None, the origin to answer with CORS headers or None)."""
        path: str = scope.get("path", "")
        method: str = scope["method"]
        host = headers.get("host", "")
        if path not in _HOST_EXEMPT and not self.guards.host_allowed(host):
            return (
                _refusal(
                    f"This server does not answer to the host name {host!r} (a guard against "
                    "DNS rebinding). If that is how clients reach it, start it with "
                    f"--allowed-hosts {_host_name(host) or 'NAME'} (or set "
                    f"{settings.SERVER_ALLOWED_HOSTS.name}).",
                    "PERMISSION_DENIED",
                    403,
                ),
                None,
            )
        origin = headers.get("origin")
        cors_origin = origin if origin and self.guards.origin_allowed(origin) else None
        if method == "OPTIONS" and origin and headers.get("access-control-request-method"):
            if cors_origin is None:
                return self._cross_site(origin, method, path), None
            return None, cors_origin
        if method not in _STATE_CHANGING:
            return None, cors_origin
        site = headers.get("sec-fetch-site")
        if cors_origin is None:
            if origin is not None and not _same_origin(origin, host):
                return self._cross_site(origin, method, path), None
            if origin is None and site in ("cross-site", "same-site"):
                return self._cross_site(f"a {site} page", method, path), None
        if path.startswith(_JSON_API) and not path.startswith(_RAW_BODY_API):
            problem = _json_content_problem(headers)
            if problem:
                return _refusal(problem, "BAD_REQUEST", 415), cors_origin
        return None, cors_origin

    @staticmethod
    def _cross_site(origin: str, method: str, path: str) -> Response:
        return _refusal(
            f"{method} {path} from {origin} was refused: changes must come from this "
            "server's own pages or from an origin listed with --cors-allowed-origins.",
            "PERMISSION_DENIED",
            403,
        )

    def _with_headers(self, send: Send, cors_origin: str | None) -> Send:
        frame = self.guards.x_frame_options

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"x-content-type-options", b"nosniff")]
                if frame and frame != "NONE":
                    extra.append((b"x-frame-options", frame.encode("latin-1")))
                if cors_origin is not None:
                    extra += [
                        (b"access-control-allow-origin", cors_origin.encode("latin-1")),
                        (b"access-control-allow-methods", _CORS_METHODS.encode()),
                        (b"access-control-allow-headers", _CORS_HEADERS.encode()),
                        (b"access-control-max-age", b"600"),
                        (b"vary", b"Origin"),
                    ]
                # A header the response already set (the UI's stricter DENY, say) wins.
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return send_with_headers


def _json_content_problem(headers: Headers) -> str | None:
    """Why a state-changing JSON API request's body is not acceptable, or None."""
    kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind in ("application/json", ""):
        # No declared type: not a form (forms always declare theirs); a browser sending it
        # from another site is refused by its Origin.
        return None
    return f"The request body is {kind}; this API takes Content-Type: application/json."
