"""Where redaction applies, on a real PostgreSQL through the real stages (every model a fake): the stored
record is the redacted view, the original needs the "view sensitive data" permission and every reading of
it is audited, the search index and the CRM payload hold no card number, the redacted recording carries a
tone (or silence) over each redacted span on the speaker's channel and nothing else changed."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from callsense import logs
from callsense.calls import access, search
from callsense.calls import service as calls
from callsense.calls.models import Call, Event
from callsense.calls.schemas import Segment
from callsense.cli import common
from callsense.cli.main import app as cli
from callsense.config import Settings
from callsense.errors import NotFoundError
from callsense.pipeline import deliver, inline, tasks
from callsense.runtime import Runtime
from callsense.security import tokens
from callsense.security.tokens import Role
from callsense.server import create_app
from callsense.speech import masking
from callsense.speech.audio import SAMPLE_RATE, decode
from tests.blobs import opened, read_blob
from tests.redaction_calls import CARD, MARGIN_S, SOURCE, process, recording, runtime, without_timestamps

FIRST_GROUP = CARD.split()[0]


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime_ = runtime(settings, keep_original_audio=True)
    yield runtime_
    runtime_.db.close()


def _events(rt: Runtime, call_id: str, kind: str) -> list[Event]:
    with rt.db.transaction() as session:
        call = calls.get(session=session, call_id=call_id)
        return [event for event in calls.events(session=session, call_pk=call.id) if event.kind == kind]


def test_the_stored_record_is_redacted_and_the_original_is_read_with_an_audit_row(
    rt: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure(level="DEBUG", json_lines=False)  # every level, whatever an earlier in-process CLI set
    process(rt, "card")
    logs.configure(level="INFO", json_lines=False)
    logged = without_timestamps("".join(capsys.readouterr()))
    assert "analyse_finished" in logged  # the stages' log lines, which name neither the card nor its type
    assert FIRST_GROUP not in logged and "CARD_NUMBER" not in logged
    (request, *_) = rt.llm.requests  # type: ignore[attr-defined]
    assert CARD in str(request)  # the LLM reads what was said; only its output is redacted

    record = inline.record(rt, _pk(rt, "card"))
    assert FIRST_GROUP not in without_timestamps(record.model_dump_json())
    assert "My card is [CARD_NUMBER]" in record.transcript
    assert record.summary[0].startswith("Customer read out card [CARD_NUMBER]")
    assert record.redaction is not None and record.redaction.found == {"CARD_NUMBER": 4}
    assert record.redaction.checked == ["CARD_NUMBER"] and record.redaction.audio
    assert not record.redaction.original
    assert _events(rt, "card", "sensitive_viewed") == []

    original = inline.record(rt, _pk(rt, "card"), original_for="cli:auditor")
    assert CARD in original.transcript and CARD in original.summary[0]
    assert original.redaction is not None and original.redaction.original
    (viewed,) = _events(rt, "card", "sensitive_viewed")
    assert (viewed.actor, viewed.stage) == ("cli:auditor", "cli")
    assert _events(rt, "card", "redacted")[0].detail == "CARD_NUMBER 4"  # counts, never the values


def test_the_search_index_holds_no_card_number(rt: Runtime) -> None:
    process(rt, "indexed")
    with rt.db.transaction() as session:
        lexemes = session.scalar(
            select(func.concat(search.CallSearch.transcript_lexemes, " ", search.CallSearch.analysis_lexemes))
        )
        found = session.scalars(
            select(Call.call_id).where(search.matching_calls(FIRST_GROUP, include_transcripts=True))
        ).all()
        by_word = session.scalars(
            select(Call.call_id).where(search.matching_calls("card", include_transcripts=True))
        ).all()
    assert lexemes is not None and FIRST_GROUP not in lexemes and "1111" not in lexemes
    assert found == [] and by_word == ["indexed"]


def test_crm_payload_is_redacted_unless_the_destination_opts_in_per_field(rt: Runtime) -> None:
    _, waiting = process(rt, "crm")
    for delivery_id in waiting:
        deliver.run(rt, delivery_id)
    sent = {name: outgoing.fields for name, outgoing in rt.crm.sent}  # type: ignore[attr-defined]
    assert FIRST_GROUP not in str(sent["hook"]) and "[CARD_NUMBER]" in sent["hook"]["transcript"]
    assert CARD in sent["raw"]["summary"][0]  # opted in to the summary as said...
    assert FIRST_GROUP not in sent["raw"]["transcript"]  # ...not to the transcript
    (audit,) = _events(rt, "crm", "sensitive_sent")
    assert audit.detail == "raw: summary unredacted"


def test_the_api_serves_the_original_only_to_a_token_with_the_permission(rt: Runtime) -> None:
    process(rt, "api")
    with rt.db.transaction() as session:
        plain = tokens.create(session=session, name="plain", role=Role.analyst)
        trusted = tokens.create(session=session, name="trusted", role=Role.analyst, sees_sensitive=True)
    with TestClient(create_app(rt, tasks.build_app(rt), worker_concurrency=0)) as client:

        def get(path: str, token: str) -> object:
            return client.get(path, headers={"Authorization": f"Bearer {token}"})

        redacted = get("/calls/api", plain)
        refused = get("/calls/api?sensitive=true", plain)
        original = get("/calls/api?sensitive=true", trusted)
        audio = get("/calls/api/audio", plain)
        original_audio = get("/calls/api/audio?sensitive=true", trusted)
    assert redacted.status_code == 200 and FIRST_GROUP not in without_timestamps(redacted.text)  # type: ignore[attr-defined]
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert original.status_code == 200 and CARD in original.json()["transcript"]  # type: ignore[attr-defined]
    assert audio.headers["content-type"] == "audio/flac"  # type: ignore[attr-defined]
    assert original_audio.headers["content-type"] == "audio/wav"  # type: ignore[attr-defined]
    assert [e.actor for e in _events(rt, "api", "sensitive_viewed")] == ["trusted"]
    assert [e.actor for e in _events(rt, "api", "sensitive_played")] == ["trusted"]


def test_cli_show_prints_the_redacted_record_and_sensitive_the_original_audited(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    process(rt, "shown")
    monkeypatch.setenv("CALLSENSE_DATABASE_URL", rt.settings.database_url or "")
    monkeypatch.setenv("CALLSENSE_DATA_DIR", str(rt.settings.data_dir))
    runner = CliRunner()
    plain = runner.invoke(cli, ["show", "shown"])
    assert plain.exit_code == 0, plain.output
    assert "[CARD_NUMBER]" in plain.stdout and FIRST_GROUP not in without_timestamps(plain.stdout)
    assert _events(rt, "shown", "sensitive_viewed") == []
    sensitive = runner.invoke(cli, ["show", "shown", "--sensitive"])
    assert sensitive.exit_code == 0, sensitive.output
    assert CARD in sensitive.stdout
    (audit,) = _events(rt, "shown", "sensitive_viewed")
    assert audit.stage == "cli" and (audit.actor or "").startswith("cli")


def test_cli_process_prints_the_redacted_record_and_sensitive_the_original_audited(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    @contextmanager
    def the_runtime() -> Iterator[Runtime]:  # the fakes' runtime, not one of real models from the settings
        yield rt

    monkeypatch.setattr(common, "runtime", the_runtime)
    # Logs on stderr, as the CLI's own runtime sets them: alone, this test would find structlog's default,
    # stdout, which the JSON below must not share.
    logs.configure(level="INFO", json_lines=False)
    runner = CliRunner()
    plain = runner.invoke(cli, ["process", SOURCE, "--call-id", "processed", "--quiet"])
    assert plain.exit_code == 0, plain.output
    printed = json.loads(plain.stdout)
    assert "My card is [CARD_NUMBER]" in printed["transcript"]
    assert printed["summary"][0].startswith("Customer read out card [CARD_NUMBER]")
    assert FIRST_GROUP not in without_timestamps(plain.stdout) and not printed["redaction"]["original"]
    assert _events(rt, "processed", "sensitive_viewed") == []
    sensitive = runner.invoke(cli, ["process", SOURCE, "--call-id", "processed", "--quiet", "--sensitive"])
    assert sensitive.exit_code == 0, sensitive.output
    shown = json.loads(sensitive.stdout)
    assert CARD in shown["transcript"] and CARD in shown["summary"][0] and shown["redaction"]["original"]
    (audit,) = _events(rt, "processed", "sensitive_viewed")
    assert audit.stage == "cli" and audit.actor == common.actor()


@pytest.mark.parametrize(("channels", "fill"), [(2, "tone"), (1, "silence")])
def test_the_redacted_recording_masks_each_span_on_the_speakers_channel_only(
    settings: Settings, channels: int, fill: str
) -> None:
    rt = runtime(settings, channels=channels, audio=fill)  # keep_original_audio unset: the original goes
    try:
        call_pk, _ = process(rt, f"audio-{fill}")
        with rt.db.transaction() as session:
            call = calls.lock(session=session, call_pk=call_pk)
            spans = _spans(calls.read_segments(call=call, keyring=rt.keyring, original=True))
            blob = read_blob(rt.blobs, calls.redacted_audio_blob_key(call_pk))
            assert call.audio_blob is None
            with pytest.raises(NotFoundError, match="not kept"):
                access.play_recording(
                    session=session, keyring=rt.keyring, blobs=rt.blobs, call_id=call.call_id,
                    range_header=None, actor="test", via="api", original=True,
                )  # fmt: skip
        with pytest.raises(NotFoundError):
            read_blob(rt.blobs, calls.audio_blob_key(call_pk))
        redacted = decode(
            opened(rt.keyring, blob, context=calls.redacted_audio_context(call_pk)), max_seconds=60
        )
    finally:
        rt.db.close()

    said = recording(channels)
    heard = np.round(redacted.channels * 32768).astype(np.int32)
    masked = np.zeros(said.shape, dtype=bool)
    customer_rows = [1] if channels == 2 else [0]  # the agent is on the left of the stereo recording
    for start, end in spans:
        first, last = math.floor((start - MARGIN_S) * SAMPLE_RATE), math.ceil((end + MARGIN_S) * SAMPLE_RATE)
        expected = masking.tone(first, last) if fill == "tone" else np.zeros(last - first, dtype=np.float32)
        for row in customer_rows:
            assert np.array_equal(heard[row, first:last], np.round(expected * 32768).astype(np.int32))
            masked[row, first:last] = True
    assert masked.sum() >= len(customer_rows) * (spans[-1][1] - spans[0][0]) * SAMPLE_RATE
    assert np.array_equal(heard[~masked], said[~masked].astype(np.int32))  # nothing else was touched


def _spans(segments: list[Segment]) -> list[tuple[float, float]]:
    """The times of the card's words as said: what the fake redactor redacts."""
    groups = set(CARD.split())
    return [
        (word.start, word.end)
        for segment in segments
        for word in segment.words
        if word.text.strip(" .") in groups
    ]


def test_with_redaction_off_nothing_is_redacted_and_the_original_plays(settings: Settings) -> None:
    rt = runtime(settings, enabled=False)
    try:
        call_pk, _ = process(rt, "off")
        record = inline.record(rt, call_pk)
        with rt.db.transaction() as session:
            call = calls.lock(session=session, call_pk=call_pk)
            assert call.redacted_audio_blob is None and call.audio_blob is not None
            assert call.transcript is not None and call.transcript.segments_original_enc is None
            played = access.play_recording(
                session=session, keyring=rt.keyring, blobs=rt.blobs, call_id="off",
                range_header=None, actor="test", via="api", redacting=False,
            )  # fmt: skip
    finally:
        rt.db.close()
    assert CARD in record.transcript and record.redaction is None
    assert played.media_type == "audio/wav"


def _pk(rt: Runtime, call_id: str) -> uuid.UUID:
    with rt.db.transaction() as session:
        return calls.get(session=session, call_id=call_id).id
