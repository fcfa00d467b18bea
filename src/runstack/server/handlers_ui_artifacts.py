"""The endpoints that read a run's artifacts through the run's own artifact repository: the run
page's (``/api/2.0/runstack/ui/artifacts/...``: one folder, one file's bytes) and MLflow's
``artifacts/list`` (one folder, as MLflow's server answers it).

A run whose artifact URI is ``mlflow-artifacts:`` is read from this server's artifacts
destination (as ``runstack gc`` maps it, ``artifacts.cleanup.resolve``). Files are sent a block
at a time with the artifact proxy's headers (``server.artifacts.download_headers``): the type
with ``nosniff``, a sandboxing CSP, and anything active (HTML, SVG, ...) as an attachment, so a
file can never run script in the UI's origin. ``max_bytes`` sends only the start of a file, for
previews; the whole size is then in ``X-Artifact-Size``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from runstack.artifacts.cleanup import resolve
from runstack.artifacts.paths import safe_file_name, safe_relative_path
from runstack.artifacts.registry import repository_for, scheme_of
from runstack.artifacts.repository import ArtifactRepository
from runstack.errors import InvalidParameterError
from runstack.server.artifacts import BLOCK, download_headers, open_for_download
from runstack.server.endpoints import GET, RUNSTACK_PREFIX, Endpoint, Handler
from runstack.server.fields import INT64, STRING, Field
from runstack.store.base import Store
from runstack.validation import validate_run_id

MAX_LIST = 10_000
_READABLE = ("", "file", "s3")
MAX_PREVIEW_BYTES = 1 << 40
LIST_PATH = "ui/artifacts/list"
GET_PATH = "ui/artifacts/get"


def run_repository(store: Store, run_id: str, destination: str | None) -> ArtifactRepository:
    """The repository of the run's artifacts (404 for an unknown run)."""
    return _run_artifacts(store, run_id, destination)[1]


def _run_artifacts(
    store: Store, run_id: str, destination: str | None
) -> tuple[str, ArtifactRepository]:
    """The run's artifact URI and the repository that reads it."""
    run = store.get_run(validate_run_id(run_id))
    uri = run.info.artifact_uri
    if scheme_of(uri) == "mlflow-artifacts" and destination is None:
        raise InvalidParameterError(
            f"Run {run_id!r} keeps its artifacts at {uri!r}, served by a tracking server with "
            "an artifacts destination; this server was started with --no-serve-artifacts."
        )
    storage = resolve(uri, destination)
    if scheme_of(storage) not in _READABLE:
        # An http(s) location would have this server fetch from another host on request.
        raise InvalidParameterError(
            f"Run {run_id!r} keeps its artifacts at {uri!r}; this server reads only local "
            "folders, S3 and its own artifacts destination."
        )
    return uri, repository_for(storage)


def _list(destination: str | None) -> Handler:
    def handler(store: Store, args: dict[str, Any]) -> dict[str, Any]:
        relative = safe_relative_path(args["path"])
        repository = run_repository(store, args["run_id"], destination)
        infos = repository.list(relative or None)
        files = [
            {"path": info.path, "is_dir": info.is_dir, "file_size": info.file_size}
            for info in infos[:MAX_LIST]
        ]
        return {"files": files, "truncated": len(infos) > MAX_LIST}

    return handler


def _blocks(stream: Any, size: int) -> Iterator[bytes]:
    """``size`` bytes of ``stream`` a block at a time; the stream is closed at the end (or when
    the response is abandoned and the generator closed)."""
    try:
        sent = 0
        while sent < size:
            block = stream.read(min(BLOCK, size - sent))
            if not block:
                return  # the file shrank while being sent: the client sees a short body
            sent += len(block)
            yield block
    finally:
        stream.close()


def _get(destination: str | None) -> Handler:
    def handler(store: Store, args: dict[str, Any]) -> Response:
        relative = safe_file_name(args["path"] or "")
        limit = args["max_bytes"]
        if limit is not None and not 1 <= limit <= MAX_PREVIEW_BYTES:
            raise InvalidParameterError(
                f"Invalid value {limit} for parameter 'max_bytes': it must be between 1 and "
                f"{MAX_PREVIEW_BYTES}."
            )
        repository = run_repository(store, args["run_id"], destination)
        stream, size = open_for_download(repository, relative)
        sent = size if limit is None else min(size, limit)
        headers = {
            name.decode(): value.decode()
            for name, value in download_headers(relative.rsplit("/", 1)[-1], sent)
        }
        headers["x-artifact-size"] = str(size)
        kind = headers.pop("content-type")
        return StreamingResponse(_blocks(stream, sent), headers=headers, media_type=kind)

    return handler


def _mlflow_list(destination: str | None) -> Handler:
    """MLflow's ``artifacts/list``: paths relative to the run's root, no size for a folder,
    ``files`` left out when there are none (proto3 JSON)."""

    def handler(store: Store, args: dict[str, Any]) -> dict[str, Any]:
        relative = safe_relative_path(args["path"])
        root_uri, repository = _run_artifacts(store, args["run_id"], destination)
        files = []
        for info in repository.list(relative or None):
            entry: dict[str, Any] = {"path": info.path, "is_dir": info.is_dir}
            if not info.is_dir:
                entry["file_size"] = info.file_size
            files.append(entry)
        return {"root_uri": root_uri, "files": files} if files else {"root_uri": root_uri}

    return handler


_RUN = Field("run_id", STRING, required=True, doc="The run.")


def mlflow_list_endpoint(destination: str | None) -> Endpoint:
    """MLflow's ``GET artifacts/list`` as a server with this artifacts ``destination`` answers
    it."""
    return Endpoint(
        "artifacts/list",
        GET,
        (
            Field("run_id", STRING, required=True, doc="The run.", alias="run_uuid"),
            Field("path", STRING, doc='A folder of the run\'s artifacts ("" the root).'),
            Field("page_token", STRING, doc="Accepted and ignored: one page holds every entry."),
        ),
        _mlflow_list(destination),
        "The direct children of one folder of a run's artifacts (MLflow's ListArtifacts).",
        "{root_uri, files: [{path, is_dir, file_size}]}: paths relative to the run's artifact "
        "root, no file_size for a folder, no files key for an empty or missing folder",
    )


def artifact_endpoints(destination: str | None) -> tuple[Endpoint, ...]:
    """The endpoints as a server with this artifacts ``destination`` answers them."""
    return (
        mlflow_list_endpoint(destination),
        Endpoint(
            LIST_PATH,
            GET,
            (_RUN, Field("path", STRING, doc='A folder of the run\'s artifacts ("" the root).')),
            _list(destination),
            "The direct children of one folder of a run's artifacts, sorted by path.",
            "{files: [{path, is_dir, file_size}], truncated}: paths relative to the run's "
            f"artifact root; at most {MAX_LIST} entries",
            RUNSTACK_PREFIX,
        ),
        Endpoint(
            GET_PATH,
            GET,
            (
                _RUN,
                Field("path", STRING, required=True, doc="A file of the run's artifacts."),
                Field("max_bytes", INT64, doc="Send only the first max_bytes bytes (previews)."),
            ),
            _get(destination),
            "One artifact file's bytes, streamed, with safe download headers.",
            "the file's bytes, typed by its name, with X-Content-Type-Options: nosniff and a "
            "sandboxing CSP; HTML, SVG and other active types as attachments; X-Artifact-Size "
            "the whole size",
            RUNSTACK_PREFIX,
            media_type="*/*",
        ),
    )


# As documented (the app registers them with its own destination).
ENDPOINTS = artifact_endpoints(None)
