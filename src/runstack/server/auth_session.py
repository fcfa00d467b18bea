"""The web UI's login (``runstack server --auth``): a login page, and a session cookie.

``POST /login`` with JSON ``{"username", "password"}`` checks the password as the API does
(same 401 message, same failed-login limit) and answers with a session cookie: an API token
of the user named "web session", valid 12 hours, stored hashed like any token (so every
server process accepts it), sent ``HttpOnly; SameSite=Strict`` (``Secure`` under TLS).
``POST /logout`` revokes it. A browser without a session asking for the UI page is sent to
``/login``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from concurrent.futures import Executor

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from runstack.clock import now_ms
from runstack.errors import ApiError, RunstackError
from runstack.server.auth_guard import AuthGuard

COOKIE = "runstack_session"
SESSION_HOURS = 12
_SESSION_NAME = "web session"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>runstack: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;display:flex;justify-content:center;margin-top:12vh}
form{display:flex;flex-direction:column;gap:.6em;width:18em}
input,button{font-size:1em;padding:.4em}#error{color:#b00020;min-height:1.2em}
</style></head>
<body><form id="login"><h1>runstack</h1>
<label>Username <input id="username" name="username" autocomplete="username" required></label>
<label>Password <input id="password" name="password" type="password"
 autocomplete="current-password" required></label>
<button type="submit">Sign in</button><div id="error" role="alert"></div></form>
<script src="/login.js"></script></body></html>
"""

_SCRIPT = """document.getElementById('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const error = document.getElementById('error');
  error.textContent = '';
  const body = JSON.stringify({
    username: document.getElementById('username').value,
    password: document.getElementById('password').value,
  });
  const response = await fetch('/login', {
    method: 'POST', credentials: 'same-origin',
    headers: {'Content-Type': 'application/json'}, body,
  });
  if (response.ok) {
    window.location.assign('/');
    return;
  }
  const answer = await response.json().catch(() => ({}));
  error.textContent = answer.message || ('Sign-in failed (' + response.status + ').');
});
"""

# The page loads only its own script; nothing may frame it.
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src "
    "'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


def session_header(cookie_header: bytes | None) -> bytes | None:
    """The ``Authorization`` value a session cookie stands for (None: no session cookie)."""
    if not cookie_header:
        return None
    for part in cookie_header.decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE and value:
            return b"Bearer " + value.encode("latin-1")
    return None


def _error(error: RunstackError) -> JSONResponse:
    return JSONResponse(error.to_dict(), status_code=error.http_status)


def _sign_in(guard: AuthGuard, header: bytes, client: str) -> tuple[str, str]:
    """(username, new session secret) for a valid Basic header; 401 or 429 otherwise."""
    user = guard.authenticate(header, client)
    expiry = now_ms() + SESSION_HOURS * 3600 * 1000
    secret, _ = guard.store.create_token(user.username, _SESSION_NAME, expiry_time=expiry)
    return user.username, secret


def _sign_out(guard: AuthGuard, header: bytes) -> None:
    guard.store.revoke_secret(header.removeprefix(b"Bearer ").decode("latin-1"))
    guard.authenticator.cache.forget(hashlib.sha256(header).digest())


def session_routes(guard: AuthGuard, workers: Executor) -> list[BaseRoute]:
    """``/login`` (page and POST), ``/login.js`` and ``/logout``."""

    async def page(request: Request) -> Response:
        return Response(_PAGE, media_type="text/html; charset=utf-8", headers=_HEADERS)

    async def script(request: Request) -> Response:
        return Response(_SCRIPT, media_type="text/javascript; charset=utf-8", headers=_HEADERS)

    async def login(request: Request) -> Response:
        loop = asyncio.get_running_loop()
        try:
            if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                raise ApiError("Sign in with a JSON body.", "BAD_REQUEST", 415)
            try:
                given = json.loads(await request.body())
                username, password = given["username"], given["password"]
                if not isinstance(username, str) or not isinstance(password, str):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                raise ApiError(
                    'Send {"username": "...", "password": "..."} as JSON.',
                    "INVALID_PARAMETER_VALUE",
                    400,
                ) from None
            pair = base64.b64encode(f"{username}:{password}".encode()).decode()
            client = request.client.host if request.client else ""
            header = f"Basic {pair}".encode()
            name, secret = await loop.run_in_executor(workers, _sign_in, guard, header, client)
        except RunstackError as error:
            return _error(error)
        response = JSONResponse({"username": name})
        response.set_cookie(
            COOKIE,
            secret,
            max_age=SESSION_HOURS * 3600,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(request: Request) -> Response:
        header = session_header(request.headers.get("cookie", "").encode("latin-1"))
        if header is not None:
            await asyncio.get_running_loop().run_in_executor(workers, _sign_out, guard, header)
        response = JSONResponse({})
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return [
        Route("/login", page, methods=["GET", "HEAD"]),
        Route("/login", login, methods=["POST"]),
        Route("/login.js", script, methods=["GET", "HEAD"]),
        Route("/logout", logout, methods=["POST"]),
    ]
