"""A ``BlobStore`` in an S3 bucket: AWS or any S3-compatible store (MinIO, Ceph, SeaweedFS), through boto3.

Blob ``calls/1/audio`` is the object ``<prefix>calls/1/audio``. Callers hand over AES-256-GCM ciphertext, so
the bucket holds nothing readable without the key ring. Chunks are gathered up to
``multipart_threshold_bytes``: a blob that ends before is one PUT; a longer one becomes a multipart upload fed
part by part as its chunks come, at most ``max_concurrency`` parts on their way, and aborted when anything
fails: a blob costs about (``max_concurrency`` + 1) parts of memory, whatever its size. S3 makes an object
visible only when its upload completes, so a reader sees the old blob or the new one, never a part, even when
the upload dies half way; ``sweep_leftovers`` aborts the uploads a killed process left, once they are a day
old (the bucket's lifecycle rule can do the same, docs/archive.md). A blob is read in ranged GETs of what is
asked (``READ_AHEAD`` at least), each bound by ``If-Match`` to the version the first request found.

botocore's errors are translated here: no such object → ``NotFoundError``; network, 5xx, 408 and 429 →
``BlobStoreUnavailableError`` (the job queue retries); no such bucket, refused credentials, a denying policy
→ ``BlobStoreRefusedError``, saying which setting to look at.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ChecksumError,
    ClientError,
    ConnectionError,
    FlexibleChecksumError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
)

from callsense.backends.blobstore.base import Leftover, validate_key
from callsense.backends.http_status import is_retryable
from callsense.backends.s3client import make_client
from callsense.config.blobs import MIB, BlobSettings
from callsense.errors import BlobStoreRefusedError, BlobStoreUnavailableError, CallsenseError, NotFoundError

__all__ = ["S3BlobStore"]

# What a later attempt can get past: the connection failed or broke off, or the body arrived damaged.
_TRANSPORT_ERRORS = (
    ConnectionError,
    HTTPClientError,
    IncompleteReadError,
    ChecksumError,
    FlexibleChecksumError,
)
_DENIED_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
)
# The smallest ranged GET: a decrypting reader asks a segment (1 MiB) at a time.
READ_AHEAD = 2 * MIB
# An incomplete multipart upload older than this is abandoned: S3 tells nothing of whether its writer
# still lives, and no recording takes a day to upload. The lifecycle rule docs/archive.md proposes agrees.
LEFTOVER_AGE_S = 24 * 3600.0


@dataclass(frozen=True)
class Parts:
    """How blobs go up: gathered up to ``threshold`` before a multipart upload begins, then in parts of
    ``part_bytes`` or a chunk more (S3 wants 5 MiB at least, not equal parts), ``concurrency`` of them on
    their way at most."""

    threshold: int = 16 * MIB
    part_bytes: int = 16 * MIB
    concurrency: int = 4


class S3BlobStore:
    def __init__(self, client: Any, *, bucket: str, prefix: str = "", parts: Parts | None = None) -> None:
        """``client``: a boto3 S3 client (thread-safe, shared by every call); ``from_settings`` builds one."""
        self._client = client
        self._bucket = bucket
        self._prefix = prefix
        self._parts = parts or Parts()
        checksums = client.meta.config.request_checksum_calculation == "when_supported"
        self._checksum = {"ChecksumAlgorithm": "CRC32"} if checksums else {}  # as boto3's own uploads

    @classmethod
    def from_settings(cls, settings: BlobSettings) -> S3BlobStore:
        assert settings.bucket is not None  # BlobSettings requires it for backend s3
        client = make_client(settings, pool_connections=max(10, settings.max_concurrency))
        parts = Parts(
            threshold=settings.multipart_threshold_bytes,
            part_bytes=settings.multipart_part_bytes,
            concurrency=settings.max_concurrency,
        )
        return cls(client, bucket=settings.bucket, prefix=settings.prefix, parts=parts)

    def __repr__(self) -> str:
        endpoint = self._client.meta.endpoint_url
        return f"S3BlobStore({endpoint!r}, bucket={self._bucket!r}, prefix={self._prefix!r})"

    def put(self, key: str, chunks: Iterable[bytes]) -> None:
        name = self._object_key(key)
        pending = bytearray()
        upload: _Multipart | None = None
        with self._translated(key):
            try:
                for chunk in chunks:
                    pending += chunk
                    if upload is None and len(pending) >= self._parts.threshold:
                        upload = _Multipart(self._client, self._bucket, name, self._parts, self._checksum)
                        upload.send(pending)
                    elif upload is not None and len(pending) >= self._parts.part_bytes:
                        upload.send(pending)
                if upload is None:
                    self._client.put_object(Bucket=self._bucket, Key=name, Body=bytes(pending))
                    return
                if pending:
                    upload.send(pending)
                upload.complete()
            except BaseException:
                if upload is not None:
                    upload.abort()
                raise

    def open(self, key: str) -> io.BufferedReader:
        name = self._object_key(key)
        raw = _RangeReader(self._client, self._bucket, name, lambda: self._translated(key))
        return io.BufferedReader(raw)  # small reads from the window the raw reader keeps

    def delete(self, key: str) -> None:
        """S3 answers 204 whether or not the object existed. On a versioned bucket this adds a delete
        marker; the old versions stay until the bucket's lifecycle rule expires them (docs/archive.md)."""
        name = self._object_key(key)
        with self._translated(key):
            self._client.delete_object(Bucket=self._bucket, Key=name)

    def sweep_leftovers(self, *, older_than_s: float = LEFTOVER_AGE_S) -> list[Leftover]:
        """Abort the multipart uploads under the prefix begun more than ``older_than_s`` ago: the parts of
        writes killed midway, invisible but stored (and billed). Needs ``s3:ListBucketMultipartUploads``."""
        removed = []
        now = datetime.now(UTC)
        with self._translated("(its incomplete multipart uploads)"):
            pages = self._client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self._bucket, Prefix=self._prefix
            )
            for page in pages:
                for upload in page.get("Uploads", []):
                    age = (now - upload["Initiated"]).total_seconds()
                    if age < older_than_s:
                        continue
                    with contextlib.suppress(self._client.exceptions.NoSuchUpload):  # completed meanwhile
                        self._client.abort_multipart_upload(
                            Bucket=self._bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        removed.append(Leftover(f"{upload['Key']} (upload {upload['UploadId']})", None, age))
        return removed

    def _object_key(self, key: str) -> str:
        return self._prefix + validate_key(key)

    @contextmanager
    def _translated(self, key: str) -> Iterator[None]:
        where = f"S3 bucket '{self._bucket}' at {self._client.meta.endpoint_url}"
        try:
            yield
        except ClientError as exc:
            raise self._client_error(exc, key, where) from exc
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise BlobStoreRefusedError(
                f"{where}: no credentials; set blobs.access_key_id and blobs.secret_access_key, "
                "or the standard AWS environment"
            ) from exc
        except _TRANSPORT_ERRORS as exc:
            raise BlobStoreUnavailableError(f"{where} unavailable: {exc}") from exc
        except BotoCoreError as exc:  # the rest are settings botocore cannot use: region, endpoint, TLS files
            raise BlobStoreRefusedError(f"{where}: {exc}") from exc

    def _client_error(self, exc: ClientError, key: str, where: str) -> CallsenseError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        message = error.get("Message") or code
        if code in {"NoSuchKey", "404"}:
            return NotFoundError(f"no blob {key!r}")
        if code == "PreconditionFailed" or status == 412:  # If-Match: overwritten while being read
            return BlobStoreUnavailableError(f"{where}: blob {key!r} was replaced while being read")
        if code == "NoSuchBucket":
            return BlobStoreRefusedError(f"{where} does not exist; create it, or correct blobs.bucket")
        if code in _DENIED_CODES or status == 403:
            return BlobStoreRefusedError(
                f"{where} refused access ({code}: {message}); check blobs.access_key_id, "
                "blobs.secret_access_key and the bucket policy (docs/archive.md)"
            )
        if is_retryable(status):
            return BlobStoreUnavailableError(f"{where} unavailable: HTTP {status} {code}: {message}")
        return BlobStoreRefusedError(f"{where} refused the request: HTTP {status} {code}: {message}")


class _Multipart:
    """One multipart upload: parts sent as they come, ``parts.concurrency`` at a time at most."""

    def __init__(self, client: Any, bucket: str, name: str, parts: Parts, checksum: dict[str, str]) -> None:
        self._client, self._target, self._checksum = client, {"Bucket": bucket, "Key": name}, checksum
        self._concurrency = parts.concurrency
        self._id: str = client.create_multipart_upload(**self._target, **checksum)["UploadId"]
        self._pool = ThreadPoolExecutor(max_workers=parts.concurrency, thread_name_prefix="s3-part")
        self._sending: list[Future[dict[str, Any]]] = []

    def send(self, pending: bytearray) -> None:
        """Send what ``pending`` holds as the next part, and empty it; waits for a free place first, so
        that at most ``concurrency`` parts and ``pending`` are held."""
        while len(running := [future for future in self._sending if not future.done()]) >= self._concurrency:
            wait(running, return_when=FIRST_COMPLETED)
        for future in self._sending:
            if future.done():
                future.result()  # a failed part fails the upload now, not at the end
        data = bytes(pending)
        pending.clear()
        number = len(self._sending) + 1
        self._sending.append(self._pool.submit(self._part, number, data))

    def _part(self, number: int, data: bytes) -> dict[str, Any]:
        answer = self._client.upload_part(
            **self._target, UploadId=self._id, PartNumber=number, Body=data, **self._checksum
        )
        checksums = {name: value for name, value in answer.items() if name.startswith("Checksum")}
        return {"PartNumber": number, "ETag": answer["ETag"], **checksums}

    def complete(self) -> None:
        done = [future.result() for future in self._sending]
        self._pool.shutdown()
        self._client.complete_multipart_upload(
            **self._target, UploadId=self._id, MultipartUpload={"Parts": done}
        )

    def abort(self) -> None:
        """Stop sending and drop the parts sent; a store that cannot be told leaves them to the bucket's
        lifecycle rule (docs/archive.md): they are never visible."""
        self._pool.shutdown(cancel_futures=True)
        with contextlib.suppress(BotoCoreError, ClientError):
            self._client.abort_multipart_upload(**self._target, UploadId=self._id)


class _RangeReader(io.RawIOBase):
    """An object read in ranged GETs of ``READ_AHEAD`` at least, each bound to the version (ETag) the first
    one found; keeps the last range fetched."""

    def __init__(
        self, client: Any, bucket: str, name: str, translated: Callable[[], AbstractContextManager[None]]
    ) -> None:
        super().__init__()
        self._client, self._target, self._translated = client, {"Bucket": bucket, "Key": name}, translated
        self._position = 0
        # A GET, not a HEAD: a HEAD's 404 cannot tell a missing object from a missing bucket.
        with translated():
            try:
                answer = client.get_object(**self._target, Range=f"bytes=0-{READ_AHEAD - 1}")
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "InvalidRange":
                    raise
                answer = {"ETag": "", "ContentLength": 0, "Body": io.BytesIO()}  # S3's answer for 0 bytes
            first: bytes = answer["Body"].read()
        self._etag: str = answer["ETag"]
        total = answer.get("ContentRange", "").rpartition("/")[2]
        self._size = int(total) if total.isdigit() else len(first)  # a store that ignored the range
        self._window = (0, first)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self._size - self._position)
        if count <= 0:
            return 0
        start, data = self._window
        if not start <= self._position < start + len(data):
            start, data = self._fetch(self._position, max(count, READ_AHEAD))
        offset = self._position - start
        piece = data[offset : offset + count]
        buffer[: len(piece)] = piece
        self._position += len(piece)
        return len(piece)

    def _fetch(self, start: int, length: int) -> tuple[int, bytes]:
        last = min(start + length, self._size) - 1
        with self._translated():  # the body is read inside: a connection cut half way is translated too
            answer = self._client.get_object(
                **self._target, Range=f"bytes={start}-{last}", IfMatch=self._etag
            )
            data: bytes = answer["Body"].read()
        self._window = (start, data)
        return self._window
