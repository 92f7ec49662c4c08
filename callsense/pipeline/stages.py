"""Run the stages of one call against the database: fetch → transcribe → analyse.

Every stage is idempotent: it first checks what the call already has and skips work that is done (unless
forced), writes its results, the call's new status and its audit event in one transaction, and on failure
stores ``failed`` with the reason and nothing else. A queue worker can therefore retry any stage at any time.
When the queue will run the stage again (``QUEUE_RETRIES``), a retryable failure leaves the status as it was,
with the reason as its detail: the call is not ``failed`` between two runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import structlog

from callsense.backends.blobstore import BlobStore
from callsense.backends.llm import LLMBackend, build_llm
from callsense.backends.recordings import http as fetching
from callsense.calls import deliveries
from callsense.calls import service as calls
from callsense.calls.models import Call
from callsense.calls.schemas import CallRecord, CallStatus
from callsense.config import Settings, TranslationEngine
from callsense.db import Database
from callsense.errors import AnalysisError, CallsenseError
from callsense.pipeline.analysis import analyse
from callsense.pipeline.ingest import ingest
from callsense.security.crypto import KeyRing
from callsense.speech.audio import decode, probe
from callsense.speech.whisper import Transcriber

log = structlog.get_logger(__name__)

Progress = Callable[[str, float], None]
# True inside a queue job that the queue runs again after a retryable failure (set by ``jobs.py``).
QUEUE_RETRIES: ContextVar[bool] = ContextVar("queue_retries", default=False)


@dataclass
class Runtime:
    """What the stages need, built once per process; models load on first use."""

    settings: Settings
    db: Database
    keyring: KeyRing
    blobs: BlobStore
    _transcriber: Transcriber | None = field(default=None, repr=False)
    _llm: LLMBackend | None = field(default=None, repr=False)

    @property
    def transcriber(self) -> Transcriber:
        if self._transcriber is None:
            self._transcriber = Transcriber(self.settings.asr, model_dir=self.settings.resolved_model_dir)
        return self._transcriber

    @property
    def llm(self) -> LLMBackend:
        if self._llm is None:
            self._llm = build_llm(self.settings.llm, model_dir=self.settings.resolved_model_dir)
        return self._llm


def audio_blob_key(call_pk: uuid.UUID) -> str:
    return f"audio/{call_pk}"


def source_of(rt: Runtime, call_pk: uuid.UUID) -> str:
    with rt.db.transaction() as session:
        return calls.source_of(call=calls.lock(session=session, call_pk=call_pk), keyring=rt.keyring)


def status_of(rt: Runtime, call_pk: uuid.UUID) -> CallStatus:
    with rt.db.transaction() as session:
        return CallStatus(calls.lock(session=session, call_pk=call_pk).status)


@contextmanager
def _stage(rt: Runtime, call_pk: uuid.UUID, stage: str) -> Iterator[None]:
    """Audit the stage's start, and on error mark the call failed with the reason, in its own transaction.

    Log lines written meanwhile carry the call's id as the recording system knows it."""
    with rt.db.transaction() as session:
        call_id = calls.lock(session=session, call_pk=call_pk).call_id
        calls.add_event(session=session, call_pk=call_pk, stage=stage, kind="started")
    started = time.perf_counter()
    try:
        with structlog.contextvars.bound_contextvars(call_id=call_id):
            yield
    except CallsenseError as exc:
        log.info("stage failed", call_pk=str(call_pk), stage=stage, error=str(exc), retryable=exc.retryable)
        again = exc.retryable and QUEUE_RETRIES.get()
        with rt.db.transaction() as session:
            call = calls.lock(session=session, call_pk=call_pk)
            status = CallStatus(call.status) if again else CallStatus.failed
            detail = f"{stage}: {exc}" + ("; the queue tries again later" if again else "")
            calls.set_status(session=session, call=call, status=status, detail=detail)
            calls.add_event(
                session=session,
                call_pk=call_pk,
                stage=stage,
                kind="failed",
                detail=str(exc),
                seconds=time.perf_counter() - started,
            )
        raise


