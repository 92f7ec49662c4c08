"""The transcribe stage: decode the stored recording as it is decrypted (a segment at a time), transcribe it
(and translate it with Whisper when the settings say so), measure the talk figures while the audio is at
hand, store the turns encrypted."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.orm import Session

from callsense import metrics
from callsense.calls import service as calls
from callsense.calls.models import Call
from callsense.calls.schemas import CallStatus, SpeakerMethod, SpeakersFound
from callsense.config.models import AgentSpeaks, Channel, TranslationEngine
from callsense.config.sources import AnySource
from callsense.pipeline import redact, stages, talk
from callsense.pipeline.transcript_chunks import has_words
from callsense.speech.audio import DecodedAudio, decode
from callsense.speech.speakers import GivenAgent

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
            _discard_original(rt, call)  # a run that died before it could (see ``_discard_original``)
            return "analyse" if call.status == CallStatus.transcribed.value else None
    with stages.audited(rt, call_pk, "transcribe"):
        started = time.perf_counter()
        with rt.db.transaction() as session:  # in the stage: metadata that cannot be decrypted fails it
            call = calls.lock(session=session, call_pk=call_pk)
            source = _source(call, rt)
            given, given_by, notes = _agent_given(call, rt, source)
            generation = call.generation
        blob = rt.blobs.open(calls.audio_blob_key(call_pk))
        with rt.keyring.open_blob(blob, context=calls.audio_context(call_pk)) as recording:
            audio = decode(recording, max_seconds=rt.settings.max_audio_seconds)
        transcript = rt.transcriber.transcribe(
            audio,
            language=language,
            agent_channel=given.channel,
            agent_speaks=given.speaks,
            vocabulary=source,
            on_progress=on_progress,
        )
        translated, engine = None, None
        whisper_translates = rt.settings.translation is TranslationEngine.whisper
        spoken = transcript.language
        if whisper_translates and transcript.segments and spoken is not None and spoken != "en":
            translated = rt.transcriber.translate(audio, language=spoken, speakers=transcript.speakers).text
            engine = TranslationEngine.whisper.value
        found = transcript.speakers.found if transcript.speakers else None
        figures = talk.measure(
            transcript.segments,
            _heard_audio(audio, found),
            agent_channel=_agent_side(found, given.channel or rt.settings.asr.agent_channel).row,
            settings=rt.settings.talk,
        )
        redacted = redact.transcript(
            rt, transcript.segments, translated, language=transcript.language, audio=audio, speakers=found
        )
        spoken_words = any(has_words(segment.text) for segment in transcript.segments)
        seconds = time.perf_counter() - started
        if audio.duration > 0:
            metrics.REALTIME_FACTOR.observe(seconds / audio.duration)
        with rt.db.transaction() as session:
            call = calls.lock(session=session, call_pk=call_pk)
            if stages.superseded(call, generation):
                return None  # the reprocess queued its own run, which goes on from here
            if stages.lost_race(call, "transcribe", force=force):
                return "analyse" if call.status == CallStatus.transcribed.value else None
            if redacted.audio is not None:  # under the row lock, as key rotation rewrites it (see fetch)
                context = calls.redacted_audio_context(call_pk)
                sealed = rt.keyring.encrypt_stream([redacted.audio], context=context)
                rt.blobs.put(calls.redacted_audio_blob_key(call_pk), sealed)
            calls.store_transcript(
                session=session,
                call=call,
                keyring=rt.keyring,
                segments=redacted.segments,
                translated=redacted.translated,
                original_segments=redacted.original_segments,
                original_translation=redacted.original_translation,
                translation_engine=engine,
                asr_model=transcript.options.model,
                options={
                    **transcript.options.__dict__,
                    "temperatures": list(transcript.options.temperatures),
                    "speakers": found.model_dump(mode="json") if found else None,
                },
                talk=figures,
            )
            for note in [*notes, *_speaker_notes(found, given, given_by)]:
                calls.add_event(
                    session=session, call_pk=call_pk, stage="transcribe", kind="speakers", detail=note
                )
            discard_original = _record_redaction(session, call, redacted, rt)
            call.language = transcript.language
            call.language_probability = transcript.language_probability
            call.transcribe_seconds = round(seconds, 3)
            if spoken_words:
                calls.set_status(session=session, call=call, status=CallStatus.transcribed)
            else:
                calls.set_status(
                    session=session,
                    call=call,
                    status=CallStatus.no_speech,
                    detail="no speech detected in the recording"
                    + (" (only non-speech markers such as [inaudible])" if transcript.segments else ""),
                )
            calls.add_event(
                session=session, call_pk=call_pk, stage="transcribe", kind="finished", seconds=seconds
            )
    if discard_original:
        with rt.db.transaction() as session:
            _discard_original(rt, calls.lock(session=session, call_pk=call_pk))
    return "analyse" if spoken_words else None


def _discard_original(rt: Runtime, call: Call) -> None:
    """Delete the original recording of a transcribed call whose row no longer names it (redaction
    discarded it, ``redaction.keep_original_audio``); ``call`` is locked.

    Only after the commit that stored the transcript and the redacted copy: deleted before, a failed
    commit would leave the call with neither its transcript nor the recording to transcribe again. A
    worker that dies between that commit and this delete leaves its job running; the queue hands it back
    (``recover_stalled``), and the retry, finding the call transcribed, lands here and deletes it then (a
    blob already gone is no error). Under the row lock, so that a reprocessing fetch storing a new
    original is never undone."""
    if call.transcript is not None and call.audio_blob is None:
        rt.blobs.delete(calls.audio_blob_key(call.id))


def _record_redaction(session: Session, call: Call, redacted: redact.RedactedTranscript, rt: Runtime) -> bool:
    """The redaction's summary and redacted recording on the call, audited by counts; True when the
    original recording is to be deleted (``redaction.keep_original_audio``)."""
    summary = redacted.summary
    call.redaction = summary.model_dump(mode="json", exclude={"original"}) if summary else None
    call.redacted_audio_blob = calls.redacted_audio_blob_key(call.id) if redacted.audio else None
    if summary is None:
        return False
    found = ", ".join(f"{entity} {count}" for entity, count in summary.found.items()) or "nothing found"
    calls.add_event(session=session, call_pk=call.id, stage="transcribe", kind="redacted", detail=found)
    if redacted.audio is None or rt.settings.redaction.keeps_original_audio:
        return False
    call.audio_blob = None
    return True


# The keys of call metadata (webhook ``metadata``, a sidecar's values) that name the agent of this call: its
# stereo channel, and whether it is the first or the second voice to say a word on a mono call.
AGENT_CHANNEL_KEY = "agent_channel"
AGENT_SPEAKS_KEY = "agent_speaks"
BY_METADATA, BY_SOURCE = "the call's metadata", "its recording source"
GivenBy = tuple[str, str]  # what gave the agent channel, what gave agent_speaks
Choice = TypeVar("Choice", bound=StrEnum)


def _agent_given(call: Call, rt: Runtime, source: AnySource | None) -> tuple[GivenAgent, GivenBy, list[str]]:
    """The agent the call's metadata names (its channel, its place among the voices), else the one its
    recording source named when it took the call (the channel by the source or its preset); what gave each,
    for the audit trail; a note for each metadata value that is not usable."""
    metadata = calls.read_metadata(call=call, keyring=rt.keyring)
    from_source = Channel(call.agent_channel) if call.agent_channel else None
    channel, channel_by, channel_notes = _given(metadata, AGENT_CHANNEL_KEY, Channel, from_source)
    speaks_of_source = _source_speaks(call, metadata, source)
    speaks, speaks_by, speaks_notes = _given(metadata, AGENT_SPEAKS_KEY, AgentSpeaks, speaks_of_source)
    return GivenAgent(channel, speaks), (channel_by, speaks_by), [*channel_notes, *speaks_notes]


def _source_speaks(call: Call, metadata: dict[str, Any], source: AnySource | None) -> AgentSpeaks | None:
    """The ``agent_speaks`` of the source that took the call, as kept at ingest; a call taken before
    callsense kept it has its ``source``'s now. Webhook and CLI calls have none, whatever their metadata."""
    if call.source_name is None:
        return None
    if calls.SOURCE_AGENT_SPEAKS_KEY in metadata:
        kept = metadata[calls.SOURCE_AGENT_SPEAKS_KEY]
        return AgentSpeaks(kept) if kept else None
    return source.agent_speaks if source else None


