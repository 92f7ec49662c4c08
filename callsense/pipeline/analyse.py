"""The analyse stage: the LLM's analysis of the stored transcript (``analysis.py``), stored encrypted with
the outbox of the call's deliveries, in one transaction. The LLM reads the original transcript (it runs
on-premises); what it wrote is redacted (``redact.analysis``) before it is stored and shown. What the LLM
answered to a run that the queue runs again is kept for that run (``kept_answers``), not asked again."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

import structlog

from callsense.calls import categories, deliveries
from callsense.calls import service as calls
from callsense.calls.schemas import CallStatus
from callsense.config.models import TranslationEngine
from callsense.errors import AnalysisError
from callsense.pipeline import analysis, kept_answers, record_archive, redact, stages

if TYPE_CHECKING:
    from callsense.runtime import Runtime

log = structlog.get_logger(__name__)


def run(rt: Runtime, call_pk: uuid.UUID, *, force: bool = False) -> list[uuid.UUID]:
    """Next come the call's pending deliveries (their ids), also when the analysis was done before."""
    with rt.db.transaction() as session:
        call = calls.lock(session=session, call_pk=call_pk)
        done_before = call.status == CallStatus.no_speech.value or (
            not force and stages.is_done(call, "analyse")
        )
        pending = deliveries.pending_ids(session=session, call_pk=call_pk) if done_before else []
        if not done_before and call.transcript is None:
            # reprocessed while a forced run (`process --force`) transcribed: its transcription stored
            # nothing, and the reprocess's own run transcribes, then queues the analysis
            log.info("no transcript to analyse (reprocessed meanwhile?); the transcription's run goes on")
            return []
    if done_before:  # a retry after the commit: the record may not have been written, nor answers deleted
        kept_answers.delete(rt, call_pk)
        record_archive.write(rt, call_pk)
        return pending
    # Outside the audit: deleting the kept answers after the commit may fail, not the stored stage.
    with kept_answers.discarded_after(rt, call_pk) as kept, stages.audited(rt, call_pk, "analyse"):
        started = time.perf_counter()
        with rt.db.transaction() as session:  # in the stage: a transcript that cannot be decrypted fails it
            call = calls.lock(session=session, call_pk=call_pk)
            segments = calls.read_segments(call=call, keyring=rt.keyring, original=True)
            shown_segments = calls.read_segments(call=call, keyring=rt.keyring)
            language = call.language
            has_translation = call.transcript is not None and call.transcript.translated_enc is not None
            analysed = call.transcript.segments_enc if call.transcript is not None else None
        translate = (
            rt.settings.translation is TranslationEngine.llm
            and language not in (None, "en")
            and not has_translation
        )
        result = analysis.analyse(
            segments=segments,
            language=language,
            llm=kept,
            translate=translate,
            topics=rt.settings.analysis.topics,
        )
        if not (result.summary or result.topic or result.sentiment or result.emotion):
            by_reason: dict[str, list[str]] = {}
            for failure in result.failures:
                by_reason.setdefault(failure.reason, []).append(failure.field)
            reasons = "; ".join(f"{', '.join(fields)}: {reason}" for reason, fields in by_reason.items())
            raise AnalysisError(f"the LLM gave no valid analysis ({reasons})")
        shown = redact.analysis(rt, result, original=segments, redacted=shown_segments, language=language)
        seconds = time.perf_counter() - started
        with rt.db.transaction() as session:
            call = calls.lock(session=session, call_pk=call_pk)
            if stages.lost_race(call, "analyse", force=force):
                return deliveries.pending_ids(session=session, call_pk=call_pk)
            if call.transcript is None or call.transcript.segments_enc != analysed:
                # reprocessed meanwhile: stored, this analysis of the dropped transcript would make the new
                # run's analyse find the stage done and leave the call short of done for ever. (A transcript
                # sealed anew by `keys migrate-envelope` counts too; the reconciler queues it again.)
                log.info(
                    "the transcript changed while it was analysed (reprocessed?); this analysis is dropped"
                )
                return []
            calls.store_analysis(
                session=session,
                call=call,
                keyring=rt.keyring,
                result=shown or result,
                original=result if shown is not None else None,
                llm_backend=rt.llm.name,
                llm_model=rt.llm.model,
            )
            if translate and call.transcript is not None:
                call.transcript.translation_engine = TranslationEngine.llm.value
            call.analyse_seconds = round(seconds, 3)
            categories.categorise(  # before the outbox, so that a CRM gets the call's categories
                session=session,
                call=call,
                keyring=rt.keyring,
                categories=categories.in_force(session=session, configured=rt.settings.categories),
                # the redacted view, as a re-evaluation reads it: evidence quotes no card number
                segments=shown_segments,
                analysis=shown or result,
            )
            calls.set_status(session=session, call=call, status=CallStatus.done)
            deliveries.add_outbox(  # the outbox: written with the analysis, or not at all
                session=session,
                call_pk=call_pk,
                destinations=[destination.name for destination in rt.settings.deliveries.enabled()],
            )
            calls.add_event(
                session=session, call_pk=call_pk, stage="analyse", kind="finished", seconds=seconds
            )
            pending = deliveries.pending_ids(session=session, call_pk=call_pk)
    record_archive.write(rt, call_pk)
    return pending
