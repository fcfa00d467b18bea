"""MLflow's ``mlflow.tracking`` names: ``MlflowClient`` and the tracking-URI functions.

``from mlflow.tracking import MlflowClient`` becomes ``from runstack.tracking import
MlflowClient``; the client is runstack's ``TrackingClient``.
"""

from __future__ import annotations

from runstack.client import MlflowClient, TrackingClient
from runstack.tracking_uri import get_tracking_uri, set_tracking_uri

__all__ = [
    "MlflowClient",
    "TrackingClient",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "set_tracking_uri",
]


def is_tracking_uri_set() -> bool:
    """Whether a tracking URI was chosen (``set_tracking_uri`` or ``MLFLOW_TRACKING_URI``)."""
    import os

    from runstack import tracking_uri

    return tracking_uri._explicit_uri is not None or bool(
        os.environ.get(tracking_uri.TRACKING_URI_ENV)
    )
