"""Stopping a request's database work when its client goes away.

A search whose client disconnected (closed the tab, hit Ctrl-C, timed out) has no one left to
answer, yet without this it would keep a worker thread and the database busy until it
finished or hit the statement timeout. While a request's work runs on a worker thread, a task
on the event loop waits for ASGI's ``http.disconnect`` and then cancels the bounded statements
of that request (``statement_timeout.Cancellation``); other statements finish normally.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.types import Receive

from runstack.store.sql.statement_timeout import Cancellation, current_cancellation

T = TypeVar("T")


async def cancel_on_disconnect(receive: Receive, cancellation: Cancellation) -> None:
    """Cancel when the client disconnects. Call it once the request body has been read (the
    next ASGI message is then the disconnect; a GET's empty body may come first); cancel this
    task when the work is done. Any other message ends the watch rather than spin on a
    server that answers ``receive`` without waiting."""
    for _ in range(2):
        message = await receive()
        if message["type"] == "http.disconnect":
            cancellation.cancel()
            return
        if message.get("more_body"):
            return


def call_cancellable(cancellation: Cancellation, function: Callable[..., T], *args: Any) -> T:
    """Run ``function`` (on a worker thread) with ``cancellation`` as its request's."""
    token = current_cancellation.set(cancellation)
    try:
        return function(*args)
    finally:
        current_cancellation.reset(token)
