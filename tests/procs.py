"""Helpers for tests that run runstack in real child processes.

``Child`` is a running interpreter whose stdout is read line by line with a timeout (by a
reader thread, so a silent child can never hang a test); ``children`` kills whatever is still
alive when a test ends, pass or fail.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from conftest import _ENV_VARS

DEFAULT_TIMEOUT_S = 60.0


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without MLflow/runstack variables, plus ``env``."""
    full = {k: v for k, v in os.environ.items() if k not in _ENV_VARS}
    full.update(env or {})
    return full


class Child:
    """A ``python -c code`` child with line-by-line stdout and collected stderr."""

    def __init__(
        self,
        code: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        stdin: bool = False,
    ) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code)],
            env=child_env(env),
            cwd=cwd,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self._stdout.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def _read_stderr(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self._stderr.append(line)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def read_line(self, timeout: float = DEFAULT_TIMEOUT_S) -> str:
        """The next stdout line (without newline); fails if none comes in time."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"child printed nothing within {timeout} s; stderr so far:\n{self.stderr}"
            ) from None
        if line is None:
            self.wait(timeout=10)
            raise AssertionError(
                f"child exited ({self.popen.returncode}) before printing the expected line; "
                f"stderr:\n{self.stderr}"
            )
        return line.rstrip("\n")

    def read_value(self, prefix: str, timeout: float = DEFAULT_TIMEOUT_S) -> str:
        """Skip lines until one starts with ``prefix``; return the rest of that line."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.read_line(timeout=max(0.01, deadline - time.monotonic()))
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    def send(self, text: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(text)
        self.popen.stdin.flush()

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait(self, timeout: float = DEFAULT_TIMEOUT_S) -> int:
        """Wait for exit (fails after ``timeout``), then for the output to be read."""
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"child did not exit within {timeout} s; stderr:\n{self.stderr}"
            ) from None
        for reader in self._readers:
            reader.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=10)
        if self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    @property
    def stdout(self) -> str:
        return "".join(self._stdout)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)


class Children:
    """Starts children and kills every one still alive on exit."""

    def __init__(self) -> None:
        self.started: list[Child] = []

    def start(
        self,
        code: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        stdin: bool = False,
    ) -> Child:
        child = Child(code, env=env, cwd=cwd, stdin=stdin)
        self.started.append(child)
        return child

    def kill_all(self) -> None:
        for child in self.started:
            child.kill()
        for child in self.started:
            for reader in child._readers:  # at EOF now that the child is gone
                reader.join(timeout=5)
            for stream in (child.popen.stdout, child.popen.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()


@contextlib.contextmanager
def children() -> Iterator[Children]:
    started = Children()
    try:
        yield started
    finally:
        started.kill_all()


def wait_until(predicate: object, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate()`` until true or ``timeout`` seconds pass; returns the last result."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
