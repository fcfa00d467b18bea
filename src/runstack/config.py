"""MLflow's ``mlflow.config``: process-wide switches, as functions.

``enable_async_logging`` sets ``MLFLOW_ENABLE_ASYNC_LOGGING`` (for this process and its
children), which makes ``synchronous=None`` logging calls queue their writes
(``flush_async_logging`` waits for them). The tracking-URI functions are the same as
``runstack``'s. System metrics and the model registry are not provided.
"""

from __future__ import annotations

from runstack.settings import ASYNC_LOGGING
from runstack.tracking_uri import get_tracking_uri, is_tracking_uri_set, set_tracking_uri

__all__ = ["enable_async_logging", "get_tracking_uri", "is_tracking_uri_set", "set_tracking_uri"]


def enable_async_logging(enable: bool = True) -> None:
    """Make logging calls without ``synchronous=`` asynchronous (or, with False, not)."""
    ASYNC_LOGGING.export("true" if enable else "false")
