"""The path of one call through the stage modules on a real PostgreSQL, every model and server a fake: each
stage returns what comes next, and the stages around Whisper, the LLM, the recorder and the CRM need none."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest

from callsense import metrics
from callsense.backends.crm.fake import FakeDestinations
from callsense.backends.llm.fake import FakeLLM
from callsense.backends.recordings.fake import FakeRecordings
from callsense.calls import deliveries
from callsense.calls.models import Delivery
from callsense.calls.schemas import CallStatus, Segment, Speaker
from callsense.config import Settings
from callsense.errors import PermanentFetchError
from callsense.pipeline import analyse, deliver, fetch, ingest, transcribe
from callsense.runtime import Runtime, open_runtime
from callsense.speech.fake import FakeTranscriber
from tests.conftest import AUDIO, status_of
from tests.crm_calls import ANALYSIS

SOURCE = "https://recorder.example/call.flac"
TURNS = [
    Segment(speaker=Speaker.agent, start=0.0, end=2.0, text="Thanks for calling.", confidence=0.9),
    Segment(speaker=Speaker.customer, start=2.1, end=4.0, text="I was charged twice.", confidence=0.9),
]


def _answer(request: object) -> str:
    return json.dumps(ANALYSIS)


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    hook = {"name": "hook", "kind": "webhook", "base_url": "https://crm.example/hook", "secret": "whsec_test"}
    configured = Settings.model_validate({**settings.model_dump(), "deliveries": {"destinations": [hook]}})
    runtime = dataclasses.replace(
        open_runtime(configured),
        recordings=FakeRecordings({SOURCE: (AUDIO / "en_short.mono.flac").read_bytes()}),
        transcriber=FakeTranscriber(TURNS),
        llm=FakeLLM(_answer),
        crm=FakeDestinations(),
    )
    yield runtime
    runtime.db.close()


def test_each_stage_hands_on_what_comes_next(rt: Runtime) -> None:
    call_pk = ingest.ingest(rt, call_id="path", source=SOURCE).call_pk
    assert fetch.run(rt, call_pk, local_files=False) == "transcribe"
    assert rt.recordings.reads == [(SOURCE, False)]  # type: ignore[attr-defined]
    transcriptions = _realtime_factors()
    assert transcribe.run(rt, call_pk) == "analyse"
    assert _realtime_factors() == transcriptions + 1  # the stage's seconds per second of audio, observed
    (delivery_id,) = analyse.run(rt, call_pk)
    assert status_of(rt, call_pk) is CallStatus.done
    deliver.run(rt, delivery_id)
    with rt.db.transaction() as session:
        delivery = deliveries.lock(session=session, delivery_id=delivery_id)
        assert (delivery.status, delivery.external_id) == ("delivered", "hook-path")
    (destination, sent), *_ = rt.crm.sent  # type: ignore[attr-defined]
    assert (destination, sent.call_id) == ("hook", "path")


def _realtime_factors() -> float:
    return metrics.REGISTRY.get_sample_value("callsense_transcription_realtime_factor_count") or 0.0


def test_a_stage_already_done_says_the_same_next_step_without_working_again(rt: Runtime) -> None:
    call_pk = ingest.ingest(rt, call_id="again", source=SOURCE).call_pk
    fetch.run(rt, call_pk, local_files=False)
    transcribe.run(rt, call_pk)
    first = analyse.run(rt, call_pk)
    assert fetch.run(rt, call_pk, local_files=False) == "transcribe"
    assert transcribe.run(rt, call_pk) is None  # the call is done, not waiting for its analysis
    assert analyse.run(rt, call_pk) == first  # still pending: the queue defers them again
    assert len(rt.recordings.reads) == 1 and len(rt.transcriber.requests) == 1  # type: ignore[attr-defined]


def test_silence_ends_the_path_after_transcription(rt: Runtime) -> None:
    silent = dataclasses.replace(rt, transcriber=FakeTranscriber([]))
    call_pk = ingest.ingest(silent, call_id="silent", source=SOURCE).call_pk
    fetch.run(silent, call_pk, local_files=False)
    assert transcribe.run(silent, call_pk) is None
    assert status_of(silent, call_pk) is CallStatus.no_speech
    assert analyse.run(silent, call_pk) == []
    with silent.db.transaction() as session:
        assert session.query(Delivery).count() == 0


def test_an_unknown_source_fails_the_fetch_for_good(rt: Runtime) -> None:
    call_pk = ingest.ingest(rt, call_id="lost", source="https://recorder.example/lost.flac").call_pk
    with pytest.raises(PermanentFetchError):
        fetch.run(rt, call_pk, local_files=False)
    assert status_of(rt, call_pk) is CallStatus.failed
