"""The gain that lifts a quietly recorded call for the VAD and Whisper, on constructed audio whose level is
known: quiet speech is lifted to -20 dBFS peak, a click above it does not hide it, a normal recording and
digital (near-)silence are left alone, a stereo call keeps its balance, and the decoded call is never
changed in place."""

from __future__ import annotations

import math

import numpy as np
import pytest

from callsense.speech import level
from callsense.speech.audio import SAMPLE_RATE, AudioInfo, DecodedAudio


def call(*rows: np.ndarray) -> DecodedAudio:
    channels = np.stack(rows).astype(np.float32)
    seconds = channels.shape[1] / SAMPLE_RATE
    return DecodedAudio(channels, AudioInfo("wav", "pcm_s16le", SAMPLE_RATE, len(rows), seconds))


def tone(peak_dbfs: float, seconds: float = 2.0) -> np.ndarray:
    """A 300 Hz sine peaking at ``peak_dbfs``, its amplitude rising and falling twice a second like
    syllables."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    envelope = np.abs(np.sin(2 * np.pi * t))
    return np.asarray(10 ** (peak_dbfs / 20) * envelope * np.sin(2 * np.pi * 300 * t), dtype=np.float32)


def peak_dbfs(samples: np.ndarray) -> float:
    return 20 * math.log10(float(np.abs(samples).max()))


def test_speech_peaking_at_minus_60_is_lifted_to_minus_20() -> None:
    quiet = call(tone(-60))
    lifted = level.audible(quiet)
    assert peak_dbfs(lifted.channels) == pytest.approx(-20, abs=0.1)
    assert peak_dbfs(quiet.channels) == pytest.approx(-60, abs=0.1)  # the decoded call itself unchanged
    assert lifted.info == quiet.info and lifted.channels.dtype == np.float32


def test_a_click_above_quiet_speech_is_left_out_of_its_level_and_clipped() -> None:
    samples = tone(-60)
    samples[SAMPLE_RATE // 3 : SAMPLE_RATE // 3 + 40] = 0.3  # 2.5 ms at -10 dBFS: a knock on the handset
    assert 20 * math.log10(level.speech_peak(samples)) == pytest.approx(-60, abs=0.5)
    lifted = level.audible(call(samples)).channels
    assert float(np.abs(lifted).max()) == 1.0  # the click at full scale, no further
    assert peak_dbfs(lifted[0, SAMPLE_RATE:]) == pytest.approx(-20, abs=0.5)


@pytest.mark.parametrize("peak", [-3.0, -20.0, -39.0])
def test_a_recording_at_a_normal_level_is_not_copied(peak: float) -> None:
    audio = call(tone(peak))
    assert level.audible(audio) is audio


def test_digital_silence_and_the_least_bit_s_noise_are_left_alone() -> None:
    zeros = call(np.zeros(10 * SAMPLE_RATE))
    dither = np.random.default_rng(7).normal(0, 2 / 32768, 10 * SAMPLE_RATE)  # 2 LSB RMS: -84 dBFS
    dithered = call(np.round(dither * 32768) / 32768)
    assert level.audible(zeros) is zeros
    assert level.audible(dithered) is dithered


def test_a_stereo_call_takes_one_gain_from_its_louder_channel() -> None:
    quiet = call(tone(-60), tone(-75))  # a quiet agent, and echo (or a far quieter customer) on the right
    lifted = level.audible(quiet).channels
    assert peak_dbfs(lifted[0]) == pytest.approx(-20, abs=0.1)
    assert peak_dbfs(lifted[1]) == pytest.approx(-35, abs=0.1)  # still 15 dB below the left
    normal = call(tone(-6), tone(-60))  # a loud side: the quiet side's level is what was recorded
    assert level.audible(normal) is normal


def test_a_recording_shorter_than_the_blocks_left_out_has_a_level() -> None:
    assert level.speech_peak(np.full(320, 0.001, dtype=np.float32)) == pytest.approx(0.001)
    assert level.speech_peak(np.zeros(0, dtype=np.float32)) == 0.0
