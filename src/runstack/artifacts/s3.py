"""A run's artifacts in S3 or an S3-compatible store (``s3://bucket/prefix``), through boto3.

boto3 is an optional extra (``pip install 'runstack[s3]'``), imported when the first S3
repository is made. Settings are MLflow's and AWS's: ``MLFLOW_S3_ENDPOINT_URL`` (MinIO, Ceph,
...), ``MLFLOW_S3_IGNORE_TLS``, ``MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE`` (read through
``runstack.settings``), and boto3's own chain
for credentials and region (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, ``AWS_DEFAULT_REGION``, ``AWS_PROFILE``, config files, instance roles).

Large files go up in parts (boto3's multipart upload). An object appears only when its upload
completes; a failed multipart upload is aborted (s3transfer does it on any error) and one
killed with its process leaves only an unfinished upload, which no listing or download shows.
"""

from __future__ import annotations

import builtins
import os
import threading
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from runstack import settings
from runstack.artifacts.paths import join, safe_file_name, safe_relative_path
from runstack.artifacts.sources import files_to_log, source_file
from runstack.entities import FileInfo
from runstack.errors import InvalidParameterError, ResourceNotFoundError, StoreUnavailableError

# Files from this size go up in parts of this size, several at a time.
MULTIPART_THRESHOLD = 64 * 1024 * 1024
MULTIPART_CHUNK = 64 * 1024 * 1024
MAX_CONCURRENCY = 4
_DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes
LIST_PAGE_SIZE = 1000  # keys per ListObjectsV2 page (S3's maximum)

_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:
        raise ImportError(
            "S3 artifact locations need boto3; install it with `pip install 'runstack[s3]'`.",
            name="boto3",
        ) from None
    return boto3


def s3_client() -> Any:
    """A boto3 S3 client for the current settings, shared by this process (clients are
    thread-safe and slow to make). A new one is made when the MLflow settings, the region or
    the profile change; credentials are resolved by boto3 when a client is made."""
    endpoint = settings.S3_ENDPOINT_URL.read() or None
    ignore_tls = settings.S3_IGNORE_TLS.read()
    addressing = settings.S3_ADDRESSING_STYLE.read()
    session = _boto3().session.Session()  # reads AWS_PROFILE, AWS_DEFAULT_REGION, config files
    key = (endpoint, ignore_tls, addressing, session.profile_name, session.region_name)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            from botocore.config import Config

            config = Config(
                s3={"addressing_style": addressing} if addressing else {},
                retries={"mode": "standard"},
                max_pool_connections=MAX_CONCURRENCY * 2,
            )
            client = session.client(
                "s3", endpoint_url=endpoint, verify=not ignore_tls, config=config
            )
            _clients[key] = client
        return client


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key prefix without slashes at either end) of ``s3://bucket/prefix``."""
    parts = urlsplit(uri)
    if parts.scheme.lower() != "s3" or not parts.netloc:
        raise InvalidParameterError(
            f"Invalid S3 URI {uri!r}: use s3://bucket or s3://bucket/prefix."
        )
    if parts.query or parts.fragment:
        raise InvalidParameterError(
            f"Invalid S3 URI {uri!r}: a query or fragment (?, #) has no meaning here."
        )
    return parts.netloc, safe_relative_path(parts.path.lstrip("/"))


