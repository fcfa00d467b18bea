"""No delayed-ACK stall: with several workers, uvicorn's own listening socket has protocol
number 0, so asyncio leaves Nagle's algorithm on and each kept-alive request waits ~40 ms for
the client's delayed ACK. `runstack server` sets TCP_NODELAY on every connection itself."""

from __future__ import annotations

import socket
import statistics
import sys
import time
from pathlib import Path

import httpx
import pytest

from runstack.server.tcp import NoDelayHTTPProtocol, bind, set_nodelay
from test_server_scale import served

REQUESTS = 60


def _median_ms(url: str) -> float:
    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    with httpx.Client(transport=transport, base_url=url) as client:
        run = client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"})
        run_id = run.json()["run"]["info"]["run_id"]
        timings = []
        for i in range(REQUESTS):
            started = time.perf_counter()
            body = {"run_id": run_id, "key": "m", "value": i, "timestamp": i}
            response = client.post("/api/2.0/mlflow/runs/log-metric", json=body)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
    return statistics.median(timings)


@pytest.mark.slow
def test_two_workers_answer_kept_alive_requests_without_stalling(tmp_path: Path) -> None:
    with served(f"sqlite:///{tmp_path}/nodelay.db", workers=2) as url:
        median = _median_ms(url)
    print(f"runstack server, 2 workers: median {median:.2f} ms per request", file=sys.stderr)
    assert median < 20, f"median {median:.1f} ms per request: the delayed-ACK stall is back"


def test_the_protocol_sets_nodelay_on_sockets_without_a_tcp_protocol_number() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # proto 0, as uvicorn's
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    try:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        set_nodelay(accepted)
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        for sock in (client, accepted, listener):
            sock.close()
    assert issubclass(NoDelayHTTPProtocol, object)
    with bind("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP
