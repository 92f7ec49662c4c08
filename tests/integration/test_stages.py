"""The path of one call through the stage modules on a real PostgreSQL, every model and server a fake: each
stage returns what comes next, and the stages around Whisper, the LLM, the recorder and the CRM need none."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from callsense import logs, metrics
from callsense.backends.crm.fake import FakeDestinations
from callsense.backends.llm.fake import FakeLLM
from callsense.backends.recordings.fake import FakeRecordings
from callsense.calls import actions, deliveries
from callsense.calls import service as calls
from callsense.calls.models import Call, Delivery, Event
from callsense.calls.schemas import CallStatus, Segment, Speaker, SpeakerMethod, SpeakersFound
from callsense.config import Settings
from callsense.config.models import AgentSpeaks, Channel
from callsense.errors import DecryptionError, PermanentFetchError, UnexpectedStageError
from callsense.pipeline import analyse, deliver, fetch, ingest, inline, tasks, transcribe
from callsense.runtime import Runtime, open_runtime
from callsense.security import tokens
from callsense.security.tokens import Role
from callsense.server import create_app
from callsense.speech.audio import decode
from callsense.speech.fake import FakeTranscriber
from tests.conftest import AUDIO, status_of
from tests.crm_calls import ANALYSIS
from tests.dashboard_seed import spread_words
from tests.redaction_calls import wav

SOURCE = "https://recorder.example/call.flac"


def _turn(speaker: Speaker, text: str, start: float, end: float) -> Segment:
    words = spread_words(text, start, end)
    return Segment(speaker=speaker, start=start, end=end, text=text, confidence=0.9, words=words)


TURNS = [
    _turn(Speaker.agent, "Thanks for calling.", 0.0, 2.0),
    _turn(Speaker.customer, "I was charged twice.", 1.5, 4.0),  # cuts in 1.5 s into the agent's turn
]


def _answer(request: object) -> str:
    return json.dumps(ANALYSIS)


def runtime_with_fakes(settings: Settings) -> Runtime:
    """The real runtime on ``settings`` with one webhook destination, every model and server a fake."""
    hook = {
        "name": "hook",
        "kind": "webhook",
        "base_url": "https://crm.example/hook",
        "secret": "whsec_test",
        "fields": ["call_id", "talk", "speakers", "non_talk_seconds", "interruptions"],
    }
    configured = Settings.model_validate(
        {
            **settings.model_dump(),
            "deliveries": {"destinations": [hook]},
            "talk": {"non_talk_min_s": 1.0},  # the 1.2 s after the last word (the fixture is 5.2 s long)
        }
    )
    return dataclasses.replace(
        open_runtime(configured),
        recordings=FakeRecordings({SOURCE: (AUDIO / "en_short.mono.flac").read_bytes()}),
        transcriber=FakeTranscriber(TURNS),
        llm=FakeLLM(_answer),
        crm=FakeDestinations(),
    )


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = runtime_with_fakes(settings)
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


def test_a_processed_call_has_its_talk_figures_and_speakers_in_record_api_and_crm_payload(
    rt: Runtime,
) -> None:
    call_pk = ingest.ingest(rt, call_id="talk", source=SOURCE).call_pk
    fetch.run(rt, call_pk, local_files=False)
    transcribe.run(rt, call_pk)
    (delivery_id,) = analyse.run(rt, call_pk)
    deliver.run(rt, delivery_id)

    with rt.db.transaction() as session:
        record = calls.to_record(call=calls.get(session=session, call_id="talk"), keyring=rt.keyring)
        token = tokens.create(session=session, name="look", role=Role.viewer)
    talk = record.talk
    assert talk is not None and talk.agent is not None and talk.customer is not None
    assert (talk.agent.talk_seconds, talk.customer.talk_seconds) == (2.0, 2.5)
    assert talk.customer.interruption_times == [1.5] and talk.interruptions == 1
    assert talk.overlap_seconds == 0.5 and talk.turns == 2
    assert [(span.start, span.end) for span in talk.non_talk_spans] == [(4.0, 5.21)]
    assert talk.agent.loudness_dbfs is not None and talk.agent.loudness_dbfs.mean > -60  # real speech

    (_, sent), *_ = rt.crm.sent  # type: ignore[attr-defined]
    assert sent.fields["talk"] == talk.model_dump(mode="json")
    assert record.speakers is not None and sent.fields["speakers"] == record.speakers.model_dump(mode="json")
    assert (sent.fields["non_talk_seconds"], sent.fields["interruptions"]) == (talk.non_talk_seconds, 1)

    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(rt, tasks.build_app(rt))) as client:
        served = client.get("/calls/talk", headers=headers).json()
        assert served["talk"] == talk.model_dump(mode="json")

        def listed(**filters: float) -> list[str]:
            page = client.get("/calls", params=filters, headers=headers).json()
            return [item["call_id"] for item in page["items"]]

        assert listed(interruptions_above=0) == ["talk"]
        assert listed(interruptions_above=1) == []
        assert listed(non_talk_above=talk.non_talk_seconds - 0.01) == ["talk"]
        assert listed(non_talk_above=talk.non_talk_seconds) == []


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


def test_a_transcript_of_only_non_speech_markers_is_no_speech_not_analysed(rt: Runtime) -> None:
    noise = [_turn(Speaker.agent, "[inaudible]", 0.0, 2.0), _turn(Speaker.customer, "(music) ♪", 2.0, 4.0)]
    marked = dataclasses.replace(rt, transcriber=FakeTranscriber(noise))
    call_pk = ingest.ingest(marked, call_id="noise", source=SOURCE).call_pk
    fetch.run(marked, call_pk, local_files=False)
    assert transcribe.run(marked, call_pk) is None
    assert status_of(marked, call_pk) is CallStatus.no_speech
    assert marked.llm.requests == []  # type: ignore[attr-defined]


def test_a_nul_from_the_recogniser_and_any_script_go_through_every_stage(rt: Runtime) -> None:
    # PostgreSQL text cannot hold a NUL: it once failed the transcription's search index on every retry.
    said = [
        _turn(Speaker.agent, "Thanks\x00 for calling, مرحبا 😀", 0.0, 2.0),
        _turn(Speaker.customer, "我要退款 谢谢\x00", 2.0, 4.0),
    ]
    spoken = dataclasses.replace(rt, transcriber=FakeTranscriber(said))
    call_pk = ingest.ingest(spoken, call_id="nul", source=SOURCE).call_pk
    fetch.run(spoken, call_pk, local_files=False)
    assert transcribe.run(spoken, call_pk) == "analyse"
    analyse.run(spoken, call_pk)
    assert status_of(spoken, call_pk) is CallStatus.done
    with spoken.db.transaction() as session:
        call = calls.lock(session=session, call_pk=call_pk)
        texts = [s.text for s in calls.read_segments(call=call, keyring=spoken.keyring, original=True)]
    assert texts == ["Thanks for calling, مرحبا 😀", "我要退款 谢谢"]
    assert "我要退款" in spoken.llm.requests[0].user  # type: ignore[attr-defined]


def test_an_unknown_source_fails_the_fetch_for_good(rt: Runtime) -> None:
    call_pk = ingest.ingest(rt, call_id="lost", source="https://recorder.example/lost.flac").call_pk
    with pytest.raises(PermanentFetchError):
        fetch.run(rt, call_pk, local_files=False)
    assert status_of(rt, call_pk) is CallStatus.failed


@pytest.mark.parametrize(
    ("metadata", "asked", "note"),
    [
        ({"agent_channel": "Right"}, Channel.right, "agent channel right from the call's metadata"),
        ({"agent_channel": " left\n"}, Channel.left, "agent channel left from the call's metadata"),
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


def test_an_agent_channel_a_mono_call_cannot_use_is_noted_not_dropped_silently(rt: Runtime) -> None:
    # A webhook names the agent's channel of a recording that turns out to be mono: the voices decide.
    voices = SpeakersFound(
        method=SpeakerMethod.diarization, count=2, agent="speaker 1", agent_source="conversation"
    )
    assert _speaker_notes(rt, voices, "mono-meta", {"agent_channel": "right"}) == [
        "agent channel right from the call's metadata not used: the call's words are all on one channel (a "
        "mono recording, or a stereo one with both sides mixed on one channel), so the agent was chosen "
        "among its voices"
    ]


VOICES = SpeakersFound(
    method=SpeakerMethod.diarization, count=2, agent="speaker 1", agent_source="conversation"
)


@pytest.mark.parametrize(
    ("found", "metadata", "asked", "agent", "note"),
    [
        (
            VOICES,
            {"agent_speaks": " Second"},
            AgentSpeaks.second,
            "speaker 2",
            "agent speaker 2, the second voice to say a word, from the call's metadata",
        ),
        (
            VOICES.model_copy(update={"role_confidence": 0.86, "swap_suggested": True}),
            {"agent_speaks": "first"},
            AgentSpeaks.first,
            "speaker 1",
            "the conversation says the agent is another voice (confidence 0.86); kept speaker 1, the first "
            "voice to say a word, from the call's metadata",
        ),
        (
            VOICES,
            {"agent_speaks": 2},
            None,
            "speaker 1",
            "metadata agent_speaks=2 ignored: expected 'first' or 'second'",
        ),
        (
            SpeakersFound(method=SpeakerMethod.channels, count=2, agent="left", agent_source="settings"),
            {"agent_speaks": "second"},
            AgentSpeaks.second,
            "left",
            "agent_speaks second from the call's metadata not used: the call is stereo, where agent_channel "
            "applies",
        ),
    ],
)
def test_the_calls_metadata_names_the_agent_of_a_mono_call_by_when_it_speaks(
    rt: Runtime,
    found: SpeakersFound,
    metadata: dict[str, Any],
    asked: AgentSpeaks | None,
    agent: str,
    note: str,
) -> None:
    # An outbound campaign's calls: the customer answers, the agent speaks second, whatever the words say.
    transcriber = FakeTranscriber(TURNS, speakers=found)
    transcribed = dataclasses.replace(rt, transcriber=transcriber)
    details = calls.CallDetails(metadata=metadata)
    call_pk = ingest.ingest(transcribed, call_id="speaks", source=SOURCE, details=details).call_pk
    fetch.run(transcribed, call_pk, local_files=False)
    transcribe.run(transcribed, call_pk)
    assert transcriber.agent_speaks == [asked]
    with transcribed.db.transaction() as session:
        call = session.get(Call, call_pk)
        assert call is not None
        speakers = calls.to_record(call=call, keyring=rt.keyring).speakers
        notes = [e.detail for e in calls.events(session=session, call_pk=call_pk) if e.kind == "speakers"]
    used = asked is not None and found.method is SpeakerMethod.diarization
    assert speakers is not None
    assert (speakers.agent, speakers.agent_source) == (agent, "metadata" if used else found.agent_source)
    assert notes == [note]


def test_a_stereo_call_diarized_on_its_one_sounding_channel_is_measured_there(rt: Runtime) -> None:
    # Both sides mixed on the left, the right silent: the voices were found on the left, and each speaker's
    # loudness is read there, not the customer's on the silent right (-120 dBFS).
    spoken = decode((AUDIO / "en_short.mono.flac").read_bytes(), max_seconds=60).channels[0]
    pcm = (np.stack([spoken, np.zeros_like(spoken)]) * 32767).astype(np.int16)
    voices = SpeakersFound(method=SpeakerMethod.diarization, count=2, agent="speaker 1", confidence=0.6)
    mixed = dataclasses.replace(
        rt, recordings=FakeRecordings({SOURCE: wav(pcm)}), transcriber=FakeTranscriber(TURNS, speakers=voices)
    )
    call_pk = ingest.ingest(mixed, call_id="one-sided-mix", source=SOURCE).call_pk
    fetch.run(mixed, call_pk, local_files=False)
    transcribe.run(mixed, call_pk)
    with mixed.db.transaction() as session:
        call = session.get(Call, call_pk)
        assert call is not None
        figures = calls.to_record(call=call, keyring=rt.keyring).talk
    assert figures is not None and figures.agent is not None and figures.customer is not None
    assert figures.agent.loudness_dbfs is not None and figures.customer.loudness_dbfs is not None
    assert figures.agent.loudness_dbfs.mean > -40 and figures.customer.loudness_dbfs.mean > -40


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
        (
            SpeakersFound(
                method=SpeakerMethod.channels,
                count=2,
                agent="left",
                agent_source="metadata",
                role_confidence=0.9,
                swap_suggested=True,
            ),
            "the conversation says the agent is on the right channel (confidence 0.9); kept left from the "
            "call's metadata",
        ),
    ],
)
def test_a_swap_made_or_suggested_is_in_the_audit_trail(rt: Runtime, found: SpeakersFound, note: str) -> None:
    given = {"agent_channel": found.agent} if found.agent_source == "metadata" else {}
    assert _speaker_notes(rt, found, "swap", given) == [note]


def _speaker_notes(rt: Runtime, found: SpeakersFound, call_id: str, metadata: dict[str, Any]) -> list[str]:
    """The audit trail's speaker lines of a call transcribed into ``found`` (the record says it too)."""
    transcribed = dataclasses.replace(rt, transcriber=FakeTranscriber(TURNS, speakers=found))
    details = calls.CallDetails(metadata=metadata)
    call_pk = ingest.ingest(transcribed, call_id=call_id, source=SOURCE, details=details).call_pk
    fetch.run(transcribed, call_pk, local_files=False)
    transcribe.run(transcribed, call_pk)
    with transcribed.db.transaction() as session:
        call = session.get(Call, call_pk)
        assert call is not None
        assert calls.to_record(call=call, keyring=rt.keyring).speakers == found
        return [e.detail for e in calls.events(session=session, call_pk=call_pk) if e.kind == "speakers"]


