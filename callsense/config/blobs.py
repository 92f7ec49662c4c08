"""Settings of the archive, where encrypted recordings are kept: a directory (``blob_dir``) or S3."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import ConfigDict, Field, field_validator, model_validator

from callsense.config.s3 import BUCKET, S3Access

MIB = 1024 * 1024
# S3's smallest part of a multipart upload (all but the last); boto3 raises a smaller setting to it silently.
MIN_PART_BYTES = 5 * MIB
_PREFIX = re.compile(r"([A-Za-z0-9._-]+/)*")


class BlobBackendName(StrEnum):
    filesystem = "filesystem"
    s3 = "s3"


class BlobSettings(S3Access):
    """the archive of encrypted recordings (docs/archive.md); all but backend, archive_records are for s3"""

    model_config = ConfigDict(extra="forbid")

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
    multipart_threshold_bytes: int = Field(
        default=16 * MIB,
        ge=MIN_PART_BYTES,
        description="s3: blobs at least this large are uploaded in parts (multipart upload); this much of a "
        "blob is gathered in memory before its upload starts.",
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

    @field_validator("prefix")
    @classmethod
    def _key_prefix(cls, value: str) -> str:
        if not _PREFIX.fullmatch(value) or any(part in {".", ".."} for part in value.split("/")):
            raise ValueError(
                f"prefix must be segments of [A-Za-z0-9._-] each ending in '/' (callsense/), not '{value}'"
            )
        return value

    @model_validator(mode="after")
    def _bucket_for_s3(self) -> BlobSettings:
        if self.backend is BlobBackendName.s3:
            if not self.bucket:
                raise ValueError("backend 's3' needs bucket")
            if not BUCKET.fullmatch(self.bucket) or ".." in self.bucket:
                raise ValueError(
                    f"bucket '{self.bucket}' is not a valid bucket name (3-63 of a-z, 0-9, '.', '-')"
                )
        return self
