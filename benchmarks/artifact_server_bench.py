"""Artifacts through a tracking server on loopback: `runstack server` vs `mlflow server` 3.17.2,
and the raw loopback HTTP rate. The server lines of ``bench_artifacts.py`` (which imports
``SERVER_LINES`` from here); also runnable alone::

    .venv/bin/python benchmarks/artifact_server_bench.py [--size-mb 1024] [--memory-mb 5120]
        [--repeat N] [--only mlflow|runstack] [--json PATH]

- **log_artifact through the server**: MB/s of one ``log_artifact`` of a file of random bytes,
  by each project's own client against its own server (``--artifacts-destination`` a folder
  on the same disk), best of ``repeat`` fresh client processes; beside it the raw rate of one
  HTTP PUT of the same file over loopback to a server that reads and drops the body
  (``http.client`` and a plain socket: what the kernel and one copy per side cost).
- **peak memory**: the peak RSS (VmHWM) of the client process and of the server's processes
  while a ``memory_mb`` file (sparse: its reading costs no disk) is uploaded, then downloaded,
  through the server; each side's baseline (after a warm-up upload) is reported too.

Every server is its project's own CLI in its own session, stopped (process group) after use.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_core import (  # noqa: E402
    MLFLOW_VERSION,
    WORK_ROOT,
    BenchError,
    child_env,
    ensure_mlflow_venv,
    log,
    parse_last_json_line,
    tail,
)
from server_procs import free_port, runstack_tool, session_pids, stop_session  # noqa: E402

IMPLS = ("mlflow", "runstack")
CHILD_TIMEOUT = 1800.0
MB = 1 << 20
MLFLOW_MEMORY_MB = 1024

# ------------------------------------------------------------------ child: one client process

CLIENT = r"""
import json, os, sys, time
from pathlib import Path

impl, url, source, out, mode = sys.argv[1:6]
lib = __import__(impl)

def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024

lib.set_tracking_uri(url)
warm = Path(out) / "warm.txt"
warm.parent.mkdir(parents=True, exist_ok=True)
warm.write_text("warm-up")
with lib.start_run() as run:
    lib.log_artifact(str(warm))  # imports, connections and the run exist before timing
    result = {"baseline": rss()}
    start = time.perf_counter()
    lib.log_artifact(source)
    result["upload_s"] = time.perf_counter() - start
    result["peak_upload"] = peak()
if mode == "roundtrip":
    start = time.perf_counter()
    got = lib.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path=os.path.basename(source), dst_path=str(out)
    )
    result["download_s"] = time.perf_counter() - start
    result["peak_download"] = peak()
    result["check"] = os.path.getsize(got) == os.path.getsize(source)
    os.unlink(got)
else:
    result["check"] = True
