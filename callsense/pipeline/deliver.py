"""The deliver stage: send one outbox row to its CRM and record the outcome.

One attempt is three short steps, none holding a transaction open across the network: (1) lock the row, count
the attempt and render what the mapping lets leave; (2) hand it to the destination, which is idempotent per
call (a look-up, an upsert or a stable id, see ``backends/crm``); (3) record delivered, skipped, dead or
"try again later". A crash between (2) and (3) leaves the row pending; the next attempt finds the record the
CRM already has instead of making a second one.

Retries belong to the job queue: a retryable failure raises ``CRMUnavailableError`` whose ``retry_after`` is
an exponential backoff with equal jitter (``backoff.py``), or the CRM's own ``Retry-After`` when that is
longer; once the row is older than the destination's ``max_age_h`` it is dead-lettered instead. Rejections
(4xx other than 408/429) go straight to dead. The reason kept (``last_error``, the call's events) is the HTTP
status, the CRM's error code and the fields it names, never its message, which may echo what was sent
(``base.redacted_reason``); the dashboard shows it to admins only. Nothing of the call's content is logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.orm import Session

from callsense import backoff, metrics
from callsense.backends.crm.base import Outgoing, Receipt
from callsense.calls import deliveries
from callsense.calls import service as calls
from callsense.calls.deliveries import DeliveryStatus
from callsense.calls.models import Call, Delivery, utcnow
from callsense.calls.schemas import CallRecord
from callsense.config.deliveries import REDACTED_FIELDS, DestinationKind, DestinationSettings
from callsense.errors import CallGoneError, CallsenseError, CRMRejectedError, CRMUnavailableError

if TYPE_CHECKING:
    from callsense.runtime import Runtime

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Attempt:
    outgoing: Outgoing
    destination: DestinationSettings
    attempts: int
    age: timedelta


def _text(value: Any, *, nested: bool = False) -> str:
    """A field as template text: a list one bullet a line, an object "key: value, ..." (keys without a value
    left out: an unknown outcome flag, the empty trend of a mono call); inside those, an action item reads
    "agent: text" and a sentiment trend "Neutral → Negative → - → Positive"."""
    if value is None:
        return "-" if nested else ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        if nested:
            return " → ".join(_text(item, nested=True) for item in value)
        return "\n".join(f"- {_text(item, nested=True)}" for item in value)
    if isinstance(value, dict):
        if nested:
            return ": ".join(_text(item, nested=True) for item in value.values())
        return ", ".join(
            f"{key}: {_text(item, nested=True)}" for key, item in value.items() if item not in (None, [])
        )
    return str(value)


def _line(value: Any, text: str) -> str:
    """A field as subject text, on one line: a list's items joined by "; " ("Refund given; Long hold"), any
    other line break a space. A subject is a one-line field in every CRM; bullets made it several lines."""
    if isinstance(value, list):
        text = "; ".join(_text(item, nested=True) for item in value)
    return " ".join(text.split())


def render(*, call: Call, rt: Runtime, destination: DestinationSettings, delivery_id: uuid.UUID) -> Outgoing:
    """The call as ``destination`` may see it: its mapped fields only, subject and body from its templates;
    redacted, but for the fields it opted into as said (``unredacted_fields``)."""
    record = calls.to_record(call=call, keyring=rt.keyring)
    number = (
        rt.keyring.decrypt_text(
            call.customer_number_enc, context=calls.column_context(call.id, Call.customer_number_enc)
        )
        if call.customer_number_enc is not None
        else None
    )
    metadata = calls.read_metadata(call=call, keyring=rt.keyring)
    available: dict[str, Any] = {
        "call_id": record.call_id,
        "timestamp": record.timestamp.isoformat(),
        "duration": record.duration,
        "direction": call.direction,
        "agent": call.agent,
        "customer_number": number,
        "language": record.language,
        "topic": record.topic,
        "sentiment": record.sentiment.value if record.sentiment else None,
        "emotion": record.emotion.value if record.emotion else None,
        "speaker_sentiment": record.speaker_sentiment.model_dump(mode="json"),
        "talk": record.talk.model_dump(mode="json") if record.talk else None,
        "speakers": record.speakers.model_dump(mode="json") if record.speakers else None,
        "non_talk_seconds": record.talk.non_talk_seconds if record.talk else None,
        "interruptions": record.talk.interruptions if record.talk else None,
        "sentiment_trend": record.sentiment_trend.model_dump(mode="json"),
        "outcome": record.outcome.model_dump(mode="json"),
        "categories": [match.name for match in record.categories],
        **_record_fields(record, REDACTED_FIELDS),
    }
    if destination.unredacted_fields:
        original = calls.to_record(call=call, keyring=rt.keyring, original=True)
        available.update(_record_fields(original, destination.unredacted_fields))
    fields = {name: available[name] for name in destination.fields}
    limit = destination.transcript_excerpt_chars or None
    texts = {name: _text(value) for name, value in fields.items()}
    if "talk" in texts:
        texts["talk"] = record.talk.one_line() if record.talk else ""
    for name in ("transcript", "translated_transcript"):
        if name in texts and limit is not None and len(texts[name]) > limit:
            texts[name] = texts[name][:limit].rstrip() + " [...]"
    subject_texts = {name: _line(fields[name], text) for name, text in texts.items()}
    contact_id = metadata.get(destination.contact_id_key)
    webhook = destination.kind is DestinationKind.webhook  # it sends the fields themselves, no text
    return Outgoing(
        delivery_id=delivery_id,
        call_id=record.call_id,
        occurred_at=record.timestamp,
        fields=fields,
        subject="" if webhook else destination.subject_template.format_map(subject_texts),
        body="" if webhook else destination.body_template.format_map(texts),
        customer_number=number,
        contact_id=str(contact_id) if contact_id is not None else None,
    )


def _record_fields(record: CallRecord, names: Iterable[str]) -> dict[str, Any]:
    """The fields of what was said (``REDACTED_FIELDS``), as a mapping sends them."""
    values: dict[str, Any] = {
        "summary": list(record.summary),
        "topic_detail": record.topic_detail,
        "issues": list(record.issues),
        "action_items": [item.model_dump(mode="json") for item in record.action_items],
        "transcript": record.transcript,
        "translated_transcript": record.translated_transcript,
    }
    return {name: values[name] for name in names}


def backoff_s(rt: Runtime, attempts: int) -> float:
    """The wait after the ``attempts``-th failed try: ``callsense.backoff`` from the delivery settings."""
    policy = rt.settings.deliveries
    return backoff.wait_s(attempts - 1, base_s=policy.retry_initial_s, cap_s=policy.retry_max_s)


def _begin(rt: Runtime, delivery_id: uuid.UUID) -> Attempt | None:
    with rt.db.transaction() as session:
        delivery = deliveries.lock(session=session, delivery_id=delivery_id)
        if delivery.status != DeliveryStatus.pending:
            return None
        destination = rt.settings.deliveries.named(delivery.destination)
        if destination is None or not destination.enabled:
            why = "is no longer configured" if destination is None else "is disabled"
            _finish(
                session, delivery, DeliveryStatus.dead, error=f"destination '{delivery.destination}' {why}"
            )
            return None
        call = session.get(Call, delivery.call_pk)  # read only: the analysis is committed
        assert call is not None, "deliveries cascade with their call"
        try:
            outgoing = render(call=call, rt=rt, destination=destination, delivery_id=delivery.id)
        except CallsenseError as exc:  # a ciphertext that no longer opens: retrying cannot help
            _finish(session, delivery, DeliveryStatus.dead, error=f"the call cannot be read: {exc}")
            return None
        if destination.unredacted_fields:  # personal data leaves the building: on the record each time
            calls.add_event(
                session=session,
                call_pk=call.id,
                stage="deliver",
                kind="sensitive_sent",
                detail=f"{destination.name}: {', '.join(destination.unredacted_fields)} unredacted",
            )
        delivery.attempts += 1
        delivery.last_attempt_at = utcnow()
        age = deliveries.age(session=session, delivery=delivery)
        return Attempt(outgoing, destination, delivery.attempts, age)


def _finish(
    session: Session,
    delivery: Delivery,
    status: DeliveryStatus,
    *,
    error: str | None = None,
    response_status: int | None = None,
    external_id: str | None = None,
) -> None:
    """The outcome on the row, in the call's audit trail and in the metrics."""
    calls.add_event(
        session=session,
        call_pk=delivery.call_pk,
        stage="deliver",
        kind=status,
        detail=": ".join(part for part in (delivery.destination, external_id or error) if part),
    )
    delivery.status = status
    delivery.last_error = error
    delivery.response_status = response_status
    delivery.next_attempt_at = None
    if external_id is not None:
        delivery.external_id = external_id
    if status == DeliveryStatus.delivered:
        delivery.delivered_at = utcnow()
    metrics.DELIVERIES.labels(destination=delivery.destination, outcome=status).inc()


