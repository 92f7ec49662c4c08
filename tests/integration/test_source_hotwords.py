"""A recording source's own hotwords reach the transcriber for the calls taken from it, and only for those."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from callsense.backends.recordings.sources import FolderSource
from callsense.calls.schemas import Segment, Speaker
from callsense.config import Settings
from callsense.config.models import ASRSettings, SourceVocabulary
from callsense.config.sources import FolderSourceSettings
from callsense.pipeline import fetch, ingest, poll, transcribe
from callsense.runtime import open_runtime
from callsense.speech.audio import decode
from callsense.speech.fake import FakeTranscriber
from callsense.speech.whisper import WhisperTranscriber
from tests.conftest import AUDIO
from tests.recording_trees import put, tiny_wav

TURNS = [Segment(speaker=Speaker.agent, start=0.0, end=0.4, text="Hallo.", confidence=0.9)]


def test_each_source_s_calls_are_transcribed_with_its_hotwords(settings: Settings, tmp_path: Path) -> None:
    folders = [
        {"name": "energy", "path": str(tmp_path / "energy"), "stable_seconds": 0,
         "hotwords": ["Quorvix Ultra"], "hotwords_by_language": {"de": ["Stromtarif Plus"]}},
        {"name": "mobile", "path": str(tmp_path / "mobile"), "stable_seconds": 0,
         "hotwords": ["Novatel Max"], "hotwords_replace": True},
    ]  # fmt: skip
    asr = {**settings.asr.model_dump(), "hotwords": ["Zentrafon"]}
    configured = Settings.model_validate(
        {**settings.model_dump(), "asr": asr, "sources": {"folders": folders}}
    )
    transcriber = FakeTranscriber(TURNS, language="de")
    rt = dataclasses.replace(open_runtime(configured), transcriber=transcriber)
    try:
        hints = {}
        for folder in configured.sources.folders:
            put(folder.path, "a.wav", tiny_wav())
            (call_pk,) = poll.poll(rt, FolderSource(folder), stable_seconds=0).fetched
            transcribe.run(rt, call_pk, language="de")
            given = transcriber.vocabularies[-1]
            assert isinstance(given, FolderSourceSettings) and given.name == folder.name
            hints[folder.name] = rt.settings.asr.hotwords_for("de", given)
        assert hints == {"energy": "Zentrafon, Quorvix Ultra, Stromtarif Plus", "mobile": "Novatel Max"}

        other = tmp_path / "webhook.wav"
        other.write_bytes(tiny_wav())
        call_pk = ingest.ingest(rt, call_id="from-a-webhook", source=str(other)).call_pk
        fetch.run(rt, call_pk)
        transcribe.run(rt, call_pk)
        assert transcriber.vocabularies[-1] is None  # no source: asr's hotwords alone
    finally:
        rt.db.close()


@pytest.mark.slow
def test_faster_whisper_is_given_the_hotwords_of_the_call_s_language_and_source(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real tiny.en on a 5-second call: every decoding faster-whisper's ``WhisperModel.transcribe`` makes
    is handed asr's hotwords for English (not German's), then the source's, or the source's alone where they
    replace asr's; the real model still decodes the call."""
    asr = ASRSettings(
        model="tiny.en",
        device="cpu",
        hotwords=["Zentrafon"],
        hotwords_by_language={"en": ["Quorvix Ultra"], "de": ["Stromtarif Plus"]},
    )
    transcriber = WhisperTranscriber(asr, model_dir=model_dir)
    model = transcriber._model()  # the loaded WhisperModel the transcriber decodes with (cached)
    real_transcribe = model.transcribe
    given: list[Any] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        given.append(kwargs.get("hotwords", "(not passed)"))
        return real_transcribe(*args, **kwargs)

    monkeypatch.setattr(model, "transcribe", spy)
    audio = decode((AUDIO / "en_short.mono.flac").read_bytes(), max_seconds=60)
    expected: list[tuple[SourceVocabulary | None, str]] = [
        (None, "Zentrafon, Quorvix Ultra"),
        (
            SourceVocabulary(hotwords=["Novatel Max"], hotwords_by_language={"en": ["Novatel Go"]}),
            "Zentrafon, Quorvix Ultra, Novatel Max, Novatel Go",
        ),
        (SourceVocabulary(hotwords=["Novatel Max"], hotwords_replace=True), "Novatel Max"),
    ]
    for vocabulary, hotwords in expected:
        given.clear()
        transcript = transcriber.transcribe(audio, language="en", vocabulary=vocabulary)
        assert given and set(given) == {hotwords}, (vocabulary, given)
        assert "status of the order" in transcript.text.lower(), transcript.text
