"""A card read out digit by digit survives transcription by the real whisper-base: plain gzip took its text
for a decoding loop and the window was dropped (speech/repetitions.py, bench/digits.py); greedy decoding
loses digit groups that the number beam of redaction decodes (redaction.number_beam_size)."""

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


def test_the_number_beam_decodes_the_card_greedy_decoding_cut_short(model_dir: Path) -> None:
    audio = decode((AUDIO / "en_card.mono.flac").read_bytes(), max_seconds=60)  # "five four five four, …"
    heard = {}
    for beam in (1, RedactionSettings().number_beam_size):
        transcriber = WhisperTranscriber(
            ASRSettings(model="base", device="cpu"), model_dir=model_dir, number_beam_size=beam
        )
        heard[beam] = transcriber.transcribe(audio, language="en").text
    greedy, again = heard.values()
    assert greedy.count("5454") < 4, greedy  # "The car is 5454." on this audio
    assert again.count("5454") == 4 and "card" in again, again
