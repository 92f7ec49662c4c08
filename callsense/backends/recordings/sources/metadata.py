"""What a recording's name and its sidecar file say about the call, mapped onto the record's fields.

A filename pattern is a regular expression over the path relative to the source's folder; its named groups
``call_id``, ``agent``, ``customer_number``, ``direction`` and ``timestamp`` fill those fields, any other
named group lands in the call's metadata. A sidecar (``.json`` or ``.xml`` beside the recording) is mapped
by ``sidecar_fields``; its other values land in the metadata too. Without a call id, one is derived from the
source's name and the file's path, so the same file always gets the same id.
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from callsense.calls.service import SOURCE_AGENT_SPEAKS_KEY, CallDetails
from callsense.config.file_sources import CallIdFrom
from callsense.config.sources import DETAIL_FIELDS, AnySource, FileSourceSettings, Sidecar
from callsense.errors import RecordingRefusedError

# The call ids the webhooks accept, so a call taken from a folder can be looked up the same way.
CALL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
DIRECTIONS = {"in": "inbound", "inbound": "inbound", "out": "outbound", "outbound": "outbound"}
# Metadata values are kept short: a sidecar is the recorder's notes on the call, not a document.
MAX_VALUE_CHARS = 1000
# A phone number in a recorder's call id: its digits, at least this many (shorter runs are sequence numbers,
# extensions, dates), or an international number written with its "+".
_MIN_PHONE_DIGITS = 7
_INTERNATIONAL_NUMBER = re.compile(r"\+\s?\d{7,15}")


def derived_call_id(source: str, key: str) -> str:
    """The same id for the same file of the same source, on every poller and after every restart."""
    digest = hashlib.sha256(f"{source}\0{key}".encode()).hexdigest()[:32]
    return f"{source}-{digest}"


def from_path(pattern: str | None, key: str) -> dict[str, str]:
    """The named groups of ``pattern`` matched against the whole relative path ``key``."""
    if pattern is None:
        return {}
    match = re.fullmatch(pattern, key)
    if match is None:
        raise RecordingRefusedError("its path does not match the source's filename_pattern")
    return {name: value for name, value in match.groupdict().items() if value is not None}


def sidecar_suffix(kind: Sidecar, recording_suffix: str) -> str:
    """The sidecar's suffix beside a recording's: in capitals beside one in capitals, as a Windows recorder
    writes them (REC1.WAV, REC1.XML)."""
    suffix = f".{kind.value}"
    return suffix.upper() if recording_suffix.isupper() else suffix


def from_sidecar(kind: Sidecar, data: bytes, fields: Mapping[str, str]) -> dict[str, str]:
    """The sidecar's values: the mapped fields under their record names, every other value under its own."""
    if kind is Sidecar.json:
        return _from_json(data, fields)
    return _from_xml(data, fields)


def _from_json(data: bytes, fields: Mapping[str, str]) -> dict[str, str]:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordingRefusedError(f"its sidecar is not JSON: {exc}") from None
    except RecursionError:  # a recorder's bug or a hostile file: no poll should stop on it
        raise RecordingRefusedError("its sidecar is not JSON: nested too deeply") from None
    if not isinstance(document, dict):
        raise RecordingRefusedError("its sidecar is not a JSON object")
    values = {
        name: _text(value) for name, value in document.items() if isinstance(value, str | int | float | bool)
    }
    mapped_keys = {where.split(".")[0] for where in fields.values()}
    values = {name: value for name, value in values.items() if name not in mapped_keys}
    for field, where in fields.items():
        found: Any = document
        for part in where.split("."):
            found = found.get(part) if isinstance(found, dict) else None
        if isinstance(found, str | int | float) and not isinstance(found, bool):
            values[field] = _text(found)
    return values


