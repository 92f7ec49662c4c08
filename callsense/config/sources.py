"""Settings of the recording sources (the ``sources`` section): folders polled for new recordings.

A preset names the layout one recorder writes (Amazon Connect, Asterisk MixMonitor, FreeSWITCH) and fills in
the options it implies; options set beside it win. ``docs/sources.md`` describes each preset.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from croniter import croniter
from pydantic import BaseModel, Field, field_validator, model_validator

from callsense.config.models import Channel

# The record fields a filename pattern's named groups and a sidecar mapping may fill; any other named group
# lands in the call's metadata under its own name.
DETAIL_FIELDS = ("call_id", "agent", "customer_number", "direction", "timestamp")


class Preset(StrEnum):
    amazon_connect = "amazon-connect"
    asterisk = "asterisk"
    freeswitch = "freeswitch"


class AfterIngest(StrEnum):
    leave = "leave"
    move = "move"
    delete = "delete"


class Sidecar(StrEnum):
    none = "none"
    json = "json"
    xml = "xml"


# What each preset sets (docs/sources.md shows the trees they read). Amazon Connect writes
# connect/<instance>/CallRecordings/YYYY/MM/DD/<contactId>_<YYYYMMDDTHH:MM>_UTC.wav with the agent on the
# right; Asterisk's MixMonitor ${UNIQUEID}.wav (the epoch seconds of the call, a dot, a sequence number),
# with the CDR as an optional JSON sidecar; FreeSWITCH's record_session ${uuid}.wav with RECORD_STEREO, the
# recorded (caller's) leg on the left, so the agent on the right.
PRESETS: dict[Preset, dict[str, Any]] = {
    Preset.amazon_connect: {
        "glob": "**/CallRecordings/**/*.wav",
        "filename_pattern": r"(?:(?:.*/)?connect/(?P<instance>[^/]+)/)?CallRecordings/\d{4}/\d{2}/\d{2}/"
        r"(?P<call_id>[0-9a-fA-F-]{36})_(?P<timestamp>\d{8}T\d{2}:\d{2})_UTC\.wav",
        "timestamp_format": "%Y%m%dT%H:%M",
        "agent_channel": Channel.right,
    },
    Preset.asterisk: {
        "path": Path("/var/spool/asterisk/monitor"),
        "glob": "**/*.wav",
        "filename_pattern": r"(?:.*/)?(?P<call_id>(?P<timestamp>\d{9,11})\.\d+)\.wav",
        "timestamp_format": "epoch",
        "sidecar": Sidecar.json,
        "sidecar_fields": {
            "call_id": "uniqueid",
            "customer_number": "src",
            "agent": "dst",
            "timestamp": "start",
        },
    },
    Preset.freeswitch: {
        "path": Path("/var/lib/freeswitch/recordings"),
        "glob": "**/*.wav",
        "filename_pattern": r"(?:.*/)?(?P<call_id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}"
        r"-[0-9a-fA-F]{12})\.wav",
        "agent_channel": Channel.right,
    },
}


class FolderSourceSettings(BaseModel):
    """A directory tree (a local disk, or an NFS/SMB mount) polled for new recordings."""

    model_config = {"extra": "forbid"}

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
        description="Unique name (lower-case letters, digits, '-', '_'); `callsense sources poll NAME`. "
        "Renaming a source makes it a new one: its files are taken again.",
    )
    preset: Preset | None = Field(
        default=None,
        description="amazon-connect, asterisk or freeswitch: sets path (where the recorder has a default), "
        "glob, filename_pattern, timestamp_format, sidecar and agent_channel as that recorder writes them. "
        "Options set beside it win.",
    )
    path: Path = Field(description="The folder to watch (required unless the preset names one).")
    glob: str = Field(
        default="**/*.wav",
        description="Which files are recordings, relative to path ('**' crosses folders).",
    )
    filename_pattern: str | None = Field(
        default=None,
        description="A regular expression the whole path relative to the folder must match. Named groups "
        "call_id, agent, customer_number, direction (in/inbound, out/outbound) and timestamp fill the "
        "call's fields; other named groups go into its metadata. Unset: every file matches.",
    )
    timestamp_format: str | None = Field(
        default=None,
        description="How the timestamp is written: a strptime format (%Y%m%dT%H:%M), 'epoch' for Unix "
        "seconds, or unset for ISO 8601. A time without a zone is taken as UTC.",
    )
    sidecar: Sidecar = Field(
        default=Sidecar.none,
        description="A metadata file beside each recording, same name with .json or .xml: none, json, xml.",
    )
    sidecar_required: bool = Field(
        default=False,
        description="Wait for the sidecar (the recorder writes it after the audio). False: a recording "
        "without one is taken with what its name tells.",
    )
    sidecar_fields: dict[str, str] = Field(
        default_factory=dict,
        description="Record field -> where the sidecar holds it: a dotted key for JSON (cdr.src), an "
        "element path for XML (cdr/src). Fields: call_id, agent, customer_number, direction, timestamp. "
        "Every other top-level value (JSON) or leaf element (XML) goes into the call's metadata.",
    )
    agent_channel: Channel | None = Field(
        default=None,
        description="Which stereo channel carries the agent in this source's calls (left, right); unset: "
        "asr.agent_channel.",
    )
    stable_seconds: float = Field(
        default=30.0,
        ge=0,
        description="A file is complete once its size and modification time stayed the same this long "
        "(measured by callsense's clock across polls, so a file server's clock does not matter).",
    )
    after_ingest: AfterIngest = Field(
        default=AfterIngest.leave,
        description="What happens to a file (and its sidecar) once its audio is stored: leave it, move it "
        "into processed_dir, or delete it. Never twice either way: taken files are remembered.",
    )
    processed_dir: Path = Field(
        default=Path("processed"),
        description="Where after_ingest = 'move' puts files (relative to path, or absolute), keeping their "
        "sub-folders; never listed as new.",
    )
    max_files_per_poll: int = Field(
        default=200,
        ge=1,
        description="Most files one poll takes; the rest wait for the next poll, so a backlog (the first "
        "poll of a full share) never holds a worker for long (about 0.1 s per file).",
    )
    poll_cron: str = Field(
        default="* * * * *",
        description="When the workers poll the folder: a cron line, with an optional 6th field of seconds "
        "('* * * * * */15': every 15 s). One worker polls a source at a time, from the 'sources' queue: run "
        "it where the folder is mounted.",
    )
    enabled: bool = Field(default=True, description="Disabled sources are not polled.")

    @model_validator(mode="before")
    @classmethod
    def _preset_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset") is not None:
            try:
                preset = Preset(data["preset"])
            except ValueError:
                return data  # the field's own validation names the choices
            return {**PRESETS[preset], **data}
        return data

    @field_validator("filename_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"filename_pattern is not a regular expression: {exc}") from None
        return value

    @field_validator("sidecar_fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(DETAIL_FIELDS))
        if unknown:
            raise ValueError(f"unknown sidecar field(s) {', '.join(unknown)}; use {', '.join(DETAIL_FIELDS)}")
        return value

    @model_validator(mode="after")
    def _xml_paths(self) -> FolderSourceSettings:
        if self.sidecar is Sidecar.xml:
            for field, where in self.sidecar_fields.items():
                try:
                    ElementTree.Element("probe").find(where)
                except (SyntaxError, TypeError):  # ElementPath's answers to a malformed path
                    raise ValueError(f"sidecar_fields.{field}: '{where}' is not an element path") from None
        return self

    @field_validator("poll_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return _valid_cron(value)

    @property
    def reads(self) -> str:
        return str(self.path)


# The record fields a REST source's items are mapped onto, and where each is by default.
REST_FIELDS = {
    "call_id": "call_id",
    "recording_url": "recording_url",
    "agent": "agent",
    "customer_number": "customer_number",
    "direction": "direction",
    "timestamp": "started_at",
}


class RestSourceSettings(BaseModel):
    """An HTTP API that lists recordings since a cursor; each one is then downloaded as a webhook's is."""

    model_config = {"extra": "forbid"}

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
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
        "agent, customer_number, direction, timestamp. Unnamed fields take the defaults shown.",
    )
    timestamp_format: str | None = Field(
        default=None, description="As for folders: a strptime format, 'epoch', or unset for ISO 8601."
    )
    agent_channel: Channel | None = Field(
        default=None, description="The agent's stereo channel in this source's calls; unset: asr's."
    )
    max_pages_per_poll: int = Field(default=10, ge=1, description="Most pages one poll reads.")
    poll_cron: str = Field(default="* * * * *", description="When the workers poll it (as for folders).")
    enabled: bool = Field(default=True, description="Disabled sources are not polled.")

    @property
    def reads(self) -> str:
        """The URL as safe to show: no credentials, no query string."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"https?://[^/]", value):
            raise ValueError(f"url must be an http(s) URL, not '{value}'")
        return value

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
        return _valid_cron(value)


def _valid_cron(value: str) -> str:
    if not croniter.is_valid(value):
        raise ValueError(f"poll_cron '{value}' is not a cron line")
    return value


AnySource = FolderSourceSettings | RestSourceSettings


class SourcesSettings(BaseModel):
    """Where recordings are taken from besides webhooks and the CLI (docs/sources.md)."""

    folders: list[FolderSourceSettings] = Field(
        default_factory=list,
        description="Folders polled for recordings (a TOML array of tables [[sources.folders]]).",
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
        return [*self.folders, *self.rest]

    def enabled(self) -> list[AnySource]:
        return [source for source in self.all() if source.enabled]

    def named(self, name: str) -> AnySource | None:
        return next((source for source in self.all() if source.name == name), None)
