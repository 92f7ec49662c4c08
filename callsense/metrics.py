"""Prometheus metrics. Counters and histograms live in the process that does the work; queue gauges are
read from the database at scrape time, so any API process reports the whole cluster's queue."""

from __future__ import annotations

from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import text
from sqlalchemy.orm import Session

from callsense.db import Database

REGISTRY = CollectorRegistry()
WEBHOOKS_ACCEPTED = Counter(
    "callsense_webhooks_accepted_total", "Webhooks accepted", ["endpoint"], registry=REGISTRY
)
WEBHOOK_REFUSALS = Counter(
    "callsense_webhook_refusals_total",
    "Webhooks refused, by reason",
    ["endpoint", "reason"],
    registry=REGISTRY,
)
STAGE_SECONDS = Histogram(
    "callsense_stage_duration_seconds",
    "Seconds a stage took in this process",
    ["stage", "outcome"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "callsense_deliveries_total",
    "Delivery attempts by destination and outcome (delivered, skipped, dead, retry)",
    ["destination", "outcome"],
    registry=REGISTRY,
)
JOBS = Gauge("callsense_jobs", "Jobs in the queue by stage and state", ["stage", "state"], registry=REGISTRY)
QUEUE_DEPTH = Gauge("callsense_queue_depth", "Jobs waiting to run, by stage", ["stage"], registry=REGISTRY)
CALLS = Gauge("callsense_calls", "Calls by status", ["status"], registry=REGISTRY)
OUTBOX = Gauge(
    "callsense_outbox", "Deliveries by destination and status", ["destination", "status"], registry=REGISTRY
)


class JobCounts(Protocol):
    """Jobs in the queue as (queue, state, count): ``pipeline.tasks.job_counts``, which owns the queue."""

    def __call__(self, *, session: Session) -> list[tuple[str, str, int]]: ...


def render(db: Database, *, job_counts: JobCounts) -> bytes:
    """Refresh the database-backed gauges and render every metric in the text format."""
    with db.transaction() as session:
        jobs = job_counts(session=session)
        calls = session.execute(text("select status, count(*) from calls group by 1")).all()
        outbox = session.execute(
            text("select destination, status, count(*) from deliveries group by 1, 2")
        ).all()
    JOBS.clear()
    QUEUE_DEPTH.clear()
    CALLS.clear()
    for queue, state, count in jobs:
        JOBS.labels(stage=queue, state=state).set(count)
        if state == "todo":
            QUEUE_DEPTH.labels(stage=queue).set(count)
    for call_status, count in calls:
        CALLS.labels(status=call_status).set(count)
    OUTBOX.clear()
    for destination, delivery_status, count in outbox:
        OUTBOX.labels(destination=destination, status=delivery_status).set(count)
    return generate_latest(REGISTRY)
