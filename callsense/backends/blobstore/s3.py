"""A ``BlobStore`` in an S3 bucket: AWS or any S3-compatible store (MinIO, Ceph, SeaweedFS), through boto3.

Blob ``calls/1/audio`` is the object ``<prefix>calls/1/audio``. Callers hand over AES-256-GCM ciphertext, so
the bucket holds nothing readable without the key ring. A blob at least ``multipart_threshold_bytes`` long
goes up as a multipart upload, in parts sent side by side; S3 makes an object visible only when its upload
completes, so a reader sees the old blob or the new one, never a part, even when the upload dies half way.

botocore's errors are translated here: no such object → ``NotFoundError``; network, 5xx, 408 and 429 →
``BlobStoreUnavailableError`` (the job queue retries); no such bucket, refused credentials, a denying policy
→ ``BlobStoreRefusedError``, saying which setting to look at.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from boto3.s3.transfer import TransferConfig
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

from callsense.backends.blobstore.base import validate_key
from callsense.backends.http_status import is_retryable
from callsense.backends.s3client import make_client
from callsense.config.blobs import BlobSettings
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


class S3BlobStore:
    def __init__(
        self, client: Any, *, bucket: str, prefix: str = "", transfer: TransferConfig | None = None
    ) -> None:
        """``client``: a boto3 S3 client (thread-safe, shared by every call); ``from_settings`` builds one."""
        self._client = client
        self._bucket = bucket
        self._prefix = prefix
        self._transfer = transfer or TransferConfig()

    @classmethod
    def from_settings(cls, settings: BlobSettings) -> S3BlobStore:
        assert settings.bucket is not None  # BlobSettings requires it for backend s3
        client = make_client(settings, pool_connections=max(10, settings.max_concurrency))
        transfer = TransferConfig(
            multipart_threshold=settings.multipart_threshold_bytes,
            multipart_chunksize=settings.multipart_part_bytes,
            max_concurrency=settings.max_concurrency,
        )
        return cls(client, bucket=settings.bucket, prefix=settings.prefix, transfer=transfer)

    def __repr__(self) -> str:
        endpoint = self._client.meta.endpoint_url
        return f"S3BlobStore({endpoint!r}, bucket={self._bucket!r}, prefix={self._prefix!r})"

    def put(self, key: str, data: bytes) -> None:
        name = self._object_key(key)
        with self._translated(key):
            self._client.upload_fileobj(io.BytesIO(data), self._bucket, name, Config=self._transfer)

    def get(self, key: str) -> bytes:
        name = self._object_key(key)
        with self._translated(key):  # the body is read inside: a connection cut half way is translated too
            body: bytes = self._client.get_object(Bucket=self._bucket, Key=name)["Body"].read()
        return body

    def delete(self, key: str) -> None:
        """S3 answers 204 whether or not the object existed. On a versioned bucket this adds a delete
        marker; the old versions stay until the bucket's lifecycle rule expires them (docs/archive.md)."""
        name = self._object_key(key)
        with self._translated(key):
            self._client.delete_object(Bucket=self._bucket, Key=name)

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
