"""A quietly recorded call lifted to where Silero VAD hears it, on a copy that only the transcriber reads.

Silero VAD (``asr.vad``, the language's first minute of speech, diarization's speech regions) hears nothing
in speech whose peak is below about -55 dBFS (a recorder with low gain, a far-away handset), so such a call
came out ``no_speech``. A call whose speech peaks below ``QUIET_PEAK_DBFS`` is scaled to peak at
``TARGET_PEAK_DBFS`` before the VAD and Whisper. Silero calls no level of hiss, hum or near-silence speech
(docs/speakers.md), so lifting a line that holds only those still finds nothing.

One gain for the whole call, set by its loudest channel: a stereo call keeps its channels' balance, so the
other side's echo on a channel, or a silent side, stays as far below the speech as it was recorded.
A channel below ``SILENT_PEAK_DBFS`` holds no speech Whisper could read (16-bit speech peaking there is a few
steps of the sample's least bit), so a recording that quiet, digital silence included, is left as it is.
The talk figures and the redacted recording are measured on the decoded call, never on the lifted copy.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import structlog

from callsense.speech.audio import CORRELATION_BLOCK, DecodedAudio, FloatArray

log = structlog.get_logger(__name__)

QUIET_PEAK_DBFS = -40.0
TARGET_PEAK_DBFS = -20.0
SILENT_PEAK_DBFS = -70.0
BLOCK_SAMPLES = 160  # 10 ms
# The loudest blocks left out of the peak: a click or a knock on the handset is not the speech's level.
IGNORED_BLOCKS = 9


def speech_peak(samples: FloatArray) -> float:
    """The peak amplitude of ``samples`` leaving out their loudest 90 ms (``IGNORED_BLOCKS`` of 10 ms)."""
    peaks = [
        np.maximum.reduceat(np.abs(piece), np.arange(0, piece.size, BLOCK_SAMPLES))
        for start in range(0, samples.size, CORRELATION_BLOCK)  # an absolute copy of a block, never a channel
        if (piece := samples[start : start + CORRELATION_BLOCK]).size
    ]
    if not peaks:
        return 0.0
    blocks = np.concatenate(peaks)
    rank = max(blocks.size - 1 - IGNORED_BLOCKS, 0)
    return float(np.partition(blocks, rank)[rank])


def gain(audio: DecodedAudio) -> float:
    """The factor that lifts ``audio``'s speech to ``TARGET_PEAK_DBFS``; 1.0 when it is loud enough or
    silent."""
    peak = max(speech_peak(channel) for channel in audio.channels)
    if peak <= 0.0:
        return 1.0
    peak_dbfs = 20 * math.log10(peak)
    if not SILENT_PEAK_DBFS <= peak_dbfs < QUIET_PEAK_DBFS:
        return 1.0
    return float(10 ** ((TARGET_PEAK_DBFS - peak_dbfs) / 20))


def audible(audio: DecodedAudio) -> DecodedAudio:
    """``audio`` itself, or a lifted copy of it when its speech is quiet (``gain``)."""
    factor = gain(audio)
    if factor == 1.0:
        return audio
    log.info("quiet recording lifted for transcription", gain_db=round(20 * math.log10(factor), 1))
    lifted: FloatArray = np.multiply(audio.channels, np.float32(factor))
    np.clip(lifted, -1.0, 1.0, out=lifted)  # a click above the speech may now pass full scale
    return replace(audio, channels=lifted)
