"""Where the server runs a request's store call (``app.answer``).

On PostgreSQL, a quick request (start or end a run, log one value) that is the only request in
the process is answered on the event loop, saving the hand-off to a thread and back. Requests
that arrive together must still run side by side on worker threads, and SQLite calls (which
may wait seconds for another process's write lock) must never run on the loop. The ASGI app is
called directly, so that "together" means the same turn of the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from runstack.server import app as app_module
from runstack.server.app import TrackingApp, create_app
from runstack.store.base import Store

API = "/api/2.0/mlflow/"


async def request(
    app: TrackingApp, method: str, path: str, body: dict[str, Any] | None = None, query: str = ""
) -> dict[str, Any]:
    """One request through the ASGI interface; its body arrives whole, without waiting."""
    scope = {
        "type": "http",
        "method": method,
        "path": API + path,
        "headers": [(b"content-type", b"application/json")],
        "query_string": query.encode(),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": json.dumps(body or {}).encode(), "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["status"] == 200, sent
    answer: dict[str, Any] = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    return answer


async def new_run(app: TrackingApp) -> str:
    created = await request(app, "POST", "runs/create", {"experiment_id": "0"})
    run_id: str = created["run"]["info"]["run_id"]
    return run_id


async def log_value(app: TrackingApp, run_id: str, step: int) -> None:
    body = {"run_id": run_id, "key": "loss", "value": step / 10, "timestamp": 1, "step": step}
    await request(app, "POST", "runs/log-metric", body)


@contextlib.asynccontextmanager
async def serving(app: TrackingApp) -> AsyncIterator[None]:
    """The app's lifespan: its store opened at startup and closed at shutdown."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))  # type: ignore[arg-type]
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
        await task


def test_quick_requests_run_on_the_loop_only_alone_and_only_on_postgresql(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    logged_on: list[str] = []
    open_store = app_module.open_store

    def recording_store(uri: str) -> Store:
        store = open_store(uri)
        log_batch = store.log_batch

        def recorded(*args: Any) -> None:
            logged_on.append(threading.current_thread().name)
            log_batch(*args)

        monkeypatch.setattr(store, "log_batch", recorded)
        return store

    monkeypatch.setattr(app_module, "open_store", recording_store)
    app = create_app(store_uri)

    async def scenario() -> str:
        async with serving(app):
            run_id = await new_run(app)
            await log_value(app, run_id, 0)  # alone
            await asyncio.gather(*(log_value(app, run_id, step) for step in range(1, 5)))
            await log_value(app, run_id, 5)  # alone again
        return threading.current_thread().name

    loop_thread = asyncio.run(scenario())
    assert len(logged_on) == 6
    assert all(name.startswith("runstack-api") for name in logged_on[1:5]), logged_on
    alone = [logged_on[0], logged_on[-1]]
    if store_uri.startswith("postgresql"):
        assert alone == [loop_thread, loop_thread], logged_on
    else:
        assert all(name.startswith("runstack-api") for name in alone), logged_on


def test_values_logged_on_the_loop_and_on_threads_are_all_stored(store_uri: str) -> None:
    app = create_app(store_uri)

    async def scenario() -> list[int]:
        async with serving(app):
            run_id = await new_run(app)
            for step in range(3):
                await log_value(app, run_id, step)
            await asyncio.gather(*(log_value(app, run_id, step) for step in range(3, 10)))
            await request(app, "POST", "runs/update", {"run_id": run_id, "status": "FINISHED"})
            query = f"run_id={run_id}&metric_key=loss"
            history = await request(app, "GET", "metrics/get-history", query=query)
        return sorted(point["step"] for point in history["metrics"])

    assert asyncio.run(scenario()) == list(range(10))
