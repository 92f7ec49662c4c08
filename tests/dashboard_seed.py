"""Analysed calls written straight into the database, for the dashboard's tests.

The committed fixture recordings are stored encrypted exactly as the fetch stage stores them; their
reference turns (the script they were synthesised from, with real timings, each turn's words spread evenly
over it) stand in for Whisper's output and a hand-written analysis for the LLM's, so the dashboard is tested
without loading either model. The talk figures are measured from those turns and the recording, as in the
transcribe stage.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from callsense.calls import categories
from callsense.calls import service as calls
from callsense.calls.models import Call, Delivery
from callsense.calls.schemas import (
    ActionItem,
    AnalysisResult,
    CallStatus,
    Emotion,
    Outcome,
    Owner,
    RoleSource,
    Segment,
    Sentiment,
    SentimentTrend,
    Speaker,
    SpeakerMethod,
    SpeakerSentiment,
    SpeakersFound,
    Word,
)
from callsense.config.talk import TalkSettings
from callsense.pipeline import talk
from callsense.runtime import Runtime
from callsense.speech.audio import SAMPLE_RATE, AudioInfo, DecodedAudio, decode
from tests.conftest import AUDIO


@dataclass(frozen=True)
class SeedCall:
    call_id: str
    audio: str
    agent: str
    topic: str
    sentiment: Sentiment
    emotion: Emotion
    speakers: SpeakerSentiment
    summary: list[str]
    hours_ago: float
    translation: str | None = None
    delivery: tuple[str, str] | None = None  # (destination, status)
    outcome: Outcome = field(default_factory=Outcome)
    action_items: list[ActionItem] = field(default_factory=list)
    trend: SentimentTrend = field(default_factory=SentimentTrend)
    issues: list[str] = field(default_factory=list)


SEEDS = [
    SeedCall(
        call_id="demo-refund",
        audio="en_refund.stereo.flac",
        agent="David",
        topic="Duplicate charge refund",
        sentiment=Sentiment.positive,
        emotion=Emotion.satisfied,
        speakers=SpeakerSentiment(agent=Sentiment.positive, customer=Sentiment.negative),
        summary=[
            "Customer was charged twice for this month's phone bill.",
            "Agent confirmed two $49 payments on the same day and refunded the duplicate.",
            "The refund reaches the card in three to five days.",
        ],
        hours_ago=2,
        delivery=("salesforce", "delivered"),
        outcome=Outcome(resolved=True, escalated=False),
        action_items=[ActionItem(owner=Owner.agent, text="Refund $49 to the card")],
        issues=["Charged twice for one phone bill", "Needs the duplicate payment refunded"],
        trend=SentimentTrend(
            agent=[Sentiment.positive] * 4,
            customer=[Sentiment.negative, Sentiment.negative, None, Sentiment.positive],
        ),
    ),
    SeedCall(
        call_id="demo-outage",
        audio="en_angry.stereo.flac",
        agent="Maria",
        topic="Internet outage complaint",
        sentiment=Sentiment.negative,
        emotion=Emotion.angry,
        speakers=SpeakerSentiment(agent=Sentiment.neutral, customer=Sentiment.negative),
        summary=[
            "Customer has called three times this week about an internet outage.",
            "Agent found a fault on the line; the customer threatens to cancel.",
        ],
        hours_ago=26,
        delivery=("hubspot", "dead"),
        outcome=Outcome(resolved=False, callback_needed=True),
    ),
    SeedCall(
        call_id="demo-cancel-es",
        audio="es_cancel.stereo.flac",
        agent="Lucia",
        topic="Internet contract cancellation",
        sentiment=Sentiment.neutral,
        emotion=Emotion.calm,
        speakers=SpeakerSentiment(agent=Sentiment.positive, customer=Sentiment.neutral),
        summary=[
            "Customer cancels the internet contract because of a move to another city.",
            "Cancellation takes effect at the end of the month; a confirmation email follows.",
        ],
        hours_ago=50,
        translation="Good morning, thank you for calling. How can I help you?\nHello. I want to cancel my "
        "internet contract.\nI am very sorry. May I ask why?\nI am moving to another city next month.\n"
        "I understand. Do you want to cancel the internet at the end of this month?\nYes, please. At the "
        "end of the month.\nVery well. The contract is cancelled. You will receive a confirmation email.\n"
        "Perfect. Thank you very much. Goodbye.",
    ),
    SeedCall(
        call_id="demo-bill-de",
        audio="de_complaint.stereo.flac",
        agent="David",
        topic="Electricity bill too high",
        sentiment=Sentiment.neutral,
        emotion=Emotion.frustrated,
        speakers=SpeakerSentiment(agent=Sentiment.positive, customer=Sentiment.negative),
        summary=["The meter was misread, so the bill was twice as high; a corrected bill is sent by post."],
        hours_ago=74,
        translation="Good day, this is customer service. How can I help you?\nGood day. My electricity "
        "bill is far too high.",
    ),
]


def _segments(audio: str) -> list[Segment]:
    with (AUDIO / "references.jsonl").open(encoding="utf-8") as handle:
        entry = next(e for e in map(json.loads, handle) if e["audio"] == audio)
    return [
        Segment(
            speaker=Speaker(t["speaker"]),
            start=t["start"],
            end=t["end"],
            text=t["text"],
            confidence=0.93,
            words=spread_words(t["text"], t["start"], t["end"]),
        )
        for t in entry["turns"]
    ]


def spread_words(text: str, start: float, end: float) -> list[Word]:
    """The text's words, each given an equal share of [start, end]."""
    words = text.split()
    step = (end - start) / len(words)
    return [
        Word(
            start=round(start + i * step, 3),
            end=round(start + (i + 1) * step, 3),
            text=f" {w}",
            probability=0.93,
        )
        for i, w in enumerate(words)
    ]


