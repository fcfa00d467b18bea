"""Uploads and downloads through ``runstack server`` stream: a 400 MB file goes up and comes
back with the server's and the client's peak memory (VmHWM) growing by a few MB, not by the
file's size. The server runs as its own process (``runstack server``), as users run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import run_python
from s3_server import free_port

SIZE = 400 * 1024 * 1024
# Room for buffers, thread stacks and allocator slack; far below the file size.
ALLOWED_GROWTH = 48 * 1024 * 1024

CLIENT = r"""
import json, os, sys
from pathlib import Path
from runstack.artifacts.registry import repository_for

def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

url, source, out = sys.argv[1:4]
repo = repository_for("mlflow-artifacts:/0/big/artifacts", url)
repo.write_bytes(b"warm-up", "w.txt")  # import and connect before measuring
repo.download("w.txt", Path(out))
before = peak()
repo.log_file(Path(source), "m")
after_upload = peak()
got = repo.download("m/" + os.path.basename(source), Path(out))
print("RESULT:" + json.dumps({
    "before": before, "after_upload": after_upload, "after_download": peak(),
    "size": got.stat().st_size, "path": str(got),
}))
"""


def vm_peak(pid: int) -> int:
    """Peak resident memory of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def same_bytes(a: Path, b: Path) -> bool:
    with open(a, "rb") as left, open(b, "rb") as right:
        while True:
            x, y = left.read(1 << 20), right.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


@pytest.mark.slow
def test_large_upload_and_download_stream_in_constant_memory(tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    with open(source, "wb") as out:  # mostly a hole, with data at the start, middle and end
        out.write(os.urandom(1 << 20))
        out.seek(SIZE // 2)
        out.write(os.urandom(1 << 20))
        out.truncate(SIZE)
    port = free_port()
    destination = tmp_path / "dest"
    runstack = Path(sys.executable).with_name("runstack")
    server = subprocess.Popen(
        [
            str(runstack),
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path}/r.db",
            "--port",
            str(port),
            "--artifacts-destination",
            str(destination),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1).read()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        # Warm the server up (imports, store, first upload) before taking its baseline.
        urllib.request.urlopen(
            urllib.request.Request(
                f"{url}/api/2.0/mlflow-artifacts/artifacts/0/warm.txt", b"x", method="PUT"
            )
        ).read()
        server_before = vm_peak(server.pid)
        done = run_python(
            f"import sys; sys.argv = ['c', {url!r}, {str(source)!r}, {str(tmp_path / 'out')!r}]\n"
            + CLIENT,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        server_after = vm_peak(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT:"))
    client = json.loads(line[len("RESULT:") :])
    stored = destination / "0" / "big" / "artifacts" / "m" / "big.bin"
    assert stored.stat().st_size == SIZE
    assert client["size"] == SIZE
    assert same_bytes(stored, source) and same_bytes(Path(client["path"]), source)
    assert server_after - server_before < ALLOWED_GROWTH, (server_before, server_after)
    assert client["after_upload"] - client["before"] < ALLOWED_GROWTH, client
    assert client["after_download"] - client["before"] < ALLOWED_GROWTH, client
