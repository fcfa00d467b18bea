"""Server processes for the benchmarks that start tracking servers of their own
(``bench_server.py``, ``artifact_server_bench.py``): a free loopback port, the ``runstack``
console script, and every live process of a server's session, so that a benchmark can measure
the memory of a server with its workers and leave none of them behind.

Linux only (reads ``/proc``), as the benchmarks are.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
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
