"""Tracking-server speed: `runstack server` against `mlflow server` 3.17.2 (issue 4, item 6).

Usage::

    .venv/bin/python benchmarks/bench_server.py [--quick] [--backend sqlite|postgresql|both]
                                                [--repeat N] [--json PATH]

For each backend kind (a fresh SQLite file, a fresh PostgreSQL database per server), the
script starts both servers with their command-line tools, with their default settings and with
``--workers 1``, all on this machine and in this run, then times three cases in fresh client
processes, MLflow and runstack alternating sample by sample:

- ``start_end``: ``start_run()`` + ``end_run()`` (runs/s);
- ``log_metric``: ``log_metric`` one value at a time, synchronous (values/s);
- ``log_batch``: ``MlflowClient().log_batch(run_id, metrics=[1,000 Metric])`` (points/s);

each through the project's own Python client (``import mlflow`` or ``import runstack as
mlflow``, the same code, ``MLFLOW_TRACKING_URI=http://127.0.0.1:PORT``) and through one raw
keep-alive ``http.client`` connection sending MLflow's REST requests (the same client for both
servers), which separates client overhead from server speed. A latency table then shows whether the
delayed-ACK stall (~40 ms per kept-alive request) appears with several workers.

MLflow runs from ``benchmarks/.venv-mlflow`` (created by ``bench_core.py``'s
``ensure_mlflow_venv``; ``ensure_pg_driver`` adds the PostgreSQL driver to it). runstack and
the raw HTTP client run under the interpreter that runs this script.

Exit status: 0 when every target is met and every data check passes, 1 otherwise, 2 when the
benchmark could not start.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from server_procs import free_port, runstack_tool, stop_session

API = "/api/2.0/mlflow/"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CASES = ("start_end", "log_metric", "log_batch")
UNITS = {"start_end": "runs/s", "log_metric": "values/s", "log_batch": "points/s"}
PER_ITER = {"start_end": 1, "log_metric": 1, "log_batch": 1000}
BATCH = 1000
VIAS = ("client", "raw")  # the project's own client; one raw keep-alive http.client connection
IMPLS = ("mlflow", "runstack")
TARGET = 10.0
SEVERAL = 4  # "several workers" for the latency table (mlflow server's default count)
STALL_MS = 35.0  # a request at least this slow on loopback is counted as stalled
STALL_SHARE = 0.10  # runstack passes the latency check below this share of stalled requests
WARM = 3  # untimed iterations of the timed step
START_TIMEOUT = 240.0
CHILD_TIMEOUT = 600.0


# =========================================================================== child side
# Everything below up to "parent side" runs in a fresh client process, under the MLflow venv's
# interpreter or this one; it uses the standard library and the library under test only.


def now_ms() -> int:
    """Wall-clock milliseconds, the timestamp both clients send."""
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Probe:
    """Which processes' CPU time to read: the server's session, and PostgreSQL's backends."""

    sid: int = 0  # the server runs in its own session: all its workers share this id
    database: str = ""  # PostgreSQL backends serving this database (empty for SQLite)

    def cpu(self) -> tuple[float, float]:
        """CPU seconds (user + system) so far: (server's processes, database's backends).

        MLflow's server session includes its job-runner processes, which use next to none
        when idle. PostgreSQL backends name their database in their process title.
        """
        server = database = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                text = Path(entry.path, "stat").read_text()
                fields = text[text.rindex(")") + 2 :].split()  # fields[3]: the session id
                ticks = int(fields[11]) + int(fields[12])  # utime + stime
                if int(fields[3]) == self.sid:
                    server += ticks
                elif self.database and fields[0] != "Z":
                    title = Path(entry.path, "cmdline").read_bytes()
                    if title.startswith(b"postgres: ") and f" {self.database} ".encode() in title:
                        database += ticks
        tick = os.sysconf("SC_CLK_TCK")
        return server / tick, database / tick


