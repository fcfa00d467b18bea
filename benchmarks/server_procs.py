"""Server processes for the benchmarks that start tracking servers of their own
(``bench_server.py``, ``artifact_server_bench.py``): a free loopback port, the ``runstack``
console script, and every live process of a server's session, so that a benchmark can measure
the memory of a server with its workers and leave none of them behind.

Linux only (reads ``/proc``), as the benchmarks are.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def runstack_tool() -> Path:
    """The ``runstack`` console script of this interpreter's environment."""
    return Path(sys.executable).parent / "runstack"


def session_pids(sid: int) -> list[int]:
    """Live processes of session ``sid`` (a server and everything it started)."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                text = Path(entry.path, "stat").read_text()
                if int(text[text.rindex(")") + 2 :].split()[3]) == sid:
                    pids.append(int(entry.name))
    return pids


def stop_session(proc: subprocess.Popen[bytes], linger_s: float = 0.0) -> None:
    """SIGTERM a server's process group, SIGKILL it after 30 s, then give the rest of its
    session ``linger_s`` seconds to exit (MLflow's job-runner children exit a little later)
    before SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    deadline = time.monotonic() + linger_s
    while session_pids(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.3)
    for pid in session_pids(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
