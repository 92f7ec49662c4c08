"""A stereo call's two channels transcribed at once (asr.parallel_channels) give the same transcript as one
after the other, and the progress they report together only goes forward, to the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from callsense.config.models import ASRSettings
from callsense.speech.audio import decode
from callsense.speech.whisper import WhisperTranscriber

pytestmark = pytest.mark.slow

CALL = Path(__file__).parent.parent / "fixtures" / "audio" / "en_refund.stereo.flac"


def test_channels_at_once_give_the_transcript_of_channels_in_turn(model_dir: Path) -> None:
    audio = decode(CALL.read_bytes(), max_seconds=120)
    transcripts = {}
    reported: dict[bool, list[float]] = {True: [], False: []}
    for parallel in (True, False):
        transcriber = WhisperTranscriber(
            ASRSettings(model="base", device="cpu", parallel_channels=parallel), model_dir=model_dir
        )
        transcripts[parallel] = transcriber.transcribe(audio, on_progress=reported[parallel].append)
    at_once, in_turn = transcripts[True], transcripts[False]
    assert {segment.speaker.value for segment in at_once.segments} == {"agent", "customer"}
    assert at_once.segments == in_turn.segments
    assert at_once.language == in_turn.language == "en"
    fractions = reported[True]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0, fractions
