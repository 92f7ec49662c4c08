"""Prometheus metrics. Counters and histograms live in the process that does the work (serve's /metrics, or
``callsense worker --metrics-port``); queue, call and outbox gauges are read from the database at scrape time,
so any API process reports the whole cluster's, and the blob store's disk is measured by the API process."""

from __future__ import annotations

import shutil
from pathlib import Path
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
CALLS_FORGOTTEN = Counter(
    "callsense_calls_forgotten_total",
    "Calls whose audio or text the retention purge removed, or that were erased on request",
    ["what"],  # audio, text (purged under the retention policy), erased (a data-subject request)
    registry=REGISTRY,
)
JOBS = Gauge("callsense_jobs", "Jobs in the queue by stage and state", ["stage", "state"], registry=REGISTRY)
QUEUE_DEPTH = Gauge("callsense_queue_depth", "Jobs waiting to run, by stage", ["stage"], registry=REGISTRY)
CALLS = Gauge("callsense_calls", "Calls by status", ["status"], registry=REGISTRY)
OUTBOX = Gauge(
    "callsense_outbox", "Deliveries by destination and status", ["destination", "status"], registry=REGISTRY
)
SOURCE_FILES_GIVEN_UP = Gauge(
    "callsense_source_files_given_up",
    "Files of a recording source given up (takes ended with no outcome max_attempts times in a row)",
    ["source"],
    registry=REGISTRY,
)
OLDEST_DUE = Gauge(
    "callsense_queue_oldest_due_seconds",
    "Seconds the oldest job that is due to run has waited for a worker, by stage (0: none waits)",
    ["stage"],
    registry=REGISTRY,
)
CATEGORIES_STALE = Gauge(
    "callsense_categories_stale_calls",
    "Analysed calls not yet re-evaluated with the categories in force (the categories queue's backlog)",
    registry=REGISTRY,
)
LAST_INGEST = Gauge(
    "callsense_last_ingest_timestamp_seconds",
    "When the newest call was registered (Unix time); absent until the first call",
    registry=REGISTRY,
)
BLOB_STORE_FREE = Gauge(
    "callsense_blob_store_free_bytes", "Bytes free on the file system of the blob store", registry=REGISTRY
)
BLOB_STORE_SIZE = Gauge(
    "callsense_blob_store_size_bytes", "Size in bytes of the file system of the blob store", registry=REGISTRY
)
MODEL_LOAD_SECONDS = Gauge(
    "callsense_model_load_seconds",
    "Seconds the last load of a model took in this process, by kind (asr, llm) and model",
    ["kind", "model"],
    registry=REGISTRY,
)
REALTIME_FACTOR = Histogram(
    "callsense_transcription_realtime_factor",
    "Seconds the transcribe stage took per second of audio (decoding and translation included)",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 4),
    registry=REGISTRY,
)


class Queue(Protocol):
    """What the metrics read from the job queue: the module ``pipeline.queue_figures``."""

    def job_counts(self, *, session: Session) -> list[tuple[str, str, int]]: ...

    def oldest_due_seconds(self, *, session: Session) -> list[tuple[str, float]]: ...


def render(db: Database, *, queue: Queue, blob_dir: Path, categories_stale: int) -> bytes:
    """Refresh the database- and disk-backed gauges and render every metric in the text format;
    ``categories_stale``: calls the categories queue has yet to re-evaluate (``pipeline.categorise``)."""
    with db.transaction() as session:
        jobs = queue.job_counts(session=session)
        waits = queue.oldest_due_seconds(session=session)
        calls = session.execute(
            text("select status, count(*), extract(epoch from max(created_at)) from calls group by 1")
        ).all()
        outbox = session.execute(
            text("select destination, status, count(*) from deliveries group by 1, 2")
        ).all()
        given_up = session.execute(
            text("select source, count(*) from source_files where status = 'given_up' group by 1")
        ).all()
    JOBS.clear()
    QUEUE_DEPTH.clear()
    OLDEST_DUE.clear()
    CALLS.clear()
    for stage, state, count in jobs:
        JOBS.labels(stage=stage, state=state).set(count)
        if state == "todo":
            QUEUE_DEPTH.labels(stage=stage).set(count)
            OLDEST_DUE.labels(stage=stage).set(0)
    for stage, seconds in waits:
        OLDEST_DUE.labels(stage=stage).set(seconds)
    CATEGORIES_STALE.set(categories_stale)
    for call_status, count, _ in calls:
        CALLS.labels(status=call_status).set(count)
    if calls:
        LAST_INGEST.set(max(float(newest) for _, _, newest in calls))
    if blob_dir.is_dir():  # the filesystem blob store makes it on its first write
        disk = shutil.disk_usage(blob_dir)
        BLOB_STORE_FREE.set(disk.free)
        BLOB_STORE_SIZE.set(disk.total)
    SOURCE_FILES_GIVEN_UP.clear()
    for source, count in given_up:
        SOURCE_FILES_GIVEN_UP.labels(source=source).set(count)
    OUTBOX.clear()
    for destination, delivery_status, count in outbox:
        OUTBOX.labels(destination=destination, status=delivery_status).set(count)
    return generate_latest(REGISTRY)