def _given(
    metadata: dict[str, Any], key: str, choices: type[Choice], from_source: Choice | None
) -> tuple[Choice | None, str, list[str]]:
    """The metadata's ``key`` as one of ``choices``, else the source's; what gave it; a note when the
    metadata's value is none of them (it is ignored, not a reason to fail the call)."""
    value = metadata.get(key)
    if value is None:
        return from_source, BY_SOURCE, []
    try:
        return choices(str(value).strip().lower()), BY_METADATA, []
    except ValueError:
        expected = " or ".join(f"'{choice.value}'" for choice in choices)
        return from_source, BY_SOURCE, [f"metadata {key}={value!r} ignored: expected {expected}"]


def _source(call: Call, rt: Runtime) -> AnySource | None:
    """The recording source that took the call (``calls.source_name``), as configured now: its hotwords
    (and the ``agent_speaks`` of a call taken before it was kept with the call)."""
    return rt.settings.sources.named(call.source_name) if call.source_name else None


def _agent_side(found: SpeakersFound | None, asked: Channel) -> Channel:
    """The channel the agent's words came from: the one asked for, unless the swap check moved the agent."""
    if found is not None and found.method is SpeakerMethod.channels and found.agent in {"left", "right"}:
        return Channel(found.agent)
    return asked


