"""Queries and updates on calls. Callers own the transaction: nothing here commits."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Column, select
from sqlalchemy.orm import QueryableAttribute, Session

from callsense.calls import search
from callsense.calls.models import CONTEXT_FIELD, Analysis, Call, CallCategory, Event, Transcript
from callsense.calls.schemas import (
    AnalysisResult,
    CallRecord,
    CallStatus,
    CategoryEvidence,
    CategoryMatch,
    ModelsUsed,
    RedactionSummary,
    Segment,
    StageTimings,
    TalkFigures,
    render_transcript,
)
from callsense.crypto import KeyRing
from callsense.errors import CallGoneError, NotFoundError


def context(call_pk: uuid.UUID, field: str) -> str:
    """Associated data binding a ciphertext to its call and field, so it cannot be moved elsewhere."""
    return f"call:{call_pk}:{field}"


def column_context(call_pk: uuid.UUID, column: QueryableAttribute[Any] | Column[Any]) -> str:
    """The context of a value of an encrypted column: the field is the one the column declares."""
    return context(call_pk, column.info[CONTEXT_FIELD])


def audio_context(call_pk: uuid.UUID) -> str:
    """The context of the call's recording in the blob store."""
    return context(call_pk, "audio")


def audio_blob_key(call_pk: uuid.UUID) -> str:
    """Where the call's recording is kept in the blob store."""
    return f"audio/{call_pk}"


def redacted_audio_context(call_pk: uuid.UUID) -> str:
    return context(call_pk, "audio_redacted")


def redacted_audio_blob_key(call_pk: uuid.UUID) -> str:
    """Where the call's redacted recording is kept: a tree of its own, so that a copy of the store as files
    (a backup) never needs ``audio/<uuid>`` as a file and as a folder at once."""
    return f"audio-redacted/{call_pk}"


def record_context(call_pk: uuid.UUID) -> str:
    """The context of the call's archived record (``blobs.archive_records``) in the blob store."""
    return context(call_pk, "record")


def record_blob_key(call_pk: uuid.UUID) -> str:
    """Where the call's archived record is kept: its redacted view as JSON, encrypted."""
    return f"records/{call_pk}.json"


def kept_answers_context(call_pk: uuid.UUID) -> str:
    """The context of the LLM answers kept for a retry of the call's analysis (``pipeline.kept_answers``)."""
    return context(call_pk, "kept_answers")


def kept_answers_blob_key(call_pk: uuid.UUID) -> str:
    """Where the LLM answers of an unfinished analysis of the call wait for the stage's next run."""
    return f"kept-answers/{call_pk}.json"


# The key of the call's metadata that keeps its recording source's agent_speaks as it was when the source
# took the call (agent_channel has a column, calls.agent_channel; this has none): the transcribe stage uses
# it, so a source changed while its calls wait in the queue applies only to the calls it takes afterwards.
SOURCE_AGENT_SPEAKS_KEY = "source_agent_speaks"


@dataclass(frozen=True)
class CallDetails:
    """What the recording system tells us about a call besides its recording."""

    agent: str | None = None
    customer_number: str | None = None
    direction: str | None = None
    started_at: datetime | None = None
    metadata: dict[str, Any] | None = None
    agent_channel: str | None = None  # left or right; None: the asr setting
    source_name: str | None = None  # the configured recording source that took it


def get_or_create(
    *, session: Session, keyring: KeyRing, call_id: str, source: str, shown_source: str, details: CallDetails
) -> tuple[Call, bool]:
    """The call with this id, created (status ``received``) if new; the flag says whether it was created."""
    call = session.scalars(select(Call).where(Call.call_id == call_id).with_for_update()).one_or_none()
    if call is not None:
        return call, False
    call = Call(id=uuid.uuid4(), call_id=call_id, status=CallStatus.received.value, source=shown_source)
    call.source_enc = keyring.encrypt_text(source, context=column_context(call.id, Call.source_enc))
    call.agent = details.agent
    call.direction = details.direction
    call.agent_channel = details.agent_channel
    call.source_name = details.source_name
    call.started_at = details.started_at
    if details.customer_number is not None:
        call.customer_number_enc = keyring.encrypt_text(
            details.customer_number, context=column_context(call.id, Call.customer_number_enc)
        )
    if details.metadata:
        call.metadata_enc = keyring.encrypt(
            json.dumps(details.metadata).encode(), context=column_context(call.id, Call.metadata_enc)
        )
    session.add(call)
    session.flush()
    add_event(session=session, call_pk=call.id, stage="ingest", kind="received")
    return call, True


def source_of(*, call: Call, keyring: KeyRing) -> str:
    if call.source_enc is None:
        return call.source
    return keyring.decrypt_text(call.source_enc, context=column_context(call.id, Call.source_enc))


