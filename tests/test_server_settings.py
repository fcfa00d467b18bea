"""Server settings live on the app (``create_app(..., ServerSettings(...))``, ``app.settings``),
not in module globals: two apps in one process each answer with their own limits."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from runstack import settings
from runstack.server.app import TrackingApp, create_app
from runstack.server.config import ServerSettings
from test_server_dispatch import serving

INFO = "/api/2.0/runstack/server-info"
CREATE = "/api/2.0/mlflow/runs/create"


async def _call(app: TrackingApp, method: str, path: str, body: bytes = b"") -> tuple[int, Any]:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


def test_two_apps_keep_their_own_limits(store_uri: str) -> None:
    small = create_app(store_uri, ServerSettings(max_body_bytes=200))
    large = create_app(store_uri, ServerSettings(max_body_bytes=5000))
    assert small.settings.max_body_bytes == 200 and large.settings.max_body_bytes == 5000
    body = json.dumps({"experiment_id": "0", "run_name": "r" * 250}).encode()

    async def scenario() -> list[tuple[int, Any]]:
        async with serving(small), serving(large):
            return [
                await _call(small, "GET", INFO),
                await _call(large, "GET", INFO),
                await _call(small, "POST", CREATE, body),
                await _call(large, "POST", CREATE, body),
            ]

    small_info, large_info, refused, created = asyncio.run(scenario())
    assert small_info[1]["max_request_bytes"] == 200
    assert large_info[1]["max_request_bytes"] == 5000
    assert small_info[1]["server"] == "runstack"
    assert refused[0] == 413 and refused[1]["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert created[0] == 200 and created[1]["run"]["info"]["run_name"] == "r" * 250


def test_settings_default_to_the_environment(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(settings.SERVER_MAX_BODY_BYTES.name, "12345")
    monkeypatch.setenv(settings.SERVER_THREADS.name, "3")
    app = create_app(store_uri)
    assert app.settings == ServerSettings(max_body_bytes=12345, threads=3, reap_interval_s=10.0)
    monkeypatch.delenv(settings.SERVER_MAX_BODY_BYTES.name)
    monkeypatch.delenv(settings.SERVER_THREADS.name)
    assert create_app(store_uri).settings == ServerSettings()
