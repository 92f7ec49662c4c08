"""What the API and the dashboard show of a call in a list, built from its row inside the session."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from callsense.calls.models import Call
from callsense.calls.schemas import CallStatus, Outcome, TalkFigures


class CallSummary(BaseModel):
    call_id: str
    status: CallStatus
    timestamp: datetime
    duration: float | None
    language: str | None
    agent: str | None
    direction: str | None
    topic: str | None
    sentiment: str | None
    emotion: str | None
    non_talk_seconds: float | None = Field(default=None, description="seconds with nobody talking")
    interruptions: int | None = Field(default=None, description="both speakers' interruptions")
    outcome: Outcome


def summary(call: Call) -> CallSummary:
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
        sentiment=call.sentiment,
        emotion=call.emotion,
        non_talk_seconds=talk.non_talk_seconds if talk else None,
        interruptions=talk.interruptions if talk else None,
        outcome=Outcome(
            resolved=call.resolved, callback_needed=call.callback_needed, escalated=call.escalated
        ),
    )
