from __future__ import annotations

import io
import tracemalloc
import wave
from collections.abc import Callable

import numpy as np
import pytest

from callsense.errors import BadAudioError
from callsense.speech.audio import (
    SAMPLE_RATE,
    DecodedAudio,
    _Samples,
    channels_are_alike,
    decode,
    probe,
)
from tests.conftest import AUDIO
from tests.long_audio import decoded_bytes, stereo_noise_wav

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


def _peak_allocated(run: Callable[[], object]) -> tuple[int, object]:
    """Bytes allocated at the peak of ``run`` (NumPy reports its arrays to tracemalloc), and its result."""
    tracemalloc.start()
    try:
        result = run()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


LONG_SECONDS = 300
DECODED_BYTES = decoded_bytes(LONG_SECONDS)  # 38 MB


def test_decode_allocates_the_samples_once() -> None:
    data = stereo_noise_wav(LONG_SECONDS)
    peak, audio = _peak_allocated(lambda: decode(data, max_seconds=LONG_LIMIT))
    assert isinstance(audio, DecodedAudio)
    assert audio.channels.shape == (2, LONG_SECONDS * SAMPLE_RATE)
    assert audio.channels.nbytes == DECODED_BYTES
    assert peak < DECODED_BYTES * 1.1  # the array and a frame or two, not chunks plus copies of them


def test_probe_checks_without_keeping_samples() -> None:
    data = stereo_noise_wav(LONG_SECONDS)
    peak, info = _peak_allocated(lambda: probe(data, max_seconds=LONG_LIMIT))
    assert info == decode(data, max_seconds=LONG_LIMIT).info
    assert peak < DECODED_BYTES * 0.05


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"This is a text file, not a recording.\n" * 50,
        _wav(np.zeros(SAMPLE_RATE * 4, dtype=np.int16), 1)[: SAMPLE_RATE * 4],
        (AUDIO / "en_refund.stereo.flac").read_bytes()[:20000],
    ],
)
def test_probe_refuses_what_decode_refuses(data: bytes) -> None:
    with pytest.raises(BadAudioError) as decoding:
        decode(data, max_seconds=LONG_LIMIT)
    with pytest.raises(BadAudioError) as probing:
        probe(data, max_seconds=LONG_LIMIT)
    assert str(probing.value) == str(decoding.value)


def test_probe_stops_past_the_limit() -> None:
    with pytest.raises(BadAudioError, match="longer than the limit"):
        probe((AUDIO / "en_refund.stereo.flac").read_bytes(), max_seconds=10)


@pytest.mark.parametrize("name", ["en_short.mp3", "en_short.ogg", "en_short.m4a", "en_refund.stereo.flac"])
def test_probe_and_decode_agree(name: str) -> None:
    data = (AUDIO / name).read_bytes()
    audio = decode(data, max_seconds=LONG_LIMIT)
    assert probe(data, max_seconds=LONG_LIMIT) == audio.info
    assert audio.info.duration == audio.duration
    assert np.abs(audio.channels).max() <= 1.0
    assert all(row.flags.c_contiguous for row in audio.channels)  # Whisper gets each channel without a copy


def test_stereo_check_compares_channels_a_block_at_a_time() -> None:
    audio = decode(stereo_noise_wav(LONG_SECONDS), max_seconds=LONG_LIMIT)
    peak, alike = _peak_allocated(lambda: channels_are_alike(audio, threshold=0.95))
    assert alike is False
    assert peak < DECODED_BYTES * 0.5  # no float64 copy of a whole channel


@pytest.mark.parametrize(("threshold", "alike"), [(0.93, True), (0.97, False)])
def test_stereo_check_measures_the_correlation(threshold: float, alike: bool) -> None:
    rng = np.random.default_rng(3)
    voice = rng.standard_normal(SAMPLE_RATE * 3)
    echo = 0.95 * voice + np.sqrt(1 - 0.95**2) * rng.standard_normal(voice.size)  # correlation about 0.95
    assert abs(np.corrcoef(voice, echo)[0, 1] - 0.95) < 0.01
    audio = decode(_wav(np.stack([voice, echo], axis=1).reshape(-1) * 3000, 2), max_seconds=LONG_LIMIT)
    assert channels_are_alike(audio, threshold=threshold) is alike


def test_samples_grow_when_the_audio_outlasts_its_declared_duration() -> None:
    rng = np.random.default_rng(5)
    chunks = [(rng.standard_normal((2, size)) * 2).astype(np.float32) for size in (700, 300, 1500, 20)]
    samples = _Samples(2, capacity=1000, limit=10_000, keep=True)  # as if 1000 samples were declared
    for chunk in chunks:
        samples.append(chunk)
    expected = np.clip(np.concatenate(chunks, axis=1), -1.0, 1.0)
    assert np.array_equal(samples.view(), expected)
    assert samples.finite and samples.size == expected.shape[1]
