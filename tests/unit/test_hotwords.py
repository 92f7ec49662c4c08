"""Custom vocabulary: the hotwords Whisper is given, per language and per recording source, checked when the
settings load."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from callsense.config import load_settings
from callsense.config.models import MAX_HOTWORDS_CHARACTERS, ASRSettings, SourceVocabulary
from callsense.config.sources import FolderSourceSettings, RestSourceSettings
from callsense.speech.whisper import WhisperTranscriber


def test_common_and_language_hotwords_are_joined_for_that_language_only() -> None:
    asr = ASRSettings(
        hotwords=["Quorvix Ultra", "Zentrafon"], hotwords_by_language={"de": ["Stromtarif Plus"]}
    )
    assert asr.hotwords_for("de") == "Quorvix Ultra, Zentrafon, Stromtarif Plus"
    assert asr.hotwords_for("en") == "Quorvix Ultra, Zentrafon"
    assert asr.hotwords_for(None) == "Quorvix Ultra, Zentrafon"
    assert ASRSettings().hotwords_for("en") is None


def test_the_transcript_records_the_hotwords_it_was_made_with(tmp_path: Path) -> None:
    asr = ASRSettings(device="cpu", hotwords=["Zentrafon"], hotwords_by_language={"fr": ["Forfait Libre"]})
    transcriber = WhisperTranscriber(asr, model_dir=tmp_path)  # loads nothing until it transcribes
    assert transcriber.options("fr").hotwords == "Zentrafon, Forfait Libre"
    assert transcriber.options("es").hotwords == "Zentrafon"


def test_hotwords_longer_than_whisper_reads_are_refused_naming_the_language() -> None:
    long_list = ["Quorvix"] * (MAX_HOTWORDS_CHARACTERS // 8 + 1)
    with pytest.raises(ValidationError, match="hotwords for de are"):
        ASRSettings(hotwords_by_language={"de": long_list})
    with pytest.raises(ValidationError, match="hotwords are"):
        ASRSettings(hotwords=long_list)


def test_an_empty_hotword_is_refused() -> None:
    with pytest.raises(ValidationError, match="must not be empty"):
        ASRSettings(hotwords=["Zentrafon", " "])


def test_hotwords_come_from_the_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "callsense.toml"
    config.write_text('[asr]\nhotwords = ["Zentrafon"]\n[asr.hotwords_by_language]\nes = ["Tarifa Plana"]\n')
    monkeypatch.setenv("CALLSENSE_CONFIG", str(config))
    assert load_settings().asr.hotwords_for("es") == "Zentrafon, Tarifa Plana"


def test_a_source_s_hotwords_add_to_the_common_ones_or_replace_them(tmp_path: Path) -> None:
    asr = ASRSettings(device="cpu", hotwords=["Zentrafon"], hotwords_by_language={"de": ["Stromtarif Plus"]})
    adding = SourceVocabulary(hotwords=["Quorvix Ultra"], hotwords_by_language={"de": ["Quorvix Mobil"]})
    replacing = SourceVocabulary(hotwords=["Novatel Max"], hotwords_replace=True)
    assert asr.hotwords_for("de", adding) == "Zentrafon, Stromtarif Plus, Quorvix Ultra, Quorvix Mobil"
    assert asr.hotwords_for("en", adding) == "Zentrafon, Quorvix Ultra"
    assert asr.hotwords_for("de", replacing) == "Novatel Max"
    assert asr.hotwords_for("de", SourceVocabulary(hotwords_replace=True)) is None
    assert asr.hotwords_for("en", SourceVocabulary(hotwords=["Zentrafon"])) == "Zentrafon"  # once
    transcriber = WhisperTranscriber(asr, model_dir=tmp_path)
    assert transcriber.options("de", replacing).hotwords == "Novatel Max"


def test_a_source_s_hotwords_are_checked_like_the_common_ones() -> None:
    with pytest.raises(ValidationError, match="hotwords for fr are"):
        FolderSourceSettings(name="nas", path=Path("/srv"), hotwords_by_language={"fr": ["Forfait"] * 200})
    with pytest.raises(ValidationError, match="must not be empty"):
        RestSourceSettings(name="api", url="https://pbx.example/recordings", hotwords=[""])