def read_metadata(*, call: Call, keyring: KeyRing) -> dict[str, Any]:
    """The metadata the recording system sent with the call (empty when none)."""
    if call.metadata_enc is None:
        return {}
    loaded: dict[str, Any] = json.loads(
        keyring.decrypt(call.metadata_enc, context=column_context(call.id, Call.metadata_enc))
    )
    return loaded


def get(*, session: Session, call_id: str) -> Call:
    call = session.scalars(select(Call).where(Call.call_id == call_id)).one_or_none()
    if call is None:
        raise NotFoundError(f"no call with id '{call_id}'")
    return call


def lock(*, session: Session, call_pk: uuid.UUID) -> Call:
    call = session.get(Call, call_pk, with_for_update=True)
    if call is None:  # callers hold an id they read earlier: the call was erased since
        raise CallGoneError(f"no call {call_pk}: erased")
    return call


def add_event(
    *,
    session: Session,
    call_pk: uuid.UUID | None,
    stage: str,
    kind: str,
    detail: str | None = None,
    seconds: float | None = None,
    actor: str | None = None,
) -> None:
    session.add(Event(call_pk=call_pk, stage=stage, kind=kind, detail=detail, seconds=seconds, actor=actor))


def events(*, session: Session, call_pk: uuid.UUID) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.call_pk == call_pk).order_by(Event.at, Event.id)))


def set_status(*, session: Session, call: Call, status: CallStatus, detail: str | None = None) -> None:
    call.status = status.value
    call.status_detail = detail


def store_transcript(
    *,
    session: Session,
    call: Call,
    keyring: KeyRing,
    segments: list[Segment],
    translated: str | None,
    translation_engine: str | None,
    asr_model: str,
    options: dict[str, object],
    talk: TalkFigures | None = None,
    original_segments: list[Segment] | None = None,
    original_translation: str | None = None,
) -> None:
    """The turns, encrypted, and the talk figures measured from them (None: turns without word timings).
    With redaction, ``segments`` and ``translated`` are the redacted view (what is indexed and shown) and
    the ``original_*`` the text as said, kept apart for the "view sensitive data" permission."""
    row = call.transcript or Transcript(call_pk=call.id)
    row.segments_enc = _seal_segments(keyring, call, Transcript.segments_enc, segments)
    row.translated_enc = _seal_text(keyring, call, Transcript.translated_enc, translated)
    row.segments_original_enc = (
        _seal_segments(keyring, call, Transcript.segments_original_enc, original_segments)
        if original_segments is not None
        else None
    )
    row.translated_original_enc = _seal_text(
        keyring, call, Transcript.translated_original_enc, original_translation
    )
    row.translation_engine = translation_engine
    row.asr_model = asr_model
    row.options = options
    call.transcript = row
    call.text_purged_at = None  # processed again after a purge: its text is back (purged again when due)
    call.talk = talk.model_dump(mode="json") if talk is not None else None
    texts = [segment.text for segment in segments] + ([translated] if translated else [])
    search.index_transcript(session=session, call_pk=call.id, texts=texts)


def _seal_segments(
    keyring: KeyRing, call: Call, column: QueryableAttribute[Any], segments: list[Segment]
) -> bytes:
    payload = json.dumps([segment.model_dump(mode="json") for segment in segments]).encode()
    return keyring.encrypt(payload, context=column_context(call.id, column))


def _seal_text(
    keyring: KeyRing, call: Call, column: QueryableAttribute[Any], text: str | None
) -> bytes | None:
    return None if text is None else keyring.encrypt_text(text, context=column_context(call.id, column))


def store_analysis(
    *,
    session: Session,
    call: Call,
    keyring: KeyRing,
    result: AnalysisResult,
    llm_backend: str,
    llm_model: str,
    original: AnalysisResult | None = None,
) -> None:
    """``result`` is what is shown and indexed (the redacted view with redaction on); ``original`` the
    LLM's own output, kept apart for the "view sensitive data" permission."""
    row = call.analysis or Analysis(call_pk=call.id)
    row.result_enc = keyring.encrypt_text(
        result.model_dump_json(), context=column_context(call.id, Analysis.result_enc)
    )
    row.result_original_enc = (
        _seal_text(keyring, call, Analysis.result_original_enc, original.model_dump_json())
        if original is not None
        else None
    )
    row.llm_backend = llm_backend
    row.llm_model = llm_model
    call.analysis = row
    call.topic = result.topic
    call.sentiment = result.sentiment.value if result.sentiment else None
    call.emotion = result.emotion.value if result.emotion else None
    call.resolved = result.outcome.resolved
    call.callback_needed = result.outcome.callback_needed
    call.escalated = result.outcome.escalated
    search.index_analysis(session=session, call_pk=call.id, texts=analysis_texts(result))
    if result.translated_transcript:  # an LLM translation is transcript text: hidden from viewers' search
        search.index_transcript(
            session=session, call_pk=call.id, texts=[result.translated_transcript], append=True
        )


