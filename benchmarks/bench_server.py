"""Tracking-server throughput: `runstack server` against `mlflow server` 3.17.2.

Both servers run on this machine over a fresh SQLite database each, with the same number of
worker processes, and are driven by the same client: N processes, each with one kept-alive
`http.client` connection (TCP_NODELAY), sending MLflow REST requests back to back for a
fixed time. So the figures compare servers, not client libraries. Every response must be a
200; the script fails otherwise.

    .venv/bin/python benchmarks/bench_server.py --mlflow-python /path/to/venv/bin/python
    .venv/bin/python benchmarks/bench_server.py --only runstack --workers 4 --seconds 5

MLflow needs its own virtualenv with `pip install mlflow==3.17.2` (it never goes into the
project's .venv); `--mlflow-python` names its interpreter (default:
benchmarks/.venv-mlflow/bin/python, the one bench_core.py creates).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
API = "/api/2.0/mlflow/"
TARGET_RATIO = 10.0


class Connection:
    """One kept-alive HTTP/1.1 connection with TCP_NODELAY, sending JSON."""

    def __init__(self, port: int) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.http.connect()
        assert self.http.sock is not None
        self.http.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        self.http.request(method, API + path, body=data, headers=headers)
        response = self.http.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {response.status} {payload[:200]!r}")
        return json.loads(payload) if payload else {}


def _run_id(conn: Connection, experiment_id: str) -> str:
    run = conn.call("POST", "runs/create", {"experiment_id": experiment_id, "start_time": 1})
    return str(run["run"]["info"]["run_id"])


def setup(port: int) -> dict[str, Any]:
    """An experiment with 200 finished runs, one of them with 10 params, tags and metrics."""
    conn = Connection(port)
    experiment_id = conn.call("POST", "experiments/create", {"name": "bench"})["experiment_id"]
    rich = _run_id(conn, experiment_id)
    conn.call(
        "POST",
        "runs/log-batch",
        {
            "run_id": rich,
            "params": [{"key": f"p{i}", "value": str(i)} for i in range(10)],
            "tags": [{"key": f"t{i}", "value": str(i)} for i in range(10)],
            "metrics": [{"key": f"m{i}", "value": i, "timestamp": 1, "step": 0} for i in range(10)],
        },
    )
    for _ in range(199):
        run_id = _run_id(conn, experiment_id)
        conn.call("POST", "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 2})
    return {"experiment_id": experiment_id, "rich_run": rich}


# Workloads: one step each; returns how many units (requests, points, runs) it did.


def log_metric(conn: Connection, ctx: dict[str, Any], i: int) -> int:
    body = {
        "run_id": ctx["own_run"],
        "key": "loss",
        "value": 1.0 / (i + 1),
        "timestamp": i,
        "step": i,
    }
    conn.call("POST", "runs/log-metric", body)
    return 1


def log_batch(conn: Connection, ctx: dict[str, Any], i: int) -> int:
    metrics = [{"key": f"m{k}", "value": k * 0.5, "timestamp": i, "step": i} for k in range(100)]
    conn.call("POST", "runs/log-batch", {"run_id": ctx["own_run"], "metrics": metrics})
    return 100


def create_and_end_run(conn: Connection, ctx: dict[str, Any], i: int) -> int:
    run_id = _run_id(conn, ctx["experiment_id"])
    conn.call("POST", "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 3})
    return 1


def get_run(conn: Connection, ctx: dict[str, Any], i: int) -> int:
    found = conn.call("GET", f"runs/get?run_id={ctx['rich_run']}")
    assert len(found["run"]["data"]["params"]) == 10
    return 1


def search_runs(conn: Connection, ctx: dict[str, Any], i: int) -> int:
    body = {"experiment_ids": [ctx["experiment_id"]], "max_results": 100}
    assert len(conn.call("POST", "runs/search", body)["runs"]) == 100
    return 1


WORKLOADS: dict[str, tuple[Callable[[Connection, dict[str, Any], int], int], str]] = {
    "log-metric": (log_metric, "requests/s"),
    "log-batch (100 points)": (log_batch, "points/s"),
    "create + end run": (create_and_end_run, "runs/s"),
    "get-run": (get_run, "requests/s"),
    "search-runs (100 of 200)": (search_runs, "requests/s"),
}


def _client(port: int, ctx: dict[str, Any], name: str, seconds: float, out: Any) -> None:
    conn = Connection(port)
    ctx = {**ctx, "own_run": _run_id(conn, ctx["experiment_id"])}
    step, _ = WORKLOADS[name]
    for i in range(3):  # warm-up
        step(conn, ctx, i)
    units, i, started = 0, 3, time.perf_counter()
    while time.perf_counter() - started < seconds:
        units += step(conn, ctx, i)
        i += 1
    out.put(units / (time.perf_counter() - started))


def throughput(port: int, ctx: dict[str, Any], name: str, clients: int, seconds: float) -> float:
    queue: Any = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=_client, args=(port, ctx, name, seconds, queue))
        for _ in range(clients)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=seconds + 120)
    if any(proc.exitcode != 0 for proc in procs):
        raise RuntimeError(f"{name}: a client failed (see its error above)")
    return sum(queue.get(timeout=5) for _ in procs)


def latency_ms(port: int, ctx: dict[str, Any], requests: int = 200) -> float:
    """Median time of one kept-alive log-metric request from a single client."""
    conn = Connection(port)
    local = {**ctx, "own_run": _run_id(conn, ctx["experiment_id"])}
    timings = []
    for i in range(requests):
        started = time.perf_counter()
        log_metric(conn, local, i)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(kind: str, workers: int, work: Path, mlflow_python: str) -> Iterator[int]:
    port = _free_port()
    folder = Path(tempfile.mkdtemp(dir=work, prefix=f"{kind}-"))
    uri = f"sqlite:///{folder}/db.sqlite"
    if kind == "runstack":
        code = f"from runstack.server import serve; serve({uri!r}, port={port}, workers={workers})"
        command = [sys.executable, "-c", code]
    else:
        command = [
            mlflow_python,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            uri,
            "--default-artifact-root",
            str(folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{kind} server did not start: {' '.join(command)}")
            time.sleep(0.2)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def measure(kind: str, args: argparse.Namespace, work: Path) -> dict[str, float]:
    results: dict[str, float] = {}
    with server(kind, args.workers, work, args.mlflow_python) as port:
        ctx = setup(port)
        results["latency (ms, 1 client)"] = latency_ms(port, ctx)
        for name in WORKLOADS:
            results[name] = throughput(port, ctx, name, args.clients, args.seconds)
            print(f"  {kind:8s} {name:26s} {results[name]:10.0f}", file=sys.stderr)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mlflow-python", default=str(ROOT / ".venv-mlflow/bin/python"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--only", choices=["runstack", "mlflow"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    kinds = [args.only] if args.only else ["mlflow", "runstack"]
    if "mlflow" in kinds and not Path(args.mlflow_python).exists():
        print(
            f"No MLflow interpreter at {args.mlflow_python}: create a virtualenv with "
            "`pip install mlflow==3.17.2` and pass --mlflow-python.",
            file=sys.stderr,
        )
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-server-"))
    try:
        results = {kind: measure(kind, args, work) for kind in kinds}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nworkers={args.workers} clients={args.clients} seconds={args.seconds} "
        f"load={os.getloadavg()[0]:.1f} cpus={os.cpu_count()}"
    )
    failed = False
    header = f"{'case':28s} {'unit':12s}" + "".join(f"{k:>12s}" for k in kinds)
    print(header + ("    ratio  target" if len(kinds) == 2 else ""))
    for name in results[kinds[0]]:
        unit = "ms" if name.startswith("latency") else WORKLOADS[name][1]
        line = f"{name:28s} {unit:12s}" + "".join(f"{results[k][name]:12.1f}" for k in kinds)
        if len(kinds) == 2:
            mlflow, runstack = results["mlflow"][name], results["runstack"][name]
            ratio = mlflow / runstack if unit == "ms" else runstack / mlflow
            ok = ratio >= TARGET_RATIO
            failed |= not ok
            line += f"  {ratio:6.1f}x  {'PASS' if ok else 'FAIL'}"
        print(line)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"args": vars(args) | {"json": str(args.json)}, "results": results}, indent=2
            )
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
