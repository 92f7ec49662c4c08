"""The redacted copy of a recording: stretches of some channels replaced by a tone or by silence, encoded
as 16-bit FLAC at the decoder's 16 kHz.

The copy is made from the decoded samples, so everything outside the masked stretches is the recording as
the transcriber heard it, sample for sample (a 16-bit source at 16 kHz comes back bit-exact).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import av
import numpy as np

from callsense.speech.audio import SAMPLE_RATE, DecodedAudio, FloatArray

TONE_HZ = 1000.0
# -12 dBFS peak: plainly a beep, not a blast in a supervisor's headset.
TONE_PEAK = 0.25
PCM_SCALE = 32768  # the decoder's scale: a 16-bit sample comes back as the same sample


@dataclass(frozen=True)
class Mask:
    """Seconds ``start`` to ``end`` of the channel rows ``rows`` (0 left or mono, 1 right)."""

    start: float
    end: float
    rows: tuple[int, ...]


def tone(first: int, last: int) -> FloatArray:
    """The 1 kHz tone for samples ``first`` to ``last`` (exclusive), in phase with the recording's clock so
    that two masks that touch join without a click."""
    seconds = np.arange(first, last, dtype=np.float64) / SAMPLE_RATE
    wave: FloatArray = (TONE_PEAK * np.sin(2 * math.pi * TONE_HZ * seconds)).astype(np.float32)
    return wave


def sample_range(mask: Mask, length: int) -> tuple[int, int]:
    """The samples a mask covers: every sample that lies, even in part, within it."""
    return max(0, math.floor(mask.start * SAMPLE_RATE)), min(length, math.ceil(mask.end * SAMPLE_RATE))


def masked(audio: DecodedAudio, masks: Sequence[Mask], *, with_tone: bool) -> FloatArray:
    """A copy of the channels with each mask's stretch the tone (or silence) on its rows."""
    channels: FloatArray = audio.channels.copy()
    for mask in masks:
        first, last = sample_range(mask, channels.shape[1])
        if first >= last:
            continue
        fill = tone(first, last) if with_tone else np.zeros(last - first, dtype=np.float32)
        for row in mask.rows:
            if row < channels.shape[0]:
                channels[row, first:last] = fill
    return channels


def encode_flac(channels: FloatArray) -> bytes:
    """16-bit FLAC of ``channels`` (one row per channel, 16 kHz float32 in [-1, 1])."""
    layout = "stereo" if channels.shape[0] == 2 else "mono"
    pcm = np.clip(np.round(channels * PCM_SCALE), -PCM_SCALE, PCM_SCALE - 1).astype(np.int16)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="flac") as container:
        stream = container.add_stream("flac", rate=SAMPLE_RATE, layout=layout)
        stream.format = "s16"
        frame = av.AudioFrame.from_ndarray(pcm.T.reshape(1, -1).copy(), format="s16", layout=layout)
        frame.sample_rate = SAMPLE_RATE
        frame.pts = 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()
