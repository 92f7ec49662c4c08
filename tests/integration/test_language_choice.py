"""Language detection restricted to the languages a contact center takes (``asr.languages``), on the real
whisper-base: a call Whisper is unsure of is not filed under a language nobody there speaks."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from callsense.config.models import ASRSettings
from callsense.speech.audio import decode
from callsense.speech.whisper import WhisperTranscriber

pytestmark = pytest.mark.slow

RUSSIAN = (
    "Здравствуйте, компания Телеком, меня зовут Анна. Чем могу помочь? "
    "Мне дважды списали деньги за интернет в этом месяце. Я хочу вернуть деньги."
)


@pytest.mark.parametrize("languages", [["ru"], ["ru", "uk"]])
def test_calls_are_taken_in_the_configured_languages(
    model_dir: Path, tmp_path: Path, languages: list[str]
) -> None:
    """Synthetic Russian: unrestricted, whisper-base reads it as Latin (0.21), then English and Russian (0.10
    each), and writes a Latin transliteration."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng (Debian) speaks the call; it is not installed")
    wav = tmp_path / "ru.wav"
    subprocess.run(["espeak-ng", "-v", "ru+f2", "-s", "130", "-w", str(wav), RUSSIAN], check=True)
    # One temperature: the fallbacks re-decode this synthetic voice's loops at random (23-60 s; 11 s without)
    settings = ASRSettings(model="base", device="cpu", languages=languages, temperatures=[0.0])
    transcript = WhisperTranscriber(settings, model_dir=model_dir).transcribe(
        decode(wav.read_bytes(), max_seconds=60)
    )
    assert transcript.language == "ru"
    if len(languages) == 1:  # taken, not detected
        assert transcript.language_probability is None
    else:
        assert transcript.language_probability is not None and 0 < transcript.language_probability <= 1
    assert any(unicodedata.name(char).startswith("CYRILLIC") for char in transcript.text), transcript.text


def test_languages_are_whisper_codes() -> None:
    assert ASRSettings(languages=["he", "ar", "en"]).languages == ["he", "ar", "en"]
    with pytest.raises(ValueError, match="'iw'"):
        ASRSettings(languages=["iw"])  # Hebrew's old code: Whisper's is "he"