def s3_failure(error: Exception, what: str) -> Exception:
    """botocore's errors as runstack's: a missing key is a 404, the rest 'unavailable'."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound"):
            return ResourceNotFoundError(f"No artifact {what}.")
        if code == "NoSuchBucket":
            return ResourceNotFoundError(f"{what}: the bucket does not exist ({error}).")
        return StoreUnavailableError(f"S3 refused {what}: {error}")
    if isinstance(error, BotoCoreError):
        return StoreUnavailableError(f"S3 failed {what}: {error}")
    return error


class S3ArtifactRepository:
    """Artifacts under one ``s3://bucket/prefix``."""

    def __init__(self, root_uri: str) -> None:
        self.root_uri = root_uri
        self.bucket, self.prefix = parse_s3_uri(root_uri)
        self.client = s3_client()

    # Keys ----------------------------------------------------------------------------------

    def key(self, path: str | None) -> str:
        """The object key of ``path`` (checked) below the root."""
        return join(self.prefix, path)

    def _relative(self, key: str) -> str:
        return key[len(self.prefix) + 1 :] if self.prefix else key

    def _transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD,
            multipart_chunksize=MULTIPART_CHUNK,
            max_concurrency=MAX_CONCURRENCY,
        )

    # Writing -------------------------------------------------------------------------------

    def upload_stream(self, stream: BinaryIO, key: str) -> None:
        """Upload a readable binary stream as ``key``: in parts when it is large, aborted
        (nothing left behind) when reading or sending fails."""
        try:
            self.client.upload_fileobj(stream, self.bucket, key, Config=self._transfer_config())
        except Exception as error:
            raise s3_failure(error, f"upload of s3://{self.bucket}/{key}") from error

    def log_file(self, local_file: Path, artifact_path: str | None = None) -> None:
        source = source_file(local_file)
        key = self.key(join(artifact_path, safe_file_name(source.name)))
        with open(source, "rb") as stream:
            self.upload_stream(stream, key)

    def log_directory(self, local_dir: Path, artifact_path: str | None = None) -> None:
        for file, destination in files_to_log(local_dir, artifact_path):
            self.log_file(file, destination)

    def write_bytes(self, data: bytes, artifact_file: str) -> None:
        key = self.key(safe_file_name(artifact_file))
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        except Exception as error:
            raise s3_failure(error, f"upload of s3://{self.bucket}/{key}") from error

    # Reading -------------------------------------------------------------------------------

    def _pages(self, prefix: str, delimiter: str | None) -> Any:
        arguments = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            arguments["Delimiter"] = delimiter
        return self.client.get_paginator("list_objects_v2").paginate(
            **arguments, PaginationConfig={"PageSize": LIST_PAGE_SIZE}
        )

    def list(self, path: str | None = None) -> list[FileInfo]:
        relative = safe_relative_path(path)
        folder_key = self.key(relative)
        prefix = f"{folder_key}/" if folder_key else ""
        infos: list[FileInfo] = []
        try:
            for page in self._pages(prefix, "/"):
                for common in page.get("CommonPrefixes", []):
                    infos.append(FileInfo(self._relative(common["Prefix"].rstrip("/")), True, None))
                for item in page.get("Contents", []):
                    if item["Key"] == prefix:  # a "folder marker" object some tools create
                        continue
                    infos.append(FileInfo(self._relative(item["Key"]), False, int(item["Size"])))
        except Exception as error:
            raise s3_failure(error, f"listing of s3://{self.bucket}/{prefix}") from error
        infos.sort(key=lambda info: info.path)
        return infos

    def keys_under(self, path: str | None, markers: bool = False) -> builtins.list[tuple[str, int]]:
        """Every (key, size) below ``path``, at any depth; folder markers (keys ending in
        "/", which some tools create for empty folders) only when ``markers``."""
        folder_key = self.key(path)
        prefix = f"{folder_key}/" if folder_key else ""
        found: builtins.list[tuple[str, int]] = []
        try:
            for page in self._pages(prefix, None):
                found.extend((item["Key"], int(item["Size"])) for item in page.get("Contents", []))
        except Exception as error:
            raise s3_failure(error, f"listing of s3://{self.bucket}/{prefix}") from error
        return [(key, size) for key, size in found if markers or not key.endswith("/")]

    def is_folder(self, path: str | None) -> bool:
        """Whether any key (a file, or a folder marker ending in "/") lies below ``path``."""
        folder_key = self.key(path)
        prefix = f"{folder_key}/" if folder_key else ""
        try:
            answer = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1)
        except Exception as error:
            raise s3_failure(error, f"listing of s3://{self.bucket}/{prefix}") from error
        return int(answer.get("KeyCount", 0)) > 0

    def open_object(self, path: str) -> tuple[Any, int]:
        """(streaming body, size) of the file ``path``, for a caller that reads in blocks."""
        key = self.key(safe_file_name(path))
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except Exception as error:
            raise s3_failure(error, f"{path!r} in {self.root_uri!r}") from error
        return answer["Body"], int(answer["ContentLength"])

    def download(self, path: str, dst_dir: Path) -> Path:
        relative = safe_relative_path(path)
        base = Path(dst_dir).absolute()
        destination = base / relative if relative else base
        keys = self.keys_under(relative, markers=True)
        if keys or not relative:
            destination.mkdir(parents=True, exist_ok=True)
            for key, _size in keys:
                inner = safe_relative_path(self._relative(key).rstrip("/"))
                if key.endswith("/"):  # a marker: the folder exists, maybe empty
                    if inner:
                        (base / inner).mkdir(parents=True, exist_ok=True)
                else:
                    self._download_key(key, base / inner)
            return destination
        self._download_key(self.key(relative), destination)
        return destination

    def _download_key(self, key: str, destination: Path) -> None:
        """Download into a temporary name beside ``destination``, renamed when complete."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(f".artifact.downloading.{os.getpid()}.{destination.name}")
        try:
            self.client.download_file(
                self.bucket, key, str(partial), Config=self._transfer_config()
            )
            os.replace(partial, destination)
        except Exception as error:
            partial.unlink(missing_ok=True)
            what = f"{self._relative(key)!r} in {self.root_uri!r}"
            raise s3_failure(error, what) from error

    # Deleting ------------------------------------------------------------------------------

    def delete(self, path: str | None = None) -> None:
        relative = safe_relative_path(path)
        keys = [key for key, _size in self.keys_under(relative, markers=True)]
        if relative:
            keys.append(self.key(relative))
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": key} for key in keys[start : start + _DELETE_BATCH]]
            try:
                self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            except Exception as error:
                raise s3_failure(error, f"deletion under {self.root_uri!r}") from error

    def size(self) -> int:
        """Bytes stored under the root."""
        return sum(size for _key, size in self.keys_under(None))