def time_box(
    step: Callable[[int], None], seconds: float, min_iters: int, probe: Probe
) -> dict[str, Any]:
    """``step(i)`` WARM times untimed, then until ``seconds`` and ``min_iters`` are both met.

    Besides wall time: this process's CPU time, the server's and the database's (PostgreSQL).
    """
    for i in range(WARM):
        step(i)
    i = WARM
    (server0, db0), cpu0, t0 = probe.cpu(), time.process_time(), time.perf_counter()
    while True:
        step(i)
        i += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds and i - WARM >= min_iters:
            break
    cpu = time.process_time() - cpu0
    server1, db1 = probe.cpu()
    return {
        "iterations": i - WARM,
        "total_iterations": i,
        "elapsed": elapsed,
        "client_cpu_seconds": cpu,
        "server_cpu_seconds": server1 - server0,
        "database_cpu_seconds": db1 - db0,
    }


class Http:
    """One kept-alive ``http.client`` connection to MLflow's REST API, with TCP_NODELAY.

    The standard library's client costs the least CPU per request of the Python clients
    (about a quarter of httpx's), so this line shows the server's speed most directly."""

    def __init__(self, port: int) -> None:
        import http.client

        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60.0)
        self.connection.connect()
        assert self.connection.sock is not None
        self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One request; anything but a 200 is an error."""
        import urllib.parse

        target, content = API + path, None
        if method == "GET":
            target += "?" + urllib.parse.urlencode(body or {}, doseq=True)
        else:
            content = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        self.connection.request(method, target, body=content, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {response.status} {data[:300]!r}")
        return json.loads(data) if data else {}

    def create_run(self) -> str:
        """A new RUNNING run in the default experiment."""
        body = {"experiment_id": "0", "start_time": now_ms()}
        return str(self.call("POST", "runs/create", body)["run"]["info"]["run_id"])

    def history(self, run_id: str, key: str) -> list[dict[str, Any]]:
        """Every stored value of one metric, page by page."""
        points: list[dict[str, Any]] = []
        token = None
        while True:
            query = {"run_id": run_id, "metric_key": key, "max_results": 25000}
            if token:
                query["page_token"] = token
            page = self.call("GET", "metrics/get-history", query)
            points += page.get("metrics", [])
            token = page.get("next_page_token")
            if not token:
                return points


def batch_json(i: int) -> list[dict[str, Any]]:
    """The 1,000 metrics of batch ``i``, as REST JSON."""
    ts = now_ms()
    return [
        {"key": f"m{k}", "value": k * 0.5 + i, "timestamp": ts, "step": i} for k in range(BATCH)
    ]


def http_case(port: int, case: str, seconds: float, min_iters: int, probe: Probe) -> dict[str, Any]:
    """One case through the raw HTTP client; returns timing plus a check of what was stored."""
    http = Http(port)
    if case == "start_end":
        last: list[str] = []

        def step(i: int) -> None:
            run_id = http.create_run()
            body = {"run_id": run_id, "status": "FINISHED", "end_time": now_ms()}
            http.call("POST", "runs/update", body)
            last[:] = [run_id]

        result = time_box(step, seconds, min_iters, probe)
        info = http.call("GET", "runs/get", {"run_id": last[0]})["run"]["info"]
        result["check"] = info["status"] == "FINISHED"
        return result
    run_id = http.create_run()
    if case == "log_metric":

        def step(i: int) -> None:
            body = {"run_id": run_id, "key": "loss", "value": 1.0 / (i + 1), "step": i}
            http.call("POST", "runs/log-metric", body | {"timestamp": now_ms()})

        result = time_box(step, seconds, min_iters, probe)
        steps = sorted(int(p.get("step", 0)) for p in http.history(run_id, "loss"))
        result["check"] = steps == list(range(result["total_iterations"]))
        return result

    def batch(i: int) -> None:
        http.call("POST", "runs/log-batch", {"run_id": run_id, "metrics": batch_json(i)})

    result = time_box(batch, seconds, min_iters, probe)
    metrics = http.call("GET", "runs/get", {"run_id": run_id})["run"]["data"].get("metrics", [])
    points = len(http.history(run_id, f"m{BATCH - 1}"))
    result["check"] = len(metrics) == BATCH and points == result["total_iterations"]
    return result


def client_case(
    lib: Any, case: str, seconds: float, min_iters: int, probe: Probe
) -> dict[str, Any]:
    """One case through the library's own client (the same code for ``mlflow`` and runstack)."""
    client = lib.MlflowClient()
    if case == "start_end":
        last: list[str] = []

        def step(i: int) -> None:
            run = lib.start_run()
            lib.end_run()
            last[:] = [run.info.run_id]

        result = time_box(step, seconds, min_iters, probe)
        result["check"] = client.get_run(last[0]).info.status == "FINISHED"
        return result
    run_id = lib.start_run().info.run_id
    if case == "log_metric":

        def step(i: int) -> None:
            lib.log_metric("loss", 1.0 / (i + 1), step=i)

        result = time_box(step, seconds, min_iters, probe)
        history = client.get_metric_history(run_id, "loss")
        result["check"] = sorted(m.step for m in history) == list(range(result["total_iterations"]))
    else:
        metric = lib.entities.Metric

        def step(i: int) -> None:
            ts = now_ms()
            metrics = [metric(f"m{k}", k * 0.5 + i, ts, i) for k in range(BATCH)]
            client.log_batch(run_id, metrics=metrics)

        result = time_box(step, seconds, min_iters, probe)
        points = len(client.get_metric_history(run_id, f"m{BATCH - 1}"))
        stored = len(client.get_run(run_id).data.metrics)
        result["check"] = stored == BATCH and points == result["total_iterations"]
    lib.end_run()
    return result


