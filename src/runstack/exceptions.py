"""MLflow's ``mlflow.exceptions`` names over runstack's one error tree (``runstack.errors``).

``MlflowException`` is runstack's base error, so ``except MlflowException`` catches every
error runstack raises on purpose. ``RestException`` (what MLflow raises for an error answer
from a tracking server) is the same base: runstack's REST store raises the specific class
for the server's ``error_code``, which ``except RestException`` therefore also catches.
"""

from __future__ import annotations

from runstack.errors import (
    HTTP_STATUS_BY_CODE,
    InvalidParameterError,
    InvalidStateError,
    MlflowException,
    ResourceAlreadyExistsError,
    ResourceNotFoundError,
    RunAlreadyActiveError,
    RunstackError,
    StoreUnavailableError,
)

RestException = RunstackError

__all__ = [
    "HTTP_STATUS_BY_CODE",
    "InvalidParameterError",
    "InvalidStateError",
    "MlflowException",
    "ResourceAlreadyExistsError",
    "ResourceNotFoundError",
    "RestException",
    "RunAlreadyActiveError",
    "RunstackError",
    "StoreUnavailableError",
]
