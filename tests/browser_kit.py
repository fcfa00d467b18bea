"""What everything that drives the web UI in Chromium needs, in one place: Debian's browser and
its flags, a launch through Playwright, and a server child process on a free loopback port.

Used by the browser tests (through ``browser_support``, which adds pytest's skip rules), by
``benchmarks/bench_ui.py`` and by ``scripts/ui_screenshots.py``. It lives in ``tests/`` because
pytest already puts this folder on the import path; the two scripts, which are run from a
checkout and never installed, add it themselves (``sys.path``). So it imports neither pytest
nor any other test module: a benchmark or a screenshot run needs only Playwright.

Playwright's own browser download cannot work on the machines this runs on, so the browser is
always ``/usr/bin/chromium`` with the flags below (headless, no sandbox, no traffic of its own).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright: Any, *extra_args: str) -> Any:
    """Chromium from ``sync_playwright()``, with the flags above and then ``extra_args``."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(
    command: list[str],
    port: int,
    env: Mapping[str, str] | None = None,
    start_timeout_s: float = 30.0,
) -> Iterator[str]:
    """``command`` (a server listening on 127.0.0.1:port) until the block ends; yields its URL
    once ``/health`` answers. ``env`` is the child's whole environment (None: this one's)."""
    proc = subprocess.Popen(
        command,
        env=None if env is None else dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not start on {url}") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def runstack_server(
    backend: str,
    *extra: str,
    env: Mapping[str, str] | None = None,
    start_timeout_s: float = 30.0,
) -> contextlib.AbstractContextManager[str]:
    """``runstack server`` of this interpreter's environment on a free port; yields its URL."""
    port = free_port()
    exe = str(Path(sys.executable).with_name("runstack"))
    command = [exe, "server", "--backend-store-uri", backend, "--port", str(port), *extra]
    return serving(command, port, env, start_timeout_s)