def _stage_done(call: Call, stage: str) -> bool:
    """Judged from the stored results, not the status, so a retry after a later stage failed resumes there."""
    if stage == "fetch":
        return call.audio_blob is not None
    if stage == "transcribe":
        return call.transcript is not None
    return call.analysis is not None or call.status == CallStatus.no_speech.value


def _is_done(rt: Runtime, call_pk: uuid.UUID, stage: str) -> bool:
    with rt.db.transaction() as session:
        return _stage_done(calls.lock(session=session, call_pk=call_pk), stage)


def run_fetch(
    rt: Runtime, call_pk: uuid.UUID, *, source: str, force: bool = False, local_files: bool = True
) -> None:
    """``local_files=False`` for sources that came over the network: a webhook must not read our disk."""
    if not force and _is_done(rt, call_pk, "fetch"):
        return
    with _stage(rt, call_pk, "fetch"):
        started = time.perf_counter()
        defaults = fetching.FetchOptions.from_settings(rt.settings)
        options = dataclasses.replace(defaults, local_files=local_files)
        data = fetching.read_source(source, options)
        info = probe(data, max_seconds=rt.settings.max_audio_seconds)  # refuse bad audio before storing it
        key = audio_blob_key(call_pk)
        with rt.db.transaction() as session:
            call = calls.lock(session=session, call_pk=call_pk)
            # written under the call's row lock, as key rotation rewrites it: neither overwrites the other
            rt.blobs.put(key, rt.keyring.encrypt(data, context=calls.audio_context(call_pk)))
            seconds = time.perf_counter() - started
            call.audio_blob = key
            call.audio_sha256 = hashlib.sha256(data).hexdigest()
            call.audio_bytes = len(data)
            call.audio_format = f"{info.container}/{info.codec} {info.sample_rate} Hz"
            call.duration_s = round(info.duration, 3)
            call.channels = info.channels
            call.fetch_seconds = round(seconds, 3)
            calls.set_status(session=session, call=call, status=CallStatus.fetched)
            calls.add_event(session=session, call_pk=call_pk, stage="fetch", kind="finished", seconds=seconds)


def run_transcribe(
    rt: Runtime,
    call_pk: uuid.UUID,
    *,
    language: str | None = None,
    force: bool = False,
    on_progress: Callable[[float], None] | None = None,
) -> None:
    if not force and _is_done(rt, call_pk, "transcribe"):
        return
    with _stage(rt, call_pk, "transcribe"):
        started = time.perf_counter()
        data = rt.keyring.decrypt(rt.blobs.get(audio_blob_key(call_pk)), context=calls.audio_context(call_pk))
        audio = decode(data, max_seconds=rt.settings.max_audio_seconds)
        transcript = rt.transcriber.transcribe(audio, language=language, on_progress=on_progress)
        translated, engine = None, None
        needs_translation = transcript.segments and transcript.language not in (None, "en")
        if needs_translation and rt.settings.translation is TranslationEngine.whisper:
            translated = rt.transcriber.transcribe(audio, language=transcript.language, task="translate").text
            engine = TranslationEngine.whisper.value
        seconds = time.perf_counter() - started
        with rt.db.transaction() as session:
            call = calls.lock(session=session, call_pk=call_pk)
            calls.store_transcript(
                session=session,
                call=call,
                keyring=rt.keyring,
                segments=transcript.segments,
                translated=translated,
                translation_engine=engine,
                asr_model=transcript.options.model,
                options={
                    **transcript.options.__dict__,
                    "temperatures": list(transcript.options.temperatures),
                },
            )
            call.language = transcript.language
            call.language_probability = transcript.language_probability
            call.transcribe_seconds = round(seconds, 3)
            if transcript.segments:
                calls.set_status(session=session, call=call, status=CallStatus.transcribed)
            else:
                calls.set_status(
                    session=session,
                    call=call,
                    status=CallStatus.no_speech,
                    detail="no speech detected in the recording",
                )
            calls.add_event(
                session=session, call_pk=call_pk, stage="transcribe", kind="finished", seconds=seconds
            )