def seed(rt: Runtime, seeds: list[SeedCall] = SEEDS) -> None:
    now = datetime.now(UTC)
    for item in seeds:
        data = (AUDIO / item.audio).read_bytes()
        with rt.db.transaction() as session:
            call, _ = calls.get_or_create(
                session=session,
                keyring=rt.keyring,
                call_id=item.call_id,
                source=str(AUDIO / item.audio),
                shown_source=item.audio,
                details=calls.CallDetails(agent=item.agent, started_at=now - timedelta(hours=item.hours_ago)),
            )
            sealed = rt.keyring.encrypt_stream([data], context=calls.context(call.id, "audio"))
            rt.blobs.put(calls.audio_blob_key(call.id), sealed)
            segments = _segments(item.audio)
            call.audio_blob = calls.audio_blob_key(call.id)
            call.audio_sha256 = hashlib.sha256(data).hexdigest()
            call.audio_bytes = len(data)
            call.audio_format = "flac/flac 8000 Hz"
            call.duration_s = segments[-1].end + 0.5
            call.channels = 2
            call.language = item.audio[:2]
            calls.store_transcript(
                session=session,
                call=call,
                keyring=rt.keyring,
                segments=segments,
                translated=item.translation,
                translation_engine="whisper" if item.translation else None,
                asr_model="base",
                options={},
                talk=talk.measure(
                    segments, decode(data, max_seconds=3600), agent_channel=0, settings=TalkSettings()
                ),
            )
            calls.store_analysis(
                session=session,
                call=call,
                keyring=rt.keyring,
                result=AnalysisResult(
                    summary=item.summary,
                    topic=item.topic,
                    sentiment=item.sentiment,
                    emotion=item.emotion,
                    speaker_sentiment=item.speakers,
                    outcome=item.outcome,
                    action_items=item.action_items,
                    issues=item.issues,
                    sentiment_trend=item.trend,
                ),
                llm_backend="embedded",
                llm_model="qwen2.5-coder-1.5b",
            )
            calls.set_status(session=session, call=call, status=CallStatus.done)
            _categorise(rt, session, call)
            for stage, seconds in (("fetch", 0.2), ("transcribe", 6.4), ("analyse", 11.8)):
                calls.add_event(session=session, call_pk=call.id, stage=stage, kind="started")
                calls.add_event(
                    session=session, call_pk=call.id, stage=stage, kind="finished", seconds=seconds
                )
            if item.delivery is not None:
                destination, state = item.delivery
                session.add(
                    Delivery(
                        call_pk=call.id,
                        destination=destination,
                        status=state,
                        attempts=1 if state == "delivered" else 10,
                        external_id="00Q5e000001AbCd" if state == "delivered" else None,
                        last_error=None if state == "delivered" else "HTTP 503 from the CRM (gave up)",
                    )
                )
    with rt.db.transaction() as session:
        failed, _ = calls.get_or_create(
            session=session,
            keyring=rt.keyring,
            call_id="demo-missing-recording",
            source="https://recorder.example/rec/77.wav",
            shown_source="https://recorder.example/rec/77.wav",
            details=calls.CallDetails(agent="Maria", started_at=now - timedelta(hours=5)),
        )
        detail = "fetch: the recording server answered 404 Not Found"
        calls.set_status(session=session, call=failed, status=CallStatus.failed, detail=detail)
        calls.add_event(session=session, call_pk=failed.id, stage="fetch", kind="failed", detail=detail)


