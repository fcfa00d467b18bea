"""The server's artifact proxy: MLflow's ``/api/2.0/mlflow-artifacts/artifacts`` routes over a
local folder or an S3 prefix (the artifacts destination).

- ``PUT .../artifacts/<path>`` uploads the request body as the file ``<path>``;
- ``GET .../artifacts/<path>`` downloads it; ``GET .../artifacts?path=<dir>`` lists a folder
  (``{"files": [{"path", "is_dir", "file_size"}]}``, names relative to the folder, as MLflow);
- ``DELETE .../artifacts/<path>`` deletes a file or a folder.

Bodies stream in blocks in both directions, so memory stays constant for any file size: an
upload goes to a temporary file in the destination folder, renamed into place when complete
(for S3, straight to a multipart upload in 8 MiB parts, completed at the end or aborted), a
download is read and sent a block at a time. These routes do not go through the API's 1 MB
JSON body limit; uploads have their own limit (413 past it). Every path is checked with
``runstack.artifacts.paths`` (and, on disk, for symlinks leading out). Downloads carry their
type with ``X-Content-Type-Options: nosniff`` and a sandboxing CSP; anything but plain text,
JSON, CSV and raster images is sent as an attachment, so no artifact can run script in the
server's origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import mimetypes
import os
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote

from runstack.artifacts.paths import safe_file_name, safe_relative_path
from runstack.artifacts.registry import repository_for, scheme_of
from runstack.errors import ApiError, InvalidParameterError, ResourceNotFoundError, RunstackError
from runstack.server.artifact_settings import ArtifactSettings

ROUTES = ("/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/")
_ARTIFACTS = "artifacts"
BLOCK = 1 << 20
_IO_THREADS = 8
# Shown inline (with nosniff): types a browser renders without running anything.
_INLINE_TYPES = frozenset(
    {
        "text/plain",
        "text/csv",
        "text/tab-separated-values",
        "text/markdown",
        "application/json",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/bmp",
    }
)
# MLflow's client falls back to a plain PUT when the answer starts with this.
_NO_MULTIPART = "Multipart upload is not supported for the current artifact repository"

logger = logging.getLogger("runstack.server")
T = TypeVar("T")


class ClientGone(Exception):
    """The client closed the connection mid-upload: nothing to answer."""


# Responses ------------------------------------------------------------------------------------


# The destination's file system is full, or the server's quota or file size limit is reached.
_STORAGE_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _storage_full(error: OSError) -> ApiError:
    """A 507 for an upload the destination had no room for (the partial file is removed)."""
    logger.warning("runstack server: artifact storage is full: %s", error)
    return ApiError(
        f"The server's artifact storage has no room for this upload ({error.strerror});"
        " nothing was stored. Free space at the server's --artifacts-destination.",
        "RESOURCE_EXHAUSTED",
        507,
    )


# MLflow's own text files, which have no extension for ``mimetypes`` to go by.
_TEXT_NAMES = frozenset({"mlmodel", "mlproject"})


def content_type(name: str) -> str:
    if name.rsplit("/", 1)[-1].lower() in _TEXT_NAMES:
        return "text/plain"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def content_disposition(name: str, inline: bool) -> str:
    kind = "inline" if inline else "attachment"
    ascii_name = name.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "")
    ascii_name = "".join(c for c in ascii_name if c.isprintable()) or "download"
    value = f'{kind}; filename="{ascii_name}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def download_headers(name: str, size: int) -> list[tuple[bytes, bytes]]:
    kind = content_type(name)
    return [
        (b"content-type", kind.encode()),
        (b"content-length", str(size).encode()),
        (
            b"content-disposition",
            content_disposition(name, kind in _INLINE_TYPES).encode(),
        ),
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", b"default-src 'none'; sandbox"),
        (b"cache-control", b"no-store"),
    ]


async def send_json(send: Any, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def _deleted_meanwhile(relative: str) -> ApiError:
    # A DELETE of the folder removed the upload's temporary file before it was renamed.
    return ApiError(
        f"Cannot upload {relative!r}: its folder was deleted while the upload was under way; "
        "nothing was stored. Send it again.",
        "RESOURCE_CONFLICT",
        409,
    )


def _folder_error(relative: str) -> InvalidParameterError:
    # As MLflow's server: a folder is a 400 (its clients then know it is no missing file).
    return InvalidParameterError(
        f"Artifact path {relative!r} is a folder, not a file: list it with "
        "GET /api/2.0/mlflow-artifacts/artifacts?path=<folder>."
    )


def open_for_download(repository: Any, relative: str) -> tuple[Any, int]:
    """(binary stream, size) of the file ``relative`` of ``repository`` (a local folder or S3),
    read in blocks by the caller, who closes it. A missing file is a 404, a folder a 400."""
    from runstack.artifacts.local import TEMP_PREFIX, LocalArtifactRepository

    if isinstance(repository, LocalArtifactRepository):
        target = repository.local_path(relative)
        if target.name.startswith(TEMP_PREFIX) or not target.exists():
            raise ResourceNotFoundError(f"No artifact {relative!r} on this server.")
        if target.is_dir():
            raise _folder_error(relative)
        stream = open(target, "rb")  # noqa: SIM115  (closed by the caller)
        return stream, os.fstat(stream.fileno()).st_size
    if hasattr(repository, "open_object"):
        try:
            body, size = repository.open_object(relative)
        except ResourceNotFoundError:
            if repository.is_folder(relative):
                raise _folder_error(relative) from None
            raise
        return body, size
    raise InvalidParameterError(
        f"Artifacts at {repository.root_uri!r} cannot be read by this server (local folders "
        "and S3 only)."
    )


# The proxy ------------------------------------------------------------------------------------


class ArtifactProxy:
    """The ASGI app for every path under ``ROUTES``."""

    def __init__(self, settings: ArtifactSettings, read_only: bool = False) -> None:
        self.settings = settings
        self.read_only = read_only
        self._repository: Any = None
        self._io: ThreadPoolExecutor | None = None

    @property
    def repository(self) -> Any:
        """The destination's repository, made on first use. Making an S3 one builds a boto3
        client (a few hundred ms): use it on this proxy's threads, not on the event loop."""
        if self._repository is None and self.settings.destination is not None:
            self._repository = repository_for(self.settings.destination)
        return self._repository

    def _on_repository(self, method: str, *args: Any) -> Any:
        return getattr(self.repository, method)(*args)

    def close(self) -> None:
        """Let this proxy's threads end (the server is stopping)."""
        if self._io is not None:
            self._io.shutdown(wait=False)
            self._io = None

    @property
    def limit(self) -> int:
        return self.settings.max_upload_bytes

    @property
    def is_local(self) -> bool:
        return scheme_of(self.settings.destination or "") == ""

    def start(self, function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Start blocking file or S3 work on this proxy's own threads (not the store's)."""
        if self._io is None:
            self._io = ThreadPoolExecutor(_IO_THREADS, thread_name_prefix="runstack-artifacts")
        return asyncio.get_running_loop().run_in_executor(self._io, function, *args)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Blocking file or S3 work, awaited."""
        return await self.start(function, *args)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path, method = scope["path"], scope["method"]
        started = False

        async def tracked_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._dispatch(path, method, scope, receive, tracked_send)
        except ClientGone:
            return
        except Exception as error:
            if started:
                # A download failed half-way: the client sees a body shorter than its
                # Content-Length, and the server's log says why.
                logger.exception("runstack server: %s %s failed mid-response", method, path)
                raise
            if isinstance(error, OSError) and error.errno in _STORAGE_FULL:
                error = _storage_full(error)
            if isinstance(error, RunstackError):
                await send_json(send, error.http_status, error.to_dict())
                return
            logger.exception("runstack server: %s %s failed", method, path)
            await send_json(
                send,
                500,
                {
                    "error_code": "INTERNAL_ERROR",
                    "message": f"The server failed to handle {method} {path}; its log has "
                    "the details.",
                },
            )

    async def _dispatch(self, path: str, method: str, scope: Any, receive: Any, send: Any) -> None:
        prefix = next(p for p in ROUTES if path.startswith(p))
        route = path[len(prefix) :]
        if route.startswith(("mpu/", "presigned")):
            raise ApiError(_NO_MULTIPART + " (runstack streams uploads).", "NOT_IMPLEMENTED", 501)
        if route != _ARTIFACTS and not route.startswith(_ARTIFACTS + "/"):
            raise ApiError(
                f"No artifact endpoint {path!r}; use {prefix}{_ARTIFACTS}/<path>.",
                "ENDPOINT_NOT_FOUND",
                404,
            )
        if self.settings.destination is None:
            raise ApiError(
                f"{path}: this server does not serve artifacts (it was started with "
                "--no-serve-artifacts); runs log artifacts to their own locations.",
                "ENDPOINT_NOT_FOUND",
                404,
            )
        relative = route[len(_ARTIFACTS) + 1 :]
        if self.read_only and method in ("PUT", "DELETE"):
            raise ApiError(
                f"This server is read-only (--read-only): {method} {path} would change "
                "artifacts and is refused.",
                "PERMISSION_DENIED",
                403,
            )
        if route == _ARTIFACTS:
            if method != "GET":
                raise ApiError(
                    f"{method} is not allowed on {path}; use GET to list, or name a file.",
                    "BAD_REQUEST",
                    405,
                )
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            await self._list(query.get("path", [""])[-1], send)
        elif method == "PUT":
            if relative.endswith("/"):
                raise InvalidParameterError(
                    f"Cannot upload {relative!r}: the path ends in '/', which names a folder; "
                    "give the file's name."
                )
            await self._upload(safe_file_name(relative), scope, receive, send)
        elif method == "GET":
            await self._download(safe_file_name(relative), send)
        elif method == "DELETE":
            checked = safe_file_name(relative, "artifact path")
            await self.run(self._on_repository, "delete", checked)
            await send_json(send, 200, {})
        else:
            raise ApiError(
                f"{method} is not allowed on {path}; use GET, PUT or DELETE.",
                "BAD_REQUEST",
                405,
            )

    # Listing -------------------------------------------------------------------------------

    async def _list(self, path: str, send: Any) -> None:
        relative = safe_relative_path(path)
        infos = await self.run(self._on_repository, "list", relative or None)
        files = []
        for info in infos:
            entry: dict[str, Any] = {
                "path": info.path.rsplit("/", 1)[-1],
                "is_dir": info.is_dir,
            }
            if not info.is_dir and info.file_size is not None:
                entry["file_size"] = info.file_size
            files.append(entry)
        await send_json(send, 200, {"files": files} if files else {})

    # Uploading -----------------------------------------------------------------------------

    def _limit_error(self, size: int) -> ApiError:
        return ApiError(
            f"The artifact is {size} bytes or more; this server takes uploads of at most "
            f"{self.settings.max_upload_bytes} bytes (see `runstack server "
            "--max-artifact-bytes`).",
            "REQUEST_LIMIT_EXCEEDED",
            413,
        )

    async def _body(self, receive: Any) -> AsyncIterator[tuple[bytes, bool]]:
        """The request body as (chunk, more to come), as it arrives. A client that
        disconnects raises ``ClientGone``; a body past the upload limit, the 413."""
        limit, size = self.settings.max_upload_bytes, 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise self._limit_error(size)
            more = bool(message.get("more_body", False))
            yield chunk, more
            if not more:
                return

    async def _receive_into(self, out: Any, receive: Any) -> None:
        """Write the request body to ``out`` in blocks of about ``BLOCK`` bytes.

        A block is written on a thread while the next one is received: at most two blocks
        are held, and the disk and the socket work at the same time."""
        pending: list[bytes] = []
        pending_size = 0
        writing: asyncio.Future[Any] | None = None
        try:
            async for chunk, more in self._body(receive):
                if chunk:
                    pending.append(chunk)
                    pending_size += len(chunk)
                if pending_size >= BLOCK or (not more and pending):
                    blocks, pending, pending_size = pending, [], 0
                    if writing is not None:
                        await writing
                    writing = self.start(out.writelines, blocks)
            if writing is not None:
                await writing
        finally:
            if writing is not None and not writing.done():
                # The file is closed and removed after this: let the last write finish first.
                await asyncio.wait([writing])

    async def _upload(self, relative: str, scope: Any, receive: Any, send: Any) -> None:
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                raise self._limit_error(int(value))
        if self.is_local:
            await self._upload_local(relative, receive)
        else:
            await self._upload_remote(relative, receive)
        await send_json(send, 200, {})

    def _open_local_temp(self, relative: str) -> tuple[Any, Path, Path]:
        from runstack.artifacts.local import TEMP_PREFIX, check_names

        check_names(relative)
        folder_path, _, name = relative.rpartition("/")
        repository = self.repository
        folder = repository.local_path(folder_path)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidParameterError(
                f"Cannot upload {relative!r}: a file stands where a folder of its path should be."
            ) from None
        folder = repository.local_path(folder_path)  # mkdir may have followed a new symlink
        final = folder / name
        if final.is_dir():
            raise InvalidParameterError(
                f"Cannot upload {relative!r}: a folder of that name exists."
            )
        temp = folder / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
        return open(temp, "xb"), temp, final

    async def _upload_local(self, relative: str, receive: Any) -> None:
        try:
            out, temp, final = await self.run(self._open_local_temp, relative)
        except FileNotFoundError:
            raise _deleted_meanwhile(relative) from None
        try:
            await self._receive_into(out, receive)
            await self.run(out.close)
            try:
                await self.run(os.replace, temp, final)
            except FileNotFoundError:
                raise _deleted_meanwhile(relative) from None
        finally:
            out.close()
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    async def _upload_remote(self, relative: str, receive: Any) -> None:
        """Stream the body to S3 in parts of ``PART_SIZE`` bytes as it arrives (one
        PutObject when it is smaller): a part is sent on a thread while the next one is
        received, so at most two are held. A disconnect, an error or the size limit aborts
        the multipart upload: nothing partial is left under the key."""
        from runstack.artifacts.s3_parts import PART_SIZE

        writer = await self.run(self._part_writer, relative)
        chunks: list[bytes] = []
        held = 0
        sending: asyncio.Future[None] | None = None
        try:
            async for chunk, _more in self._body(receive):
                if chunk:
                    chunks.append(chunk)
                    held += len(chunk)
                if held >= PART_SIZE:
                    part = b"".join(chunks)
                    chunks, held = [], 0
                    if sending is not None:
                        await sending
                    sending = self.start(writer.put_part, part)
                    del part
            if sending is not None:
                await sending
            await self.run(writer.finish, b"".join(chunks))
        except BaseException:
            if sending is not None and not sending.done():
                await asyncio.wait([sending])  # the part in flight, before the abort
            await asyncio.shield(self.start(writer.abort))
            raise

    def _part_writer(self, relative: str) -> Any:
        from runstack.artifacts.s3_parts import PartWriter

        repository = self.repository
        return PartWriter(repository, repository.key(relative))

    # Downloading ---------------------------------------------------------------------------

    def _open_download(self, relative: str) -> tuple[Any, int]:
        return open_for_download(self.repository, relative)

    async def _download(self, relative: str, send: Any) -> None:
        stream, size = await self.run(self._open_download, relative)
        try:
            name = relative.rsplit("/", 1)[-1]
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": download_headers(name, size),
                }
            )
            sent = 0
            while sent < size:
                block = await self.run(stream.read, min(BLOCK, size - sent))
                if not block:
                    break  # the file shrank while being sent: the client sees a short body
                sent += len(block)
                await send({"type": "http.response.body", "body": block, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await self.run(stream.close)