def run_analyse(rt: Runtime, call_pk: uuid.UUID, *, force: bool = False) -> None:
    with rt.db.transaction() as session:
        call = calls.lock(session=session, call_pk=call_pk)
        if call.status == CallStatus.no_speech.value or (not force and _stage_done(call, "analyse")):
            return
        segments = calls.read_segments(call=call, keyring=rt.keyring)
        language = call.language
        has_translation = call.transcript is not None and call.transcript.translated_enc is not None
    with _stage(rt, call_pk, "analyse"):
        started = time.perf_counter()
        translate = (
            rt.settings.translation is TranslationEngine.llm
            and language not in (None, "en")
            and not has_translation
        )
        result = analyse(segments=segments, language=language, llm=rt.llm, translate=translate)
        if not (result.summary or result.topic or result.sentiment or result.emotion):
            by_reason: dict[str, list[str]] = {}
            for failure in result.failures:
                by_reason.setdefault(failure.reason, []).append(failure.field)
            reasons = "; ".join(f"{', '.join(fields)}: {reason}" for reason, fields in by_reason.items())
            raise AnalysisError(f"the LLM gave no valid analysis ({reasons})")
        seconds = time.perf_counter() - started
        with rt.db.transaction() as session:
            call = calls.lock(session=session, call_pk=call_pk)
            calls.store_analysis(
                session=session,
                call=call,
                keyring=rt.keyring,
                result=result,
                llm_backend=rt.llm.name,
                llm_model=rt.llm.model,
            )
            if translate and call.transcript is not None:
                call.transcript.translation_engine = TranslationEngine.llm.value
            call.analyse_seconds = round(seconds, 3)
            calls.set_status(session=session, call=call, status=CallStatus.done)
            deliveries.add_outbox(  # the outbox: written with the analysis, or not at all
                session=session,
                call_pk=call_pk,
                destinations=[destination.name for destination in rt.settings.deliveries.enabled()],
            )
            calls.add_event(
                session=session, call_pk=call_pk, stage="analyse", kind="finished", seconds=seconds
            )


def record(rt: Runtime, call_pk: uuid.UUID) -> CallRecord:
    with rt.db.transaction() as session:
        call = calls.lock(session=session, call_pk=call_pk)
        return calls.to_record(call=call, keyring=rt.keyring)


def process(
    rt: Runtime,
    *,
    source: str,
    call_id: str,
    language: str | None = None,
    force: bool = False,
    on_progress: Progress | None = None,
) -> CallRecord:
    """The whole path of one call, in this process; returns the stored record."""
    call_pk = ingest(rt, call_id=call_id, source=source).call_pk
    if force:
        with rt.db.transaction() as session:
            calls.add_event(session=session, call_pk=call_pk, stage="ingest", kind="forced")

    def report(stage: str) -> Callable[[float], None] | None:
        return None if on_progress is None else (lambda fraction: on_progress(stage, fraction))

    run_fetch(rt, call_pk, source=source, force=force)
    run_transcribe(rt, call_pk, language=language, force=force, on_progress=report("transcribe"))
    run_analyse(rt, call_pk, force=force)
    return record(rt, call_pk)


def open_runtime(settings: Settings) -> Runtime:
    """Connect to (or start) the database, load or create the key ring, open the blob store."""
    from callsense.backends.blobstore import FilesystemBlobStore
    from callsense.db import open_database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keyring = KeyRing.load_or_create(settings.resolved_key_file)
    db = open_database(settings)
    return Runtime(
        settings=settings, db=db, keyring=keyring, blobs=FilesystemBlobStore(settings.resolved_blob_dir)
    )
