"""What the sources that list files share, a folder's and an S3 bucket's: which files are recordings, what
their names and sidecars say, when a file is complete, what happens to it once taken; and the presets.

A preset names the layout one recorder writes (Amazon Connect, Asterisk MixMonitor, FreeSWITCH) and fills in
the options it implies; options set beside it win. ``docs/sources.md`` describes each preset.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from enum import StrEnum
from pathlib import Path
from typing import Any

from croniter import croniter
from pydantic import BaseModel, Field, field_validator, model_validator

from callsense.config.models import AgentSpeaks, Channel

# The record fields a filename pattern's named groups and a sidecar mapping may fill; any other named group
# lands in the call's metadata under its own name.
DETAIL_FIELDS = ("call_id", "agent", "customer_number", "direction", "timestamp")
# A sidecar may also name the agent of its call, by its stereo channel or by whether it is the first or the
# second voice to say a word on a mono call: both go into the call's metadata, which the transcribe stage
# prefers to the source's agent_channel and agent_speaks (a folder of inbound and outbound calls).
SIDECAR_FIELDS = (*DETAIL_FIELDS, "agent_channel", "agent_speaks")
MAX_ATTEMPTS = 3  # takes of a file in a row that may end with no outcome before it is given up


class Preset(StrEnum):
    amazon_connect = "amazon-connect"
    asterisk = "asterisk"
    freeswitch = "freeswitch"


class DuplicateAudio(StrEnum):
    skip = "skip"
    take = "take"


class AfterIngest(StrEnum):
    leave = "leave"
    move = "move"
    delete = "delete"


class CallIdFrom(StrEnum):
    name = "name"
    digest = "digest"


class Sidecar(StrEnum):
    none = "none"
    json = "json"
    xml = "xml"


# What each preset sets (docs/sources.md shows the trees they read). Amazon Connect writes
# connect/<instance>/CallRecordings/YYYY/MM/DD/<contactId>_<YYYYMMDDTHH:MM>_UTC.wav with the agent on the
# right; Asterisk's MixMonitor ${UNIQUEID}.wav (the epoch seconds of the call, a dot, a sequence number),
# with the CDR as an optional JSON sidecar; FreeSWITCH's record_session ${uuid}.wav with RECORD_STEREO, the
# recorded (caller's) leg on the left, so the agent on the right. ``path`` applies to folders only.
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

SOURCE_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"


def valid_timestamp_format(value: str | None) -> str | None:
    """A strptime format strptime can read, checked here: with an unknown directive ('%s', '%Q') every file's
    timestamp would be refused, each file then staying refused until it changes."""
    from datetime import datetime

    if value is None or value == "epoch":
        return value
    try:
        datetime.strptime("", value)
    except ValueError as exc:  # an empty text never matches: only a format strptime cannot read is refused
        if "directive" in str(exc) or "stray %" in str(exc):
            raise ValueError(
                f"timestamp_format '{value}': {exc} (strptime's directives; 'epoch' for Unix seconds)"
            ) from None
    return value


class FileSourceSettings(BaseModel):
    """The options of every source that lists files (a folder, an S3 bucket)."""

    model_config = {"extra": "forbid"}

    name: str = Field(
        pattern=SOURCE_NAME,
        description="Unique name (lower-case letters, digits, '-', '_'); `callsense sources poll NAME`. "
        "Renaming a source makes it a new one: its files are taken again.",
    )
    preset: Preset | None = Field(
        default=None,
        description="amazon-connect, asterisk or freeswitch: sets path (folders, where the recorder has a "
        "default), glob, filename_pattern, timestamp_format, sidecar and agent_channel as that recorder "
        "writes them. Options set beside it win.",
    )
    glob: str = Field(
        default="**/*.wav",
        description="Which files are recordings, relative to the folder or prefix ('**' crosses folders).",
    )
    filename_pattern: str | None = Field(
        default=None,
        description="A regular expression the whole path relative to the folder (or key relative to the "
        "prefix) must match. Named groups call_id, agent, customer_number, direction (in/inbound, "
        "out/outbound) and timestamp fill the call's fields; other named groups go into its metadata. "
        "Unset: every file matches.",
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
        "element path for XML (cdr/src). Fields: call_id, agent, customer_number, direction, timestamp, "
        "agent_channel (left or right: this call's, over the source's agent_channel), agent_speaks (first "
        "or second: this mono call's, over the source's agent_speaks). "
        "Every other top-level value (JSON) or leaf element (XML) goes into the call's metadata.",
    )
    agent_channel: Channel | None = Field(
        default=None,
        description="Which stereo channel carries the agent in this source's calls (left, right); unset: "
        "asr.agent_channel.",
    )
    agent_speaks: AgentSpeaks | None = Field(
        default=None,
        description="Mono calls: the agent is the first or the second voice to say a word in this source's "
        "calls (first, second; inbound calls are usually answered by the agent, outbound ones by the "
        "customer); unset: the conversation decides. Ignored on stereo calls (agent_channel applies).",
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
        "into the processed folder (prefix), or delete it. Never twice either way: taken files are "
        "remembered.",
    )
    max_files_per_poll: int = Field(
        default=200,
        ge=1,
        description="Most files one poll takes; the rest wait for the next poll, so a backlog (the first "
        "poll of a full share) never holds a worker for long (about 0.1 s per file).",
    )
    poll_cron: str = Field(
        default="* * * * *",
        description="When the workers poll the source: a cron line, with an optional 6th field of seconds "
        "('* * * * * */15': every 15 s). One worker polls a source at a time, from the 'sources' queue: run "
        "it where the folder is mounted.",
    )
    max_attempts: int = Field(
        default=MAX_ATTEMPTS,
        ge=1,
        description="Takes of one file that may end with no outcome (its poller killed, out of memory or "
        "crashed, or an unexpected error) before the file is given up: shown with its reason by `callsense "
        "sources list`, the operations page and callsense_source_files_given_up; taken again by `callsense "
        "sources retry` or when the file changes.",
    )
    call_id_from: CallIdFrom = Field(
        default=CallIdFrom.name,
        description="Where a call's id comes from: name (the filename pattern's or the sidecar's call_id, "
        "else one derived from the source's name and the path) or digest (always the derived one). A call id "
        "goes into logs and URLs: a recorder's id that holds the caller's phone number (its customer_number, "
        "or an international '+' number) is replaced by the derived one either way.",
    )
    duplicate_audio: DuplicateAudio = Field(
        default=DuplicateAudio.skip,
        description="A file with no call id of its own (none in its name or sidecar) whose audio (SHA-256) "
        "is that of a call this source took already (the recording renamed or copied): skip it, noted on "
        "that call's audit trail, or take it as a call of its own.",
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
            implied = {key: value for key, value in PRESETS[preset].items() if key in cls.model_fields}
            return {**implied, **data}
        return data

    @field_validator("glob")
    @classmethod
    def _relative_glob(cls, value: str) -> str:
        # Path.glob raises on an empty or absolute pattern, and '..' would list files outside the folder
        if not value or value.startswith("/") or ".." in value.split("/"):
            raise ValueError(
                f"glob must be a non-empty pattern relative to the folder or prefix, not '{value}'"
            )
        if any("**" in part and part != "**" for part in value.split("/")):
            raise ValueError(f"glob '{value}': '**' is a whole folder name ('**/*.wav'), not part of one")
        return value

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
        unknown = sorted(set(value) - set(SIDECAR_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown sidecar field(s) {', '.join(unknown)}; use {', '.join(SIDECAR_FIELDS)}"
            )
        return value

    @model_validator(mode="after")
    def _xml_paths(self) -> FileSourceSettings:
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
        return valid_cron(value)

    _timestamp_format = field_validator("timestamp_format")(valid_timestamp_format)


def valid_cron(value: str) -> str:
    if not croniter.is_valid(value):
        raise ValueError(f"poll_cron '{value}' is not a cron line")
    return value


def glob_pattern(glob: str) -> re.Pattern[str]:
    """``glob`` as a regular expression over a relative path: '*' and '?' within one folder, a '**' segment
    any number of folders (none too), as ``Path.glob`` reads it."""
    parts = []
    for segment in glob.split("/"):
        if segment == "**":
            parts.append("(?:[^/]+/)*")
        else:
            escaped = re.escape(segment).replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
            parts.append(escaped + "/")
    pattern = "".join(parts)
    return re.compile(pattern.removesuffix("/") if not pattern.endswith(")*") else pattern + ".*")
