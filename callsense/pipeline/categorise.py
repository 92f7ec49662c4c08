"""Re-evaluating stored calls' categories after a category changed: from the stored turns, analysis and
talk figures (no Whisper, no LLM), in batches of calls, one queue job per batch (``tasks.categorise``).

A batch is a range of call ids; its job evaluates the calls in the range that are stale (evaluated with
another revision of the categories, ``calls.categories``) with the categories in force when it runs, so a
job retried, duplicated or overtaken by another change does no harm and no wrong.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from callsense.calls import categories
from callsense.config.categories import Category
from callsense.pipeline import record_archive

if TYPE_CHECKING:
    from callsense.runtime import Runtime

BATCH_CALLS = 100  # calls per job: one transaction, their rows locked while they are evaluated

# Queues one job for the calls from the first id to the last; False when one is waiting for them already.
Defer = Callable[[uuid.UUID, uuid.UUID], bool]


def in_force(rt: Runtime, session: Session) -> list[Category]:
    return categories.in_force(session=session, configured=rt.settings.categories)


def run_batch(rt: Runtime, first: uuid.UUID, last: uuid.UUID) -> int:
    """Evaluate the stale calls from ``first`` to ``last`` (ids); returns how many."""
    with rt.db.transaction() as session:
        found = in_force(rt, session)
        stale = categories.stale_between(
            session=session, current=categories.revision(found), first=first, last=last
        )
        for call in stale:
            categories.categorise(session=session, call=call, keyring=rt.keyring, categories=found)
        evaluated = [call.id for call in stale]
    for call_pk in evaluated:  # after the commit, as the analyse stage does: the record holds committed state
        record_archive.write(rt, call_pk)
    return len(evaluated)


def stale_ranges(rt: Runtime, *, batch: int = BATCH_CALLS) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """The stale calls in batches, each as its first and last id: one job each."""
    with rt.db.transaction() as session:
        current = categories.revision(in_force(rt, session))
        return categories.stale_ranges(session=session, current=current, batch=batch)


def requeue(rt: Runtime, defer: Defer, *, batch: int = BATCH_CALLS) -> int:
    """Queue a job for every batch of stale calls; returns how many were queued."""
    return sum(defer(first, last) for first, last in stale_ranges(rt, batch=batch))


def progress(rt: Runtime) -> categories.Progress:
    with rt.db.transaction() as session:
        return categories.progress(session=session, current=categories.revision(in_force(rt, session)))
