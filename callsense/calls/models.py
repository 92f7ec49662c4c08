"""Tables for calls, their transcripts and analyses, and the audit trail of events.

Text that reveals what was said (transcript, summary, translation, and the analysis's topic detail, issues
and action items) is stored only as AES-GCM ciphertext (``*_enc`` columns). Short categorical results
(language, the topic's taxonomy label, sentiment, emotion, the outcome flags) and the talk figures (how long
each side talked, never what was said) stay in clear so the dashboard can filter and chart them;
``docs/security.md`` explains the trade-off.

With redaction on (``docs/redaction.md``) those columns hold the redacted view (``[CARD_NUMBER]`` where a
card number was said); the original text is kept apart, in the ``*_original_enc`` columns, read only with
the "view sensitive data" permission (``sees_sensitive``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, mapped_column, relationship

# The talk figures kept as columns of their own, as SQL over ``talk``; migration 0014 adds them with these.
TALK_FIGURES = {
    "non_talk_seconds": "cast(talk ->> 'non_talk_seconds' as double precision)",
    "agent_talk_share": "cast(talk #>> '{agent,share}' as double precision)",
    # Both speakers'; null while the speakers are unknown.
    "interruptions": "cast(talk #>> '{agent,interruptions}' as integer)"
    " + cast(talk #>> '{customer,interruptions}' as integer)",
}

# Key of an encrypted column's ``info``: the field its ciphertexts name in their context, call:<uuid>:<field>.
CONTEXT_FIELD = "context_field"


def utcnow() -> datetime:
    return datetime.now(UTC)


def in_utc(moment: datetime | None) -> datetime | None:
    """A time without an offset taken as UTC, as the dashboard's days are: PostgreSQL would read it in its
    TimeZone setting, which an external server or the host of the embedded one decides."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def encrypted(context_field: str) -> MappedColumn[Any]:
    """A ``*_enc`` column of AES-GCM ciphertexts bound to ``context_field``: the code that encrypts it and key
    rotation both read the field from here (``calls.service.column_context``)."""
    return mapped_column(LargeBinary, info={CONTEXT_FIELD: context_field})


class Base(DeclarativeBase):
    pass