def record_receipt(rt: Runtime, delivery_id: uuid.UUID, receipt: Receipt) -> None:
    """Step (3) on success; a crash before it commits is what the destinations' idempotency is for."""
    with rt.db.transaction() as session:
        delivery = deliveries.lock(session=session, delivery_id=delivery_id)
        status = DeliveryStatus.skipped if receipt.external_id is None else DeliveryStatus.delivered
        _finish(session, delivery, status, error=receipt.skipped, external_id=receipt.external_id)


def _record_failure(
    rt: Runtime, attempt: Attempt, delivery_id: uuid.UUID, exc: CallsenseError
) -> float | None:
    """Store the failure; the seconds to wait before the next try, or None when the delivery is dead."""
    status_code = getattr(exc, "status", None)
    max_age = timedelta(hours=attempt.destination.max_age_h)
    wait: float | None = None
    if isinstance(exc, CRMUnavailableError) and attempt.age < max_age:
        # The CRM's Retry-After, but never sooner than the backoff (86,400 tries in a day otherwise).
        wait = backoff.honouring(exc.retry_after, backoff_s(rt, attempt.attempts))
        wait = min(wait, (max_age - attempt.age).total_seconds() + 1)
    with rt.db.transaction() as session:
        delivery = deliveries.lock(session=session, delivery_id=delivery_id)
        if wait is None:
            reason = str(exc)
            if exc.retryable:
                reason = f"gave up after {attempt.attempts} attempts over {attempt.age}: {reason}"
            _finish(session, delivery, DeliveryStatus.dead, error=reason, response_status=status_code)
        else:
            delivery.last_error = str(exc)
            delivery.response_status = status_code
            delivery.next_attempt_at = utcnow() + timedelta(seconds=wait)
            metrics.DELIVERIES.labels(destination=delivery.destination, outcome="retry").inc()
    return wait


