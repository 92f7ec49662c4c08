"""How callsense reaches an S3-compatible service (AWS, MinIO, Ceph, SeaweedFS), for the archive's bucket
and for a recording source's: endpoint, credentials (or the standard AWS chain), TLS, proxy, timeouts."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, model_validator

# AWS's bucket naming rules, which MinIO, Ceph and SeaweedFS follow too.
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class AddressingStyle(StrEnum):
    auto = "auto"
    path = "path"
    virtual = "virtual"


class S3Access(BaseModel):
    """The connection options of an S3 bucket."""

    endpoint_url: str | None = Field(
        default=None,
        description="The service's URL (https://minio.internal:9000). Unset: AWS, or AWS_ENDPOINT_URL.",
    )
    region: str | None = Field(
        default=None, description="The bucket's region. Unset: AWS_REGION or the AWS config file."
    )
    addressing_style: AddressingStyle = Field(
        default=AddressingStyle.auto,
        description="'path' (endpoint/bucket/key, what most self-hosted stores need), 'virtual' "
        "(bucket.endpoint/key) or 'auto' (virtual where the bucket name allows it).",
    )
    access_key_id: str | None = Field(
        default=None,
        description="Access key. Unset: the standard AWS chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, "
        "~/.aws/credentials, the instance or container role).",
    )
    secret_access_key: SecretStr | None = Field(
        default=None, description="The secret of access_key_id (set both or neither)."
    )
    ca_bundle: Path | None = Field(
        default=None, description="PEM file of the CA that signed the endpoint's certificate."
    )
    proxy_url: str | None = Field(
        default=None,
        description="HTTP(S) proxy to reach the endpoint through. Unset: direct; the HTTP_PROXY / "
        "HTTPS_PROXY variables are ignored, so recordings never take a route the settings do not name.",
    )
    connect_timeout_s: float = Field(default=10.0, gt=0, le=300, description="Longest wait to connect.")
    read_timeout_s: float = Field(
        default=60.0, gt=0, le=3600, description="Longest wait for the service to answer or send data."
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Tries per request, for network errors, 5xx and throttling; then the caller's own "
        "retry takes over (the job queue retries the stage, a source's next poll tries again).",
    )

    @model_validator(mode="after")
    def _complete(self) -> S3Access:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("set access_key_id and secret_access_key together, or neither")
        if self.ca_bundle is not None and not self.ca_bundle.is_file():  # else a TLS error on first use
            raise ValueError(f"ca_bundle {self.ca_bundle} is not a file (the PEM file of the endpoint's CA)")
        for label, url in (("endpoint_url", self.endpoint_url), ("proxy_url", self.proxy_url)):
            if url is not None:
                parts = urlsplit(url)
                if parts.scheme not in {"http", "https"} or not parts.hostname:
                    raise ValueError(f"{label} must be an http(s) URL with a host, not '{url}'")
        return self