class Call(Base):
    __tablename__ = "calls"
    # The operations page counts the calls under legal hold on every load: a few among all (schema 0015).
    __table_args__ = (
        Index("ix_calls_legal_hold_at", "legal_hold_at", postgresql_where=text("legal_hold_at is not null")),
        # The agent filter compares names ignoring case and surrounding spaces (queries.agent_folded, 0017).
        Index("ix_calls_agent_folded", text("lower(btrim(agent))")),
        # A renamed copy of a taken recording is found by its digest within its source (0018).
        Index(
            "ix_calls_source_name_audio_sha256",
            "source_name",
            "audio_sha256",
            postgresql_where=text("audio_sha256 is not null"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    call_id: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    status_detail: Mapped[str | None] = mapped_column(Text)
    # Raised by each reprocess: a stage run begun under an older one stores nothing (``stages.superseded``).
    generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    source: Mapped[str] = mapped_column(Text)  # shown and logged: no credentials, no query string
    source_enc: Mapped[bytes | None] = encrypted("source")  # the full URL, to fetch with
    # The configured recording source that took it (its retention rule applies); None: webhook, API, CLI.
    source_name: Mapped[str | None] = mapped_column(String(100))
    agent: Mapped[str | None] = mapped_column(String(200), index=True)
    direction: Mapped[str | None] = mapped_column(String(16))
    # left or right: the stereo channel of the agent when the call's source says (a preset); else asr's
    agent_channel: Mapped[str | None] = mapped_column(String(8))
    customer_number_enc: Mapped[bytes | None] = encrypted("customer_number")
    metadata_enc: Mapped[bytes | None] = encrypted("metadata")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    audio_blob: Mapped[str | None] = mapped_column(String(300))
    audio_sha256: Mapped[str | None] = mapped_column(String(64))
    audio_bytes: Mapped[int | None] = mapped_column(BigInteger)
    audio_format: Mapped[str | None] = mapped_column(String(60))
    duration_s: Mapped[float | None] = mapped_column(Float)
    channels: Mapped[int | None] = mapped_column(Integer)
    # The recording with every redacted span masked (tone or silence): what plays without the permission.
    redacted_audio_blob: Mapped[str | None] = mapped_column(String(300))
    # RedactionSummary as JSON: the entity types checked and how many spans of each, never the values.
    redaction: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))

    language: Mapped[str | None] = mapped_column(String(16), index=True)
    language_probability: Mapped[float | None] = mapped_column(Float)
    topic: Mapped[str | None] = mapped_column(String(200), index=True)
    sentiment: Mapped[str | None] = mapped_column(String(16), index=True)
    emotion: Mapped[str | None] = mapped_column(String(32))
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    callback_needed: Mapped[bool | None] = mapped_column(Boolean)
    escalated: Mapped[bool | None] = mapped_column(Boolean)

    # Talk figures (TalkFigures as JSON): durations, counts and levels, never words; in clear to filter on.
    talk: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # The figures the list filters on and Insights averages, kept by PostgreSQL from ``talk`` (schema 0014):
    # read out of the JSON they cost a parse of every call's figures, 0.4 s a query at 100,000 calls.
    non_talk_seconds: Mapped[float | None] = mapped_column(
        Float, Computed(TALK_FIGURES["non_talk_seconds"], persisted=True), index=True
    )
    agent_talk_share: Mapped[float | None] = mapped_column(
        Float, Computed(TALK_FIGURES["agent_talk_share"], persisted=True)
    )
    interruptions: Mapped[int | None] = mapped_column(
        Integer, Computed(TALK_FIGURES["interruptions"], persisted=True), index=True
    )

    # A legal hold (set by an admin): the call is neither purged nor erased while legal_hold_at is set.
    legal_hold_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    legal_hold_by: Mapped[str | None] = mapped_column(String(200))
    legal_hold_reason: Mapped[str | None] = mapped_column(Text)
    # When the retention purge removed the recording, and the transcript and analysis (calls/retention.py).
    audio_purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    text_purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    fetch_seconds: Mapped[float | None] = mapped_column(Float)
    transcribe_seconds: Mapped[float | None] = mapped_column(Float)
    analyse_seconds: Mapped[float | None] = mapped_column(Float)

    # The categories' revision (calls.categories.revision) this call was last evaluated with; NULL: never.
    categories_revision: Mapped[str | None] = mapped_column(String(16))

    transcript: Mapped[Transcript | None] = relationship(back_populates="call", cascade="all, delete-orphan")
    analysis: Mapped[Analysis | None] = relationship(back_populates="call", cascade="all, delete-orphan")
    categories: Mapped[list[CallCategory]] = relationship(
        cascade="all, delete-orphan", order_by="CallCategory.category"
    )


class Transcript(Base):
    __tablename__ = "transcripts"

    call_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    segments_enc: Mapped[bytes] = encrypted("segments")
    translated_enc: Mapped[bytes | None] = encrypted("translation")
    # The originals of the two above when they were redacted (None: nothing was, or redaction was off).
    segments_original_enc: Mapped[bytes | None] = encrypted("segments_original")
    translated_original_enc: Mapped[bytes | None] = encrypted("translation_original")
    asr_model: Mapped[str] = mapped_column(String(300))
    translation_engine: Mapped[str | None] = mapped_column(String(20))
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    call: Mapped[Call] = relationship(back_populates="transcript")


class Analysis(Base):
    __tablename__ = "analyses"

    call_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    result_enc: Mapped[bytes] = encrypted("analysis")
    result_original_enc: Mapped[bytes | None] = encrypted("analysis_original")  # before redaction
    llm_backend: Mapped[str] = mapped_column(String(40))
    llm_model: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    call: Mapped[Call] = relationship(back_populates="analysis")


class Event(Base):
    """The audit trail: every stage transition and error, append-only."""

    __tablename__ = "events"
    # The second: the operations page's last purge, found among every call's events (schema 0015).
    __table_args__ = (
        Index("ix_events_call_at", "call_pk", "at"),
        Index("ix_events_stage_kind_at", "stage", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    call_pk: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float | None] = mapped_column(Float)
    actor: Mapped[str | None] = mapped_column(String(200))  # who: an API token's name, "worker", "cli"
    # The call's id on the records that outlive the call (an erasure's): call_pk is NULL on those.
    call_id: Mapped[str | None] = mapped_column(String(200), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookReceipt(Base):
    """Webhook ids already accepted: a second delivery of the same id is a replay and is refused."""

    __tablename__ = "webhook_receipts"

    webhook_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    call_pk: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class ApiToken(Base):
    """API tokens, stored as SHA-256 digests only (the token is shown once, when created)."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    sees_sensitive: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Delivery(Base):
    """The outbox: one row per analysed call and CRM destination, written with the analysis.

    ``deliver`` jobs work from these rows; ``external_id`` is the CRM's id of the record once it exists.
    Status: pending (not yet sent or being retried), delivered, skipped (no contact matched and the
    destination says skip), dead (gave up or refused; retry by hand). ``last_error`` keeps the reason,
    redacted: status, error codes, field names (``crm.base.redacted_reason``).
    """

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("call_pk", "destination", name="uq_deliveries_call_destination"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    call_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    destination: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Retries stop max_age after this: the creation, or the last retry by hand.
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    response_status: Mapped[int | None] = mapped_column(Integer)  # the CRM's HTTP status of the last try


class SourceFile(Base):
    """Each file a recording source listed, once: its unique key is what keeps two pollers (or one after a
    restart) from taking a file twice.

    Status: pending (seen, not yet stable: ``size``, ``mtime`` and ``seen_at`` are the first sighting of this
    version), taking (a poller claimed it at ``updated_at``), ingested (``call_pk`` holds it), refused (bad
    input, ``reason`` says why; taken again only when its size or mtime change), error (could not be read;
    tried again next poll), given_up (``attempts`` takes in a row ended with no outcome: the poller was killed
    or hit an unexpected error; taken again by hand, ``callsense sources retry``, or when the file changes).
    """

    __tablename__ = "source_files"
    __table_args__ = (UniqueConstraint("source", "path", name="uq_source_files_source_path"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(Text)  # relative to the source's folder
    size: Mapped[int] = mapped_column(BigInteger)
    mtime: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    call_pk: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # takes with no outcome
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SourceStatus(Base):
    """What the last poll of each source found, for ``callsense sources list`` and the operations page;
    ``ingested`` and ``refused`` count since the source was first polled. A REST source's cursor is kept
    here too, so a restart or another worker goes on where the last poll ended, and the time its API asked
    not to be polled again before (``Retry-After``)."""

    __tablename__ = "source_status"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_poll_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    files_seen: Mapped[int] = mapped_column(Integer, default=0)
    ingested: Mapped[int] = mapped_column(BigInteger, default=0)
    refused: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cursor: Mapped[str | None] = mapped_column(Text)  # a REST source's: where its next poll starts
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # a REST source's API asked


class CallKey(Base):
    """Each call's own data key, wrapped (AES-GCM) by a key of the key ring (``calls/datakeys.py``).

    ``wrapped`` is a ring ciphertext (version 1) and ``key_id`` the ring key inside it, so rotation finds the
    rows to re-wrap by index. A destroyed key (erasure) keeps its row with ``wrapped`` and ``key_id`` null and
    ``destroyed_at`` set, so reading the call says why it fails and nothing makes it a new key. A row with
    neither a key nor ``destroyed_at`` marks a call stored before envelope encryption that has no key yet
    (migration 0010 makes one for each). No foreign key to ``calls``: a call's first ciphertext is sealed
    before the call's row is committed, and the key is made in a transaction of its own so that two workers
    agree on it.
    """

    __tablename__ = "call_keys"

    call_pk: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    destroyed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Since when every ciphertext of the call is under this key, its recordings in segments: set when a new
    # call's key is made, and by the envelope migration for the calls stored before (schema 0013 clears it
    # where recordings may be whole); the migration reads the recordings of the calls without it only, never
    # the whole blob store again.
    enveloped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CategoryDefinition(Base):
    """A category defined on the dashboard, its rule as written (``config.categories``); the categories of
    the settings file are not stored, they are read from the settings."""

    __tablename__ = "category_definitions"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class CallCategory(Base):
    """A category a call is in. The name is in clear (to filter and count); the evidence quotes what was
    said, so it is encrypted."""

    __tablename__ = "call_categories"
    __table_args__ = (Index("ix_call_categories_category", "category"),)

    call_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[str] = mapped_column(String(60), primary_key=True)
    evidence_enc: Mapped[bytes] = encrypted("category_evidence")
