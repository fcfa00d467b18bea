"""What an endpoint is: a path, its methods, its request fields and a handler.

Handlers are plain synchronous functions of (store, parsed fields) returning the JSON body;
the app runs them in a worker thread, because store calls block on the database (or, for a
``quick`` endpoint on PostgreSQL with no other request in the process, on the event loop).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from runstack.server.fields import Field
from runstack.store.base import Store

MLFLOW_PREFIX = "/api/2.0/mlflow/"
# The UI of MLflow calls the same API under this prefix.
AJAX_PREFIX = "/ajax-api/2.0/mlflow/"
# runstack's own additions, needed by its REST store; MLflow's paths stay MLflow-shaped.
RUNSTACK_PREFIX = "/api/2.0/runstack/"
# ... also answered here, beside MLflow's UI prefix (the web UI calls both this way).
RUNSTACK_AJAX_PREFIX = "/ajax-api/2.0/runstack/"
# MLflow 3's auth API (per-user permissions) lives under version 3.0.
MLFLOW_V3_PREFIX = "/api/3.0/mlflow/"
# The key of the signed-in user's name in the args of an endpoint with ``caller``.
CALLER = "__caller__"

# A handler answers a JSON body, or (an endpoint sending bytes) a ready response.
Handler = Callable[[Store, dict[str, Any]], "dict[str, Any] | Response"]


@dataclass(frozen=True)
class Endpoint:
    path: str  # relative to ``prefix``, e.g. "runs/create"
    methods: tuple[str, ...]
    fields: tuple[Field, ...]
    handler: Handler
    summary: str
    response: str  # the response body, described for the OpenAPI document
    prefix: str = MLFLOW_PREFIX
    # One short store call on one run (start, end, one value): the app may answer it on the
    # event loop itself when it is the only request in the process (see app.py).
    quick: bool = False
    # The app adds its limits for clients (``ServerSettings.client_limits``) to the answer.
    reports_limits: bool = False
    # The handler gets the signed-in user's name in ``args[CALLER]`` (None without --auth):
    # the auth API's rules about one's own account (auth_guard.py, handlers_auth.py).
    caller: bool = False

    # A POST that changes nothing (a search): still answered by a --read-only server.
    reads_only: bool = False
    # What a 200 answer is, for the OpenAPI document.
    media_type: str = "application/json"

    @property
    def changes_state(self) -> bool:
        """Whether a --read-only server refuses it: every POST-only endpoint but searches."""
        return "GET" not in self.methods and not self.reads_only

    @property
    def full_path(self) -> str:
        return self.prefix + self.path


GET = ("GET",)
POST = ("POST",)
GET_POST = ("GET", "POST")
