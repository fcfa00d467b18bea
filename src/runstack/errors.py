"""runstack's exceptions: one tree, each class carrying an MLflow error code and an HTTP status.

::

    RunstackError                      base: ``error_code``, ``http_status``; alias MlflowException
    ├── InvalidParameterError          INVALID_PARAMETER_VALUE, 400: a bad value from the caller
    │   ├── SettingError               an environment variable breaks its rule (runstack.settings)
    │   ├── LocalPathNotFoundError     a file or folder to log is missing (also FileNotFoundError)
    │   ├── SearchTimeoutError         a search stopped by the statement timeout (not retried)
    │   └── FilterSyntaxError          a malformed filter, with the position of the fault (UI API)
    ├── ResourceNotFoundError          RESOURCE_DOES_NOT_EXIST, 404: no such run/experiment/tag
    ├── ResourceAlreadyExistsError     RESOURCE_ALREADY_EXISTS, 400 (as MLflow): a name is taken
    ├── InvalidStateError              INVALID_STATE, 400: the object is in the wrong state
    │   └── RunAlreadyActiveError      start_run() while a run is active and nested=False
    ├── StoreUnavailableError          TEMPORARILY_UNAVAILABLE, 503: the database cannot be reached
    ├── NotImplementedByRunstack       NOT_IMPLEMENTED, 501: an MLflow feature runstack lacks
    └── ApiError                       its own code and status: the HTTP request itself is
                                       wrong (no such endpoint 404, wrong method 405, body
                                       not a JSON object 400, body too large 413)

The server answers every one of them as MLflow's JSON error ``{"error_code", "message"}``
with the class's HTTP status; anything else that escapes a handler is a logged 500.

Messages say what was wrong, with the offending value, and what to do instead. They never
contain SQL or database driver text.
"""

from __future__ import annotations

from typing import Any

# error_code -> HTTP status, as MLflow's REST API maps them.
HTTP_STATUS_BY_CODE: dict[str, int] = {
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "MALFORMED_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "NOT_FOUND": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_CONFLICT": 409,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "INTERNAL_ERROR": 500,
    "INVALID_STATE": 400,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
}


class RunstackError(Exception):
    """Base of every error runstack raises on purpose."""

    default_error_code = "INTERNAL_ERROR"

    def __init__(self, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code or self.default_error_code

    @property
    def http_status(self) -> int:
        return HTTP_STATUS_BY_CODE.get(self.error_code, 500)

    def to_dict(self) -> dict[str, str]:
        """The JSON error body of MLflow's REST API."""
        return {"error_code": self.error_code, "message": self.message}

    # MLflow's MlflowException methods, for code that calls them.
    def get_http_status_code(self) -> int:
        return self.http_status

    def serialize_as_json(self) -> str:
        import json

        return json.dumps(self.to_dict())

    @classmethod
    def invalid_parameter_value(cls, message: str) -> RunstackError:
        """MLflow's constructor for an INVALID_PARAMETER_VALUE error."""
        return InvalidParameterError(message)


class InvalidParameterError(RunstackError):
    default_error_code = "INVALID_PARAMETER_VALUE"


class SettingError(InvalidParameterError):
    """An environment variable whose value breaks its rule; names the variable, the value
    and the rule."""

    def __init__(self, name: str, value: str, rule: str) -> None:
        super().__init__(f"{name}={value!r} is invalid: it must be {rule}. Fix or unset it.")
        self.name = name
        self.value = value
        self.rule = rule


class LocalPathNotFoundError(InvalidParameterError, FileNotFoundError):
    """A file or folder to log that does not exist. Also a ``FileNotFoundError``, which is
    what MLflow raises there, so scripts that catch that still catch it."""


class SearchTimeoutError(InvalidParameterError):
    """A search that ran longer than the store's statement timeout and was stopped: a 400,
    since the same search would be stopped again (clients do not retry it)."""


class FilterSyntaxError(InvalidParameterError):
    """A malformed filter; the JSON error also carries the 0-based character position, so
    the page can put a caret under the filter box."""

    def __init__(self, message: str, position: int | None) -> None:
        super().__init__(message)
        self.position = position

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = dict(super().to_dict())
        if self.position is not None:
            body["position"] = self.position
        return body


class ResourceNotFoundError(RunstackError):
    default_error_code = "RESOURCE_DOES_NOT_EXIST"


class ResourceAlreadyExistsError(RunstackError):
    default_error_code = "RESOURCE_ALREADY_EXISTS"


class InvalidStateError(RunstackError):
    default_error_code = "INVALID_STATE"


class RunAlreadyActiveError(InvalidStateError):
    """``start_run()`` while a run is active in this context and ``nested`` is false."""


class StoreUnavailableError(RunstackError):
    default_error_code = "TEMPORARILY_UNAVAILABLE"


class NotImplementedByRunstack(RunstackError):
    """A request for something MLflow has and runstack does not (logged-model inputs)."""

    default_error_code = "NOT_IMPLEMENTED"


class ApiError(RunstackError):
    """An error about the HTTP request itself, with its own status."""

    def __init__(self, message: str, error_code: str, status: int) -> None:
        super().__init__(message, error_code)
        self.status = status

    @property
    def http_status(self) -> int:
        return self.status


# MLflow's name for the base class, so ``except mlflow.MlflowException`` keeps working.
MlflowException = RunstackError
