from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from callsense.errors import BadAudioError
from callsense.speech.audio import SAMPLE_RATE, channels_are_alike, decode
from tests.conftest import AUDIO

LONG_LIMIT = 3600.0


@pytest.mark.parametrize(
    "name", ["en_short.mono.flac", "en_short.wav", "en_short.mp3", "en_short.ogg", "en_short.m4a"]
)
def test_every_container_decodes_to_16k_mono(name: str) -> None:
    audio = decode((AUDIO / name).read_bytes(), max_seconds=LONG_LIMIT)
    assert audio.channels.shape[0] == 1
    assert audio.channels.dtype == np.float32
    assert 3.0 < audio.duration < 8.0
    assert np.abs(audio.channels).max() > 0.05  # real signal, not silence


def test_8_bit_wav_and_8khz_source_are_read() -> None:
    audio = decode((AUDIO / "en_short.wav").read_bytes(), max_seconds=LONG_LIMIT)
    assert audio.info.codec == "pcm_u8"
    assert audio.info.sample_rate == 8000


def test_stereo_keeps_both_channels() -> None:
    audio = decode((AUDIO / "en_refund.stereo.flac").read_bytes(), max_seconds=LONG_LIMIT)
    assert audio.channels.shape[0] == 2
    assert audio.info.channels == 2
    assert not channels_are_alike(audio, threshold=0.95)


def _wav(samples: np.ndarray, channels: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.astype(np.int16).tobytes())
    return buffer.getvalue()


def test_identical_channels_count_as_mono() -> None:
    rng = np.random.default_rng(1)
    mono = (rng.standard_normal(SAMPLE_RATE) * 3000).astype(np.int16)
    audio = decode(_wav(np.stack([mono, mono], axis=1).reshape(-1), 2), max_seconds=LONG_LIMIT)
    assert channels_are_alike(audio, threshold=0.95)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"This is a text file, not a recording.\n" * 50, "not a readable audio file"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "not a readable audio file"),
    ],
)
def test_bad_input_is_refused_with_a_clear_reason(data: bytes, message: str) -> None:
    with pytest.raises(BadAudioError, match=message):
        decode(data, max_seconds=LONG_LIMIT)


def test_truncated_wav_is_refused() -> None:
    data = _wav(np.zeros(SAMPLE_RATE * 4, dtype=np.int16), 1)
    with pytest.raises(BadAudioError, match="truncated"):
        decode(data[: len(data) // 2], max_seconds=LONG_LIMIT)


def test_truncated_flac_is_refused() -> None:
    data = (AUDIO / "en_refund.stereo.flac").read_bytes()
    with pytest.raises(BadAudioError, match=r"truncated|corrupt"):
        decode(data[: len(data) // 3], max_seconds=LONG_LIMIT)


def test_too_long_recording_is_refused_before_decoding_it_all() -> None:
    with pytest.raises(BadAudioError, match="longer than the limit"):
        decode((AUDIO / "en_refund.stereo.flac").read_bytes(), max_seconds=10)
