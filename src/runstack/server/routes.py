"""Every endpoint the server answers, in one tuple (the app and the OpenAPI document use it)."""

from __future__ import annotations

from runstack.server import (
    handlers_auth,
    handlers_experiments,
    handlers_metrics,
    handlers_models,
    handlers_runs,
    handlers_runstack,
    handlers_ui,
    handlers_ui_artifacts,
)
from runstack.server.endpoints import Endpoint

ALL_ENDPOINTS: tuple[Endpoint, ...] = (
    *handlers_experiments.ENDPOINTS,
    *handlers_runs.ENDPOINTS,
    *handlers_metrics.ENDPOINTS,
    *handlers_models.ENDPOINTS,
    *handlers_runstack.ENDPOINTS,
    *handlers_ui.ENDPOINTS,
    *handlers_ui_artifacts.ENDPOINTS,
    *handlers_auth.ENDPOINTS,
)
