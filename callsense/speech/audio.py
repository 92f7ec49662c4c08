"""Decode any recording PyAV can read into 16 kHz float32 channels, refusing what is not sound audio.

The container and codec are sniffed from the bytes (never trusted from a file name). Decoding stops as
soon as the recording exceeds the configured length, so an absurdly long file costs little.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt

from callsense.errors import BadAudioError

SAMPLE_RATE = 16_000
# A recording that decodes to noticeably less than its header declares was cut off in transit.
TRUNCATION_TOLERANCE = 0.9

FloatArray = npt.NDArray[np.float32]


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


def decode(data: bytes, *, max_seconds: float) -> DecodedAudio:
    """Decode ``data`` or raise ``BadAudioError`` saying plainly what is wrong with it."""
    if not data:
        raise BadAudioError("the recording is empty (0 bytes)")
    _check_riff_length(data)
    try:
        container = av.open(io.BytesIO(data), mode="r")
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
        layout = "stereo" if channel_count == 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
        chunks: list[FloatArray] = []
        decoded_samples = 0
        max_samples = int(max_seconds * SAMPLE_RATE)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().astype(np.float32, copy=False)
                    chunks.append(chunk)
                    decoded_samples += chunk.shape[1]
                if decoded_samples > max_samples:
                    raise BadAudioError(f"the recording is longer than the limit of {max_seconds:.0f} s")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().astype(np.float32, copy=False))
        except av.error.FFmpegError as exc:
            position = decoded_samples / SAMPLE_RATE
            raise BadAudioError(
                f"the audio is corrupt or truncated after {position:.1f} s ({exc.strerror})"
            ) from exc
        info = AudioInfo(
            container=container.format.name,
            codec=stream.codec_context.name,
            sample_rate=stream.codec_context.sample_rate or 0,
            channels=channel_count,
            duration=decoded_samples / SAMPLE_RATE,
        )
    if not chunks or decoded_samples == 0:
        raise BadAudioError("the file holds no audio samples")
    channels = np.concatenate(chunks, axis=1)
    if (
        declared is not None
        and declared > 1.0
        and channels.shape[1] / SAMPLE_RATE < declared * TRUNCATION_TOLERANCE
    ):
        raise BadAudioError(
            f"the recording is truncated: {channels.shape[1] / SAMPLE_RATE:.1f} s decoded "
            f"of {declared:.1f} s declared"
        )
    if not np.isfinite(channels).all():
        raise BadAudioError("the audio holds invalid samples")
    return DecodedAudio(channels=np.clip(channels, -1.0, 1.0), info=info)


def _check_riff_length(data: bytes) -> None:
    """FFmpeg clamps a WAV's duration to the bytes present, so a cut-off WAV is caught from its header."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE" or len(data) < 12:
        return
    declared = int.from_bytes(data[4:8], "little") + 8
    # Recorders that stream write 0 or 0xFFFFFFFF when the length is unknown; only a real length is checked.
    if 44 < declared < 0xFFFFFFFF and len(data) < declared:
        raise BadAudioError(f"the WAV recording is truncated: {len(data)} bytes of {declared} declared")


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
    left, right = audio.channels[0].astype(np.float64), audio.channels[1].astype(np.float64)
    if left.std() < 1e-6 or right.std() < 1e-6:
        return bool(left.std() < 1e-6 and right.std() < 1e-6)
    correlation = float(np.corrcoef(left, right)[0, 1])
    return correlation >= threshold
