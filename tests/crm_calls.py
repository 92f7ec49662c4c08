"""Analysed calls for the delivery tests, made through the real stage code with a scripted LLM (no Whisper):
``analyse.run`` stores the analysis and writes the outbox rows in one transaction, as in production."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import uuid
from datetime import UTC, datetime
from typing import Any

from callsense.backends.llm.fake import FakeLLM
from callsense.calls import service as calls
from callsense.calls.schemas import CallStatus, Segment, Speaker
from callsense.config import Settings
from callsense.pipeline import analyse, ingest
from callsense.runtime import Runtime
from tests.servers import CALLSENSE, callsense_env

ANALYSIS = {
    "summary": ["Customer was charged twice for order 1042.", "Agent refunded the duplicate payment."],
    "topic": "Refund request",
    "topic_detail": "Duplicate charge refund",
    "issues": ["Charged twice for order 1042"],
    "agent_todo": ["Refund the duplicate payment"],
    "customer_todo": [],
    "outcome": "y?n",
    "sentiment": "Negative",
    "emotion": "Frustrated",
    "agent_sentiment": "Positive",
    "customer_sentiment": "Negative",
    "agent_trend": "++++",
    "customer_trend": "----",
}
TRANSCRIPT = [
    Segment(
        speaker=Speaker.agent,
        start=0.0,
        end=2.5,
        text="Thanks for calling Acme, how can I help?",
        confidence=0.9,
    ),
    Segment(
        speaker=Speaker.customer, start=2.6, end=6.0, text="I was charged twice for my order.", confidence=0.9
    ),
]


def scripted_llm() -> FakeLLM:
    answer = json.dumps(ANALYSIS)
    return FakeLLM(lambda request: answer if "summary" in json.dumps(request.schema) else '{"lines": []}')


def analysed_call(
    rt: Runtime,
    call_id: str,
    *,
    number: str | None = "+14155550100",
    direction: str = "inbound",
    started_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
    segments: list[Segment] = TRANSCRIPT,
) -> uuid.UUID:
    """A call with a stored transcript (``segments``), analysed by ``analyse.run`` (which writes the outbox);
    with the scripted LLM unless ``rt`` has a fake one already."""
    details = calls.CallDetails(
        agent="agent-7",
        customer_number=number,
        direction=direction,
        started_at=started_at or datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        metadata=metadata,
    )
    call_pk = ingest.ingest(
        rt, call_id=call_id, source="https://recorder.example/call.wav", details=details
    ).call_pk
    store_transcribed(rt, call_pk, duration_s=95.0, segments=segments)
    analyse.run(rt if isinstance(rt.llm, FakeLLM) else dataclasses.replace(rt, llm=scripted_llm()), call_pk)
    return call_pk


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment that gives the real CLI these settings' database and destinations, secrets included."""
    destinations = [
        {
            **item.model_dump(mode="json"),
            **{
                name: secret.get_secret_value() if secret else None
                for name, secret in (("token", item.token), ("secret", item.secret))
            },
        }
        for item in settings.deliveries.destinations
    ]
    return callsense_env(
        settings.data_dir,
        CALLSENSE_DATABASE_URL=str(settings.database_url),
        CALLSENSE_DELIVERIES=json.dumps({"destinations": destinations}),
    )


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CALLSENSE, *args], env=cli_env(settings), capture_output=True, text=True, timeout=120, check=False
    )


def store_transcribed(
    rt: Runtime, call_pk: uuid.UUID, *, duration_s: float | None = None, segments: list[Segment] = TRANSCRIPT
) -> None:
    """Give the call the scripted English transcript (or ``segments``) and leave it waiting for its
    analysis."""
    with rt.db.transaction() as session:
        call = calls.lock(session=session, call_pk=call_pk)
        calls.store_transcript(
            session=session,
            call=call,
            keyring=rt.keyring,
            segments=segments,
            translated=None,
            translation_engine=None,
            asr_model="test",
            options={},
        )
        call.language = "en"
        call.duration_s = duration_s
        calls.set_status(session=session, call=call, status=CallStatus.transcribed)
