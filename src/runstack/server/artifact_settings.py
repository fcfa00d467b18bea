"""What the server's artifact proxy serves and where: its settings (destination, upload
limit, on or off, passed to worker processes through the environment) and the rules it puts
on experiments (``mlflow-artifacts:`` default locations; client-given locations only under
the destination or the server's working directory).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runstack import settings
from runstack.artifacts.paths import safe_relative_path
from runstack.artifacts.registry import scheme_of
from runstack.errors import InvalidParameterError
from runstack.server.endpoints import Endpoint
from runstack.store.base import Store

DEFAULT_MAX_UPLOAD_BYTES = settings.SERVER_MAX_ARTIFACT_BYTES.default
PROXY_ROOT = "mlflow-artifacts:"


def default_destination(backend_store_uri: str) -> str:
    """``mlartifacts`` beside a SQLite store's file, else in the working directory (as MLflow)."""
    parts = urlsplit(backend_store_uri)
    if parts.scheme.lower().startswith("sqlite"):
        database = parts.path.removeprefix("/")
        if database and database != ":memory:":
            return str(Path(database).absolute().parent / "mlartifacts")
    return str(Path.cwd() / "mlartifacts")


@dataclass(frozen=True)
class ArtifactSettings:
    """Where the server keeps proxied artifacts; ``destination`` None turns the proxy off."""

    destination: str | None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES

    @classmethod
    def create(
        cls,
        backend_store_uri: str,
        destination: str | None = None,
        serve: bool = True,
        max_upload_bytes: int | None = None,
    ) -> ArtifactSettings:
        """Checked settings: a local path (made absolute) or an ``s3://`` URI."""
        limit = DEFAULT_MAX_UPLOAD_BYTES if max_upload_bytes is None else max_upload_bytes
        if limit < 1:
            raise InvalidParameterError(
                f"Artifact upload limit {limit!r}: use a positive number of bytes."
            )
        if not serve:
            return cls(None, limit)
        where = destination or default_destination(backend_store_uri)
        scheme = scheme_of(where)
        if scheme == "file":
            where = urlsplit(where).path
            scheme = ""
        if scheme == "":
            where = str(Path(where).absolute())
        elif scheme != "s3":
            raise InvalidParameterError(
                f"Artifacts destination {where!r}: use a local folder or s3://bucket/prefix "
                f"(scheme {scheme!r} is not served)."
            )
        return cls(where.rstrip("/") or "/", limit)

    @classmethod
    def from_environment(cls, backend_store_uri: str) -> ArtifactSettings:
        """The settings ``runstack server`` passes to its worker processes (``export``)."""
        return cls.create(
            backend_store_uri,
            settings.SERVER_ARTIFACTS_DESTINATION.read(),
            settings.SERVER_SERVE_ARTIFACTS.read(),
            settings.SERVER_MAX_ARTIFACT_BYTES.read(),
        )

    def export(self) -> None:
        """Set the variables ``from_environment`` reads, for this process's workers."""
        settings.SERVER_SERVE_ARTIFACTS.export("false" if self.destination is None else "true")
        settings.SERVER_ARTIFACTS_DESTINATION.export(self.destination or "")
        settings.SERVER_MAX_ARTIFACT_BYTES.export(str(self.max_upload_bytes))


# Experiment locations -------------------------------------------------------------------------


def _inside(location: str, destination: str) -> bool:
    if scheme_of(destination) == "s3":
        if scheme_of(location) != "s3":
            return False
        base, target = urlsplit(destination), urlsplit(location)
        if base.netloc != target.netloc:
            return False
        try:
            inner = safe_relative_path(target.path.lstrip("/"))
        except InvalidParameterError:
            return False
        prefix = safe_relative_path(base.path.lstrip("/"))
        return not prefix or inner == prefix or inner.startswith(prefix + "/")
    path = urlsplit(location).path if scheme_of(location) == "file" else location
    if scheme_of(location) not in ("", "file"):
        return False
    real_base = os.path.realpath(destination)
    real = os.path.realpath(Path(path).absolute())
    return real == real_base or real.startswith(real_base.rstrip(os.sep) + os.sep)


def _under_working_directory(location: str) -> bool:
    """A local location under the server's working directory, where MLflow's own default
    root (``./mlruns``) lives and where a relative location resolves (MLflow's REST tests
    create ``artifact_location="my_location"`` and expect it made absolute there)."""
    return scheme_of(location) in ("", "file") and _inside(location, str(Path.cwd()))


def check_location(location: str | None, settings: ArtifactSettings) -> str | None:
    """With artifacts served, an experiment's location must be an ``mlflow-artifacts:`` URI
    or lie under the destination or the server's working directory: a client cannot point
    runs at ``file:///etc`` or ``../../``."""
    destination = settings.destination
    if destination is None or location is None or location == "":
        return location
    if scheme_of(location) == "mlflow-artifacts":
        parts = urlsplit(location)
        try:
            safe_relative_path(parts.path.lstrip("/"))
        except InvalidParameterError as error:
            raise InvalidParameterError(
                f"Invalid artifact location {location!r}: {error.message}"
            ) from None
        return location
    if _inside(location, destination) or _under_working_directory(location):
        return location
    raise InvalidParameterError(
        f"Invalid artifact location {location!r}: this server serves artifacts from "
        f"{destination}, so a location must be mlflow-artifacts:/<path> or lie under "
        f"{destination} or the server's working directory {Path.cwd()}."
    )


def narrow_endpoints(table: dict[str, Endpoint], settings: ArtifactSettings) -> dict[str, Endpoint]:
    """The endpoint table with ``experiments/create`` checking locations against
    ``settings`` (unchanged when artifacts are not served)."""
    if settings.destination is None:
        return table

    def wrap(handler: Callable[[Store, dict[str, Any]], dict[str, Any]]) -> Any:
        def create(store: Store, args: dict[str, Any]) -> dict[str, Any]:
            location = args.get("artifact_location") or None
            return handler(store, {**args, "artifact_location": check_location(location, settings)})

        return create

    narrowed = dict(table)
    for path, endpoint in table.items():
        if endpoint.path == "experiments/create":
            narrowed[path] = replace(endpoint, handler=wrap(endpoint.handler))
    return narrowed


def serve_store(store: Store, settings: ArtifactSettings) -> Store:
    """With artifacts served, new experiments (and the default one) get
    ``mlflow-artifacts:/<experiment_id>`` locations, as with MLflow's server."""
    if settings.destination is not None and hasattr(store, "artifact_root"):
        store.artifact_root = PROXY_ROOT
    return store
