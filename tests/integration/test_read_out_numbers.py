"""A card read out digit by digit survives transcription by the real whisper-base: plain gzip took its text
for a decoding loop and the window was dropped (speech/repetitions.py, bench/digits.py); the number beam of
redaction decodes a card read out in groups (redaction.number_beam_size)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from callsense.config.models import ASRSettings
from callsense.config.redaction import RedactionSettings
from callsense.speech.audio import decode
from callsense.speech.whisper import WhisperTranscriber

pytestmark = pytest.mark.slow

AUDIO = Path(__file__).parent.parent / "fixtures" / "audio"
CARD = "Mi tarjeta es cuatro uno uno uno, uno uno uno uno, uno uno uno uno, uno uno uno uno."


def test_a_spanish_card_of_repeated_digits_is_not_dropped_as_a_loop(model_dir: Path, tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng (Debian) speaks the card; it is not installed")
    wav = tmp_path / "card.wav"
    # The voice and rate under which whisper-base decodes the card, at a ratio of 2.7 (docs/benchmarks.md).
    subprocess.run(["espeak-ng", "-v", "es+f2", "-s", "120", "-g", "5", "-w", str(wav), CARD], check=True)
    transcriber = WhisperTranscriber(ASRSettings(model="base", device="cpu"), model_dir=model_dir)
    text = transcriber.transcribe(decode(wav.read_bytes(), max_seconds=60), language="es").text.lower()
    assert text.count("uno") + text.count("1") >= 12, text


def test_the_number_beam_decodes_the_whole_card(model_dir: Path) -> None:
    audio = decode((AUDIO / "en_card.mono.flac").read_bytes(), max_seconds=60)  # "five four five four, …"
    transcriber = WhisperTranscriber(
        ASRSettings(model="base", device="cpu"),
        model_dir=model_dir,
        number_beam_size=RedactionSettings().number_beam_size,
    )
    # Greedy decoding alone heard "The car is 5454." on one CPU and the whole card on another (its result
    # depends on the CPU's arithmetic); the number beam must give every group on both.
    text = transcriber.transcribe(audio, language="en").text
    assert text.count("5454") == 4, text
