"""What the API and the dashboard show of a call in a list, built from its row inside the session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from callsense.calls.models import Call, CallCategory
from callsense.calls.schemas import CallStatus, Emotion, Outcome, Sentiment, TalkFigures


class CallSummary(BaseModel):
    """A call in a list: what it is and its analysis' clear figures (the record has the rest)."""

    call_id: str = Field(description="the id the call was submitted with")
    status: CallStatus = Field(description="where the call is in processing")
    timestamp: datetime = Field(description="when the call took place, or when it was received")
    duration: float | None = Field(description="seconds of audio")
    language: str | None = Field(description="Whisper's code of the call's language")
    agent: str | None = Field(description="the agent named in the call's metadata")
    direction: str | None = Field(description="inbound or outbound, as submitted")
    topic: str | None = Field(description="the call driver: one label of the taxonomy (analysis.topics)")
    sentiment: Sentiment | None = Field(description="the call's overall sentiment")
    emotion: Emotion | None = Field(description="the call's dominant emotion")
    non_talk_seconds: float | None = Field(default=None, description="seconds with nobody talking")
    interruptions: int | None = Field(
        default=None, description="both speakers' interruptions; null while the speakers are unknown"
    )
    outcome: Outcome = Field(description="resolved, callback needed, escalated: each null when not said")
    categories: list[str] = Field(
        description="the names of the categories the call is in, sorted (the record has their evidence)"
    )


def summaries(*, session: Session, calls: Sequence[Call]) -> list[CallSummary]:
    """The calls as a list shows them; their categories' names read in one query for all of them."""
    names: dict[uuid.UUID, list[str]] = {}
    if calls:
        query = (
            select(CallCategory.call_pk, CallCategory.category)
            .where(CallCategory.call_pk.in_([call.id for call in calls]))
            .order_by(CallCategory.category)  # as the record lists them
        )
        for call_pk, name in session.execute(query):
            names.setdefault(call_pk, []).append(name)
    return [_summary(call, names.get(call.id, [])) for call in calls]


def _summary(call: Call, categories: list[str]) -> CallSummary:
    talk = TalkFigures.model_validate(call.talk) if call.talk is not None else None
    return CallSummary(
        call_id=call.call_id,
        status=CallStatus(call.status),
        timestamp=call.started_at or call.created_at,
        duration=call.duration_s,
        language=call.language,
        agent=call.agent,
        direction=call.direction,
        topic=call.topic,
        sentiment=Sentiment(call.sentiment) if call.sentiment else None,
        emotion=Emotion(call.emotion) if call.emotion else None,
        non_talk_seconds=talk.non_talk_seconds if talk else None,
        interruptions=talk.interruptions if talk else None,
        outcome=Outcome(
            resolved=call.resolved, callback_needed=call.callback_needed, escalated=call.escalated
        ),
        categories=categories,
    )
