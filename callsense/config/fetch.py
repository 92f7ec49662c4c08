"""Settings of downloading recordings: timeouts, the address allowlist, per-source credentials."""

from __future__ import annotations

import warnings
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class SourceAuthKind(StrEnum):
    basic = "basic"
    bearer = "bearer"


class SourceAuth(BaseModel):
    """Credentials sent to recording URLs that start with url_prefix."""

    model_config = {"extra": "forbid"}

    url_prefix: str = Field(
        description="http(s) URL the credentials belong to: scheme, host and port must match exactly, the "
        "path on a '/' boundary (https://api.twilio.com/2010-04-01/Accounts/AC123 matches its recordings)."
    )
    kind: SourceAuthKind = Field(description="'basic' (username + password) or 'bearer' (token).")
    username: str | None = Field(default=None, description="basic: the user name (Twilio: the account SID).")
    password: SecretStr | None = Field(default=None, description="basic: the password (Twilio: auth token).")
    token: SecretStr | None = Field(default=None, description="bearer: the token sent as 'Bearer <token>'.")

    @model_validator(mode="after")
    def _complete(self) -> SourceAuth:
        from urllib.parse import urlsplit

        parts = urlsplit(self.url_prefix)
        if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"url_prefix must be an http(s) URL with a host, not '{self.url_prefix}'")
        if parts.username or parts.query or parts.fragment:
            raise ValueError("url_prefix must not contain credentials, a query or a fragment")
        if self.kind is SourceAuthKind.basic and (not self.username or self.password is None):
            raise ValueError(f"basic auth for {self.url_prefix} needs username and password")
        if self.kind is SourceAuthKind.bearer and not self.token:
            raise ValueError(f"bearer auth for {self.url_prefix} needs token")
        return self


# Options that once existed, accepted with a warning so that a configuration written for an older version
# still starts; the warning says what to do instead.
REMOVED_FETCH_OPTIONS = {
    "attempts": "each job run downloads once; the job queue retries (see 'Retries' in docs/service.md)",
    "backoff_s": "the job queue's backoff decides the wait between tries (docs/service.md)",
    "backoff_max_s": "the job queue's backoff decides the wait between tries (docs/service.md)",
}


class RemovedSettingWarning(FutureWarning):
    """A setting that no longer has any effect; shown by default, unlike a DeprecationWarning."""


class FetchSettings(BaseModel):
    """Downloading recordings: timeouts, the address allowlist and per-source credentials."""

    model_config = ConfigDict(extra="forbid")

    connect_timeout_s: float = Field(default=10.0, gt=0, description="Longest wait to open a connection.")
    read_timeout_s: float = Field(default=60.0, gt=0, description="Longest wait for more bytes of a body.")
    download_timeout_s: float = Field(
        default=1800.0, gt=0, description="Longest one download attempt may take, redirects included."
    )
    max_redirects: int = Field(default=5, ge=0, le=20, description="Redirects followed, each one re-checked.")
    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Host names (exact, e.g. recorder.corp.example) downloaded from even when they resolve "
        "to a private, loopback or link-local address. Cloud metadata addresses stay refused.",
    )
    allow_networks: list[str] = Field(
        default_factory=list,
        description="CIDRs (10.20.0.0/16, fd12::/48) downloaded from although not public, for an on-premises "
        "recorder. Cloud metadata addresses (169.254.169.254...) are refused unless listed as a /32 or /128.",
    )
    sources: list[SourceAuth] = Field(
        default_factory=list,
        description="Credentials per recording source: a list of {url_prefix, kind: basic|bearer, "
        "username, password, token}; the longest matching url_prefix wins, and nothing is sent after a "
        "redirect to another host. Twilio: kind basic, url_prefix "
        "https://api.twilio.com/2010-04-01/Accounts/<account SID>, username the account SID, password "
        "the auth token.",
    )
    ca_file: Path | None = Field(
        default=None, description="PEM bundle of extra CAs to trust, for an on-premises recorder's https."
    )

    @model_validator(mode="before")
    @classmethod
    def _removed(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name in REMOVED_FETCH_OPTIONS.keys() & data.keys():
            warnings.warn(
                f"fetch.{name} was removed and is ignored: {REMOVED_FETCH_OPTIONS[name]}; "
                f"delete it from the configuration (CALLSENSE_FETCH__{name.upper()} in the environment)",
                RemovedSettingWarning,
                stacklevel=2,
            )
        return {key: value for key, value in data.items() if key not in REMOVED_FETCH_OPTIONS}

    @field_validator("ca_file")
    @classmethod
    def _readable_ca_file(cls, value: Path | None) -> Path | None:
        """Loaded once here: a missing or unreadable bundle would fail every download, each as unexpected."""
        import ssl

        if value is not None:
            if not value.is_file():
                raise ValueError(f"{value} is not a file (a PEM bundle of the recorder's CA certificates)")
            try:
                ssl.create_default_context().load_verify_locations(cafile=str(value))
            except (ssl.SSLError, OSError) as exc:
                raise ValueError(f"{value} holds no CA certificate that can be read: {exc}") from None
        return value

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        try:
            return [str(ipaddress.ip_network(item.strip(), strict=False)) for item in value]
        except ValueError as exc:
            raise ValueError(f"allow_networks: {exc}") from exc

    @field_validator("allow_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        return [item.strip().rstrip(".").lower() for item in value if item.strip()]
