"""Decode any recording PyAV can read into 16 kHz float32 channels, refusing what is not sound audio.

The recording is bytes or a seekable file (a spooled download, a decrypting reader of the archive), read as
PyAV asks. The container and codec are sniffed from the bytes (never trusted from a file name). Decoding
stops as soon as the recording exceeds the configured length, so an absurdly long file costs little.
``probe`` checks a recording the same way without keeping its samples (the fetch stage); ``decode`` writes
them into one array sized from the container's declared duration, so a 4-hour stereo call costs its 1.8 GB
of samples, no more.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt

from callsense.errors import BadAudioError

SAMPLE_RATE = 16_000
# A recording that decodes to noticeably less than its header declares was cut off in transit.
TRUNCATION_TOLERANCE = 0.9
# Room beyond the declared duration (the resampler's tail, a header that rounds down), and the first size of
# the array when the container declares no duration; either grows by doubling if the audio runs longer.
SLACK_SAMPLES = SAMPLE_RATE
UNDECLARED_SAMPLES = 60 * SAMPLE_RATE
# Samples per step when comparing channels: float64 copies of a block, never of a whole channel.
CORRELATION_BLOCK = 1 << 18

FloatArray = npt.NDArray[np.float32]
# A recording in memory, or a seekable file of it.
Recording = bytes | io.BufferedIOBase


@dataclass(frozen=True)
class AudioInfo:
    container: str
    codec: str
    sample_rate: int
    channels: int
    duration: float


@dataclass(frozen=True)
class DecodedAudio:
    """One row per channel, 16 kHz mono float32 in [-1, 1]."""

    channels: FloatArray
    info: AudioInfo

    @property
    def duration(self) -> float:
        return float(self.channels.shape[1]) / SAMPLE_RATE

    def mix(self) -> FloatArray:
        mixed: FloatArray = self.channels.mean(axis=0, dtype=np.float32)
        return mixed


class _Samples:
    """Counts and checks decoded chunks; with ``keep``, writes them clipped into one preallocated array."""

    def __init__(self, channels: int, *, capacity: int, limit: int, keep: bool) -> None:
        self._array: FloatArray = np.empty((channels, capacity if keep else 0), dtype=np.float32)
        self._limit = limit
        self._keep = keep
        self.size = 0
        self.finite = True

    def append(self, chunk: FloatArray) -> None:
        self.finite = self.finite and bool(np.isfinite(chunk).all())
        end = self.size + chunk.shape[1]
        if self._keep:
            if end > self._array.shape[1]:
                self._grow(end)
            np.clip(chunk, -1.0, 1.0, out=self._array[:, self.size : end])
        self.size = end

    def _grow(self, needed: int) -> None:
        capacity = max(needed, min(2 * self._array.shape[1], self._limit))
        grown: FloatArray = np.empty((self._array.shape[0], capacity), dtype=np.float32)
        grown[:, : self.size] = self._array[:, : self.size]
        self._array = grown

    def view(self) -> FloatArray:
        """The samples written, as a view: trimming copies nothing (each channel row stays contiguous)."""
        return self._array[:, : self.size]


def probe(recording: Recording, *, max_seconds: float) -> AudioInfo:
    """Check ``recording`` as ``decode`` does, keeping no samples; raise ``BadAudioError`` if unsound."""
    info, _ = _read(recording, max_seconds=max_seconds, keep=False)
    return info


def decode(recording: Recording, *, max_seconds: float) -> DecodedAudio:
    """Decode ``recording`` or raise ``BadAudioError`` saying plainly what is wrong with it."""
    info, samples = _read(recording, max_seconds=max_seconds, keep=True)
    return DecodedAudio(channels=samples.view(), info=info)


def _read(recording: Recording, *, max_seconds: float, keep: bool) -> tuple[AudioInfo, _Samples]:
    """Stream ``recording`` through the 16 kHz resampler, checking it as it goes; keep the samples if
    asked."""
    file = io.BytesIO(recording) if isinstance(recording, bytes) else recording
    size = file.seek(0, io.SEEK_END)
    if not size:
        raise BadAudioError("the recording is empty (0 bytes)")
    file.seek(0)
    _check_riff_length(file.read(12), size)
    file.seek(0)
    try:
        container = av.open(file, mode="r")
    except av.error.FFmpegError as exc:
        raise BadAudioError(f"not a readable audio file ({exc.strerror or type(exc).__name__})") from exc
    with container:
        if not container.streams.audio:
            raise BadAudioError("the file holds no audio stream")
        stream = container.streams.audio[0]
        channel_count = min(stream.codec_context.channels or 1, 2)
        declared = _declared_seconds(container, stream)
        if declared is not None and declared > max_seconds:
            raise BadAudioError(
                f"the recording lasts {declared:.0f} s, longer than the limit of {max_seconds:.0f} s"
            )
        max_samples = int(max_seconds * SAMPLE_RATE)
        expected = UNDECLARED_SAMPLES if declared is None else math.ceil(declared * SAMPLE_RATE)
        samples = _Samples(
            channel_count,
            capacity=min(expected, max_samples) + SLACK_SAMPLES,
            limit=max_samples + SLACK_SAMPLES,
            keep=keep,
        )
        layout = "stereo" if channel_count == 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)

        def take(frame: av.AudioFrame | None) -> None:
            for out in resampler.resample(frame):
                samples.append(out.to_ndarray().astype(np.float32, copy=False))

        try:
            for frame in container.decode(stream):
                take(frame)
                if samples.size > max_samples:
                    raise BadAudioError(f"the recording is longer than the limit of {max_seconds:.0f} s")
            take(None)  # the resampler's tail
        except av.error.FFmpegError as exc:
            position = samples.size / SAMPLE_RATE
            raise BadAudioError(
                f"the audio is corrupt or truncated after {position:.1f} s ({exc.strerror})"
            ) from exc
        info = AudioInfo(
            container=container.format.name,
            codec=stream.codec_context.name,
            sample_rate=stream.codec_context.sample_rate or 0,
            channels=channel_count,
            duration=samples.size / SAMPLE_RATE,
        )
    if samples.size == 0:
        raise BadAudioError("the file holds no audio samples")
    if declared is not None and declared > 1.0 and info.duration < declared * TRUNCATION_TOLERANCE:
        raise BadAudioError(
            f"the recording is truncated: {info.duration:.1f} s decoded of {declared:.1f} s declared"
        )
    if not samples.finite:
        raise BadAudioError("the audio holds invalid samples")
    return info, samples


def _check_riff_length(head: bytes, size: int) -> None:
    """FFmpeg clamps a WAV's duration to the bytes present, so a cut-off WAV is caught from its header
    (``head``, its first 12 bytes) and its ``size``."""
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE" or len(head) < 12:
        return
    declared = int.from_bytes(head[4:8], "little") + 8
    # Recorders that stream write 0 or 0xFFFFFFFF when the length is unknown; only a real length is checked.
    if 44 < declared < 0xFFFFFFFF and size < declared:
        raise BadAudioError(f"the WAV recording is truncated: {size} bytes of {declared} declared")


def _declared_seconds(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream
) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / av.time_base
    return None


def channels_are_alike(audio: DecodedAudio, *, threshold: float) -> bool:
    """True when a stereo recording is really mono (the same signal on both channels)."""
    if audio.channels.shape[0] < 2:
        return True
    left, right = audio.channels[0], audio.channels[1]
    left_mean, right_mean = left.mean(dtype=np.float64), right.mean(dtype=np.float64)
    left_power = right_power = cross = 0.0  # sums over the centred signals, a block at a time
    for start in range(0, left.size, CORRELATION_BLOCK):
        left_block = left[start : start + CORRELATION_BLOCK].astype(np.float64)
        right_block = right[start : start + CORRELATION_BLOCK].astype(np.float64)
        left_block -= left_mean
        right_block -= right_mean
        left_power += float(left_block @ left_block)
        right_power += float(right_block @ right_block)
        cross += float(left_block @ right_block)
    left_silent = math.sqrt(left_power / left.size) < 1e-6
    right_silent = math.sqrt(right_power / right.size) < 1e-6
    if left_silent or right_silent:
        return left_silent and right_silent
    return cross / math.sqrt(left_power * right_power) >= threshold
