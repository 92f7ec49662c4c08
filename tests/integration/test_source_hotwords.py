"""A recording source's own hotwords reach the transcriber for the calls taken from it, and only for those."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from callsense.backends.recordings.sources import FolderSource
from callsense.calls.schemas import Segment, Speaker
from callsense.config import Settings
from callsense.config.sources import FolderSourceSettings
from callsense.pipeline import fetch, ingest, poll, transcribe
from callsense.runtime import open_runtime
from callsense.speech.fake import FakeTranscriber
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
