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
    from runstack import tracking_uri
    from runstack.settings import TRACKING_URI

    return tracking_uri._explicit_uri is not None or TRACKING_URI.read() is not None
