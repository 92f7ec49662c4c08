"""A person reading a call's protected parts: its transcript and its recording, each reading audited.

Viewers see the record without its transcript; analysts and admins see it whole, and an event names them.
``via`` is where the reader came through (``api``, ``web``), kept as the event's stage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from callsense.calls import service as calls
from callsense.calls.models import Call
from callsense.calls.schemas import CallRecord
from callsense.crypto import KeyRing
from callsense.errors import NotFoundError, UnsatisfiableRangeError

AUDIO_TYPES = {"flac": "audio/flac", "wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg"}


def read_record(
    *, session: Session, keyring: KeyRing, call: Call, transcript_allowed: bool, actor: str, via: str
) -> CallRecord:
    """The call's record; with ``transcript_allowed`` whole and the reading audited, else as a viewer sees
    it: metadata and analysis, none of the words said."""
    record = calls.to_record(call=call, keyring=keyring)
    if not transcript_allowed:
        hidden: dict[str, object] = {"transcript": "", "segments": [], "translated_transcript": None}
        quoteless = [match.without_quotes() for match in record.categories]
        return record.model_copy(update={**hidden, "categories": quoteless})
    calls.add_event(session=session, call_pk=call.id, stage=via, kind="transcript_viewed", actor=actor)
    return record


class BlobReader(Protocol):
    def get(self, key: str) -> bytes: ...


@dataclass(frozen=True)
class Recording:
    """The decrypted recording, or the part of it that was asked for."""

    content: bytes
    media_type: str
    size: int  # of the whole recording
    span: tuple[int, int] | None  # first and last byte of ``content``, None when it is all of it


def byte_span(header: str | None, size: int) -> tuple[int, int] | None:
    """The bytes an HTTP ``Range`` header asks for (one range, RFC 9110), or None for the whole recording;
    raises ``UnsatisfiableRangeError`` when the header is malformed or lies outside the recording."""
    if not header:
        return None
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not match or match.groups() == ("", ""):
        raise UnsatisfiableRangeError(size)
    first, last = match.groups()
    start, end = (
        (size - int(last), size - 1) if first == "" else (int(first), int(last) if last else size - 1)
    )
    start, end = max(start, 0), min(end, size - 1)
    if start > end:
        raise UnsatisfiableRangeError(size)
    return start, end


def _media_type(audio_format: str | None) -> str:
    kind = (audio_format or "").split("/", 1)[0].split(",")[0]
    return AUDIO_TYPES.get(
        kind, "audio/mp4" if "mp4" in kind or "mov" in kind else "application/octet-stream"
    )


def play_recording(
    *,
    session: Session,
    keyring: KeyRing,
    blobs: BlobReader,
    call_id: str,
    range_header: str | None,
    actor: str,
    via: str,
) -> Recording:
    """The recording (or the range asked for), decrypted; audited once the range is known to be servable."""
    call = calls.get(session=session, call_id=call_id)
    if call.audio_blob is None:
        raise NotFoundError("this call has no audio stored")
    audio = keyring.decrypt(blobs.get(call.audio_blob), context=calls.audio_context(call.id))
    span = byte_span(range_header, len(audio))
    calls.add_event(session=session, call_pk=call.id, stage=via, kind="audio_streamed", actor=actor)
    content = audio if span is None else audio[span[0] : span[1] + 1]
    return Recording(content=content, media_type=_media_type(call.audio_format), size=len(audio), span=span)
