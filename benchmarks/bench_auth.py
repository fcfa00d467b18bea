"""The cost of authentication on logging: `runstack server --auth` against `runstack server`.

Usage::

    .venv/bin/python benchmarks/bench_auth.py [--backend sqlite|postgresql] [--samples N]
                                              [--requests N]

Starts two servers with the command-line tool (one with ``--auth`` and a user with a grant,
one without), each over its own fresh store, then sends ``runs/log-metric`` requests one at a
time over one raw keep-alive ``http.client`` connection, as ``bench_server.py``'s raw case
does, alternating the servers sample by sample. Prints the median time per request of each
and the overhead of authentication (target: at most 10%): after the first request, a
verified credential is served from the server's cache, and the run's experiment and the
user's grants from the permission caches.

Exit status: 0 when the overhead is within the target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

API = "/api/2.0/mlflow/"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
USER, PASSWORD = "bench", "bench password"
TARGET = 0.10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_store(backend: str, folder: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}"
    name = f"bench_auth_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def drop_store(uri: str) -> None:
    if uri.startswith("postgresql"):
        engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {uri.rsplit('/', 1)[1]}"))
        engine.dispose()


def start(uri: str, auth: bool) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    runstack = str(Path(sys.executable).with_name("runstack"))
    command = [runstack, "server", "--backend-store-uri", uri]
    command += ["--port", str(port)] + (["--auth"] if auth else [])
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(2)


class Client:
    def __init__(self, port: int, auth: bool) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port)
        self.headers = {"Content-Type": "application/json"}
        if auth:
            pair = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            self.headers["Authorization"] = f"Basic {pair}"

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.connection.request("POST", API + path, json.dumps(body), self.headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise SystemExit(f"{path}: {response.status} {data[:200]!r}")
        result: dict[str, Any] = json.loads(data)
        return result


def sample(client: Client, run_id: str, requests: int, step: int) -> float:
    """Seconds per log-metric request."""
    client.connection.close()  # idle past the server's --idle-timeout since the last sample
    client.post("runs/log-metric", {"run_id": run_id, "key": "w", "value": 0, "timestamp": 1})
    began = time.perf_counter()
    for i in range(requests):
        body = {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": step + i}
        client.post("runs/log-metric", body)
    return (time.perf_counter() - began) / requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--admin", action="store_true", help="sign in as an admin (no permission lookups)"
    )
    args = parser.parse_args()
    from runstack.auth.permissions import Permission
    from runstack.auth.store import AuthStore

    with tempfile.TemporaryDirectory() as folder:
        servers, clients, runs, uris = {}, {}, {}, []
        try:
            for auth in (False, True):
                uri = fresh_store(args.backend, Path(folder))
                uris.append(uri)
                store = AuthStore.open(uri)
                store.create_user(USER, PASSWORD, is_admin=args.admin)
                store.grant("0", USER, Permission.EDIT)
                store.close()
                servers[auth], port = start(uri, auth)
                clients[auth] = Client(port, auth)
                made = clients[auth].post("runs/create", {"experiment_id": "0"})
                runs[auth] = made["run"]["info"]["run_id"]
                sample(clients[auth], runs[auth], 100, 0)  # warm up (and fill the caches)
            times: dict[bool, list[float]] = {False: [], True: []}
            for n in range(args.samples):
                for auth in (False, True) if n % 2 == 0 else (True, False):
                    step = (n + 1) * args.requests
                    times[auth].append(sample(clients[auth], runs[auth], args.requests, step))
        finally:
            for process in servers.values():
                process.terminate()
                process.wait(10)
            for uri in uris:
                drop_store(uri)
    plain, authed = statistics.median(times[False]), statistics.median(times[True])
    overhead = authed / plain - 1
    print(f"backend {args.backend}, {args.samples} samples of {args.requests} log-metric requests")
    print(f"without auth: {plain * 1e6:8.0f} µs/request  ({1 / plain:7.0f} values/s)")
    print(f"with --auth:  {authed * 1e6:8.0f} µs/request  ({1 / authed:7.0f} values/s)")
    print(f"overhead:     {overhead * 100:+.1f}% (target: at most +{TARGET * 100:.0f}%)")
    return 0 if overhead <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
