"""MLflow's ``mlflow.tracking`` names: ``MlflowClient`` and the tracking-URI functions.

``from mlflow.tracking import MlflowClient`` becomes ``from runstack.tracking import
MlflowClient``; the client is runstack's ``TrackingClient``.
"""

from __future__ import annotations

from runstack.client import MlflowClient, TrackingClient
from runstack.tracking_uri import get_tracking_uri, is_tracking_uri_set, set_tracking_uri

__all__ = [
    "MlflowClient",
    "TrackingClient",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "set_tracking_uri",
]