def _heard_audio(audio: DecodedAudio, found: SpeakersFound | None) -> DecodedAudio:
    """The audio the talk figures measure: a diarized stereo call (its channels alike, or its words all on
    one channel) on its louder channel, where both speakers were heard, not each on a channel of its own."""
    if found is None or found.method is SpeakerMethod.channels or audio.channels.shape[0] < 2:
        return audio
    energy = [float(channel @ channel) for channel in audio.channels]
    row = energy.index(max(energy))
    return replace(audio, channels=audio.channels[row : row + 1], info=replace(audio.info, channels=1))


def _speaker_notes(found: SpeakersFound | None, given: GivenAgent, given_by: GivenBy) -> list[str]:
    """Audit lines for role decisions someone should see: a swap made, or one the settings only warn of, and
    what became of the agent the call's metadata or source named (``given`` by ``given_by``)."""
    if found is None:
        return []
    channel_by, speaks_by = given_by
    if found.method is SpeakerMethod.channels:
        unused = _unused_speaks(given.speaks, speaks_by, "the call is stereo, where agent_channel applies")
        return [*unused, *_channel_notes(found, given.channel, channel_by)]
    unused = []
    if given.channel is not None:
        unused = [
            f"agent channel {given.channel.value} from {channel_by} not used: the call's words are all on "
            "one channel (a mono recording, or a stereo one with both sides mixed on one channel), so the "
            "agent was chosen among its voices"
        ]
    if found.method is SpeakerMethod.none:
        return [*unused, *_unused_speaks(given.speaks, speaks_by, "speakers.diarization is off")]
    return [*unused, *_voice_notes(found, given.speaks, speaks_by)]


def _unused_speaks(speaks: AgentSpeaks | None, given_by: str, why: str) -> list[str]:
    return [] if speaks is None else [f"agent_speaks {speaks.value} from {given_by} not used: {why}"]


def _voice_notes(found: SpeakersFound, speaks: AgentSpeaks | None, given_by: str) -> list[str]:
    """Whom the metadata's ``agent_speaks`` made the agent of a diarized call; whether the words disagree."""
    if speaks is None or found.agent_source != "metadata":
        return []
    agent = found.agent or "no agent (one voice alone)"
    chosen = f"{agent}, the {speaks.value} voice to say a word, from {given_by}"
    if found.swap_suggested:
        return [
            f"the conversation says the agent is another voice (confidence {found.role_confidence}); kept "
            f"{chosen}"
        ]
    return [f"agent {chosen}"]


def _channel_notes(found: SpeakersFound, asked: Channel | None, given_by: str) -> list[str]:
    """A stereo call's: a swap made or suggested, and the agent channel ``asked`` for by ``given_by``."""
    other = "right" if found.agent == "left" else "left"
    if found.swapped:
        return [
            f"agent channel swapped to {found.agent}: the conversation says so "
            f"(confidence {found.role_confidence})"
        ]
    if found.swap_suggested:
        by_metadata = found.agent_source == "metadata"
        kept = f"from {given_by}" if by_metadata else "(speakers.swap_check=warn)"
        return [
            f"the conversation says the agent is on the {other} channel (confidence "
            f"{found.role_confidence}); kept {found.agent} {kept}"
        ]
    if found.agent_source == "metadata":
        return [f"agent channel {found.agent} from {given_by}"]
    return []
