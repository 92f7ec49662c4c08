"""What callsense does with faster-whisper's segments after its first pass: segments that are not speech are
dropped, a decoding loop is decoded again in short clips (a loop then costs one clip), and, while redaction
needs the digits, a segment holding a read-out number is decoded again with a wider beam (greedy decoding
loses and changes digits that beam search keeps: docs/benchmarks.md).

Whisper's own checks only trigger a temperature fallback, and when every fallback fails it keeps the last
attempt anyway; the checks here decide what is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from callsense.speech import diarization
from callsense.speech.audio import SAMPLE_RATE, FloatArray
from callsense.speech.repetitions import clips_of, longest_number

# Whisper segments that are probably not speech: high no-speech probability and low confidence together.
NO_SPEECH_PROBABILITY = 0.6
LOW_AVG_LOGPROB = -1.0
# gzip compression ratio above which Whisper's output is a repetition loop, not speech (Whisper's own value),
# measured by loop_compression_ratio.
LOOP_COMPRESSION_RATIO = 2.4
# A first-pass segment holding a number of this many digits or more is decoded again with the number beam:
# a card, phone or account number read out, not "dos preguntas" or "45 euros".
NUMBER_MIN_DIGITS = 4
# ... and the second pass is kept only where its number has at most this many digits, the longest card number
# (ISO/IEC 7812): beam search loops on digit words too ("4-0-1-2 Oh, oh, oh, …" for a Spanish card).
NUMBER_MAX_DIGITS = 19
_HOP = 160  # samples between Whisper's feature frames (10 ms)
_MARGIN_SECONDS = 1.0
# At most this much audio from a number's segment on is decoded again: one Whisper window.
WINDOW_SECONDS = 30.0


def kept(
    model: Any, samples: FloatArray, segments: Iterator[Any], arguments: dict[str, Any]
) -> Iterator[Any]:
    """Whisper's segments less those with no speech, a loop decoded again in clips."""
    for segment in segments:
        if is_loop(segment):
            yield from decoded_in_clips(model, samples, segment.start, segment.end, arguments)
        elif not is_no_speech(segment):
            yield segment


def numbers_decoded_again(
    model: Any, samples: FloatArray, segments: Iterator[Any], arguments: dict[str, Any]
) -> Iterator[Any]:
    """Each segment holding a read-out number replaced by its speech decoded again with ``arguments`` (the
    number beam), up to the next segment's start: a greedy first pass often ends the window after the first
    digit group and drops the rest ("la tarjeta es 4-0-1-2.")."""
    held = None
    for segment in segments:
        if held is not None:
            yield from _number_decoded_again(model, samples, held, max(segment.start, held.end), arguments)
        held = segment
    if held is not None:
        yield from _number_decoded_again(model, samples, held, len(samples) / SAMPLE_RATE, arguments)


def _number_decoded_again(
    model: Any, samples: FloatArray, segment: Any, until: float, arguments: dict[str, Any]
) -> list[Any]:
    """The segment's speech decoded again, kept where it still holds a read-out number and no longer one than
    a card's: the beam also turns a year into words now and then ("2018 Tesla Model" as "to have model
    F."), and loops on digit words."""
    if longest_number(segment.text) < NUMBER_MIN_DIGITS:
        return [segment]
    end = min(until, segment.start + WINDOW_SECONDS)
    again = decoded_in_clips(model, samples, segment.start, end, arguments)
    numbers = [longest_number(new.text) for new in again]
    if numbers and NUMBER_MIN_DIGITS <= max(numbers) <= NUMBER_MAX_DIGITS:
        return again
    return [segment]


def decoded_in_clips(
    model: Any, samples: FloatArray, start: float, end: float, arguments: dict[str, Any]
) -> list[Any]:
    """The speech between ``start`` and ``end`` (seconds) decoded again clip by clip (``clips_of``)."""
    regions = diarization.speech_regions(samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)])
    clips = clips_of([(start + first, start + last) for first, last in regions])
    if not clips:
        return []
    # Only the clips' stretch of audio (and a margin, so that the frames at its edges are those of the whole
    # recording) is given to Whisper, whose feature extractor reads all it is given: a whole channel for each
    # number, otherwise. It starts on a frame boundary; the timestamps are moved back onto the call.
    first = max(0, int((clips[0][0] - _MARGIN_SECONDS) * SAMPLE_RATE) // _HOP * _HOP)
    offset = first / SAMPLE_RATE
    segments, _ = model.transcribe(
        samples[first : int((clips[-1][1] + _MARGIN_SECONDS) * SAMPLE_RATE)],
        **{**arguments, "vad_filter": False, "clip_timestamps": [t - offset for c in clips for t in c]},
    )
    return [
        _shifted(segment, offset) for segment in segments if not (is_loop(segment) or is_no_speech(segment))
    ]


def _shifted(segment: Any, seconds: float) -> Any:
    words = segment.words and [
        replace(word, start=word.start + seconds, end=word.end + seconds) for word in segment.words
    ]
    return replace(segment, start=segment.start + seconds, end=segment.end + seconds, words=words)


def is_loop(segment: Any) -> bool:
    return bool(segment.compression_ratio > LOOP_COMPRESSION_RATIO)


def is_no_speech(segment: Any) -> bool:
    return bool(segment.no_speech_prob > NO_SPEECH_PROBABILITY and segment.avg_logprob < LOW_AVG_LOGPROB)
