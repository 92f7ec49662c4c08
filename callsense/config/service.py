"""Settings of the service: webhooks, Twilio, the HTTP server, sign-in limits and the metrics scraper."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


def http_url(value: str | None) -> str | None:
    """``value`` when it is an http(s) URL with a host: 'gpu-box:11434' parses as a URL of scheme 'gpu-box',
    which only the first request would refuse."""
    if value is not None:
        parts = urlsplit(value)
        if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"must be an http(s) URL with a host (http://host:port), not '{value}'")
    return value


def webhook_secret_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (``whsec_`` and base64, or the base64 alone). Raises
    ``ValueError`` in words that never quote the secret: checked when the settings load, so that a
    placeholder left in place stops the start instead of every webhook and delivery that uses it."""
    encoded = secret.strip().removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError("is not valid base64 (a secret is whsec_ followed by base64)") from None
    if not key:
        raise ValueError("is empty")
    return key


class WebhookSettings(BaseModel):
    """Incoming "recording ready" webhooks."""

    model_config = ConfigDict(extra="forbid")

    secrets: list[SecretStr] = Field(
        default_factory=list,
        description="Standard Webhooks signing secrets (whsec_ and base64, as the recorder shows them; "
        "one that is not is refused at start). Several at once during a rotation.",
    )
    bearer_tokens: list[SecretStr] = Field(
        default_factory=list,
        description="Opt-in, for recorders that cannot sign: accepted 'Authorization: Bearer' tokens.",
    )
    tolerance_s: int = Field(
        default=300, ge=10, le=3600, description="Allowed clock skew of webhook-timestamp."
    )

    @field_validator("secrets")
    @classmethod
    def _keys(cls, secrets: list[SecretStr]) -> list[SecretStr]:
        for number, secret in enumerate(secrets, 1):
            try:
                webhook_secret_key(secret.get_secret_value())
            except ValueError as exc:
                raise ValueError(f"secret #{number} {exc}") from None
        return secrets


class TwilioSettings(BaseModel):
    """Twilio RecordingStatusCallback webhooks and recording downloads."""

    model_config = ConfigDict(extra="forbid")

    account_sid: str | None = Field(default=None, description="Account SID, used to download recordings.")
    auth_tokens: list[SecretStr] = Field(
        default_factory=list, description="Auth tokens that sign callbacks (several during a rotation)."
    )
    public_url: str | None = Field(
        default=None,
        description="The public base URL Twilio calls (https://calls.example.com), needed behind a reverse "
        "proxy because the signature covers the URL Twilio used.",
    )

    _public_url = field_validator("public_url")(http_url)


class ServerSettings(BaseModel):
    """The HTTP API and the worker that `callsense serve` runs."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="Address to listen on (0.0.0.0 for every interface).")
    port: int = Field(default=8000, ge=1, le=65535, description="Port to listen on.")
    worker_concurrency: int = Field(
        default=1, ge=0, le=64, description="Jobs the in-process worker runs at once; 0 runs no worker."
    )


class SignInSettings(BaseModel):
    """Dashboard sign-in: failure limits kept in the database (shared by every `serve` process) and the
    password hashing each process does at once."""

    model_config = ConfigDict(extra="forbid")

    window_s: int = Field(
        default=900, ge=60, le=86400, description="Failed sign-ins are counted over this many seconds."
    )
    max_failures_per_user: int = Field(
        default=10, ge=1, le=10000, description="Failed sign-ins for one user name within the window."
    )
    max_failures_per_client: int = Field(
        default=30,
        ge=1,
        le=100000,
        description="Failed sign-ins from one client address (IPv6: one /64) within the window, over all "
        "user names: stops password spraying.",
    )
    max_failures_total: int = Field(
        default=300,
        ge=1,
        le=100000,
        description="Failed sign-ins from everyone within the window; beyond it nobody can sign in until "
        "the window passes (existing sessions keep working). Also bounds the table that counts them.",
    )
    hash_concurrency: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Sign-ins checked at once per process: each argon2 check takes 64 MiB and four cores.",
    )
    hash_queue: int = Field(
        default=8,
        ge=0,
        le=1000,
        description="Sign-ins that may wait for a check per process; more are answered 503 at once.",
    )


class MetricsSettings(BaseModel):
    """Who may read /metrics and the details of /readyz (call volumes, queue depths, destination names)."""

    model_config = ConfigDict(extra="forbid")

    token: SecretStr | None = Field(
        default=None,
        description="Bearer token a scraper sends ('Authorization: Bearer ...'; Prometheus: "
        "authorization.credentials). Unset: /metrics answers 401 to everyone and /readyz its status only. "
        "/healthz needs nothing.",
    )
