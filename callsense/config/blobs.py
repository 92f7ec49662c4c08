"""Settings of the archive, where encrypted recordings are kept: a directory (``blob_dir``) or S3."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

MIB = 1024 * 1024
# S3's smallest part of a multipart upload (all but the last); boto3 raises a smaller setting to it silently.
MIN_PART_BYTES = 5 * MIB
# AWS's bucket naming rules, which MinIO, Ceph and SeaweedFS follow too.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX = re.compile(r"([A-Za-z0-9._-]+/)*")


class BlobBackendName(StrEnum):
    filesystem = "filesystem"
    s3 = "s3"


class AddressingStyle(StrEnum):
    auto = "auto"
    path = "path"
    virtual = "virtual"


class BlobSettings(BaseModel):
    """the archive of encrypted recordings (see docs/archive.md); the `s3:` options apply to backend s3"""

    model_config = {"extra": "forbid"}

    backend: BlobBackendName = Field(
        default=BlobBackendName.filesystem,
        description="'filesystem': the directory blob_dir (local disk or a NAS mount); 's3': an S3 bucket "
        "(AWS, MinIO, Ceph, SeaweedFS...). Either holds AES-256-GCM ciphertext only.",
    )
    archive_records: bool = Field(
        default=False,
        description="Also write each analysed call's record (its redacted view, as the dashboard shows it, "
        "as JSON) to the archive, encrypted like its audio, under records/<call uuid>.json: written when "
        "the analysis or a reprocessing ends and when its categories are re-evaluated; deleted by erasure "
        "and by the text purge.",
    )
    bucket: str | None = Field(default=None, description="s3: the bucket, which must exist (required).")
    prefix: str = Field(
        default="",
        description="s3: key prefix of every object, ending in '/' (callsense/prod/); empty: none.",
    )
    endpoint_url: str | None = Field(
        default=None,
        description="s3: the service's URL (https://minio.internal:9000). Unset: AWS, or AWS_ENDPOINT_URL.",
    )
    region: str | None = Field(
        default=None, description="s3: the bucket's region. Unset: AWS_REGION or the AWS config file."
    )
    addressing_style: AddressingStyle = Field(
        default=AddressingStyle.auto,
        description="s3: 'path' (endpoint/bucket/key, what most self-hosted stores need), 'virtual' "
        "(bucket.endpoint/key) or 'auto' (virtual where the bucket name allows it).",
    )
    access_key_id: str | None = Field(
        default=None,
        description="s3: access key. Unset: the standard AWS chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, "
        "~/.aws/credentials, the instance or container role).",
    )
    secret_access_key: SecretStr | None = Field(
        default=None, description="s3: the secret of access_key_id (set both or neither)."
    )
    ca_bundle: Path | None = Field(
        default=None, description="s3: PEM file of the CA that signed the endpoint's certificate."
    )
    proxy_url: str | None = Field(
        default=None,
        description="s3: HTTP(S) proxy to reach the endpoint through. Unset: direct; the HTTP_PROXY / "
        "HTTPS_PROXY variables are ignored, so recordings never take a route the settings do not name.",
    )
    multipart_threshold_bytes: int = Field(
        default=64 * MIB,
        ge=MIN_PART_BYTES,
        description="s3: blobs at least this large are uploaded in parts (multipart upload).",
    )
    multipart_part_bytes: int = Field(
        default=16 * MIB,
        ge=MIN_PART_BYTES,
        le=5 * 1024 * MIB,
        description="s3: size of each part of a multipart upload (S3 allows 5 MiB to 5 GiB).",
    )
    max_concurrency: int = Field(
        default=4, ge=1, le=64, description="s3: parts of one blob uploaded at the same time."
    )
    connect_timeout_s: float = Field(default=10.0, gt=0, le=300, description="s3: longest wait to connect.")
    read_timeout_s: float = Field(
        default=60.0, gt=0, le=3600, description="s3: longest wait for the service to answer or send data."
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="s3: tries per request within one stage run, for network errors, 5xx and throttling; "
        "then the job queue retries the stage.",
    )

    @field_validator("prefix")
    @classmethod
    def _key_prefix(cls, value: str) -> str:
        if not _PREFIX.fullmatch(value) or any(part in {".", ".."} for part in value.split("/")):
            raise ValueError(
                f"prefix must be segments of [A-Za-z0-9._-] each ending in '/' (callsense/), not '{value}'"
            )
        return value

    @model_validator(mode="after")
    def _complete(self) -> BlobSettings:
        if self.backend is BlobBackendName.s3:
            if not self.bucket:
                raise ValueError("backend 's3' needs bucket")
            if not _BUCKET.fullmatch(self.bucket) or ".." in self.bucket:
                raise ValueError(
                    f"bucket '{self.bucket}' is not a valid bucket name (3-63 of a-z, 0-9, '.', '-')"
                )
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("set access_key_id and secret_access_key together, or neither")
        for label, url in (("endpoint_url", self.endpoint_url), ("proxy_url", self.proxy_url)):
            if url is not None:
                parts = urlsplit(url)
                if parts.scheme not in {"http", "https"} or not parts.hostname:
                    raise ValueError(f"{label} must be an http(s) URL with a host, not '{url}'")
        return self
