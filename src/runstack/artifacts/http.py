"""A run's artifacts behind a tracking server's artifact proxy (MLflow's
``/api/2.0/mlflow-artifacts/artifacts`` routes), for ``mlflow-artifacts:`` and ``http(s):`` URIs.

Uploads are PUTs whose body is read from the file in blocks, downloads are read in blocks
into a temporary file renamed when complete: memory stays constant for any file size. The
requests go through the REST store's connection pool (``runstack.store.http_pool``), so the
same credentials (``MLFLOW_TRACKING_TOKEN``, ``MLFLOW_TRACKING_USERNAME``/``PASSWORD``), TLS
settings and proxies apply; so do its retries (a connection failure or a
408/429/502/503/504 is tried again, ``RUNSTACK_HTTP_MAX_RETRIES`` times with backoff).
"""

from __future__ import annotations

import builtins
import json
import mimetypes
import os
import random
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import quote, urlencode, urlsplit

from runstack.artifacts.paths import join, safe_file_name, safe_relative_path
from runstack.artifacts.sources import files_to_log, source_file
from runstack.entities import FileInfo
from runstack.errors import (
    InvalidParameterError,
    ResourceNotFoundError,
    RunstackError,
    StoreUnavailableError,
)
from runstack.store.http_pool import ConnectFailed, ConnectionPool, TransportFailed

ROUTE = "/api/2.0/mlflow-artifacts/artifacts"
# Statuses after which the same request may succeed (as the REST store retries them).
RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
T = TypeVar("T")
_READ_BLOCK = 1 << 20
_PARTIAL_PREFIX = ".artifact.downloading."


class _Retry(Exception):
    """A response saying the request may succeed if sent again."""

    def __init__(self, failure: RunstackError) -> None:
        super().__init__(failure.message)
        self.failure = failure


def resolve(artifact_uri: str, tracking_uri: str | None) -> tuple[str, str]:
    """(server base URL, root path below the artifact route) of an artifact URI.

    ``mlflow-artifacts:/p`` goes to the tracking server (``tracking_uri``, else the current
    one); ``mlflow-artifacts://host:port/p`` to that host (with the tracking URI's scheme, http
    by default); ``http(s)://h/.../<ROUTE>/p`` names both itself."""
    parts = urlsplit(artifact_uri)
    scheme = parts.scheme.lower()
    if scheme == "mlflow-artifacts":
        if tracking_uri is None:
            from runstack.tracking_uri import get_tracking_uri

            tracking_uri = get_tracking_uri()
        tracking = urlsplit(tracking_uri or "")
        tracking_scheme = tracking.scheme.lower()
        if parts.netloc:
            web = tracking_scheme if tracking_scheme in ("http", "https") else "http"
            base = f"{web}://{parts.netloc}"
        elif tracking_scheme in ("http", "https"):
            base = (tracking_uri or "").rstrip("/")
        else:
            raise InvalidParameterError(
                f"Artifact URI {artifact_uri!r} is served by a tracking server, but the "
                f"tracking URI is {tracking_uri!r}; set it to the server (http://host:port)."
            )
        return base, safe_relative_path(parts.path.lstrip("/"))
    if scheme in ("http", "https"):
        head, route, tail = parts.path.partition(ROUTE)
        if not route or (tail and not tail.startswith("/")):
            raise InvalidParameterError(
                f"Artifact URI {artifact_uri!r} is not a tracking server's artifact URL: its "
                f"path must contain {ROUTE}/."
            )
        return f"{scheme}://{parts.netloc}{head}".rstrip("/"), safe_relative_path(tail.lstrip("/"))
    raise InvalidParameterError(
        f"Artifact URI {artifact_uri!r}: expected mlflow-artifacts:, http: or https:."
    )


def mime_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


