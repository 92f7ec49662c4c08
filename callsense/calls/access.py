"""A person reading a call's protected parts: its transcript and its recording, each reading audited.

Viewers see the record without its transcript; analysts and admins see it whole, and an event names them.
With redaction, what they see and hear is the redacted view; the original (text as said, the recording
unmasked) needs the "view sensitive data" permission, is read only when asked for, and each reading is an
event of its own (``sensitive_viewed``, ``sensitive_played``). ``via`` is where the reader came through
(``api``, ``web``, ``cli``), kept as the event's stage.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from callsense.calls import service as calls
from callsense.calls.models import Call
from callsense.calls.schemas import CallRecord
from callsense.crypto import KeyRing
from callsense.errors import NotFoundError, UnsatisfiableRangeError

AUDIO_TYPES = {"flac": "audio/flac", "wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg"}
# Bytes of the recording sent at a time: what the player's response holds in memory, beside the segment
# being decrypted.
SEND_BYTES = 256 * 1024


def read_record(
    *,
    session: Session,
    keyring: KeyRing,
    call: Call,
    transcript_allowed: bool,
    actor: str,
    via: str,
    original: bool = False,
) -> CallRecord:
    """The call's record; with ``transcript_allowed`` whole and the reading audited, else as a viewer sees
    it: metadata and analysis, none of the words said. ``original`` (the caller has checked the permission)
    reads the text as said instead of the redacted view, audited as ``sensitive_viewed``."""
    if not transcript_allowed:
        record = calls.to_record(call=call, keyring=keyring)
        # null, as the translation: withheld, which "" (a call in which nothing was said) would not tell.
        hidden: dict[str, object] = {"transcript": None, "segments": [], "translated_transcript": None}
        quoteless = [match.without_quotes() for match in record.categories]
        return record.model_copy(update={**hidden, "categories": quoteless})
    kind = "sensitive_viewed" if original else "transcript_viewed"
    calls.add_event(session=session, call_pk=call.id, stage=via, kind=kind, actor=actor)
    return calls.to_record(call=call, keyring=keyring, original=original)


class BlobReader(Protocol):
    def open(self, key: str) -> io.BufferedIOBase: ...


@dataclass(frozen=True)
class Recording:
    """The recording, open for reading as it is decrypted, and the part of it that was asked for."""

    plaintext: io.BufferedIOBase
    media_type: str
    size: int  # of the whole recording
    span: tuple[int, int] | None  # first and last byte asked for, None for all of it

    @property
    def length(self) -> int:
        """How many bytes ``content`` yields."""
        return self.size if self.span is None else self.span[1] - self.span[0] + 1

    def content(self) -> Iterator[bytes]:
        """The bytes asked for, ``SEND_BYTES`` at a time: only the segments they lie in are fetched and
        decrypted. Closes the recording when done, or when dropped half way."""
        with self.plaintext:
            self.plaintext.seek(0 if self.span is None else self.span[0])
            left = self.length
            while left > 0 and (chunk := self.plaintext.read(min(SEND_BYTES, left))):
                left -= len(chunk)
                yield chunk


def byte_span(header: str | None, size: int) -> tuple[int, int] | None:
    """The bytes an HTTP ``Range`` header asks for (one range, RFC 9110), or None for the whole recording;
    raises ``UnsatisfiableRangeError`` when the header is malformed or lies outside the recording."""
    if not header:
        return None
    unit, _, ranges = header.partition("=")
    # RFC 9110 14.2: a range unit other than bytes is ignored; so are several ranges, which would need a
    # multipart answer: the whole recording is served (416 would say that no range overlaps it).
    if unit.strip().lower() != "bytes" or "," in ranges:
        return None
    match = re.fullmatch(r"(\d*)-(\d*)", ranges.strip())
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


def _redaction_due(call: Call) -> bool:
    """Whether the call still waits for its redacted copy: not yet transcribed. A call transcribed with
    redaction off (or before redaction existed) shows its text unredacted, and plays so, until reprocessed."""
    return call.redaction is None and call.transcript is None


def recording_key(call: Call, *, original: bool, redacting: bool) -> str | None:
    """The blob ``play_recording`` serves for the call, or None when it has none to play (yet): the
    original when asked for, else the redacted copy, else the original of a call that needs no redaction."""
    if original:
        return call.audio_blob
    if call.redacted_audio_blob is not None:
        return call.redacted_audio_blob
    if redacting and _redaction_due(call):
        return None
    return call.audio_blob


def play_recording(
    *,
    session: Session,
    keyring: KeyRing,
    blobs: BlobReader,
    call_id: str,
    range_header: str | None,
    actor: str,
    via: str,
    original: bool = False,
    redacting: bool = True,
) -> Recording:
    """The recording (or the range asked for), open for decryption; audited once the range is known to be
    servable. The caller reads ``content()`` (which closes it) or closes ``plaintext``.

    The redacted copy when the call has one; the original when ``original`` is asked for (the caller has
    checked the permission, ``sensitive_played``), or for a call that was transcribed without redaction;
    nothing while redaction is on (``redacting``) and the call waits for its redacted copy."""
    call = calls.get(session=session, call_id=call_id)
    key = recording_key(call, original=original, redacting=redacting)
    if key is None:
        if original:
            reason = "the original recording of this call was not kept"
        elif call.audio_blob is None:
            reason = "this call has no audio stored"
        else:
            reason = (
                "this call's recording is not redacted (yet); the original needs the permission to view "
                "sensitive data"
            )
        raise NotFoundError(reason)
    kind = "sensitive_played" if original else "audio_streamed"
    redacted = key == call.redacted_audio_blob
    context = calls.redacted_audio_context(call.id) if redacted else calls.audio_context(call.id)
    media_type = "audio/flac" if redacted else _media_type(call.audio_format)
    plaintext = keyring.open_blob(blobs.open(key), context=context)
    try:
        size = plaintext.seek(0, io.SEEK_END)  # authenticated: the last segment was checked on opening
        span = byte_span(range_header, size)
        calls.add_event(session=session, call_pk=call.id, stage=via, kind=kind, actor=actor)
    except BaseException:
        plaintext.close()
        raise
    return Recording(plaintext=plaintext, media_type=media_type, size=size, span=span)
