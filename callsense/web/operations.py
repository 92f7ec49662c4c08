"""What an administrator watches: the queue per stage and the re-evaluation of categories, failed calls,
deliveries that gave up, what each recording source's last poll found, and the retention policy with its
last purge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callsense.calls import deliveries, retention, source_files
from callsense.calls.categories import Progress
from callsense.calls.deliveries import DeliveryStatus
from callsense.calls.models import Call, Delivery
from callsense.calls.schemas import CallStatus
from callsense.config.retention import RetentionSettings
from callsense.config.sources import AnySource
from callsense.pipeline import queue_figures, tasks

JOB_STATES = ("todo", "doing", "failed")
LISTED = 50


@dataclass(frozen=True)
class QueueDepth:
    stage: str
    jobs: dict[str, int]  # procrastinate job status -> count
    calls: Progress | None = None  # the categories queue's: analysed calls evaluated with those in force


@dataclass(frozen=True)
class FailedCall:
    call_id: str
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class DeadDelivery:
    delivery_id: str
    call_id: str
    destination: str
    attempts: int
    last_error: str | None
    at: datetime


@dataclass(frozen=True)
class SourceState:
    name: str
    reads: str  # the folder or the URL
    enabled: bool
    last_poll_at: datetime | None
    files_seen: int
    ingested: int
    refused: int
    given_up: int  # files left until retried by hand (`callsense sources retry`)
    last_error: str | None
    last_error_at: datetime | None
    not_before: datetime | None  # its API asked not to be polled before then (a REST source's Retry-After)


def sources(*, session: Session, configured: list[AnySource]) -> list[SourceState]:
    """Each configured source with its stored status (none before its first poll)."""
    stored = source_files.statuses(session=session)
    given_up = source_files.given_up(session=session)
    held = source_files.held(session=session)
    states = []
    for source in configured:
        row = stored.get(source.name)
        states.append(
            SourceState(
                name=source.name,
                reads=source.reads,
                enabled=source.enabled,
                last_poll_at=row.last_poll_at if row else None,
                files_seen=row.files_seen if row else 0,
                ingested=row.ingested if row else 0,
                refused=row.refused if row else 0,
                given_up=given_up.get(source.name, 0),
                last_error=row.last_error if row else None,
                last_error_at=row.last_error_at if row else None,
                not_before=held.get(source.name),
            )
        )
    return states


def queue_depth(*, session: Session, reevaluation: Progress) -> list[QueueDepth]:
    """Jobs per state of each stage's queue, then of the categories queue with the re-evaluation's
    progress in calls (one job re-evaluates up to 100)."""
    queues: dict[str, dict[str, int]] = {name: {} for name in (*tasks.CALL_QUEUES, tasks.CATEGORIES_QUEUE)}
    for queue, state, count in queue_figures.job_counts(session=session):
        if queue in queues and state in JOB_STATES:  # the maintenance queue holds periodic tasks, not calls
            queues[queue][state] = count
    return [
        QueueDepth(stage=name, jobs=counts, calls=reevaluation if name == tasks.CATEGORIES_QUEUE else None)
        for name, counts in queues.items()
    ]


def failed_calls(*, session: Session) -> list[FailedCall]:
    query = (
        select(Call.call_id, Call.status_detail, Call.updated_at)
        .where(Call.status == CallStatus.failed)
        .order_by(Call.updated_at.desc())
        .limit(LISTED)
    )
    return [FailedCall(call_id=c, reason=r, at=at) for c, r, at in session.execute(query)]


def dead_total(*, session: Session) -> int:
    """How many deliveries are dead, listed or not: the page lists the latest ``LISTED``."""
    return deliveries.count(session=session, status=DeliveryStatus.dead)


def dead_deliveries(*, session: Session) -> list[DeadDelivery]:
    query = (
        select(Delivery, Call.call_id)
        .join(Call, Call.id == Delivery.call_pk)
        .where(Delivery.status == DeliveryStatus.dead)
        .order_by(Delivery.updated_at.desc())
        .limit(LISTED)
    )
    return [
        DeadDelivery(
            delivery_id=str(d.id),
            call_id=call_id,
            destination=d.destination,
            attempts=d.attempts,
            last_error=d.last_error,
            at=d.updated_at,
        )
        for d, call_id in session.execute(query)
    ]


@dataclass(frozen=True)
class RetentionRule:
    applies_to: str  # "default" or a source's name
    audio_days: int | None  # None: kept for ever
    text_days: int | None


@dataclass(frozen=True)
class RetentionState:
    rules: list[RetentionRule]
    purge_cron: str | None  # None: no rule purges anything, so no purge is scheduled
    last_purge_at: datetime | None
    last_purge: str | None  # how many calls it purged, per source
    held: int  # calls under legal hold
    unfinished: int  # calls a purge marked and did not finish deleting (retention.unfinished)


def retention_state(*, session: Session, settings: RetentionSettings) -> RetentionState:
    rules = [RetentionRule("default", settings.default.audio_days, settings.default.text_days)]
    for name in sorted(settings.sources):
        policy = settings.policy(name)
        rules.append(RetentionRule(name, policy.audio_days, policy.text_days))
    last = retention.last_purge(session=session)
    held = session.scalar(select(func.count()).where(Call.legal_hold_at.is_not(None))) or 0
    return RetentionState(
        rules=rules,
        purge_cron=settings.purge_cron if settings.active else None,
        last_purge_at=last.at if last else None,
        last_purge=last.detail if last else None,
        held=held,
        unfinished=retention.unfinished(session=session),
    )
