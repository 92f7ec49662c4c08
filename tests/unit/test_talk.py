"""Talk figures on constructed word timings and constructed audio, where every right answer is known."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from callsense.calls.schemas import Segment, Speaker, TalkFigures, Word
from callsense.config.talk import TalkSettings
from callsense.pipeline import talk
from callsense.speech.audio import SAMPLE_RATE, AudioInfo, DecodedAudio, decode

SETTINGS = TalkSettings()
AGENT, CUSTOMER, UNKNOWN = Speaker.agent, Speaker.customer, Speaker.unknown


def turn(speaker: Speaker, *words: tuple[float, float]) -> Segment:
    return Segment(
        speaker=speaker,
        start=words[0][0],
        end=words[-1][1],
        text=" ".join("word" for _ in words),
        confidence=0.9,
        words=[Word(start=start, end=end, text=" word", probability=0.9) for start, end in words],
    )


def silent(seconds: float, channels: int = 2) -> DecodedAudio:
    samples = np.zeros((channels, int(seconds * SAMPLE_RATE)), dtype=np.float32)
    return DecodedAudio(samples, AudioInfo("wav", "pcm_s16le", SAMPLE_RATE, channels, seconds))


def measure(segments: list[Segment], audio: DecodedAudio | None = None, **settings: float) -> TalkFigures:
    figures = talk.measure(
        segments,
        audio or silent(60),
        agent_channel=0,
        settings=TalkSettings.model_validate(settings) if settings else SETTINGS,
    )
    assert figures is not None
    return figures


def sine(seconds: float, dbfs: float) -> np.ndarray:
    """A 440 Hz sine whose RMS is ``dbfs`` (its peak is 3 dB higher)."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (10 ** (dbfs / 20) * np.sqrt(2) * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def wav(channels: np.ndarray) -> bytes:
    """The rows as a 16-bit stereo WAV: the constructed audio goes through the real decoder."""
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(channels.shape[0])
        file.setsampwidth(2)
        file.setframerate(SAMPLE_RATE)
        file.writeframes((channels.T * 32767).astype("<i2").tobytes())
    return out.getvalue()


