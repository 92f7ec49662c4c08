"""The retention purge: recordings older than their rule's ``audio_days`` leave the blob store, transcripts
and analyses older than ``text_days`` leave the database; held calls and calls still in the pipeline stay.

Each call follows the rule of the source that took it (``retention.sources.<name>``), else the default. The
purge works in batches, one transaction each, taking only calls no one else has locked, so it can run beside
the workers and again at any time: a call already purged no longer matches. A run writes one audit event
with how many calls it purged per source, never which. ``--dry-run`` counts without changing anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import procrastinate
import structlog
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from callsense import metrics
from callsense.calls import retention
from callsense.calls import service as calls
from callsense.calls.models import Call, utcnow
from callsense.config.retention import Policy, RetentionSettings
from callsense.pipeline import record_archive

if TYPE_CHECKING:
    from callsense.runtime import Runtime

log = structlog.get_logger(__name__)
# How the report names calls no configured source took.
NO_SOURCE = "(webhook, API, CLI)"
# One waiting and one running purge, whichever worker runs it.
PURGE_LOCK = "retention-purge"


@dataclass(frozen=True)
class Group:
    """Calls that follow one rule: those some sources took, or (``others``) every call the overriding
    sources did not take."""

    policy: Policy
    condition: ColumnElement[bool]


@dataclass
class PurgeReport:
    """Calls whose recording (``audio``) and whose text (``text``) were purged, or would be, per source."""

    dry_run: bool
    audio: Counter[str] = field(default_factory=Counter)
    text: Counter[str] = field(default_factory=Counter)

    @property
    def sources(self) -> list[str]:
        return sorted(set(self.audio) | set(self.text))

    def summary(self) -> str:
        """Counts only, for the audit trail: never a call id."""
        per_source = ", ".join(f"{name}: {self.audio[name]}/{self.text[name]}" for name in self.sources)
        total = f"recordings of {sum(self.audio.values())} calls, text of {sum(self.text.values())} calls"
        return f"{total} (audio/text per source: {per_source})" if per_source else total


def groups(settings: RetentionSettings) -> list[Group]:
    """One group per distinct rule of a source that overrides the default, and the default's group."""
    overriding = sorted(settings.sources)
    by_policy: dict[Policy, list[str]] = {}
    for name in overriding:
        by_policy.setdefault(settings.policy(name), []).append(name)
    found = [Group(policy, retention.in_group(names, others=None)) for policy, names in by_policy.items()]
    found.append(Group(settings.default, retention.in_group([], others=overriding)))
    return found


def _label(source: str | None) -> str:
    return source if source is not None else NO_SOURCE


def purge(rt: Runtime, *, actor: str, dry_run: bool = False) -> PurgeReport:
    """Purge what the retention settings say is due (or, ``dry_run``, count it); see the module's doc."""
    now = utcnow()
    report = PurgeReport(dry_run=dry_run)
    for group in groups(rt.settings.retention):
        if group.policy.audio_days is not None:
            due = retention.audio_due(group.condition, days=group.policy.audio_days, now=now)
            _purge_part(rt, due, report.audio, dry_run=dry_run, forget=_forget_audio)
        if group.policy.text_days is not None:
            due = retention.text_due(group.condition, days=group.policy.text_days, now=now)
            _purge_part(rt, due, report.text, dry_run=dry_run, forget=_forget_text)
    if not dry_run:
        with rt.db.transaction() as session:
            calls.add_event(
                session=session,
                call_pk=None,
                stage=retention.RETENTION_STAGE,
                kind="purged",
                detail=report.summary(),
                actor=actor,
            )
        metrics.CALLS_FORGOTTEN.labels(what="audio").inc(sum(report.audio.values()))
        metrics.CALLS_FORGOTTEN.labels(what="text").inc(sum(report.text.values()))
        log.info("retention purge", summary=report.summary())
    return report


Forget = Callable[["Runtime", Session, list[Call]], None]


def _purge_part(
    rt: Runtime, due: list[ColumnElement[bool]], counts: Counter[str], *, dry_run: bool, forget: Forget
) -> None:
    if dry_run:
        with rt.db.transaction() as session:
            for source, count in retention.count_by_source(session=session, due=due).items():
                counts[_label(source)] += count
        return
    batch = rt.settings.retention.batch_size
    while True:
        with rt.db.transaction() as session:
            claimed = retention.claim(session=session, due=due, limit=batch)
            forget(rt, session, claimed)
            counts.update(_label(call.source_name) for call in claimed)
        if len(claimed) < batch:
            return


def _forget_audio(rt: Runtime, session: Session, claimed: list[Call]) -> None:
    for call in claimed:
        # Deleted inside the transaction: if the commit then fails, the next purge deletes them again.
        # Both keys, named by the row or not: an original that redaction's discard missed goes too.
        rt.blobs.delete(calls.audio_blob_key(call.id))
        rt.blobs.delete(calls.redacted_audio_blob_key(call.id))
        retention.forget_audio(call=call)


def _forget_text(rt: Runtime, session: Session, claimed: list[Call]) -> None:
    if claimed:
        for call in claimed:  # inside the transaction, as the recordings: a failed commit deletes it again
            record_archive.delete(rt, call.id)
        retention.forget_text(session=session, call_pks=[call.id for call in claimed])


def schedule(rt: Runtime) -> procrastinate.Blueprint:
    """The purge as a periodic task on the maintenance queue at ``retention.purge_cron``, when some rule
    purges anything (``tasks.build_app`` adds it)."""
    blueprint = procrastinate.Blueprint()
    if rt.settings.retention.active:

        @blueprint.periodic(
            cron=rt.settings.retention.purge_cron,
            periodic_id=PURGE_LOCK,
            queueing_lock=PURGE_LOCK,
            lock=PURGE_LOCK,
        )
        @blueprint.task(name="purge", queue="maintenance")
        def purge_due(timestamp: int) -> None:
            purge(rt, actor="worker")

    return blueprint