def test_a_database_error_in_a_stage_keeps_the_words_said_out_of_its_reason(rt: Runtime) -> None:
    # An error no stage expects becomes the call's status detail, which viewers read, and a log line with
    # its traceback: the database's message, never the statement's values (here the words for the index).
    # Built unvalidated: a validated turn has its NUL dropped, and PostgreSQL text cannot hold one.
    said = Segment.model_construct(
        speaker=Speaker.customer, start=0.0, end=2.0, text="Ingrid Vogelsang\x00", confidence=0.9, words=[]
    )
    broken = dataclasses.replace(rt, transcriber=FakeTranscriber([said]))
    call_pk = ingest.ingest(broken, call_id="nul", source=SOURCE).call_pk
    fetch.run(broken, call_pk, local_files=False)
    with pytest.raises(UnexpectedStageError):
        transcribe.run(broken, call_pk)
    with broken.db.transaction() as session:
        detail = calls.lock(session=session, call_pk=call_pk).status_detail or ""
    assert "DataError" in detail and "Vogelsang" not in detail


def test_an_unexpected_error_that_quotes_the_call_leaves_the_words_in_no_record_and_no_log(
    rt: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    # A library's message may quote what it was handed: pydantic's quotes the turn (a field missing).
    said = {"speaker": "customer", "start": 0.0, "end": 2.0, "text": "my card is 4111 1111 1111 1111"}

    class Quoting(FakeTranscriber):
        def transcribe(self, *args: Any, **kwargs: Any) -> Any:
            Segment.model_validate(said)

    logs.configure(level="DEBUG", json_lines=False)
    broken = dataclasses.replace(rt, transcriber=Quoting([]))
    call_pk = ingest.ingest(broken, call_id="quoting", source=SOURCE).call_pk
    fetch.run(broken, call_pk, local_files=False)
    with pytest.raises(UnexpectedStageError) as raised:
        transcribe.run(broken, call_pk)
    logs.configure(level="INFO", json_lines=False)
    with broken.db.transaction() as session:
        detail = calls.lock(session=session, call_pk=call_pk).status_detail
        events = [event.detail or "" for event in calls.events(session=session, call_pk=call_pk)]
    assert detail == "transcribe: unexpected ValidationError (the log has where it stopped)"
    logged = "".join(capsys.readouterr())
    assert "in transcribe" in logged  # the frames it stopped in
    assert raised.value.__cause__ is None  # a queue's log of the job would print the original's message
    assert not [text for text in (detail, *events, logged) if "4111" in text]


def _finished(rt: Runtime, call_pk: object, stage: str) -> int:
    with rt.db.transaction() as session:
        query = select(func.count()).where(
            Event.call_pk == call_pk, Event.stage == stage, Event.kind == "finished"
        )
        return session.scalar(query) or 0


def test_a_run_that_loses_the_race_keeps_what_the_winner_stored(rt: Runtime) -> None:
    """Two runs of one stage at once (a job handed on as stalled while its worker still runs it, `callsense
    process --force` beside a worker): the one that commits second finds the stage done and keeps the
    winner's results (the analysis a CRM may already have been sent) instead of writing over them."""
    call_pk = ingest.ingest(rt, call_id="race", source=SOURCE).call_pk
    fetch.run(rt, call_pk, local_files=False)

    class Racing(FakeTranscriber):
        def transcribe(self, *args: Any, **kwargs: Any) -> Any:
            assert transcribe.run(rt, call_pk) == "analyse"  # the other run, finishing first
            return super().transcribe(*args, **kwargs)

    loser = dataclasses.replace(rt, transcriber=Racing([_turn(Speaker.agent, "Something else.", 0, 1)]))
    assert transcribe.run(loser, call_pk) == "analyse"
    with rt.db.transaction() as session:
        segments = calls.read_segments(call=calls.lock(session=session, call_pk=call_pk), keyring=rt.keyring)
    assert [segment.text for segment in segments] == [turn.text for turn in TURNS]
    assert _finished(rt, call_pk, "transcribe") == 1

    won: list[uuid.UUID] = []

    def racing(request: object) -> str:
        if not won:
            won.extend(analyse.run(rt, call_pk))
        return json.dumps({**ANALYSIS, "summary": ["Something else."]})

    assert analyse.run(dataclasses.replace(rt, llm=FakeLLM(racing)), call_pk) == won
    with rt.db.transaction() as session:
        record = calls.to_record(call=calls.get(session=session, call_id="race"), keyring=rt.keyring)
    assert record.summary == ANALYSIS["summary"]
    assert _finished(rt, call_pk, "analyse") == 1


def test_a_reprocess_while_the_analysis_runs_ends_done_with_the_new_runs_analysis(rt: Runtime) -> None:
    """Reprocess pressed (or posted) while a worker is analysing the call: the analysis of the dropped
    transcript must not be stored over the restart, or the new run's analyse finds the stage done, never
    sets the call done, and the reconciler queues it again every minute for ever."""
    call_pk = ingest.ingest(rt, call_id="restarted", source=SOURCE).call_pk
    fetch.run(rt, call_pk, local_files=False)
    transcribe.run(rt, call_pk)

    restarts: list[actions.Restart] = []

    def reprocessed_meanwhile(request: object) -> str:
        with rt.db.transaction() as session:
            restarts.append(
                actions.restart(
                    session=session, call_id="restarted", actor="admin", via="api", blobs=rt.blobs
                )
            )
        return json.dumps({**ANALYSIS, "summary": ["Of the dropped transcript."]})

    stale = dataclasses.replace(rt, llm=FakeLLM(reprocessed_meanwhile))
    assert analyse.run(stale, call_pk) == []  # nothing to deliver: the restart's own run decides
    assert status_of(rt, call_pk) is restarts[0].status

    fetch.run(rt, call_pk, local_files=False)
    assert transcribe.run(rt, call_pk) == "analyse"
    (delivery_id,) = analyse.run(rt, call_pk)
    assert status_of(rt, call_pk) is CallStatus.done
    with rt.db.transaction() as session:
        record = calls.to_record(call=calls.get(session=session, call_id="restarted"), keyring=rt.keyring)
        assert deliveries.pending_ids(session=session, call_pk=call_pk) == [delivery_id]
    assert record.summary == ANALYSIS["summary"]


def test_a_reprocess_while_the_transcription_runs_keeps_the_new_runs_transcript(rt: Runtime) -> None:
    """Reprocess requested (API, dashboard, `process --force`) while a worker transcribes the call: the
    later request wins. The run begun before it must not store its transcript (made with the settings of
    then), or the reprocess's own run finds the stage done and keeps it."""
    call_pk = ingest.ingest(rt, call_id="restarted", source=SOURCE).call_pk
    fetch.run(rt, call_pk, local_files=False)

    class ReprocessedMeanwhile(FakeTranscriber):
        def transcribe(self, *args: Any, **kwargs: Any) -> Any:
            with rt.db.transaction() as session:
                actions.restart(
                    session=session, call_id="restarted", actor="admin", via="api", blobs=rt.blobs
                )
            return super().transcribe(*args, **kwargs)

    stale = [_turn(Speaker.agent, "Of the settings before.", 0.0, 1.0)]
    assert transcribe.run(dataclasses.replace(rt, transcriber=ReprocessedMeanwhile(stale)), call_pk) is None
    assert status_of(rt, call_pk) is CallStatus.fetched and _finished(rt, call_pk, "transcribe") == 0

    assert transcribe.run(rt, call_pk) == "analyse"  # the reprocess's own job
    with rt.db.transaction() as session:
        segments = calls.read_segments(call=calls.lock(session=session, call_pk=call_pk), keyring=rt.keyring)
    assert [segment.text for segment in segments] == [turn.text for turn in TURNS]


def test_a_forced_run_reprocessed_while_it_transcribes_leaves_the_call_to_the_reprocess(rt: Runtime) -> None:
    """`callsense process --force` whose transcription a reprocess supersedes stores no transcript; its
    analysis must not then analyse nothing (asking the LLM about an empty call, failing the call)."""
    call_pk = ingest.ingest(rt, call_id="forced-twice", source=SOURCE).call_pk
    fetch.run(rt, call_pk, local_files=False)

    class ReprocessedMeanwhile(FakeTranscriber):
        def transcribe(self, *args: Any, **kwargs: Any) -> Any:
            with rt.db.transaction() as session:
                actions.restart(session=session, call_id="forced-twice", actor="a", via="api", blobs=rt.blobs)
            return super().transcribe(*args, **kwargs)

    def never_asked(request: object) -> str:
        raise AssertionError("an analysis of no transcript")

    forced = dataclasses.replace(rt, transcriber=ReprocessedMeanwhile(TURNS), llm=FakeLLM(never_asked))
    inline.process(forced, source=SOURCE, call_id="forced-twice", force=True)
    assert status_of(rt, call_pk) is CallStatus.fetched  # the reprocess's transcription is queued
    assert transcribe.run(rt, call_pk) == "analyse"


def test_a_forced_run_stopped_after_its_transcription_is_analysed_again_by_the_queue(rt: Runtime) -> None:
    """`callsense process --force` stopped (Ctrl-C, a lost terminal) between its transcription and its
    analysis: the call waits in `transcribed` with the analysis of its previous transcript, which the
    reconciler's analyse job must not take for this one's, or the call never ends `done`."""
    call_pk = ingest.ingest(rt, call_id="forced", source=SOURCE).call_pk
    fetch.run(rt, call_pk, local_files=False)
    transcribe.run(rt, call_pk)
    analyse.run(rt, call_pk)
    again = [_turn(Speaker.agent, "Let me check that for you.", 0.0, 2.0)]
    fetch.run(rt, call_pk, local_files=False, force=True)
    assert transcribe.run(dataclasses.replace(rt, transcriber=FakeTranscriber(again)), call_pk, force=True)
    assert status_of(rt, call_pk) is CallStatus.transcribed

    def reads_the_new_transcript(request: object) -> str:
        assert "Let me check that for you." in str(request)
        return json.dumps({**ANALYSIS, "summary": ["Checked."]})

    analyse.run(dataclasses.replace(rt, llm=FakeLLM(reads_the_new_transcript)), call_pk)
    assert status_of(rt, call_pk) is CallStatus.done
    with rt.db.transaction() as session:
        record = calls.to_record(call=calls.get(session=session, call_id="forced"), keyring=rt.keyring)
    assert record.summary == ["Checked."]


@pytest.mark.parametrize(
    ("stage", "table", "column"),
    [
        ("fetch", "calls", "source_enc"),
        ("transcribe", "calls", "metadata_enc"),
        ("analyse", "transcripts", "segments_enc"),
    ],
)
def test_a_call_whose_stored_data_cannot_be_opened_fails_with_the_reason(
    rt: Runtime, stage: str, table: str, column: str
) -> None:
    """A ciphertext the key ring cannot open (a key missing from this machine's ring, a damaged row) is a
    permanent error like any other of the stage: the call ends `failed` with the reason, not left waiting
    in its status with no word of why while the reconciler queues the stage again every minute."""
    call_pk = ingest.ingest(rt, call_id=f"sealed-{stage}", source=SOURCE).call_pk
    runs = {
        "fetch": lambda: fetch.run(rt, call_pk, local_files=False),
        "transcribe": lambda: transcribe.run(rt, call_pk),
        "analyse": lambda: analyse.run(rt, call_pk),
    }
    for earlier in list(runs)[: list(runs).index(stage)]:
        runs[earlier]()
    key = "id" if table == "calls" else "call_pk"
    with rt.db.transaction() as session:
        session.execute(text(f"update {table} set {column} = 'damaged' where {key} = :pk"), {"pk": call_pk})
    with pytest.raises(DecryptionError):
        runs[stage]()
    with rt.db.transaction() as session:
        call = calls.lock(session=session, call_pk=call_pk)
        assert call.status == CallStatus.failed.value
        assert (call.status_detail or "").startswith(f"{stage}: ")


def test_a_reprocess_of_a_call_whose_recording_was_lost_fetches_it_again(settings: Settings) -> None:
    """The stored recording is gone from the blob store (a NAS incident, a partial restore) while the row
    still names it: Reprocess downloads it again from its source instead of failing the transcription on
    the missing blob every time it is pressed."""
    kept = Settings.model_validate({**settings.model_dump(), "redaction": {"keep_original_audio": True}})
    rt = runtime_with_fakes(kept)
    try:
        call_pk = ingest.ingest(rt, call_id="lost", source=SOURCE).call_pk
        fetch.run(rt, call_pk, local_files=False)
        rt.blobs.delete(calls.audio_blob_key(call_pk))
        with rt.db.transaction() as session:
            restart = actions.restart(
                session=session, call_id="lost", actor="admin", via="api", blobs=rt.blobs
            )
        assert (restart.stage, restart.status) == ("fetch", CallStatus.received)
        assert fetch.run(rt, call_pk, local_files=False) == "transcribe"
        assert transcribe.run(rt, call_pk) == "analyse"
        assert len(rt.recordings.reads) == 2  # type: ignore[attr-defined]
    finally:
        rt.db.close()


def test_the_analysis_follows_the_configured_taxonomy(
    settings: Settings,
) -> None:
    taxonomy = [
        {"label": "Lost card", "description": "a card lost or stolen"},
        {"label": "Other", "description": "none of these"},
    ]
    configured = Settings.model_validate({**settings.model_dump(), "analysis": {"topics": taxonomy}})
    rt = runtime_with_fakes(configured)
    try:
        inline.process(rt, source=SOURCE, call_id="taxonomy")
    finally:
        rt.db.close()
    llm: FakeLLM = rt.llm  # type: ignore[assignment]
    request = llm.requests[0]  # then a retry: the scripted topic is none of these labels
    assert "Lost card (a card lost or stolen)" in request.system
    assert request.schema["properties"]["topic"]["enum"] == ["Lost card", "Other"]
