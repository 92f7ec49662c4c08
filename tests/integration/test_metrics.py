"""The gauges /metrics reads at scrape time, on a real PostgreSQL: the last ingest, how long the oldest due
job of each stage has waited (the stuck-queue alert), and the blob store's disk."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from callsense import metrics
from callsense.config import Settings
from callsense.pipeline import ingest, queue_figures, tasks
from callsense.runtime import Runtime, open_runtime


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = open_runtime(settings)
    yield runtime
    runtime.db.close()


def _scrape(rt: Runtime) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    blobs = rt.settings.resolved_blob_dir
    body = metrics.render(rt.db, queue=queue_figures, blob_dir=blobs, categories_stale=0).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def test_scrape_time_gauges_follow_the_database_and_the_disk(rt: Runtime) -> None:
    before = time.time()
    call_pk = ingest.ingest(rt, call_id="metrics-1", source="https://recorder.example/a.wav").call_pk
    app = tasks.build_app(rt)
    with app.open():
        tasks.defer_stage(app, "fetch", call_pk)
    rt.blobs.put("probe", [b"x"])  # the filesystem store makes its directory on the first write

    scraped = _scrape(rt)
    assert before - 1 <= scraped[("callsense_last_ingest_timestamp_seconds", ())] <= time.time() + 1
    assert 0 <= scraped[("callsense_queue_oldest_due_seconds", (("stage", "fetch"),))] < 60
    free = scraped[("callsense_blob_store_free_bytes", ())]
    assert 0 < free <= scraped[("callsense_blob_store_size_bytes", ())]

    # Nobody took the job for 20 minutes: the figure the stuck-queue alert compares with 15 minutes.
    with rt.db.transaction() as session:
        session.execute(text("update procrastinate_events set at = at - interval '20 minutes'"))
    assert 1200 <= _scrape(rt)[("callsense_queue_oldest_due_seconds", (("stage", "fetch"),))] < 1260

    # A retry scheduled for later is not waiting for a worker yet.
    with rt.db.transaction() as session:
        session.execute(text("update procrastinate_jobs set scheduled_at = now() + interval '5 minutes'"))
    assert _scrape(rt)[("callsense_queue_oldest_due_seconds", (("stage", "fetch"),))] == 0
