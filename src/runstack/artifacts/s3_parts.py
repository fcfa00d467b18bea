"""An S3 object written part by part as its bytes arrive, for the server's upload proxy: a
request body goes to S3 without being spooled to disk, in constant memory.

The caller hands over parts of at least ``PART_SIZE`` bytes (S3's minimum for all but the
last part is 5 MiB) and then the rest with ``finish``. A body smaller than one part is one
PutObject; a larger one is a multipart upload, which S3 shows only once it is completed.
``abort`` ends an unfinished multipart upload so that no parts are left behind: nothing
partial is ever visible under the key. Every method blocks (boto3): call them on a thread.
"""

from __future__ import annotations

import logging
from typing import Any

from runstack.artifacts.s3 import S3ArtifactRepository, s3_failure

PART_SIZE = 8 * 1024 * 1024

logger = logging.getLogger("runstack.artifacts")


class PartWriter:
    """One object, ``key`` of ``repository``'s bucket, written in parts."""

    def __init__(self, repository: S3ArtifactRepository, key: str) -> None:
        self.client: Any = repository.client
        self.bucket = repository.bucket
        self.key = key
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def _what(self) -> str:
        return f"upload of s3://{self.bucket}/{self.key}"

    def put_part(self, data: bytes) -> None:
        """Send one part (the multipart upload starts with the first)."""
        try:
            if self.upload_id is None:
                answer = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key)
                self.upload_id = str(answer["UploadId"])
            number = len(self.parts) + 1
            answer = self.client.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=data,
            )
        except Exception as error:
            raise s3_failure(error, self._what()) from error
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def finish(self, rest: bytes) -> None:
        """Send the last bytes and make the object visible: one PutObject when no part was
        sent, else the last part (if any bytes are left) and the completion."""
        if self.upload_id is None:
            try:
                self.client.put_object(Bucket=self.bucket, Key=self.key, Body=rest)
            except Exception as error:
                raise s3_failure(error, self._what()) from error
            return
        if rest:
            self.put_part(rest)
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts},
            )
        except Exception as error:
            raise s3_failure(error, self._what()) from error
        self.upload_id = None

    def abort(self) -> None:
        """End an unfinished multipart upload, dropping its parts (a failure is logged: a
        bucket lifecycle rule such as AbortIncompleteMultipartUpload removes what is left)."""
        if self.upload_id is None:
            return
        try:
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
            )
            self.upload_id = None
        except Exception:
            logger.exception("runstack: could not abort the %s", self._what())
