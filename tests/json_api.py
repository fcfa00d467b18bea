"""A JSON client for tests of a real server on a real socket that checks the error shape of
every answer that is not a 200, so no test can miss a 500 or a traceback in a message.

Shared by the MLflow REST API tests and the web UI data API tests; each says which paths carry
the JSON error shape and which keys an error may have.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TypeVar

import httpx

from runstack.server.background import BackgroundServer

ApiT = TypeVar("ApiT", bound="JsonApi")


class JsonApi:
    """Calls paths below ``prefix`` (or absolute ones) and checks every error answer."""

    prefix = "/"
    timeout_s = 30.0

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=self.timeout_s)

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        path = path if path.startswith("/") else self.prefix + path
        if method == "GET":
            response = self.http.get(path, params=params)
        else:
            response = self.http.request(method, path, json=body)
        if response.status_code != 200 and self.has_json_errors(path):
            self.check_error(response)
        return response

    def has_json_errors(self, path: str) -> bool:
        """Whether an error answer on ``path`` must have the JSON error shape."""
        return True

    def check_error(self, response: httpx.Response) -> None:
        """The JSON error shape, with nothing of the server's insides in the message."""
        assert response.headers["content-type"] == "application/json"
        error = response.json()
        self.check_error_keys(error)
        assert "Traceback" not in error["message"] and "SELECT" not in error["message"]

    def check_error_keys(self, error: dict[str, Any]) -> None:
        assert set(error) == {"error_code", "message"}, error

    def ok(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.call(method, path, body, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def error(self, status: int, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.call(method, path, body, **params)
        assert response.status_code == status, response.text
        return response.json()


@contextlib.contextmanager
def served(api_class: type[ApiT], store_uri: str) -> Iterator[ApiT]:
    """A server on ``store_uri`` in this process and a client of it, both closed afterwards."""
    with BackgroundServer(store_uri) as url:
        api = api_class(url)
        try:
            yield api
        finally:
            api.http.close()
