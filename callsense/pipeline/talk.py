"""Talk figures: how a call's time splits between its speakers, measured from Whisper's word timings and the
decoded audio, with no model involved. ``docs/analytics.md`` ("Talk figures") explains them for readers.

Every figure starts from *talk spans*: a speaker's words as [start, end] intervals, merged where they overlap
or where the pause between them is shorter than ``word_gap_s``. From there:

- ``talk_seconds``: the total length of the speaker's talk spans; ``share``: that over both speakers' total.
- ``words_per_minute``: the speaker's words over their talk time (pauses under ``word_gap_s`` included).
  In Chinese, Japanese or Thai Whisper's words are chunks of characters, so there it is
  ``characters_per_minute``, the rate readers of those languages use.
- ``interruptions``: the speaker's talk spans that start while a span of the other speaker began at least
  ``interruption_after_s`` earlier and has not ended (a backchannel "mm-hmm" counts, as in Contact Lens).
- turns: every talk span of both speakers in order of start; a span continues the current turn when it is
  the same speaker's and follows the turn's end by less than ``non_talk_min_s``, else it opens a new one.
  ``turns`` counts them; ``longest_monologue_seconds`` is a speaker's longest turn (start to end).
- ``overlap_seconds``: the time covered by talk spans of both speakers at once.
- ``non_talk_spans``: the stretches of at least ``non_talk_min_s`` without any word of anyone, from the start
  of the recording to its end (the ring before the first word and the silence after the last included).
- ``loudness_dbfs``: the RMS level of the speaker's channel over their talk spans (``mean``) and of its
  loudest 400 ms window (``peak``). The agent's channel is ``asr.agent_channel`` in stereo; a mono recording
  has one channel for both.

The per-speaker figures, the overlap and the turns need every word's speaker: while any word's speaker is
unknown (a mono call before diarization) they are null, and only the non-talk figures are given. Whether a
speaker is known comes from the words' turns, never from the channel count, so diarized mono calls get them.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable

import numpy as np

from callsense.calls import textmatch
from callsense.calls.schemas import Loudness, Segment, Speaker, SpeakerTalk, TalkFigures, TimeSpan
from callsense.config.talk import TalkSettings
from callsense.speech.audio import SAMPLE_RATE, DecodedAudio, FloatArray

Span = tuple[float, float]
PEAK_BLOCK_SECONDS = 0.4  # the momentary window of EBU R 128 loudness meters
SILENCE_DBFS = -120.0  # what digital silence reads, instead of minus infinity
# Word timings come in hundredths of a second; a start right at a threshold must count despite float error.
TOLERANCE = 1e-6
SPEAKERS = (Speaker.agent, Speaker.customer)


def spans(intervals: Iterable[Span], *, gap: float) -> list[Span]:
    """The intervals merged where they overlap or lie less than ``gap`` apart, in order."""
    merged: list[Span] = []
    for start, end in sorted(intervals):
        if merged and start - merged[-1][1] < gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def length(found: Iterable[Span]) -> float:
    return sum(end - start for start, end in found)


def overlap(first: list[Span], second: list[Span]) -> list[Span]:
    """Where two sorted lists of disjoint spans intersect."""
    found, i, j = [], 0, 0
    while i < len(first) and j < len(second):
        start, end = max(first[i][0], second[j][0]), min(first[i][1], second[j][1])
        if start < end:
            found.append((start, end))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return found


def silences(talk: list[Span], *, duration: float, minimum: float) -> list[Span]:
    """The gaps of at least ``minimum`` seconds around the sorted, merged ``talk`` spans in [0, duration]."""
    edges = [0.0] + [edge for span in talk for edge in span] + [max(duration, talk[-1][1] if talk else 0.0)]
    gaps = zip(edges[0::2], edges[1::2], strict=True)
    return [(start, end) for start, end in gaps if end - start >= minimum - TOLERANCE]


def interruptions(own: list[Span], other: list[Span], *, after: float) -> list[float]:
    """When ``own`` spans start while an ``other`` span has been going on for at least ``after`` seconds;
    both lists sorted and disjoint, so only the last ``other`` span started by then can be going on."""
    starts = [start for start, _ in other]
    found = []
    for start, _ in own:
        latest = bisect.bisect_right(starts, start) - 1
        if latest >= 0 and other[latest][0] <= start - after + TOLERANCE and start < other[latest][1]:
            found.append(start)
    return found


def turns(by_speaker: dict[Speaker, list[Span]], *, pause: float) -> list[tuple[Speaker, Span]]:
    """The turns: talk spans by start, one speaker's consecutive spans joined unless ``pause`` apart."""
    ordered = sorted((span, speaker) for speaker, found in by_speaker.items() for span in found)
    found: list[tuple[Speaker, Span]] = []
    for (start, end), speaker in ordered:
        if found and found[-1][0] is speaker and start - found[-1][1][1] < pause:
            found[-1] = (speaker, (found[-1][1][0], max(found[-1][1][1], end)))
        else:
            found.append((speaker, (start, end)))
    return found


