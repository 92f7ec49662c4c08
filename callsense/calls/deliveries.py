"""Queries and updates on the delivery outbox. Callers own the transaction: nothing here commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, DateTime, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from callsense.calls import queries
from callsense.calls import service as calls
from callsense.calls.models import Call, Delivery, utcnow
from callsense.config.deliveries import DeliverySettings
from callsense.errors import CallGoneError, NotFoundError


class DeliveryStatus(StrEnum):
    """Where a delivery to one destination stands."""

    # The values are what the deliveries.status column holds: renaming one needs a migration.
    pending = "pending"  # in the outbox: waiting for its first attempt or for a retry
    delivered = "delivered"  # the CRM has the record (``external_id`` names it)
    skipped = "skipped"  # no CRM contact matched the call and the destination says no_match = "skip"
    dead = "dead"  # a permanent failure or retries exhausted: waits for an operator's retry


@dataclass(frozen=True)
class DeliveryView:
    """A delivery as the CLI and the API show it."""

    id: uuid.UUID
    call_id: str
    destination: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    response_status: int | None
    external_id: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None


def age(*, session: Session, delivery: Delivery) -> timedelta:
    """How long the delivery has been retried, on the database's clock, which ``queued_at`` is written on:
    a worker whose own clock is off by a day must not give up at once, nor retry a day too long."""
    return _database_now(session) - delivery.queued_at


def _database_now(session: Session) -> datetime:
    now = session.scalar(select(func.now(type_=DateTime(timezone=True))))
    assert isinstance(now, datetime), "now() always answers"
    return now


def add_outbox(*, session: Session, call_pk: uuid.UUID, destinations: Sequence[str]) -> None:
    """One pending delivery per destination; a call that already has one for a destination keeps it, so a
    re-analysed call never makes a second CRM record."""
    if not destinations:
        return
    now, queued_at = utcnow(), _database_now(session)
    rows = [
        {
            "id": uuid.uuid4(),
            "call_pk": call_pk,
            "destination": name,
            "status": DeliveryStatus.pending,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
            "queued_at": queued_at,
        }
        for name in destinations
    ]
    session.execute(
        insert(Delivery).values(rows).on_conflict_do_nothing(constraint="uq_deliveries_call_destination")
    )


def pending_ids(*, session: Session, call_pk: uuid.UUID | None = None) -> list[uuid.UUID]:
    query = select(Delivery.id).where(Delivery.status == DeliveryStatus.pending)
    if call_pk is not None:
        query = query.where(Delivery.call_pk == call_pk)
    return list(session.scalars(query.order_by(Delivery.created_at)))


def lock(*, session: Session, delivery_id: uuid.UUID) -> Delivery:
    delivery = session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None:  # deliveries go only with their call (erased): a queued job meets it gone
        raise CallGoneError(f"no delivery {delivery_id}")
    return delivery


def views(
    *,
    session: Session,
    status: DeliveryStatus | None = None,
    destination: str | None = None,
    limit: int = 100,
    offset: int = 0,
    after: str | None = None,
) -> list[DeliveryView]:
    """Newest first (then by id); ``after`` a ``cursor_of`` the last delivery of the page before."""
    query = select(Delivery, Call.call_id).join(Call, Call.id == Delivery.call_pk)
    query = query.where(*_chosen(status=status, destination=destination))
    if after is not None:
        query = query.where(
            queries.newest_first_after(after, at=Delivery.created_at, row_id=Delivery.id, listed="deliveries")
        )
    rows = session.execute(
        query.order_by(Delivery.created_at.desc(), Delivery.id).limit(limit).offset(offset)
    )
    return [_view(delivery, call_id) for delivery, call_id in rows]


def cursor_of(delivery: DeliveryView) -> str:
    """The cursor (``views``' ``after``) that lists the deliveries after ``delivery``."""
    return queries.encode_cursor(delivery.created_at, delivery.id)


def count(*, session: Session, status: DeliveryStatus | None = None, destination: str | None = None) -> int:
    """How many deliveries ``views`` pages through with the same choice."""
    chosen = _chosen(status=status, destination=destination)
    return session.scalar(select(func.count()).select_from(Delivery).where(*chosen)) or 0


def check_listed(*, session: Session, destination: str | None, settings: DeliverySettings) -> None:
    """Refuse a destination to list by that is neither configured nor in the outbox (a typo, which would
    list nothing), naming the configured ones. One removed from the settings keeps its rows to be listed."""
    if destination is not None and not session.scalar(
        select(exists().where(Delivery.destination == destination))
    ):
        settings.check_configured(destination)


def _chosen(*, status: DeliveryStatus | None, destination: str | None) -> list[ColumnElement[bool]]:
    return [
        *([Delivery.status == status] if status is not None else []),
        *([Delivery.destination == destination] if destination is not None else []),
    ]


def view(*, session: Session, delivery_id: uuid.UUID) -> DeliveryView:
    row = session.execute(
        select(Delivery, Call.call_id)
        .join(Call, Call.id == Delivery.call_pk)
        .where(Delivery.id == delivery_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no delivery {delivery_id}")
    return _view(row[0], row[1])


def of_call(*, session: Session, call_pk: uuid.UUID) -> list[DeliveryView]:
    """The call's deliveries, one per destination, in the destinations' order."""
    rows = session.execute(
        select(Delivery, Call.call_id)
        .join(Call, Call.id == Delivery.call_pk)
        .where(Delivery.call_pk == call_pk)
        .order_by(Delivery.destination)
    )
    return [_view(delivery, call_id) for delivery, call_id in rows]


def _view(delivery: Delivery, call_id: str) -> DeliveryView:
    return DeliveryView(
        id=delivery.id,
        call_id=call_id,
        destination=delivery.destination,
        status=DeliveryStatus(delivery.status),
        attempts=delivery.attempts,
        last_error=delivery.last_error,
        response_status=delivery.response_status,
        external_id=delivery.external_id,
        created_at=delivery.created_at,
        last_attempt_at=delivery.last_attempt_at,
        next_attempt_at=delivery.next_attempt_at,
        delivered_at=delivery.delivered_at,
    )


def requeue(*, session: Session, delivery_id: uuid.UUID, actor: str) -> Delivery:
    """Put a dead (or skipped) delivery back in the outbox; its retry age starts again now. Audited."""
    delivery = lock(session=session, delivery_id=delivery_id)
    if delivery.status == DeliveryStatus.delivered:
        return delivery
    delivery.status = DeliveryStatus.pending
    delivery.queued_at = _database_now(session)
    delivery.next_attempt_at = None
    calls.add_event(
        session=session,
        call_pk=delivery.call_pk,
        stage="deliver",
        kind="retry",
        detail=delivery.destination,
        actor=actor,
    )
    return delivery


def requeue_dead(*, session: Session, actor: str, destination: str | None = None) -> list[uuid.UUID]:
    query = select(Delivery.id).where(Delivery.status == DeliveryStatus.dead)
    if destination is not None:
        query = query.where(Delivery.destination == destination)
    ids = list(session.scalars(query))
    for delivery_id in ids:
        requeue(session=session, delivery_id=delivery_id, actor=actor)
    return ids
