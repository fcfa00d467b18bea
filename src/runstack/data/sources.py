"""Where a dataset came from, recorded with it as MLflow does: a source type and a JSON text.

``resolve`` turns what a caller gives ``from_pandas(source=...)`` into a source: a URL
(``http``), an ``s3://`` URI, a local path or ``file:`` URI (``local``), or nothing, which
means the code that built the dataset (``code``: the script and user, as a run's tags name
them). ``from_entity`` reads a stored source back (``get_source``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from runstack.errors import InvalidParameterError
from runstack.source_tags import current_user, system_tags
from runstack.tags import SOURCE_NAME, SOURCE_TYPE, USER


class DatasetSource:
    """A dataset's source: a kind (``source_type``) and the fields that locate it."""

    source_type = ""

    def __init__(self, fields: dict[str, Any]) -> None:
        self._fields = dict(fields)

    @classmethod
    def _get_source_type(cls) -> str:
        """MLflow's name for the kind, as stored in the dataset's ``source_type``."""
        return cls.source_type

    def to_dict(self) -> dict[str, Any]:
        return dict(self._fields)

    def to_json(self) -> str:
        return json.dumps(self._fields)

    @classmethod
    def from_dict(cls, fields: dict[str, Any]) -> DatasetSource:
        return cls(fields)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, DatasetSource)
            and type(other) is type(self)
            and other.to_dict() == self.to_dict()
        )

    def __hash__(self) -> int:
        return hash((self.source_type, self.to_json()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._fields!r})"


class CodeDatasetSource(DatasetSource):
    """Built in code: the script and user that built it (``{"tags": {...}}``)."""

    source_type = "code"

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._fields.get("tags") or {})


class LocalArtifactDatasetSource(DatasetSource):
    """A local path or ``file:`` URI (``{"uri": ...}``), kept as given."""

    source_type = "local"

    @property
    def uri(self) -> str:
        return str(self._fields["uri"])


class S3DatasetSource(LocalArtifactDatasetSource):
    """An ``s3://bucket/key`` URI (``{"uri": ...}``)."""

    source_type = "s3"


class HTTPDatasetSource(DatasetSource):
    """An ``http(s)://`` URL (``{"url": ...}``)."""

    source_type = "http"

    @property
    def url(self) -> str:
        return str(self._fields["url"])


_KINDS: dict[str, type[DatasetSource]] = {
    kind.source_type: kind
    for kind in (CodeDatasetSource, LocalArtifactDatasetSource, S3DatasetSource, HTTPDatasetSource)
}


def code_source() -> CodeDatasetSource:
    """The code building the dataset now: the script's name and type, and the user."""
    tags = system_tags()
    return CodeDatasetSource(
        {
            "tags": {
                USER: current_user(),
                SOURCE_NAME: tags[SOURCE_NAME],
                SOURCE_TYPE: tags[SOURCE_TYPE],
            }
        }
    )


def resolve(source: object) -> DatasetSource:
    """The source for a ``source=`` argument (a DatasetSource, a path or URI, or None)."""
    if source is None:
        return code_source()
    if isinstance(source, DatasetSource):
        return source
    if hasattr(source, "__fspath__"):
        source = str(source)
    if not isinstance(source, str) or not source:
        raise InvalidParameterError(
            f"Dataset source {source!r} is neither a path, a URI nor a DatasetSource."
        )
    scheme = urlparse(source).scheme.lower()
    if scheme in ("http", "https"):
        return HTTPDatasetSource({"url": source})
    if scheme == "s3":
        return S3DatasetSource({"uri": source})
    if scheme in ("", "file") or len(scheme) == 1:  # a one-letter scheme is a Windows drive
        return LocalArtifactDatasetSource({"uri": source})
    raise InvalidParameterError(
        f"Dataset source {source!r} has the scheme {scheme!r}; runstack records local paths, "
        "file:, s3:// and http(s):// sources (or pass a DatasetSource)."
    )


def from_entity(source_type: str, source_json: str) -> DatasetSource:
    """A stored source read back: its kind by ``source_type``, its fields from the JSON."""
    try:
        fields = json.loads(source_json)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"Dataset source {source_json!r} is not JSON; it cannot be read back as a source."
        ) from None
    kind = _KINDS.get(source_type)
    if kind is None or not isinstance(fields, dict):
        raise InvalidParameterError(
            f"Dataset source type {source_type!r} is not one runstack reads back "
            f"({', '.join(sorted(_KINDS))})."
        )
    return kind(fields)
