"""The path of one call through the stage modules on a real PostgreSQL, every model and server a fake: each
stage returns what comes next, and the stages around Whisper, the LLM, the recorder and the CRM need none."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest

from callsense.backends.crm.fake import FakeDestinations
from callsense.backends.llm.fake import FakeLLM
from callsense.backends.recordings.fake import FakeRecordings
from callsense.calls import deliveries
from callsense.calls import service as calls
from callsense.calls.models import Call, Delivery
from callsense.calls.schemas import CallStatus, Segment, Speaker, SpeakerMethod, SpeakersFound
from callsense.config import Settings
from callsense.config.models import Channel
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
    assert transcribe.run(rt, call_pk) == "analyse"
    (delivery_id,) = analyse.run(rt, call_pk)
    assert status_of(rt, call_pk) is CallStatus.done
    deliver.run(rt, delivery_id)
    with rt.db.transaction() as session:
        delivery = deliveries.lock(session=session, delivery_id=delivery_id)
        assert (delivery.status, delivery.external_id) == ("delivered", "hook-path")
    (destination, sent), *_ = rt.crm.sent  # type: ignore[attr-defined]
    assert (destination, sent.call_id) == ("hook", "path")


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


@pytest.mark.parametrize(
    ("metadata", "asked", "note"),
    [
        ({"agent_channel": "Right"}, Channel.right, None),
        (
            {"agent_channel": "middle"},
            None,
            "metadata agent_channel='middle' ignored: expected 'left' or 'right'",
        ),
        ({"queue": "billing"}, None, None),
    ],
)
def test_the_calls_metadata_names_the_agent_channel(
    rt: Runtime, metadata: dict[str, str], asked: Channel | None, note: str | None
) -> None:
    details = calls.CallDetails(metadata=metadata)
    call_pk = ingest.ingest(rt, call_id="meta", source=SOURCE, details=details).call_pk
    fetch.run(rt, call_pk, local_files=False)
    transcribe.run(rt, call_pk)
    assert rt.transcriber.agent_channels == [asked]  # type: ignore[attr-defined]
    with rt.db.transaction() as session:
        call = session.get(Call, call_pk)
        assert call is not None
        record = calls.to_record(call=call, keyring=rt.keyring)
        notes = [e.detail for e in calls.events(session=session, call_pk=call_pk) if e.kind == "speakers"]
    assert record.speakers is not None and record.speakers.method is SpeakerMethod.channels
    assert notes == ([note] if note else [])


@pytest.mark.parametrize(
    ("found", "note"),
    [
        (
            SpeakersFound(
                method=SpeakerMethod.channels, count=2, agent="right", role_confidence=0.9, swapped=True
            ),
            "agent channel swapped to right: the conversation says so (confidence 0.9)",
        ),
        (
            SpeakersFound(
                method=SpeakerMethod.channels, count=2, agent="left", role_confidence=0.9, swap_suggested=True
            ),
            "the conversation says the agent is on the right channel (confidence 0.9); kept left "
            "(speakers.swap_check=warn)",
        ),
    ],
)
def test_a_swap_made_or_suggested_is_in_the_audit_trail(rt: Runtime, found: SpeakersFound, note: str) -> None:
    swapping = dataclasses.replace(rt, transcriber=FakeTranscriber(TURNS, speakers=found))
    call_pk = ingest.ingest(swapping, call_id="swap", source=SOURCE).call_pk
    fetch.run(swapping, call_pk, local_files=False)
    transcribe.run(swapping, call_pk)
    with swapping.db.transaction() as session:
        call = session.get(Call, call_pk)
        assert call is not None
        assert calls.to_record(call=call, keyring=rt.keyring).speakers == found
        notes = [e.detail for e in calls.events(session=session, call_pk=call_pk) if e.kind == "speakers"]
    assert notes == [note]