def test_loudness_reads_each_speakers_level_on_their_channel() -> None:
    left, right = np.zeros(8 * SAMPLE_RATE, np.float32), np.zeros(8 * SAMPLE_RATE, np.float32)
    left[1 * SAMPLE_RATE : 3 * SAMPLE_RATE] = sine(2, -12)
    right[4 * SAMPLE_RATE : 6 * SAMPLE_RATE] = sine(2, -30)
    right[5 * SAMPLE_RATE : 5 * SAMPLE_RATE + SAMPLE_RATE // 2] = sine(0.5, -6)  # a shout inside the turn
    audio = decode(wav(np.stack([left, right])), max_seconds=60)
    segments = [turn(AGENT, (1.0, 2.0), (2.0, 3.0)), turn(CUSTOMER, (4.0, 5.0), (5.0, 6.0))]

    figures = measure(segments, audio)

    assert figures.agent is not None and figures.agent.loudness_dbfs is not None
    assert figures.agent.loudness_dbfs.mean == pytest.approx(-12, abs=0.5)
    assert figures.agent.loudness_dbfs.peak == pytest.approx(-12, abs=0.5)
    assert figures.customer is not None and figures.customer.loudness_dbfs is not None
    assert figures.customer.loudness_dbfs.peak == pytest.approx(-6, abs=0.5)
    # mean power: 1.5 s at -30 dBFS and 0.5 s at -6 dBFS
    expected = 10 * np.log10((1.5 * 10 ** (-30 / 10) + 0.5 * 10 ** (-6 / 10)) / 2)
    assert figures.customer.loudness_dbfs.mean == pytest.approx(expected, abs=0.5)

    swapped = talk.measure(segments, audio, agent_channel=1, settings=SETTINGS)
    assert swapped is not None and swapped.agent is not None and swapped.agent.loudness_dbfs is not None
    assert swapped.agent.loudness_dbfs.mean == talk.SILENCE_DBFS  # the agent's words over the silent channel


@pytest.mark.parametrize(("starts_at", "counted"), [(10.5, True), (10.49, False), (12.0, True)])
def test_an_interruption_starts_once_the_other_has_talked_the_threshold(
    starts_at: float, counted: bool
) -> None:
    agent = turn(AGENT, (10.0, 11.0), (11.0, 12.5), (12.5, 14.0))
    customer = turn(CUSTOMER, (starts_at, starts_at + 0.4))

    figures = measure([agent, customer])

    assert figures.customer is not None and figures.agent is not None
    assert figures.customer.interruptions == (1 if counted else 0)
    assert figures.customer.interruption_times == ([starts_at] if counted else [])
    assert figures.agent.interruptions == 0  # the agent was talking first
    assert figures.interruptions == figures.customer.interruptions


def test_the_interruption_threshold_is_a_setting() -> None:
    segments = [turn(AGENT, (10.0, 14.0)), turn(CUSTOMER, (11.0, 11.5))]
    assert measure(segments, interruption_after_s=1.0).interruptions == 1
    assert measure(segments, interruption_after_s=1.01).interruptions == 0


def test_a_start_after_the_other_stopped_is_no_interruption() -> None:
    segments = [turn(AGENT, (0.0, 5.0)), turn(CUSTOMER, (5.0, 7.0)), turn(AGENT, (7.5, 9.0))]
    figures = measure(segments)
    assert figures.interruptions == 0
    assert figures.overlap_seconds == 0
    assert figures.turns == 3


def test_hold_time_is_non_talk_and_ends_a_monologue() -> None:
    segments = [
        turn(AGENT, (2.0, 10.0)),
        turn(CUSTOMER, (10.5, 20.0)),
        turn(AGENT, (20.2, 25.0)),  # "please hold"
        turn(AGENT, (55.0, 58.0)),  # back after 30 s
    ]
    figures = measure(segments, silent(60))

    assert [(s.start, s.end) for s in figures.non_talk_spans] == [(25.0, 55.0)]
    assert figures.non_talk_seconds == 30.0
    assert figures.agent is not None and figures.customer is not None
    assert figures.agent.longest_monologue_seconds == 8.0  # hold splits 20.2-58 into two turns
    assert figures.customer.longest_monologue_seconds == 9.5
    assert figures.turns == 4


@pytest.mark.parametrize(("gap", "counted"), [(5.0, True), (4.99, False)])
def test_non_talk_starts_at_the_threshold(gap: float, counted: bool) -> None:
    segments = [turn(AGENT, (0.0, 10.0)), turn(CUSTOMER, (10.0 + gap, 20.0))]
    figures = measure(segments, silent(20))
    assert figures.non_talk_seconds == (gap if counted else 0.0)


def test_silence_before_the_first_and_after_the_last_word_is_non_talk() -> None:
    figures = measure([turn(AGENT, (6.0, 10.0)), turn(CUSTOMER, (10.0, 12.0))], silent(30))
    assert [(s.start, s.end) for s in figures.non_talk_spans] == [(0.0, 6.0), (12.0, 30.0)]


def test_talk_time_closes_short_pauses_and_shares_add_up() -> None:
    agent = turn(AGENT, (0.0, 1.0), (1.2, 2.0), (2.6, 3.0))  # a 0.2 s pause is talk, a 0.6 s one is not
    customer = turn(CUSTOMER, (2.5, 4.0))
    figures = measure([agent, customer])

    assert figures.agent is not None and figures.customer is not None
    assert figures.agent.talk_seconds == pytest.approx(2.4)
    assert figures.customer.talk_seconds == pytest.approx(1.5)
    assert figures.agent.share + figures.customer.share == pytest.approx(1.0, abs=0.002)
    assert figures.agent.words_per_minute == pytest.approx(60 * 3 / 2.4, abs=0.1)
    assert figures.overlap_seconds == pytest.approx(0.4)  # 2.6-3.0 against the customer's 2.5-4.0


def test_chinese_and_japanese_speech_is_measured_in_characters_not_whisper_chunks() -> None:
    """Whisper's "words" there are chunks of one to a few characters, so counting them says nothing; the
    rate a Japanese or Chinese engineer reads is characters (moji, zi) per minute."""
    chunks = [("お電話", 0.0, 1.0), ("ありがとう", 1.0, 2.0), ("ございます。", 2.0, 3.0)]
    words = [Word(start=start, end=end, text=text, probability=0.9) for text, start, end in chunks]
    japanese = Segment(
        speaker=AGENT, start=0.0, end=3.0, text="お電話ありがとうございます。", confidence=0.9, words=words
    )
    figures = measure([japanese, turn(CUSTOMER, (3.5, 4.0), (4.0, 4.5))])
    assert figures.agent is not None and figures.customer is not None
    assert figures.agent.characters_per_minute == pytest.approx(60 * 13 / 3.0)  # 13 kana and kanji
    assert figures.agent.words_per_minute is None
    assert figures.customer.words_per_minute == pytest.approx(120.0)  # spaced words: counted as before
    assert figures.customer.characters_per_minute is None


def test_a_speaker_who_never_talks_has_zero_talk_and_no_rate() -> None:
    figures = measure([turn(AGENT, (0.0, 4.0))])
    assert figures.customer is not None
    assert figures.customer.talk_seconds == 0
    assert figures.customer.share == 0
    assert figures.customer.words_per_minute is None
    assert figures.customer.loudness_dbfs is None


def test_mono_with_unknown_speakers_gets_only_the_call_level_figures() -> None:
    segments = [turn(UNKNOWN, (0.0, 4.0)), turn(UNKNOWN, (12.0, 14.0))]
    figures = measure(segments, silent(14, channels=1))
    assert figures.non_talk_seconds == 8.0
    assert figures.agent is None and figures.customer is None
    assert figures.overlap_seconds is None and figures.turns is None and figures.interruptions is None


def test_diarized_mono_gets_every_figure_from_its_one_channel() -> None:
    mono = np.zeros((1, 10 * SAMPLE_RATE), np.float32)
    mono[0, : 4 * SAMPLE_RATE] = sine(4, -18)
    mono[0, 5 * SAMPLE_RATE : 9 * SAMPLE_RATE] = sine(4, -9)
    audio = DecodedAudio(mono, AudioInfo("wav", "pcm_s16le", SAMPLE_RATE, 1, 10))
    figures = measure([turn(AGENT, (0.0, 4.0)), turn(CUSTOMER, (5.0, 9.0))], audio)

    assert figures.agent is not None and figures.agent.loudness_dbfs is not None
    assert figures.customer is not None and figures.customer.loudness_dbfs is not None
    assert figures.agent.loudness_dbfs.mean == pytest.approx(-18, abs=0.5)
    assert figures.customer.loudness_dbfs.mean == pytest.approx(-9, abs=0.5)
    assert figures.turns == 2


def test_a_transcript_without_word_timings_has_no_figures() -> None:
    old = Segment(speaker=AGENT, start=0, end=3, text="hello", confidence=0.9)
    assert talk.measure([old], silent(5), agent_channel=0, settings=SETTINGS) is None