def _dbfs(mean_square: float) -> float:
    return round(max(10 * math.log10(mean_square), SILENCE_DBFS), 2) if mean_square > 0 else SILENCE_DBFS


def loudness(samples: FloatArray, talk: list[Span]) -> Loudness | None:
    """RMS levels of ``samples`` (one channel at 16 kHz) over the ``talk`` spans, and of their loudest 400 ms
    window (a span shorter than that counts as one window); None when the spans hold no samples."""
    block = int(PEAK_BLOCK_SECONDS * SAMPLE_RATE)
    energy, count, peak = 0.0, 0, 0.0
    for start, end in talk:
        piece = samples[int(start * SAMPLE_RATE) : math.ceil(end * SAMPLE_RATE)].astype(np.float64)
        if piece.size == 0:
            continue
        squares = piece * piece
        energy += float(squares.sum())
        count += piece.size
        if piece.size <= block:
            peak = max(peak, float(squares.mean()))
        else:  # every 400 ms window, sliding sample by sample: a running sum of the squares
            running = np.concatenate(([0.0], np.cumsum(squares)))
            peak = max(peak, float((running[block:] - running[:-block]).max()) / block)
    if count == 0:
        return None
    return Loudness(mean=_dbfs(energy / count), peak=_dbfs(peak))


def measure(
    segments: list[Segment], audio: DecodedAudio, *, agent_channel: int, settings: TalkSettings
) -> TalkFigures | None:
    """The call's talk figures; None when its turns carry no word timings (a transcript from before them)."""
    words = [(segment.speaker, word) for segment in segments for word in segment.words]
    if not words:
        return None
    everyone = spans(((word.start, word.end) for _, word in words), gap=0.0)
    quiet = silences(everyone, duration=audio.duration, minimum=settings.non_talk_min_s)
    call_level = {
        "non_talk_seconds": round(length(quiet), 2),
        "non_talk_spans": [TimeSpan(start=round(start, 2), end=round(end, 2)) for start, end in quiet],
        "thresholds": settings,
    }
    if any(speaker not in SPEAKERS for speaker, _ in words):
        return TalkFigures.model_validate(call_level)
    by_speaker = {
        speaker: spans(((w.start, w.end) for s, w in words if s is speaker), gap=settings.word_gap_s)
        for speaker in SPEAKERS
    }
    all_turns = turns(by_speaker, pause=settings.non_talk_min_s)
    total = sum(length(found) for found in by_speaker.values())
    stereo = audio.channels.shape[0] >= 2
    channel = {
        Speaker.agent: agent_channel if stereo else 0,
        Speaker.customer: 1 - agent_channel if stereo else 0,
    }
    talk: dict[Speaker, SpeakerTalk] = {}
    for speaker, own in by_speaker.items():
        other = by_speaker[Speaker.customer if speaker is Speaker.agent else Speaker.agent]
        seconds = length(own)
        units = [textmatch.words(w.text) for s, w in words if s is speaker]
        characters = sum(1 for found in units for unit in found if textmatch.unspaced(unit[0]))
        # Mostly characters of an unspaced script: a rate in characters (a stray Latin word counts as one).
        by_character = characters * 2 > sum(len(found) for found in units)
        count = sum(len(found) for found in units) if by_character else len(units)
        rate = round(60 * count / seconds, 1) if seconds else None
        cut_in = interruptions(own, other, after=settings.interruption_after_s)
        talk[speaker] = SpeakerTalk(
            talk_seconds=round(seconds, 2),
            share=round(seconds / total, 3) if total else 0.0,
            words_per_minute=None if by_character else rate,
            characters_per_minute=rate if by_character else None,
            interruptions=len(cut_in),
            interruption_times=[round(start, 2) for start in cut_in],
            longest_monologue_seconds=round(
                max((end - start for who, (start, end) in all_turns if who is speaker), default=0.0), 2
            ),
            loudness_dbfs=loudness(audio.channels[channel[speaker]], own),
        )
    both = overlap(by_speaker[Speaker.agent], by_speaker[Speaker.customer])
    return TalkFigures(
        **call_level,
        agent=talk[Speaker.agent],
        customer=talk[Speaker.customer],
        overlap_seconds=round(length(both), 2),
        turns=len(all_turns),
    )