def latency_case(lib: Any, port: int, requests: int) -> dict[str, Any]:
    """Milliseconds of each of ``requests`` sequential log-metric calls on one connection.

    ``lib`` None: raw HTTP POSTs of ``runs/log-metric``; else ``lib.log_metric`` in a run.
    """
    if lib is None:
        http = Http(port)
        run_id = http.create_run()

        def call(i: int) -> None:
            body = {"run_id": run_id, "key": "lat", "value": float(i), "step": i}
            http.call("POST", "runs/log-metric", body | {"timestamp": now_ms()})

    else:
        lib.start_run()

        def call(i: int) -> None:
            lib.log_metric("lat", float(i), step=i)

    for i in range(10):  # warm-up: connection, caches
        call(i)
    timings = []
    for i in range(10, 10 + requests):
        t0 = time.perf_counter()
        call(i)
        timings.append((time.perf_counter() - t0) * 1000.0)
    if lib is not None:
        lib.end_run()
    return {"latency_ms": timings}


def child_main(argv: list[str]) -> None:
    """Entry point of a client process; prints one JSON object as its last stdout line."""
    parser = argparse.ArgumentParser(prog="bench_server.py _child")
    parser.add_argument("--impl", choices=[*IMPLS, "raw"], required=True)
    parser.add_argument("--case", choices=[*CASES, "latency"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--min-iters", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--server-sid", type=int, default=0)
    parser.add_argument("--database", default="", help="PostgreSQL database name, for its CPU")
    args = parser.parse_args(argv)
    lib = None
    if args.impl != "raw":
        lib = importlib.import_module("mlflow" if args.impl == "mlflow" else "runstack")
        import logging

        for name in ("mlflow", "runstack", "httpx", "urllib3"):
            logging.getLogger(name).setLevel(logging.ERROR)
    probe = Probe(args.server_sid, args.database)
    if args.case == "latency":
        result = latency_case(lib, args.port, args.requests)
    elif lib is None:
        result = http_case(args.port, args.case, args.seconds, args.min_iters, probe)
    else:
        result = client_case(lib, args.case, args.seconds, args.min_iters, probe)
    if "iterations" in result:
        result["per_second"] = result["iterations"] * PER_ITER[args.case] / result["elapsed"]
    print(json.dumps(result))


# =========================================================================== parent side


@dataclass(frozen=True)
class Settings:
    """How long and how often each case runs."""

    seconds: float  # minimum timed seconds per sample
    min_iters: int  # minimum timed iterations per sample
    repeat: int  # samples per (case, client, server); the best is reported
    requests: int  # sequential requests per latency measurement


@dataclass
class Server:
    """One running server: which implementation, how many workers, where."""

    impl: str
    workers: int
    default: bool  # started without --workers: the worker count is the tool's default
    uri: str
    folder: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=Path)

    @property
    def database(self) -> str:
        """The PostgreSQL database's name; empty for SQLite."""
        return self.uri.rsplit("/", 1)[1] if self.uri.startswith("postgresql") else ""

    @property
    def label(self) -> str:
        """E.g. ``mlflow --workers 4 (default)``."""
        return f"{self.impl} --workers {self.workers}" + (" (default)" if self.default else "")