def give_up(rt: Runtime, delivery_id: uuid.UUID, reason: str) -> None:
    """The queue runs the delivery no more (every worker that tried it died in it): dead-lettered with the
    reason, for an operator's retry, unless it ended meanwhile or its call was erased."""
    with rt.db.transaction() as session:
        try:
            delivery = deliveries.lock(session=session, delivery_id=delivery_id)
        except CallGoneError:
            return
        if delivery.status == DeliveryStatus.pending:
            _finish(session, delivery, DeliveryStatus.dead, error=reason)


def run(rt: Runtime, delivery_id: uuid.UUID) -> None:
    """One attempt, the end of the call's path; raises ``CRMUnavailableError`` (the wait in ``retry_after``)
    when it should be retried."""
    attempt = _begin(rt, delivery_id)
    if attempt is None:
        return
    bound = log.bind(
        delivery_id=str(delivery_id), destination=attempt.destination.name, attempt=attempt.attempts
    )
    try:
        with rt.crm.connect(attempt.destination) as destination:
            receipt = destination.deliver(attempt.outgoing)
    except (CRMUnavailableError, CRMRejectedError) as exc:
        wait = _record_failure(rt, attempt, delivery_id, exc)
        failure = {"error": type(exc).__name__, "http_status": exc.status}
        if wait is None:
            bound.warning("delivery dead-lettered", **failure)
            return
        bound.info("delivery will be retried", wait_s=round(wait, 1), **failure)
        raise CRMUnavailableError(str(exc), retry_after=wait, status=exc.status) from exc
    try:
        record_receipt(rt, delivery_id, receipt)
    except CallGoneError:  # erased while the CRM filed it: no erasure event names this record
        bound.warning("erased while delivered: erase the CRM record", external_id=receipt.external_id)
        raise
    bound.info("delivered", external_id=receipt.external_id, skipped=receipt.skipped)
