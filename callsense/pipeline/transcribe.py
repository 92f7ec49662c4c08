"""The transcribe stage: decrypt and decode the stored recording, transcribe it (and translate it with Whisper
when the settings say so), measure the talk figures while the audio is at hand, store the turns encrypted."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from callsense import metrics
from callsense.calls import service as calls
from callsense.calls.schemas import CallStatus
from callsense.config.models import Channel, TranslationEngine
from callsense.pipeline import stages, talk
from callsense.speech.audio import decode

if TYPE_CHECKING:
    from callsense.runtime import Runtime


def run(
    rt: Runtime,
    call_pk: uuid.UUID,
    *,
    language: str | None = None,
    force: bool = False,
    on_progress: Callable[[float], None] | None = None,
) -> stages.Stage | None:
    """Next comes ``analyse``, or nothing when the recording holds no speech."""
    with rt.db.transaction() as session:
        call = calls.lock(session=session, call_pk=call_pk)
        if not force and stages.is_done(call, "transcribe"):
            return "analyse" if call.status == CallStatus.transcribed.value else None
        agent_channel = Channel(call.agent_channel) if call.agent_channel else None
    with stages.audited(rt, call_pk, "transcribe"):
        started = time.perf_counter()
        blob = rt.blobs.get(calls.audio_blob_key(call_pk))
        audio = decode(
            rt.keyring.decrypt(blob, context=calls.audio_context(call_pk)),
            max_seconds=rt.settings.max_audio_seconds,
        )
        transcript = rt.transcriber.transcribe(
            audio, language=language, agent_channel=agent_channel, on_progress=on_progress
        )
        translated, engine = None, None
        whisper_translates = rt.settings.translation is TranslationEngine.whisper
        spoken = transcript.language
        if whisper_translates and transcript.segments and spoken is not None and spoken != "en":
            translated = rt.transcriber.translate(audio, language=spoken, agent_channel=agent_channel).text
            engine = TranslationEngine.whisper.value
        figures = talk.measure(
            transcript.segments,
            audio,
            agent_channel=(agent_channel or rt.settings.asr.agent_channel).row,
            settings=rt.settings.talk,
        )
        seconds = time.perf_counter() - started
        if audio.duration > 0:
            metrics.REALTIME_FACTOR.observe(seconds / audio.duration)
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
                talk=figures,
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
    return "analyse" if transcript.segments else None