print(json.dumps(result))
"""

RAW_SERVER = r"""
import os, socket, sys
# argv[1]: "-" drops each body; a folder stores each body in a new file there (what any
# server that keeps an upload must at least do: one more copy, into the page cache).
keep = None if sys.argv[1] == "-" else sys.argv[1]
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(8)
print(listener.getsockname()[1], flush=True)
buffer = memoryview(bytearray(1 << 20))
count = 0
while True:
    conn, _ = listener.accept()
    count += 1
    out = os.open(os.path.join(keep, f"body-{count}"), os.O_WRONLY | os.O_CREAT) if keep else None
    with conn:
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(65536)
        head, _, rest = head.partition(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        if out is not None:
            os.write(out, rest)
        left = length - len(rest)
        while left:
            got = conn.recv_into(buffer, min(left, len(buffer)))
            if not got:
                break
            if out is not None:
                os.write(out, buffer[:got])
            left -= got
        if out is not None:
            os.close(out)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
"""

RAW_CLIENT = r"""
import http.client, json, os, sys, time
port, source = int(sys.argv[1]), sys.argv[2]
connection = http.client.HTTPConnection("127.0.0.1", port, blocksize=1 << 20)
with open(source, "rb") as body:
    start = time.perf_counter()
    length = {"Content-Length": str(os.path.getsize(source))}
    connection.request("PUT", "/x", body=body, headers=length)
    connection.getresponse().read()
    print(json.dumps({"upload_s": time.perf_counter() - start, "check": True}))
"""


# ------------------------------------------------------------------ servers


def status_bytes(pid: int, field: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


class Server:
    """One project's server on a free port, with a fresh SQLite store and destination."""

    def __init__(self, impl: str, pythons: dict[str, Path], folder: Path) -> None:
        self.impl = impl
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        tool = pythons["mlflow"].parent / "mlflow" if impl == "mlflow" else runstack_tool()
        self.command = [
            str(tool), "server", "--backend-store-uri", f"sqlite:///{folder}/store.db",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--artifacts-destination", str(folder / "artifacts"),
        ]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        self.log_path = self.folder / "server.log"
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                self.command, cwd=self.folder, env=child_env(), stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 120
        while True:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.url + "/health", timeout=5),
            ):
                return self
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"{self.impl} server did not start:\n{tail(self.log_text())}")
            time.sleep(0.3)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def memory(self) -> dict[str, int]:
        """Current and peak RSS of the server's processes (the largest process's figures:
        each request is served by one process)."""
        assert self.proc is not None
        pids = session_pids(self.proc.pid)
        return {
            "rss": max((status_bytes(p, "VmRSS") for p in pids), default=0),
            "peak": max((status_bytes(p, "VmHWM") for p in pids), default=0),
            "processes": len(pids),
        }

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            stop_session(self.proc)


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    WORK_ROOT.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=WORK_ROOT))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_child(python: Path, code: str, args: list[str], what: str) -> dict[str, Any]:
    proc = subprocess.run(
        [str(python), "-c", code, *args], env=child_env(), capture_output=True, text=True,
        timeout=CHILD_TIMEOUT, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise BenchError(f"{what}: exit {proc.returncode}\n{tail(proc.stderr)}")
    result = parse_last_json_line(proc.stdout, what)
    if not result.get("check"):
        raise BenchError(f"{what}: the artifact that came back is not the one sent")
    return result


def client(pythons: dict[str, Path], impl: str, server: Server, source: Path, mode: str) -> Any:
    out = server.folder / "client-out"
    return run_child(
        pythons[impl], CLIENT, [impl, server.url, str(source), str(out), mode], f"{impl} {mode}"
    )


# ------------------------------------------------------------------ measurements


def raw_loopback_mb_s(source: Path, repeat: int, keep: Path | None = None) -> float:
    """Best rate of one PUT of ``source`` to a plain socket server that drops the body, or,
    with ``keep``, writes it to a new file in that folder (each sample's file is removed)."""
    size_mb = source.stat().st_size / MB
    listener = subprocess.Popen(
        [sys.executable, "-c", RAW_SERVER, str(keep) if keep else "-"], stdout=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    times = []
    try:
        assert listener.stdout is not None
        port = listener.stdout.readline().strip()
        for _ in range(repeat):
            os.sync()  # the previous sample's dirty pages must not be written during this one
            times.append(
                run_child(Path(sys.executable), RAW_CLIENT, [port, str(source)], "raw PUT")[
                    "upload_s"
                ]
            )
            if keep:
                for body in keep.glob("body-*"):
                    body.unlink()
    finally:
        listener.kill()
        listener.wait(timeout=30)
    return size_mb / float(min(times))


def log_artifact_mb_s(pythons: dict[str, Path], impl: str, source: Path, repeat: int) -> float:
    """Best rate of ``log_artifact(source)`` through the project's own server."""
    size_mb = source.stat().st_size / MB
    times = []
    for _ in range(repeat):
        with scratch(f"srv-{impl}-") as folder, Server(impl, pythons, folder) as server:
            os.sync()  # the previous sample's dirty pages must not be written during this one
            log(f"  {impl:<8} log_artifact through its server")
            times.append(float(client(pythons, impl, server, source, "upload")["upload_s"]))
    return size_mb / min(times)


def memory_round_trip(pythons: dict[str, Path], impl: str, source: Path) -> dict[str, Any]:
    """Peak RSS of client and server while ``source`` goes up and comes back."""
    with scratch(f"mem-{impl}-") as folder, Server(impl, pythons, folder) as server:
        warm = folder / "warm.bin"
        warm.write_bytes(b"w" * 1024)
        client(pythons, impl, server, warm, "upload")  # the server's imports and store
        before = server.memory()
        log(f"  {impl:<8} {source.stat().st_size / MB:,.0f} MB up and down through its server")
        result = client(pythons, impl, server, source, "roundtrip")
        after = server.memory()
    size_mb = source.stat().st_size / MB
    return {
        "client_baseline_mb": result["baseline"] / MB,
        "client_peak_mb": max(result["peak_upload"], result["peak_download"]) / MB,
        "server_baseline_mb": before["rss"] / MB,
        "server_peak_mb": after["peak"] / MB,
        "server_processes": after["processes"],
        "upload_mb_s": size_mb / result["upload_s"],
        "download_mb_s": size_mb / result["download_s"],
    }


def sparse_file(folder: Path, size_mb: int) -> Path:
    path = folder / f"sparse-{size_mb}MB.bin"
    with open(path, "wb") as out:
        out.write(os.urandom(MB))
        out.truncate(size_mb * MB)
    return path


def random_file(folder: Path, size_mb: int) -> Path:
    path = folder / f"random-{size_mb}MB.bin"
    block = os.urandom(64 * MB)
    with open(path, "wb") as out:
        left = size_mb * MB
        while left:
            left -= out.write(block[: min(len(block), left)])
    return path


# ------------------------------------------------------------------ lines for bench_artifacts


def measure_server_log_artifact(ctx: Any) -> dict[str, Any]:
    """bench_artifacts line: log_artifact of the big file through each project's server."""
    source = ctx.big_file()
    repeat = ctx.settings.repeat
    log("  raw      PUT to a socket that drops the body")
    figures: dict[str, Any] = {"cp": raw_loopback_mb_s(source, repeat)}
    log("  raw      PUT to a socket that writes the body to a file")
    with scratch("raw-keep-") as keep:
        to_file = raw_loopback_mb_s(source, repeat, keep)
    for impl in IMPLS:
        figures[impl] = (
            log_artifact_mb_s(ctx.pythons, impl, source, repeat) if impl in ctx.pythons else None
        )
    figures["reference"] = {"name": "raw HTTP into a file", "figure": to_file}
    figures["ratio"] = figures["runstack"] / figures["cp"]
    figures["ratio_label"] = "of raw HTTP"
    figures["pass"] = figures["ratio"] >= 0.5
    if figures["mlflow"]:
        figures["vs_mlflow"] = figures["runstack"] / figures["mlflow"]
        figures["pass"] = figures["pass"] and figures["vs_mlflow"] >= 2
    return figures


def measure_server_memory(ctx: Any) -> dict[str, Any]:
    """bench_artifacts line: peak RSS while a large file goes up and down through a server.

    MLflow's side moves at most ``MLFLOW_MEMORY_MB`` (its server passes ~10 MB/s here: 5 GB
    would take half an hour each way); its peak is reported with the size it moved."""
    size_mb = int(getattr(ctx.settings, "memory_mb", ctx.settings.big_file_mb))
    details: dict[str, Any] = {}
    with scratch("mem-input-") as folder:
        for impl in IMPLS:
            if impl in ctx.pythons:
                moved = min(size_mb, MLFLOW_MEMORY_MB) if impl == "mlflow" else size_mb
                details[impl] = memory_round_trip(ctx.pythons, impl, sparse_file(folder, moved))
                details[impl]["file_mb"] = moved
    mine = details["runstack"]
    figures: dict[str, Any] = {
        "runstack": max(mine["client_peak_mb"], mine["server_peak_mb"]),
        "details": details,
    }
    if "mlflow" in details:
        theirs = details["mlflow"]
        figures["mlflow"] = max(theirs["client_peak_mb"], theirs["server_peak_mb"])
    figures["pass"] = figures["runstack"] <= 100
    return figures


SERVER_LINES = [
    (
        "log_artifact (1 GB file, through the server)",
        "MB/s",
        ">= 50% of raw HTTP, >= 2x MLflow",
        measure_server_log_artifact,
    ),
    (
        "peak RSS, large file up+down via server",
        "MB",
        "<= 100 MB client and server",
        measure_server_memory,
    ),
]


# ------------------------------------------------------------------ standalone


class _Settings:
    def __init__(self, repeat: int, big_file_mb: int, memory_mb: int) -> None:
        self.repeat, self.big_file_mb, self.memory_mb = repeat, big_file_mb, memory_mb


class _Context:
    def __init__(self, pythons: dict[str, Path], settings: _Settings, folder: Path) -> None:
        self.pythons, self.settings, self.folder = pythons, settings, folder
        self._big: Path | None = None

    def big_file(self) -> Path:
        if self._big is None:
            self._big = random_file(self.folder, self.settings.big_file_mb)
        return self._big


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="log_artifact file size")
    parser.add_argument("--memory-mb", type=int, default=5120, help="memory round-trip size")
    parser.add_argument("--repeat", type=int, default=3, help="samples per side, best kept")
    parser.add_argument("--only", choices=IMPLS)
    parser.add_argument("--lines", nargs="*", help="only lines whose name contains one of these")
    parser.add_argument("--json", type=Path, metavar="PATH")
    args = parser.parse_args(argv)
    pythons: dict[str, Path] = {}
    if args.only in (None, "mlflow"):
        pythons["mlflow"] = ensure_mlflow_venv()
    if args.only in (None, "runstack"):
        pythons["runstack"] = Path(sys.executable)
    rows = []
    with scratch("artifact-server-input-") as folder:
        ctx = _Context(pythons, _Settings(args.repeat, args.size_mb, args.memory_mb), folder)
        for name, unit, target, measure in SERVER_LINES:
            if args.lines and not any(n in name for n in args.lines):
                continue
            log(name)
            row = {"line": name, "unit": unit, "target": target, **measure(ctx)}
            rows.append(row)
            print(json.dumps(row, default=str), flush=True)
    print(f"artifact_server_bench: runstack vs MLflow {MLFLOW_VERSION}, best of {args.repeat}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=str) + "\n")
    return 0 if all(row.get("pass", True) for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