def log(message: str) -> None:
    """Progress goes to stderr so that stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


def default_workers(command: list[str]) -> int:
    """The default ``--workers`` count as the tool's own ``--help`` states it."""
    text = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    # The option's own entry: from "--workers" at the start of a line to the next option.
    entry = re.search(r"^\s*(?:-\w, )?--workers\b(.*?)(?=^\s*-|\Z)", text, re.M | re.S)
    found = entry and re.search(r"default:?\s*(\d+)", entry.group(1))
    if not found:
        raise RuntimeError(f"no default worker count in `{' '.join(command)}`")
    return int(found.group(1))


def server_command(server: Server, mlflow_python: Path) -> list[str]:
    """The command line: each project's own CLI, ``--workers`` only when not the default."""
    tool = mlflow_python.parent / "mlflow" if server.impl == "mlflow" else runstack_tool()
    command = [
        str(tool), "server", "--backend-store-uri", server.uri,
        "--host", "127.0.0.1", "--port", str(server.port),
    ]  # fmt: skip
    if not server.default:
        command += ["--workers", str(server.workers)]
    return command


def start(server: Server, mlflow_python: Path, env: dict[str, str]) -> None:
    """Launch the server in its own session (so that it and its workers stop together)."""
    server.port = free_port()
    server.log_path = server.folder / "server.log"
    with server.log_path.open("wb") as out:
        server.proc = subprocess.Popen(
            server_command(server, mlflow_python),
            cwd=server.folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_ready(server: Server, deadline: float) -> None:
    """Until ``/health`` and an experiments search both answer 200 (schema created)."""
    import urllib.request

    assert server.proc is not None
    base = f"http://127.0.0.1:{server.port}"
    while True:
        with contextlib.suppress(OSError):  # refused, reset, or an HTTP error status
            with urllib.request.urlopen(base + "/health", timeout=5):
                pass
            search = base + API + "experiments/search?max_results=1"
            with urllib.request.urlopen(search, timeout=30):
                return
        if server.proc.poll() is not None or time.monotonic() > deadline:
            text = server.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{server.label} did not start on {server.uri}:\n{text}")
        time.sleep(0.5)


def stop(server: Server) -> None:
    """Stop the server and whatever of its session is left."""
    if server.proc is not None:
        stop_session(server.proc, linger_s=15)


class Databases:
    """Fresh PostgreSQL databases, dropped (with their connections) at the end."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.version = "?"

    def create(self, label: str) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = f"runstack_bench_srv_{uuid.uuid4().hex[:8]}_{label}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            row = admin.execute("SHOW server_version").fetchone()
            self.version = str(row[0]) if row else "?"
            admin.execute(f"CREATE DATABASE {name}")
        self.names.append(name)
        return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"

    def drop_all(self) -> None:
        """Drop every database this object created."""
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            for name in self.names:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.names.clear()


def ensure_pg_driver(python: Path) -> str:
    """Give MLflow's venv the driver its SQLAlchemy uses for ``postgresql://`` URIs.

    SQLAlchemy 2.1 (which mlflow 3.17.2 installs) maps ``postgresql://`` to psycopg 3, the
    driver runstack uses; SQLAlchemy 2.0 mapped it to psycopg2. Returns the driver's name.
    """
    code = (
        "from sqlalchemy.engine import make_url\n"
        "print(make_url('postgresql://x/y').get_dialect().driver)"
    )
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    driver = proc.stdout.strip()
    check = [str(python), "-c", f"import {driver}"]
    if subprocess.run(check, capture_output=True, check=False).returncode != 0:
        package = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary"}[driver]
        log(f"installing {package} into the MLflow venv")
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, package], capture_output=True, check=True)
    return driver


def run_child(
    python: Path, args: list[str], env: dict[str, str], cwd: Path, what: str
) -> dict[str, Any]:
    """One fresh client process; its result is the last line of its stdout."""
    command = [str(python), str(Path(__file__).resolve()), "_child", *args]
    t0 = time.perf_counter()
    proc = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"{what}: exit {proc.returncode}\n{tail}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - t0
    return result


@dataclass
class Phase:
    """One backend kind: its servers, the interpreters, the environment, the scratch folder."""

    backend: str
    servers: dict[tuple[str, int], Server]
    pythons: dict[str, Path]
    base_env: dict[str, str]
    work: Path

    def client(self, impl: str, via: str) -> Path:
        """Which interpreter runs the client: the library's own, or this one for raw HTTP."""
        return self.pythons[impl] if via == "client" else Path(sys.executable)

    def sample(
        self, server: Server, via: str, case: str, settings: Settings, extra: list[str]
    ) -> dict[str, Any]:
        """One client process against ``server``."""
        assert server.proc is not None
        env = self.base_env | {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{server.port}"}
        impl = server.impl if via == "client" else "raw"
        args = [
            "--impl", impl, "--case", case, "--port", str(server.port),
            "--seconds", str(settings.seconds), "--min-iters", str(settings.min_iters),
            "--server-sid", str(server.proc.pid), "--database", server.database, *extra,
        ]  # fmt: skip
        what = f"{self.backend} {server.label} {via} {case}"
        return run_child(self.client(server.impl, via), args, env, self.work, what)


def settings_rows(defaults: dict[str, int]) -> list[tuple[str, dict[str, int]]]:
    """The settings compared: each tool's defaults, and ``--workers 1`` for both.

    A tool whose default is 1 worker is started once and serves both rows.
    """
    text = f"default ({defaults['mlflow']} vs {defaults['runstack']} workers)"
    rows = [(text, dict(defaults))]
    if any(count != 1 for count in defaults.values()):
        rows.append(("--workers 1", {impl: 1 for impl in IMPLS}))
    return rows


def best(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest sample (other work on the machine only slows one down), plus the median."""
    if not samples:
        return {"error": "no sample"}
    errors = [s for s in samples if "error" in s]
    if errors:
        return errors[0]
    rates = [float(s["per_second"]) for s in samples]
    top = dict(max(samples, key=lambda s: float(s["per_second"])))
    top.update(
        value=max(rates),
        median=statistics.median(rates),
        all=rates,
        check=all(bool(s.get("check")) for s in samples),
    )
    return top


def measure_throughput(
    phase: Phase, settings: Settings, rows: list[tuple[str, dict[str, int]]]
) -> dict[str, Any]:
    """Every (case, client, server) sampled ``repeat`` times, servers alternating."""
    keys = throughput_keys(rows)
    results: dict[str, Any] = {}
    for case in CASES:
        for via in VIAS:
            samples: dict[tuple[str, int], list[dict[str, Any]]] = {key: [] for key in keys}
            for _ in range(settings.repeat):
                for key in keys:
                    server = phase.servers[key]
                    try:
                        sample = phase.sample(server, via, case, settings, [])
                    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                        log(f"  ERROR {exc}")
                        sample = {"error": str(exc)}
                    samples[key].append(sample)
                    shown = sample.get("per_second")
                    log(
                        f"  {phase.backend:10s} {case:10s} {via:6s} {server.label:30s} "
                        + (f"{shown:10,.0f} {UNITS[case]}" if shown is not None else "ERROR")
                    )
            for key, got in samples.items():
                results[f"{case}|{via}|{key[0]}|{key[1]}"] = best(got)
    return results


def measure_latency(phase: Phase, settings: Settings) -> dict[str, Any]:
    """Sequential small POSTs on one kept-alive connection, per server and client."""
    results: dict[str, Any] = {}
    for key in sorted(phase.servers):
        server = phase.servers[key]
        for via in VIAS:
            try:
                extra = ["--requests", str(settings.requests)]
                got = phase.sample(server, via, "latency", settings, extra)
                timings = sorted(got["latency_ms"])
                got.update(
                    median=statistics.median(timings),
                    p90=timings[int(0.9 * (len(timings) - 1))],
                    stalled=sum(t >= STALL_MS for t in timings) / len(timings),
                )
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                log(f"  ERROR {exc}")
                got = {"error": str(exc)}
            results[f"{via}|{key[0]}|{key[1]}"] = got
            if "median" in got:
                log(
                    f"  {phase.backend:10s} latency {via:6s} {server.label:30s} "
                    f"median {got['median']:.1f} ms, p90 {got['p90']:.1f} ms"
                )
    return results


def fmt(value: float | None) -> str:
    """A figure with thousands separators and sensible precision."""
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def render(header: list[str], body: list[list[str]], numeric: set[int]) -> str:
    """A plain-text table, numbers right-aligned."""
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        parts = (
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, body)])


def throughput_table(
    results: dict[str, Any], rows: list[tuple[str, dict[str, int]]]
) -> tuple[str, bool]:
    """case, client, setting, MLflow, runstack, ratios, target, result; and whether all pass."""
    body, ok = [], True
    for case in CASES:
        for via in VIAS:
            for setting, counts in rows:
                got = {impl: results[f"{case}|{via}|{impl}|{counts[impl]}"] for impl in IMPLS}
                values = {impl: got[impl].get("value") for impl in IMPLS}
                mlflow, runstack = values["mlflow"], values["runstack"]
                ratio = median_ratio = None
                if mlflow and runstack:
                    ratio = runstack / mlflow
                    median_ratio = got["runstack"]["median"] / got["mlflow"]["median"]
                if any("error" in g for g in got.values()):
                    verdict = "ERROR"
                elif not all(g.get("check") for g in got.values()):
                    verdict = "FAIL (check)"
                else:
                    verdict = "PASS" if ratio is not None and ratio >= TARGET else "FAIL"
                ok &= verdict == "PASS"
                body.append([
                    case, UNITS[case], "own client" if via == "client" else "raw HTTP", setting,
                    fmt(mlflow), fmt(runstack),
                    "-" if ratio is None else f"{ratio:,.1f}x",
                    "-" if median_ratio is None else f"{median_ratio:,.1f}x",
                    f">= {TARGET:g}x", verdict,
                ])  # fmt: skip
    header = [
        "case", "unit", "client", "setting", "MLflow", "runstack", "ratio", "ratio(med)",
        "target", "result",
    ]  # fmt: skip
    return render(header, body, {4, 5, 6, 7}), ok


def time_table(results: dict[str, Any], phase: Phase, keys: list[tuple[str, int]]) -> str:
    """Where one operation's time goes, in the best sample: wall time, then CPU time of the
    client process, the server's processes and PostgreSQL's backends; the rest is waiting
    (commit fsync, a CPU busy with other work, the delayed-ACK stall)."""
    body = []
    for case in CASES:
        for via in VIAS:
            for impl, workers in keys:
                got = results[f"{case}|{via}|{impl}|{workers}"]
                if "error" in got:
                    continue
                per_op = 1000.0 / got["iterations"]
                parts = [
                    got[name] * per_op
                    for name in (
                        "elapsed", "client_cpu_seconds", "server_cpu_seconds",
                        "database_cpu_seconds",
                    )
                ]  # fmt: skip
                rest = parts[0] - sum(parts[1:])
                body.append([
                    case, "own client" if via == "client" else "raw HTTP",
                    phase.servers[(impl, workers)].label,
                    *(f"{v:.2f}" for v in [*parts, rest]),
                ])  # fmt: skip
    header = ["case", "client", "server", "wall", "client CPU", "server CPU", "db CPU", "rest"]
    return render(header, body, {3, 4, 5, 6, 7})


def throughput_keys(rows: list[tuple[str, dict[str, int]]]) -> list[tuple[str, int]]:
    """The (implementation, workers) servers that the throughput rows compare."""
    return sorted({(impl, n) for _, counts in rows for impl, n in counts.items()})


def latency_table(results: dict[str, Any], phase: Phase) -> tuple[str, bool]:
    """Median / p90 per request and the share of stalled requests; runstack must not stall."""
    body, ok = [], True
    for key in sorted(phase.servers):
        for via in VIAS:
            got = results[f"{via}|{key[0]}|{key[1]}"]
            label = phase.servers[key].label
            client = f"{key[0]} client" if via == "client" else "raw HTTP"
            if "error" in got:
                body.append([label, client, "-", "-", "-", "ERROR"])
                ok &= key[0] != "runstack"
                continue
            stalls = got["stalled"] >= STALL_SHARE
            if key[0] == "runstack":
                verdict = "FAIL (stalls)" if stalls else "PASS"
                ok &= not stalls
            else:
                verdict = "stalls" if stalls else "no stall"
            body.append([
                label, client, f"{got['median']:.2f}", f"{got['p90']:.2f}",
                f"{got['stalled']:.0%}", verdict,
            ])  # fmt: skip
    header = ["server", "client", "median ms", "p90 ms", f">= {STALL_MS:g} ms", "result"]
    return render(header, body, {2, 3, 4}), ok


def run_backend(
    backend: str,
    defaults: dict[str, int],
    pythons: dict[str, Path],
    settings: Settings,
    base_env: dict[str, str],
) -> tuple[str, bool, dict[str, Any]]:
    """Start the servers on fresh stores of one backend kind, measure, stop; the report."""
    from bench_core import WORK_ROOT

    WORK_ROOT.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"server-{backend}-", dir=WORK_ROOT))
    rows = settings_rows(defaults)
    counts = {(impl, n) for _, c in rows for impl, n in c.items()}
    counts |= {(impl, n) for impl in IMPLS for n in (1, SEVERAL)}
    databases = Databases()
    servers: dict[tuple[str, int], Server] = {}
    load0 = os.getloadavg()[0]
    try:
        for impl, n in sorted(counts):
            folder = work / f"{impl}-w{n}"
            folder.mkdir()
            if backend == "sqlite":
                uri = f"sqlite:///{folder / 'db.sqlite'}"
            else:
                uri = databases.create(f"{impl}_w{n}")
            server = Server(impl, n, n == defaults[impl], uri, folder)
            servers[(impl, n)] = server
            start(server, pythons["mlflow"], base_env)
        t0 = time.monotonic()
        for server in servers.values():
            wait_ready(server, t0 + START_TIMEOUT)
        log(f"{backend}: {len(servers)} servers ready after {time.monotonic() - t0:.0f} s")
        phase = Phase(backend, servers, pythons, base_env, work)
        throughput = measure_throughput(phase, settings, rows)
        latency = measure_latency(phase, settings)
    finally:
        for server in servers.values():
            stop(server)
        if databases.names:
            databases.drop_all()
        shutil.rmtree(work, ignore_errors=True)
    load1 = os.getloadavg()[0]
    table, ok_t = throughput_table(throughput, rows)
    lat_table, ok_l = latency_table(latency, phase)
    name = "SQLite (a fresh file per server)"
    if backend == "postgresql":
        name = f"PostgreSQL {databases.version} (a fresh database per server, 127.0.0.1)"
    text = "\n".join([
        f"== {name}; 1-min load average {load0:.2f} before, {load1:.2f} after",
        "",
        f"Throughput: best of {settings.repeat} fresh client process(es), each >= "
        f"{settings.seconds:g} s and >= {settings.min_iters} iterations; ratio = runstack / "
        "MLflow (best), ratio(med) = of the medians",
        table,
        "",
        "Where the time goes: ms per operation in the best sample; CPU of the client "
        "process, of all the server's processes, of PostgreSQL's backends; rest = wall - CPU:",
        "waiting (fsync, other work, delayed ACK), negative when server and database overlap",
        time_table(throughput, phase, throughput_keys(rows)),
        "",
        f"Delayed-ACK check: {settings.requests} sequential log-metric requests on one kept-alive "
        f"connection after 10 warm-up; a request >= {STALL_MS:g} ms counts as stalled",
        lat_table,
    ])  # fmt: skip
    report = {"load_average_1min": [load0, load1], "throughput": throughput, "latency": latency}
    report["servers"] = {s.label: s.uri for s in servers.values()}
    return text, ok_t and ok_l, report


def versions(pythons: dict[str, Path]) -> dict[str, str]:
    """Library, web-server and driver versions as each interpreter sees them."""
    code = (
        "import importlib.metadata as m, sqlite3, sys\n"
        "def v(n):\n"
        "    try: return m.version(n)\n"
        "    except m.PackageNotFoundError: return '-'\n"
        "print(sys.argv[1], v(sys.argv[1]), 'uvicorn', v('uvicorn'), 'starlette',"
        " v('starlette'), 'requests', v('requests'), 'psycopg2',"
        " v('psycopg2-binary'), 'psycopg', v('psycopg'), 'sqlite', sqlite3.sqlite_version,"
        " 'python', sys.version.split()[0])"
    )
    out = {}
    for impl, python in pythons.items():
        proc = subprocess.run(
            [str(python), "-c", code, impl], capture_output=True, text=True, check=True
        )
        out[impl] = proc.stdout.strip()
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (rough figures)")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql", "both"], default="both",
        help="backend kind(s) to measure (default both)",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, help="samples per line (default 3, --quick 1)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every figure")
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str]) -> int:
    """Measure each backend kind, print its tables, optionally write JSON."""
    if argv[:1] == ["_child"]:
        child_main(argv[1:])
        return 0
    args = parse_args(argv)
    settings = (
        Settings(seconds=0.5, min_iters=5, repeat=args.repeat or 1, requests=50)
        if args.quick
        else Settings(seconds=2.0, min_iters=10, repeat=args.repeat or 3, requests=200)
    )
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    from bench_core import BenchError, child_env, ensure_mlflow_venv

    try:
        pythons = {"mlflow": ensure_mlflow_venv(), "runstack": Path(sys.executable)}
        if "postgresql" in backends:
            ensure_pg_driver(pythons["mlflow"])
        defaults = {
            "mlflow": default_workers(
                [str(pythons["mlflow"].parent / "mlflow"), "server", "--help"]
            ),
            "runstack": default_workers([str(runstack_tool()), "server", "--help"]),
        }
        found = versions(pythons)
    except (BenchError, RuntimeError, subprocess.CalledProcessError) as exc:
        log(f"bench_server: cannot start: {exc}")
        return 2
    started, load0 = time.time(), os.getloadavg()[0]
    header = [
        f"bench_server ({'quick' if args.quick else 'full'}): `runstack server` vs `mlflow server`,"
        f" same machine, same run ({os.cpu_count()} CPUs)",
        *(f"  {line}" for line in found.values()),
        f"  default workers: mlflow server {defaults['mlflow']}, runstack server "
        f"{defaults['runstack']}"
        + ("  (runstack's default is --workers 1: one server serves both settings)"
           if defaults["runstack"] == 1 else ""),
    ]  # fmt: skip
    print("\n".join(header), flush=True)
    ok, report = True, {}
    for backend in backends:
        try:
            text, passed, report[backend] = run_backend(
                backend, defaults, pythons, settings, child_env()
            )
        except Exception as exc:  # a backend that cannot run is reported, the next one runs
            log(f"bench_server: {backend}: {exc}")
            text, passed, report[backend] = f"== {backend}: ERROR {exc}", False, {"error": str(exc)}
        print("\n" + text, flush=True)
        ok &= passed
    load1 = os.getloadavg()[0]
    print(
        f"\n1-min load average {load0:.2f} at start, {load1:.2f} at end; "
        f"{time.time() - started:.0f} s; overall {'PASS' if ok else 'FAIL'}"
    )
    if args.json:
        payload = {
            "settings": asdict(settings),
            "defaults": defaults,
            "versions": found,
            "started": started,
            "load_average_1min": [load0, load1],
            "results": report,
        }
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
