"""Tell audio from everything else by its first bytes, never by a file extension or a Content-Type.

Recording servers answer errors with a 200 and an HTML login page or a JSON body more often than one would
think; such a body is refused here, before it reaches the decoder, with a message that says what it was.
"""

from __future__ import annotations

import codecs

from callsense.errors import BadAudioError

SNIFF_BYTES = 16  # enough for every signature below


def audio_container(head: bytes) -> str | None:
    """The container a recording's first bytes announce, or None when they are not a known audio format."""
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"caff":
        return "caf"
    if head[:3] == b"ID3":
        return "mp3"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:5] == b"#!AMR":
        return "amr"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "mpeg"  # MPEG audio frame sync (MP3 without ID3 tag) or AAC ADTS
    return None


def describe_non_audio(head: bytes) -> str:
    """A short name for what a non-audio body looks like, for the error message."""
    if not head:
        return "nothing"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "an HTML page"
    if text.startswith(b"<?xml") or text.startswith(b"<"):
        return "XML or HTML"
    if text.startswith((b"{", b"[")):
        return "JSON"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive"
    if head.startswith(b"\x1f\x8b"):
        return "gzip-compressed data"
    try:  # incremental: a character cut at the end of the sample is not an error
        decoded: str | None = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        decoded = None
    if decoded is not None and all(char.isprintable() or char in "\t\r\n" for char in decoded):
        return "text"
    return f"unknown binary data (starting {head[:8].hex()})"


def require_audio(head: bytes, *, origin: str) -> str:
    """The container of ``head``; raises ``BadAudioError`` naming what came instead of audio.

    ``origin`` starts the message: "the server returned" or "the file holds".
    """
    container = audio_container(head)
    if container is None:
        raise BadAudioError(f"{origin} {describe_non_audio(head[:64])} instead of audio")
    return container