def _categorise(rt: Runtime, session: Session, call: Call) -> None:
    """Evaluate the categories in force on the stored call, as the analyse stage does, so that a finished
    call is not left for the re-evaluation queue."""
    found = categories.in_force(session=session, configured=rt.settings.categories)
    categories.categorise(session=session, call=call, keyring=rt.keyring, categories=found)


def seed_held_call(rt: Runtime) -> None:
    """Call ``held`` (agent "Hold-agent", no recording): the agent puts the customer on hold from 10 s to 40 s
    of its 60 s, and the customer cut in 4 s into the agent's first turn."""
    agent = Segment(
        speaker=Speaker.agent,
        start=0,
        end=58,
        text="Please hold while I check. Thank you for holding.",
        confidence=0.9,
        words=[
            *spread_words("Please hold while I check.", 0.0, 10.0),
            *spread_words("Thank you for holding.", 40.0, 58.0),
        ],
    )
    customer = Segment(
        speaker=Speaker.customer,
        start=4,
        end=6,
        text="But wait",
        confidence=0.9,
        words=spread_words("But wait", 4, 6),
    )
    _store_done(rt, "held", [agent, customer], seconds=60, channels=2, agent="Hold-agent")


def seed_transferred_call(rt: Runtime) -> None:
    """Call ``transferred`` (no recording): a mono call whose first agent hands the customer to a second one,
    three voices told apart, two of them agents."""
    said = [
        (Speaker.agent, "Thank you for calling, how can I help?", 0.0, 4.0),
        (Speaker.customer, "My address changed last week.", 5.0, 9.0),
        (Speaker.agent, "This is Mark from accounts, I have updated it.", 10.0, 15.0),
    ]
    segments = [
        Segment(
            speaker=who, start=start, end=end, text=text, confidence=0.9, words=spread_words(text, start, end)
        )
        for who, text, start, end in said
    ]
    voices = SpeakersFound(
        method=SpeakerMethod.diarization,
        count=3,
        confidence=0.62,
        agent="speaker 1, speaker 3",
        agent_source=RoleSource.conversation,
        role_confidence=0.97,
    )
    _store_done(rt, "transferred", segments, seconds=16, channels=1, speakers=voices)


def seed_mono_call(rt: Runtime, call_id: str = "mono", agent: str | None = None) -> None:
    """Call ``mono`` (no agent name unless given, no recording): a mono recording whose speakers were not told
    apart, so its turns are the speaker ``unknown``; analysed as Negative, with no sentiment per speaker."""
    said = [("Hello, how can I help?", 0.0, 4.0), ("My router keeps dropping the line.", 5.0, 12.0)]
    segments = [
        Segment(
            speaker=Speaker.unknown,
            start=start,
            end=end,
            text=text,
            confidence=0.9,
            words=spread_words(text, start, end),
        )
        for text, start, end in said
    ]
    analysis = AnalysisResult(
        summary=["The customer's router drops the line."],
        topic="Router dropping the line",
        sentiment=Sentiment.negative,
        emotion=Emotion.frustrated,
    )
    _store_done(rt, call_id, segments, seconds=20, channels=1, agent=agent, analysis=analysis)


def _store_done(
    rt: Runtime,
    call_id: str,
    segments: list[Segment],
    *,
    seconds: int,
    channels: int,
    agent: str | None = None,
    analysis: AnalysisResult | None = None,
    speakers: SpeakersFound | None = None,
) -> None:
    """A finished call ``call_id`` without a recording: its turns, their talk figures over silent audio of
    ``seconds`` and ``channels``, the analysis and how its speakers were found if given, and its categories
    evaluated."""
    silence = DecodedAudio(
        np.zeros((channels, seconds * SAMPLE_RATE), np.float32),
        AudioInfo("wav", "pcm", SAMPLE_RATE, channels, seconds),
    )
    with rt.db.transaction() as session:
        call, _ = calls.get_or_create(
            session=session,
            keyring=rt.keyring,
            call_id=call_id,
            source=f"/{call_id}.wav",
            shown_source=f"{call_id}.wav",
            details=calls.CallDetails(agent=agent),
        )
        call.duration_s = float(seconds)
        call.channels = channels
        calls.store_transcript(
            session=session,
            call=call,
            keyring=rt.keyring,
            segments=segments,
            translated=None,
            translation_engine=None,
            asr_model="base",
            options={"speakers": speakers.model_dump(mode="json")} if speakers else {},
            talk=talk.measure(segments, silence, agent_channel=0, settings=TalkSettings()),
        )
        if analysis is not None:
            calls.store_analysis(
                session=session,
                call=call,
                keyring=rt.keyring,
                result=analysis,
                llm_backend="embedded",
                llm_model="qwen2.5-coder-1.5b",
            )
        calls.set_status(session=session, call=call, status=CallStatus.done)
        _categorise(rt, session, call)