def analysis_texts(result: AnalysisResult) -> list[str]:
    """The words of an analysis that the search finds (viewers included: none of it is transcript)."""
    return [
        *result.summary,
        result.topic or "",
        result.topic_detail or "",
        *result.issues,
        *(item.text for item in result.action_items),
    ]


def read_segments(*, call: Call, keyring: KeyRing, original: bool = False) -> list[Segment]:
    """The stored turns: the redacted view, or with ``original`` the text as said (the same when nothing
    was redacted). Reading the original is the caller's to permit and audit (``calls.access``)."""
    row = call.transcript
    if row is None:
        return []
    column: QueryableAttribute[bytes | None] = Transcript.segments_enc
    if original and row.segments_original_enc is not None:
        column = Transcript.segments_original_enc
    raw = keyring.decrypt(getattr(row, column.key), context=column_context(call.id, column))
    return [Segment.model_validate(item) for item in json.loads(raw)]


def read_analysis(*, call: Call, keyring: KeyRing, original: bool = False) -> AnalysisResult | None:
    row = call.analysis
    if row is None:
        return None
    column: QueryableAttribute[bytes | None] = Analysis.result_enc
    if original and row.result_original_enc is not None:
        column = Analysis.result_original_enc
    raw = keyring.decrypt(getattr(row, column.key), context=column_context(call.id, column))
    return AnalysisResult.model_validate_json(raw)


# The evidence of a call's category (calls/categories.py stores it), as encrypted.
EVIDENCE = TypeAdapter(list[CategoryEvidence])


def read_categories(*, call: Call, keyring: KeyRing) -> list[CategoryMatch]:
    """The call's categories with their evidence, decrypted."""
    context = column_context(call.id, CallCategory.evidence_enc)
    return [
        CategoryMatch(
            name=row.category,
            evidence=EVIDENCE.validate_json(keyring.decrypt(row.evidence_enc, context=context)),
        )
        for row in call.categories
    ]


def _read_translation(*, call: Call, keyring: KeyRing, original: bool) -> str | None:
    row = call.transcript
    if row is None or row.translated_enc is None:
        return None
    column: QueryableAttribute[bytes | None] = Transcript.translated_enc
    if original and row.translated_original_enc is not None:
        column = Transcript.translated_original_enc
    return keyring.decrypt_text(getattr(row, column.key), context=column_context(call.id, column))


def to_record(*, call: Call, keyring: KeyRing, original: bool = False) -> CallRecord:
    """The call's record: its redacted view, or with ``original`` the text as said (the caller permits and
    audits that, ``calls.access``)."""
    segments = read_segments(call=call, keyring=keyring, original=original)
    analysis = read_analysis(call=call, keyring=keyring, original=original) or AnalysisResult()
    transcript = call.transcript
    translated = _read_translation(call=call, keyring=keyring, original=original)
    translated = translated if translated is not None else analysis.translated_transcript
    redaction = None
    if call.redaction is not None:
        redaction = RedactionSummary.model_validate({**call.redaction, "original": original})
    return CallRecord(
        call_id=call.call_id,
        status=CallStatus(call.status),
        status_detail=call.status_detail,
        language=call.language,
        language_probability=call.language_probability,
        transcript=render_transcript(segments),
        translated_transcript=translated,
        summary=analysis.summary,
        topic=analysis.topic,
        topic_detail=analysis.topic_detail,
        sentiment=analysis.sentiment,
        emotion=analysis.emotion,
        speaker_sentiment=analysis.speaker_sentiment,
        sentiment_trend=analysis.sentiment_trend,
        issues=analysis.issues,
        action_items=analysis.action_items,
        outcome=analysis.outcome,
        duration=call.duration_s,
        channels=call.channels,
        timestamp=call.started_at or call.created_at,
        segments=segments,
        talk=TalkFigures.model_validate(call.talk) if call.talk is not None else None,
        speakers=(transcript.options.get("speakers") if transcript else None),
        analysis_failures=analysis.failures,
        redaction=redaction,
        categories=read_categories(call=call, keyring=keyring),
        models=ModelsUsed(
            asr=transcript.asr_model if transcript else None,
            llm_backend=call.analysis.llm_backend if call.analysis else None,
            llm_model=call.analysis.llm_model if call.analysis else None,
            translation=(transcript.translation_engine if transcript else None),
        ),
        timings=StageTimings(
            fetch=call.fetch_seconds, transcribe=call.transcribe_seconds, analyse=call.analyse_seconds
        ),
    )
