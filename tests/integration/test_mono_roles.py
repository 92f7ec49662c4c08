"""Roles on calls whose words are on one channel, with more or fewer voices than two, through real Whisper
and the voice encoder: a mono call transferred to a second agent (three voices, two of them agents), a
customer's voicemail (one voice), and stereo calls with one silent channel (both sides mixed on the other, or
one side alone).

The transferred call is en_refund's turns laid one after the other on one channel, the agent's turns from the
third on said by a second agent: the same recording played 1.25 times slower, a lower, slower voice that the
encoder tells apart from the first (a transfer to billing after the customer gave their name)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callsense.calls.schemas import RoleSource, Speaker, SpeakerMethod
from callsense.config.models import AgentSpeaks, ASRSettings
from callsense.speech.audio import SAMPLE_RATE, AudioInfo, DecodedAudio, decode
from callsense.speech.whisper import WhisperTranscriber
from tests.conftest import AUDIO

pytestmark = pytest.mark.slow

SLOWER = 1.25  # the second agent's voice: the first agent's turns played this much slower
FIRST_AGENT_TURNS = 2  # the agent's turns said before the transfer
PAUSE_S = 0.6


def slowed(samples: np.ndarray, factor: float) -> np.ndarray:
    """``samples`` played ``factor`` times slower: pitch and formants lowered, as another speaker's."""
    positions = np.arange(0, len(samples) - 1, 1 / factor)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


def transfer_call(reference: dict[str, Any]) -> tuple[DecodedAudio, list[tuple[str, float, float]]]:
    """The mono call, and each turn's role and span in it: 'agent', 'customer' or 'second agent'."""
    stereo = decode((AUDIO / "en_refund.stereo.flac").read_bytes(), max_seconds=60)
    pause = np.zeros(int(PAUSE_S * SAMPLE_RATE), np.float32)
    pieces, turns, position, agent_turns = [pause], [], PAUSE_S, 0
    for turn in reference["turns"]:
        agent = turn["speaker"] == "agent"
        piece = stereo.channels[0 if agent else 1][
            round(turn["start"] * SAMPLE_RATE) : round(turn["end"] * SAMPLE_RATE)
        ]
        role = turn["speaker"]
        if agent:
            agent_turns += 1
            if agent_turns > FIRST_AGENT_TURNS:
                piece, role = slowed(piece, SLOWER), "second agent"
        turns.append((role, position, position + len(piece) / SAMPLE_RATE))
        pieces += [piece, pause]
        position += (len(piece) + len(pause)) / SAMPLE_RATE
    mono = np.concatenate(pieces)[None, :]
    info = replace(stereo.info, channels=1, duration=mono.shape[1] / SAMPLE_RATE)
    return DecodedAudio(channels=mono, info=info), turns


@pytest.fixture(name="transcriber")
def english_transcriber(model_dir: Path) -> WhisperTranscriber:
    return WhisperTranscriber(ASRSettings(model="base", device="cpu", languages=["en"]), model_dir=model_dir)


def test_the_second_agent_of_a_transferred_call_is_an_agent(
    transcriber: WhisperTranscriber, references: dict[str, dict[str, Any]]
) -> None:
    audio, turns = transfer_call(references["en_refund.stereo.flac"])
    transcript = transcriber.transcribe(audio)
    assert transcript.speakers is not None
    found = transcript.speakers.found
    assert found.count == 3 and found.agent == "speaker 1, speaker 3" and found.role_confidence > 0.6
    words = [(word, segment.speaker) for segment in transcript.segments for word in segment.words]
    for role, start, end in turns:  # every word inside a turn has the turn's role, however few are off
        heard = [speaker for word, speaker in words if start <= (word.start + word.end) / 2 <= end]
        expected = Speaker.customer if role == "customer" else Speaker.agent
        assert heard.count(expected) >= 0.8 * len(heard) > 0, (role, start, heard)
    second = next(start for role, start, _ in turns if role == "second agent")
    takeover = min(transcript.segments, key=lambda segment: abs(segment.start - second))
    assert takeover.speaker is Speaker.agent and abs(takeover.start - second) < 0.5  # a turn of their own


@pytest.mark.parametrize("agent_speaks", [None, AgentSpeaks.first])
def test_a_customers_voicemail_has_no_agent_unless_metadata_says_so(
    transcriber: WhisperTranscriber, agent_speaks: AgentSpeaks | None
) -> None:
    # en_short: "Hello, I am calling to check the status of the order I placed last week.", one voice.
    # Metadata saying the agent speaks first wins over the words, which are then said to disagree.
    audio = decode((AUDIO / "en_short.mono.flac").read_bytes(), max_seconds=60)
    transcript = transcriber.transcribe(audio, agent_speaks=agent_speaks)
    assert transcript.speakers is not None
    found = transcript.speakers.found
    assert found.count == 1 and found.role_confidence > 0.3
    if agent_speaks is None:
        assert found.agent is None and found.agent_source is RoleSource.conversation
        assert {segment.speaker for segment in transcript.segments} == {Speaker.customer}
    else:
        assert (
            found.agent == "speaker 1" and found.agent_source is RoleSource.metadata and found.swap_suggested
        )
        assert {segment.speaker for segment in transcript.segments} == {Speaker.agent}


def one_channel_of_two(samples: np.ndarray, row: int) -> DecodedAudio:
    """A stereo recording carrying ``samples`` on channel ``row`` and digital silence on the other."""
    channels = np.zeros((2, len(samples)), np.float32)
    channels[row] = samples
    info = AudioInfo("wav", "pcm_s16le", SAMPLE_RATE, 2, len(samples) / SAMPLE_RATE)
    return DecodedAudio(channels=channels, info=info)


def test_both_sides_mixed_on_one_channel_of_a_stereo_call_are_told_apart(
    transcriber: WhisperTranscriber, references: dict[str, dict[str, Any]]
) -> None:
    # A recorder that wrote the mix on the left and nothing on the right: every turn was the agent's, with a
    # role confidence of 0.95.
    mix = decode((AUDIO / "en_refund.mono.flac").read_bytes(), max_seconds=60).channels[0]
    transcript = transcriber.transcribe(one_channel_of_two(mix, 0))
    assert transcript.speakers is not None and transcript.speakers.found.method is SpeakerMethod.diarization
    expected = [turn["speaker"] for turn in references["en_refund.mono.flac"]["turns"]]
    assert [segment.speaker.value for segment in transcript.segments] == expected


def test_one_voice_on_one_channel_of_a_stereo_call_keeps_its_channels_role(
    transcriber: WhisperTranscriber,
) -> None:
    # en_angry's customer alone on the right (an agent channel that stayed silent): one voice, which the
    # diarization splits in two, unclearly; the channel says who it is.
    customer = decode((AUDIO / "en_angry.stereo.flac").read_bytes(), max_seconds=60).channels[1]
    transcript = transcriber.transcribe(one_channel_of_two(customer, 1))
    assert transcript.speakers is not None
    found = transcript.speakers.found
    assert found.method is SpeakerMethod.channels and found.count == 1 and found.agent == "left"
    assert {segment.speaker for segment in transcript.segments} == {Speaker.customer}
