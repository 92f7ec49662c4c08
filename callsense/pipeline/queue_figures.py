"""What the job queue holds, read from Procrastinate's tables: jobs per queue and state, how long the oldest
due job has waited, the workers registered. The metrics, the operations page and the readiness check read
these; ``tasks.py`` owns the queue itself."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def job_counts(*, session: Session) -> list[tuple[str, str, int]]:
    """Jobs in the queue as (queue, state, count), for the metrics and the operations page."""
    rows = session.execute(
        text("select queue_name, status::text, count(*) from procrastinate_jobs group by 1, 2")
    ).all()
    return [(queue, state, count) for queue, state, count in rows]


def oldest_due_seconds(*, session: Session) -> list[tuple[str, float]]:
    """Per queue, the seconds its oldest job that is due has waited (since it was deferred, or since its
    scheduled retry time): the metrics' sign of a stuck queue. Jobs scheduled for later are not waiting."""
    rows = session.execute(
        text(
            "select j.queue_name, extract(epoch from now() - min(coalesce(j.scheduled_at, e.at)))"
            " from procrastinate_jobs j"
            " join procrastinate_events e on e.job_id = j.id and e.type = 'deferred'"
            " where j.status = 'todo' and coalesce(j.scheduled_at, e.at) <= now() group by 1"
        )
    ).all()
    return [(queue, float(seconds)) for queue, seconds in rows]


def count_workers(*, session: Session) -> int:
    """Workers registered with the queue; reading it checks that the queue's tables are there."""
    return int(session.execute(text("select count(*) from procrastinate_workers")).scalar_one())
