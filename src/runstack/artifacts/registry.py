"""Which repository serves an artifact URI, chosen by its scheme; modules imported on use.

``file:`` URIs and plain paths are local folders; ``s3:`` is S3 (boto3, optional);
``mlflow-artifacts:``, ``http:`` and ``https:`` go through a tracking server.
"""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from runstack.artifacts.repository import ArtifactRepository
from runstack.errors import InvalidParameterError

# scheme -> (module, class). The empty scheme is a plain local path.
_REPOSITORIES: dict[str, tuple[str, str]] = {
    "": ("runstack.artifacts.local", "LocalArtifactRepository"),
    "file": ("runstack.artifacts.local", "LocalArtifactRepository"),
    "s3": ("runstack.artifacts.s3", "S3ArtifactRepository"),
    "mlflow-artifacts": ("runstack.artifacts.http", "HttpArtifactRepository"),
    "http": ("runstack.artifacts.http", "HttpArtifactRepository"),
    "https": ("runstack.artifacts.http", "HttpArtifactRepository"),
}
# The schemes an experiment's artifact location may use (http(s) only through a server).
LOCATION_SCHEMES = ("file", "s3", "mlflow-artifacts")


def scheme_of(uri: str) -> str:
    """The URI's scheme, lower-cased; "" for a plain path (a Windows drive is not a scheme)."""
    scheme = urlsplit(uri).scheme.lower()
    return "" if len(scheme) == 1 else scheme


def repository_for(artifact_uri: str, tracking_uri: str | None = None) -> ArtifactRepository:
    """The repository for ``artifact_uri``; ``tracking_uri`` resolves ``mlflow-artifacts:``."""
    scheme = scheme_of(artifact_uri)
    try:
        module_name, class_name = _REPOSITORIES[scheme]
    except KeyError:
        known = ", ".join(sorted(s for s in _REPOSITORIES if s))
        raise InvalidParameterError(
            f"Unsupported artifact URI {artifact_uri!r}: scheme {scheme!r} is not one of "
            f"{known} (or a local path)."
        ) from None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise  # a dependency of the repository is missing: its own message says which
        raise InvalidParameterError(
            f"Artifact URI {artifact_uri!r}: this runstack has no repository for {scheme!r} URIs."
        ) from None
    cls = getattr(module, class_name)
    if module_name.endswith(".http"):
        repository: ArtifactRepository = cls(artifact_uri, tracking_uri)
    else:
        repository = cls(artifact_uri)
    return repository
