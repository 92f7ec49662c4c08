"""Settings of the recording sources (the ``sources`` section): folders, S3 buckets and REST APIs polled for
new recordings. What folders and buckets share, and the presets: ``file_sources.py``."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from callsense.config.file_sources import (
    DETAIL_FIELDS,
    PRESETS,
    SOURCE_NAME,
    AfterIngest,
    FileSourceSettings,
    Preset,
    Sidecar,
    valid_cron,
    valid_timestamp_format,
)
from callsense.config.models import AgentSpeaks, Channel, SourceVocabulary
from callsense.config.s3 import BUCKET, S3Access
from callsense.config.service import http_url

__all__ = [
    "DETAIL_FIELDS",
    "PRESETS",
    "AfterIngest",
    "AnySource",
    "CursorMode",
    "FileSourceSettings",
    "FolderSourceSettings",
    "Preset",
    "RestSourceSettings",
    "S3SourceSettings",
    "Sidecar",
    "SourcesSettings",
]


class FolderSourceSettings(SourceVocabulary, FileSourceSettings):
    """A directory tree (a local disk, or an NFS/SMB mount) polled for new recordings."""

    model_config = ConfigDict(extra="forbid")

    path: Path = Field(description="The folder to watch (required unless the preset names one).")
    processed_dir: Path = Field(
        default=Path("processed"),
        description="Where after_ingest = 'move' puts files (relative to path, or absolute), keeping their "
        "sub-folders; never listed as new.",
    )

    @model_validator(mode="after")
    def _processed_inside(self) -> FolderSourceSettings:
        # The processed folder is never listed: the folder itself, or one above it, would hide every file.
        folder = Path(os.path.normpath(self.path.expanduser()))
        processed = Path(os.path.normpath(folder / self.processed_dir))
        if processed == folder or processed in folder.parents:
            raise ValueError(
                f"processed_dir '{self.processed_dir}' is the folder itself or above it: no file would be "
                "listed; name a sub-folder (the default, processed) or a folder elsewhere"
            )
        return self

    @property
    def reads(self) -> str:
        return str(self.path)


class CursorMode(StrEnum):
    folder = "folder"
    key = "key"
    none = "none"


class S3SourceSettings(S3Access, SourceVocabulary, FileSourceSettings):
    """A bucket (and prefix) of an S3-compatible store polled for new recordings."""

    model_config = ConfigDict(extra="forbid")

    bucket: str = Field(description="The bucket the recorder writes to (required).")
    prefix: str = Field(
        default="",
        description="Only keys under this prefix are listed (connect/my-instance/); paths, globs and "
        "filename patterns are relative to it.",
    )
    processed_prefix: str = Field(
        default="processed/",
        description="Where after_ingest = 'move' puts objects (copy, then delete), under prefix, keeping "
        "the rest of their key; never listed as new.",
    )
    stable_seconds: float = Field(
        default=0.0,
        ge=0,
        description="Wait this long after an object's first sighting (S3 shows an object only once its "
        "upload completed, so 0 suits most recorders; more for one that overwrites objects).",
    )
    cursor: CursorMode = Field(
        default=CursorMode.folder,
        description="Where each poll's listing starts, stored in the database: 'folder' re-lists the folder "
        "of the last key taken and everything after it (date folders, as Amazon Connect writes); 'key' "
        "lists only keys after the last one taken (names that grow with time); 'none' lists the whole "
        "prefix every poll. An object written under a key before the cursor is not seen: see "
        "docs/sources.md.",
    )
    max_keys_per_poll: int = Field(
        default=10_000,
        ge=1,
        description="Most keys past the cursor one poll lists (1,000 per request); the next poll goes on.",
    )

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if not BUCKET.fullmatch(value) or ".." in value:
            raise ValueError(f"bucket '{value}' is not a valid bucket name (3-63 of a-z, 0-9, '.', '-')")
        return value

    @field_validator("prefix", "processed_prefix")
    @classmethod
    def _folder_like(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name == "processed_prefix" and not value:
            raise ValueError("processed_prefix must not be empty: objects would be moved onto themselves")
        if value and (not value.endswith("/") or value.startswith("/")):
            raise ValueError(f"a prefix is empty or ends in '/' and does not start with one, not '{value}'")
        return value

    @property
    def reads(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


# The record fields a REST source's items are mapped onto, and where each is by default. An item's
# agent_channel and agent_speaks go into its call's metadata, as a webhook's and a sidecar's do, and win over
# the source's.
REST_FIELDS = {
    "call_id": "call_id",
    "recording_url": "recording_url",
    "agent": "agent",
    "customer_number": "customer_number",
    "direction": "direction",
    "timestamp": "started_at",
    "agent_channel": "agent_channel",
    "agent_speaks": "agent_speaks",
}


class RestSourceSettings(SourceVocabulary):
    """An HTTP API that lists recordings since a cursor; each one is then downloaded as a webhook's is."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=SOURCE_NAME,
        description="Unique name among all sources (lower-case letters, digits, '-', '_').",
    )
    url: str = Field(
        description="The listing endpoint (http or https), fetched through the same guard as recordings: "
        "credentials from fetch.sources, private addresses only when fetch.allow_hosts/allow_networks allow.",
    )
    cursor_param: str = Field(default="since", description="Query parameter that carries the cursor.")
    start_cursor: str | None = Field(
        default=None, description="Cursor of the very first poll; unset: the parameter is left out."
    )
    items_path: str = Field(
        default="recordings",
        description="Dotted path of the list of recordings in the answer; empty: the answer is the list.",
    )
    next_cursor_path: str = Field(
        default="next_cursor",
        description="Dotted path of the next cursor in the answer; missing, null or unchanged: no more "
        "pages.",
    )
    fields: dict[str, str] = Field(
        default_factory=lambda: dict(REST_FIELDS),
        description="Record field -> dotted key in each item: call_id and recording_url (both required), "
        "agent, customer_number, direction, timestamp, agent_channel (left or right: this call's, over the "
        "source's agent_channel), agent_speaks (first or second: this mono call's, over the source's "
        "agent_speaks). Unnamed fields take the defaults shown.",
    )
    timestamp_format: str | None = Field(
        default=None, description="As for folders: a strptime format, 'epoch', or unset for ISO 8601."
    )
    agent_channel: Channel | None = Field(
        default=None, description="The agent's stereo channel in this source's calls; unset: asr's."
    )
    agent_speaks: AgentSpeaks | None = Field(
        default=None,
        description="Mono calls: the agent is the first or the second voice to say a word (as for folders).",
    )
    max_pages_per_poll: int = Field(default=10, ge=1, description="Most pages one poll reads.")
    poll_cron: str = Field(default="* * * * *", description="When the workers poll it (as for folders).")
    enabled: bool = Field(default=True, description="Disabled sources are not polled.")

    @property
    def reads(self) -> str:
        """The URL as safe to show: no credentials, no query string."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"

    _http = field_validator("url")(http_url)

    @field_validator("fields")
    @classmethod
    def _mapped(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(REST_FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}; use {', '.join(REST_FIELDS)}")
        return {**REST_FIELDS, **value}

    @field_validator("poll_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return valid_cron(value)

    _timestamp_format = field_validator("timestamp_format")(valid_timestamp_format)


AnySource = FolderSourceSettings | S3SourceSettings | RestSourceSettings


class SourcesSettings(BaseModel):
    """Where recordings are taken from besides webhooks and the CLI (docs/sources.md)."""

    model_config = ConfigDict(extra="forbid")

    folders: list[FolderSourceSettings] = Field(
        default_factory=list,
        description="Folders polled for recordings (a TOML array of tables [[sources.folders]]).",
    )
    s3: list[S3SourceSettings] = Field(
        default_factory=list,
        description="S3 buckets (AWS, MinIO, Ceph, SeaweedFS) polled for recordings ([[sources.s3]]).",
    )
    rest: list[RestSourceSettings] = Field(
        default_factory=list,
        description="HTTP APIs polled for new recordings (a TOML array of tables [[sources.rest]]).",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> SourcesSettings:
        names = [source.name for source in self.all()]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"source names must be unique: {', '.join(twice)}")
        return self

    def all(self) -> list[AnySource]:
        return [*self.folders, *self.s3, *self.rest]

    def enabled(self) -> list[AnySource]:
        return [source for source in self.all() if source.enabled]

    def named(self, name: str) -> AnySource | None:
        return next((source for source in self.all() if source.name == name), None)