class HttpArtifactRepository:
    """Artifacts under one root on a tracking server that serves artifacts."""

    def __init__(self, root_uri: str, tracking_uri: str | None = None) -> None:
        self.root_uri = root_uri
        self.base_url, self.root = resolve(root_uri, tracking_uri)
        self._pool: ConnectionPool | None = None
        self._pid = 0

    # HTTP ----------------------------------------------------------------------------------

    def _connections(self) -> ConnectionPool:
        # A pool belongs to one process: a forked child makes its own.
        if self._pool is None or self._pid != os.getpid():
            from runstack import settings
            from runstack.store.rest import HttpSession

            try:
                self._pool = ConnectionPool(
                    self.base_url,
                    settings.HTTP_REQUEST_TIMEOUT.read(),
                    verify=HttpSession._verify(),
                    headers=HttpSession._headers(),
                )
            except ValueError as error:
                raise InvalidParameterError(f"Artifact URI {self.root_uri!r}: {error}.") from None
            self._pid = os.getpid()
        return self._pool

    def _target(self, path: str) -> str:
        full = join(self.root, path)
        return f"{ROUTE}/{quote(full, safe='/')}" if full else ROUTE

    def _what(self, method: str, path: str) -> str:
        return f"{method} {self.base_url}{self._target(path)}"

    def _check(self, response: Any, method: str, path: str) -> None:
        """Raise the server's error for a non-2xx response (its body read and dropped);
        ``_Retry`` when the status says the same request may succeed later."""
        if 200 <= response.status < 300:
            return
        from runstack.store.rest import server_error

        failure = server_error(response.status, response.read(1 << 16), self._what(method, path))
        if response.status in RETRY_STATUSES:
            raise _Retry(failure)
        raise failure

    def _with_retries(self, method: str, path: str, attempt: Callable[[ConnectionPool], T]) -> T:
        """``attempt`` until it succeeds, repeated (with backoff, ``RUNSTACK_HTTP_MAX_RETRIES``
        times) after a connection failure or a 408/429/502/503/504. Every artifact request is
        idempotent (a PUT replaces the whole file), so repeating one is always safe."""
        from runstack import settings

        retries = settings.HTTP_MAX_RETRIES.read()
        tries = 0
        while True:
            try:
                return attempt(self._connections())
            except (ConnectFailed, TransportFailed) as error:
                failure: RunstackError = self._unavailable(error, method, path)
            except _Retry as retry:
                failure = retry.failure
            tries += 1
            if tries > retries:
                raise failure
            time.sleep(min(10.0, 0.1 * 2 ** (tries - 1)) * (0.5 + random.random()))

    def _unavailable(self, error: Exception, method: str, path: str) -> StoreUnavailableError:
        if isinstance(error, ConnectFailed):
            return StoreUnavailableError(
                f"Cannot reach the tracking server at {self.base_url} ({error}) for "
                f"{self._what(method, path)}."
            )
        return StoreUnavailableError(
            f"The connection to the tracking server failed during {self._what(method, path)} "
            f"({error})."
        )

    def _simple(self, method: str, target: str, path: str) -> bytes:
        def attempt(pool: ConnectionPool) -> bytes:
            with pool.stream(method, target) as response:
                self._check(response, method, path)
                data: bytes = response.read()
                return data

        return self._with_retries(method, path, attempt)

    # Writing -------------------------------------------------------------------------------

    def _put(self, path: str, body: BinaryIO | bytes) -> None:
        """PUT ``body`` (a file read from its start at every attempt, or bytes)."""
        headers = {"Content-Type": mime_type(path)}

        def attempt(pool: ConnectionPool) -> None:
            length = None
            if not isinstance(body, bytes):
                body.seek(0)
                length = os.fstat(body.fileno()).st_size
            with pool.stream("PUT", self._target(path), body, length, headers) as response:
                self._check(response, "PUT", path)
                response.read()

        self._with_retries("PUT", path, attempt)

    def log_file(self, local_file: Path, artifact_path: str | None = None) -> None:
        source = source_file(local_file)
        path = join(artifact_path, safe_file_name(source.name))
        with open(source, "rb") as stream:
            self._put(path, stream)

    def log_directory(self, local_dir: Path, artifact_path: str | None = None) -> None:
        for file, destination in files_to_log(local_dir, artifact_path):
            self.log_file(file, destination)

    def write_bytes(self, data: bytes, artifact_file: str) -> None:
        self._put(safe_file_name(artifact_file), data)

    # Reading -------------------------------------------------------------------------------

    def list(self, path: str | None = None) -> list[FileInfo]:
        relative = safe_relative_path(path)
        target = ROUTE + "?" + urlencode({"path": join(self.root, relative)})
        body = self._simple("GET", target, relative)
        try:
            files = json.loads(body).get("files", [])
        except (ValueError, AttributeError):
            raise StoreUnavailableError(
                f"{self._what('GET', relative)} answered a body that is not JSON."
            ) from None
        prefix = f"{relative}/" if relative else ""
        infos = []
        for item in files:
            name = safe_relative_path(str(item["path"]))
            size = item.get("file_size")
            file_size = None if size is None else int(size)
            infos.append(FileInfo(prefix + name, bool(item.get("is_dir")), file_size))
        # A server asked to list a file answers with the file itself: that is no child.
        if (
            len(infos) == 1
            and not infos[0].is_dir
            and relative
            and infos[0].path == (f"{relative}/{relative.rsplit('/', 1)[-1]}")
        ):
            return []
        infos.sort(key=lambda info: info.path)
        return infos

    def download(self, path: str, dst_dir: Path) -> Path:
        relative = safe_relative_path(path)
        base = Path(dst_dir).absolute()
        destination = base / relative if relative else base
        children = self.list(relative)
        if not children and relative:
            try:
                self._download_file(relative, destination)
                return destination
            except InvalidParameterError:
                # The server refuses to send a folder: an empty one is downloaded as such.
                if not self._is_folder(relative):
                    raise
        self._download_folder(relative, children, base)
        return destination

    def _download_folder(
        self, relative: str, children: builtins.list[FileInfo], base: Path
    ) -> None:
        """The folder ``relative`` (whose listing is ``children``) into ``base/relative``;
        an empty folder, at any depth, is made empty (as MLflow's client does)."""
        (base / relative if relative else base).mkdir(parents=True, exist_ok=True)
        for child in children:
            if child.is_dir:
                self._download_folder(child.path, self.list(child.path), base)
            else:
                self._download_file(child.path, base / child.path)

    def _is_folder(self, relative: str) -> bool:
        """Whether ``relative`` is listed as a folder in its parent's listing."""
        parent = relative.rpartition("/")[0]
        return any(info.is_dir and info.path == relative for info in self.list(parent))

    def _download_file(self, path: str, destination: Path) -> None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(f"{_PARTIAL_PREFIX}{uuid.uuid4().hex}.{destination.name}")

        def attempt(pool: ConnectionPool) -> None:
            with pool.stream("GET", self._target(path)) as response:
                if response.status == 404:
                    response.read()
                    raise ResourceNotFoundError(f"No artifact {path!r} in {self.root_uri!r}.")
                self._check(response, "GET", path)
                with open(partial, "wb") as out:  # truncated at each attempt
                    shutil.copyfileobj(response, out, _READ_BLOCK)

        try:
            self._with_retries("GET", path, attempt)
            os.replace(partial, destination)
        finally:
            partial.unlink(missing_ok=True)

    # Deleting ------------------------------------------------------------------------------

    def delete(self, path: str | None = None) -> None:
        relative = safe_relative_path(path)
        self._simple("DELETE", self._target(relative), relative)