def _from_xml(data: bytes, fields: Mapping[str, str]) -> dict[str, str]:
    # The standard parser expands no external entities, and expat >= 2.4.1 stops entity-expansion bombs.
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise RecordingRefusedError(f"its sidecar is not XML: {exc}") from None
    mapped = {id(element) for where in fields.values() for element in root.iterfind(where)}
    values = {
        element.tag: _text(element.text.strip())
        for element in root.iter()
        if len(element) == 0 and element.text and element.text.strip() and id(element) not in mapped
    }
    for field, where in fields.items():
        text = root.findtext(where)
        if text and text.strip():
            values[field] = _text(text.strip())
    return values


def _text(value: str | int | float | bool) -> str:
    return str(value)[:MAX_VALUE_CHARS]


def parse_timestamp(value: str, timestamp_format: str | None) -> datetime:
    """``value`` as written by the recorder: ``timestamp_format`` (strptime, or 'epoch' for Unix seconds),
    else ISO 8601 (a sidecar may write the time differently from the name); a time without a zone is UTC."""
    parsers = [datetime.fromisoformat]
    if timestamp_format == "epoch":
        parsers.insert(0, lambda text: datetime.fromtimestamp(float(text), UTC))
    elif timestamp_format is not None:
        parsers.insert(0, lambda text: datetime.strptime(text, timestamp_format))
    for parse in parsers:
        try:
            parsed = parse(value)
        except (ValueError, OverflowError, OSError):
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    expected = f"{timestamp_format} or ISO 8601" if timestamp_format else "ISO 8601"
    raise RecordingRefusedError(f"its timestamp '{value[:40]}' is not {expected}")


def holds_phone_number(call_id: str, customer_number: str | None) -> bool:
    """Whether ``call_id`` holds a phone number: an international one ("+4915112345678_2026-12-05"), or
    the call's ``customer_number`` in any of its forms ("015112345678-7" for "+49 151 12345678")."""
    if _INTERNATIONAL_NUMBER.search(call_id):
        return True
    caller = re.sub(r"\D", "", customer_number or "").lstrip("0")
    if len(caller) < _MIN_PHONE_DIGITS:
        return False
    runs = (run.lstrip("0") for run in re.findall(r"\d+", call_id))
    return any(
        len(run) >= _MIN_PHONE_DIGITS and (caller.endswith(run) or run.endswith(caller)) for run in runs
    )


def call_details(values: Mapping[str, str], *, settings: AnySource, key: str) -> tuple[str, CallDetails]:
    """The call id and details from the name's and the sidecar's ``values`` (the sidecar's win). The
    recorder's call id is taken unless the source says ``call_id_from = "digest"`` or the id holds a phone
    number: a call id goes into logs and URLs, so either way the id is derived from the path. The source's
    agent settings go with the call as they are now (``calls.agent_channel``, ``SOURCE_AGENT_SPEAKS_KEY``)."""
    given = values.get("call_id")
    by_digest = isinstance(settings, FileSourceSettings) and settings.call_id_from is CallIdFrom.digest
    if given and not by_digest and not holds_phone_number(given, values.get("customer_number")):
        call_id = given
    else:
        call_id = derived_call_id(settings.name, key)
    if not CALL_ID.fullmatch(call_id):  # not quoted: it may hold what the caller said or typed
        raise RecordingRefusedError("its call id has characters a call id cannot have")
    direction = values.get("direction")
    if direction is not None and direction.lower() not in DIRECTIONS:
        raise RecordingRefusedError(f"its direction '{direction[:40]}' is neither inbound nor outbound")
    timestamp = values.get("timestamp")
    extra = {name: value for name, value in values.items() if name not in DETAIL_FIELDS}
    speaks = settings.agent_speaks.value if settings.agent_speaks else None
    return call_id, CallDetails(
        agent=values.get("agent", "")[:200] or None,
        customer_number=values.get("customer_number", "")[:40] or None,
        direction=DIRECTIONS[direction.lower()] if direction else None,
        started_at=parse_timestamp(timestamp, settings.timestamp_format) if timestamp else None,
        # The source's agent_speaks last, so that no sidecar or listed value of that name can pose as it.
        metadata={"source": settings.name, "path": key, **extra, SOURCE_AGENT_SPEAKS_KEY: speaks},
        agent_channel=settings.agent_channel.value if settings.agent_channel else None,
    )
