"""Browser tests' plumbing on top of ``browser_kit`` (Debian's Chromium driven by Playwright,
a real `runstack server` on a loopback port): pytest's skip rules, and a page that records
every console error, page error, failed or refused request and request to another host, so a
test can assert there were none.

Chromium must be at /usr/bin/chromium (Debian package ``chromium``; Playwright's own browser
download is never used). Without it the browser tests are skipped with the reason, except in
CI (``CI=true``) or with ``RUNSTACK_REQUIRE_BROWSER=1``, where they fail.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from typing import Any

import pytest

import browser_kit
from browser_kit import CHROMIUM
from procs import child_env


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    if not os.path.exists(CHROMIUM):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    return None


def require_browser() -> None:
    """Skip with the reason, or fail in CI: a missing browser must not pass silently there."""
    reason = browser_unavailable()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true") or os.environ.get(
        "RUNSTACK_REQUIRE_BROWSER"
    ):
        pytest.fail(reason + " (CI or RUNSTACK_REQUIRE_BROWSER is set)")
    pytest.skip(reason)


def runstack_server(backend: str, env: dict[str, str], *extra: str) -> AbstractContextManager[str]:
    """`runstack server` in a child process on a free loopback port, without the test process's
    MLflow/runstack variables but with ``env``; yields its URL."""
    return browser_kit.runstack_server(backend, *extra, env=child_env(env))


class Watch:
    """Everything that went wrong on a page; ``allow`` lists substrings expected this test."""

    def __init__(self, page: Any, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.problems: list[str] = []
        self.allowed: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.on("request", self._request)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def _failed(self, request: Any) -> None:
        failure = request.failure or ""
        # A navigation away cancels the requests still running: that is not a failure.
        if "ERR_ABORTED" not in failure:
            self.problems.append(f"request failed: {request.url} {failure}")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def _request(self, request: Any) -> None:
        url = request.url
        if not (url.startswith(self.origin + "/") or url.startswith(("data:", "blob:"))):
            self.problems.append(f"request to another host: {url}")

    def allow(self, *substrings: str) -> None:
        self.allowed.extend(substrings)

    def unexpected(self) -> list[str]:
        return [p for p in self.problems if not any(a in p for a in self.allowed)]


def coloured_pixels(page: Any, selector: str) -> int:
    """Pixels of the canvas in a saturated colour: drawn data lines or points (axes, grid and
    text are grey), read back from the canvas (-1: no canvas there)."""
    count: int = page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(selector);
            if (!canvas) return -1;
            const ctx = canvas.getContext('2d');
            const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            let n = 0;
            for (let i = 0; i < data.length; i += 4) {
                const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
                if (a > 150 && Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
            }
            return n;
        }""",
        selector,
    )
    return count
