"""The retention purge: recordings older than their rule's ``audio_days`` leave the blob store, transcripts
and analyses older than ``text_days`` leave the database; held calls and calls still in the pipeline stay.

Each call follows the rule of the source that took it (``retention.sources.<name>``), else the default. The
purge works in batches, one transaction each, taking only calls no one else has locked, so it can run beside
the workers and again at any time: a call already purged no longer matches. It first marks the due calls
purged (``audio_purged_at``, ``text_purged_at``, committed), then deletes what the marked calls still
store: a purge killed in between leaves the calls marked, a hold placed then says what the purge took,
and the next purge deletes the rest. A run writes one audit event
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
from callsense.pipeline import kept_answers, record_archive

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
            _mark_or_count(rt, due, report.audio, dry_run=dry_run, mark=retention.mark_audio)
        if group.policy.text_days is not None:
            due = retention.text_due(group.condition, days=group.policy.text_days, now=now)
            _mark_or_count(rt, due, report.text, dry_run=dry_run, mark=retention.mark_text)
    if dry_run:
        return report
    # Everything marked, by this run or by one killed before it could finish, is deleted now.
    _forget_marked(rt, retention.audio_marked(), report.audio, forget=_forget_audio)
    _forget_marked(rt, retention.text_marked(), report.text, forget=_forget_text)
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


Mark = Callable[[list[Call]], None]
Forget = Callable[["Runtime", Session, list[Call]], None]


def _mark_or_count(
    rt: Runtime, due: list[ColumnElement[bool]], counts: Counter[str], *, dry_run: bool, mark: Mark
) -> None:
    """Count the due calls (``dry_run``), or mark them purged: a batch a transaction, each committed before
    anything of theirs is deleted, so that a hold placed from then on finds the call's record truthful."""
    if dry_run:
        with rt.db.transaction() as session:
            for source, count in retention.count_by_source(session=session, due=due).items():
                counts[_label(source)] += count
        return
    _in_batches(rt, due, lambda _session, claimed: mark(claimed))


def _forget_marked(
    rt: Runtime, marked: list[ColumnElement[bool]], counts: Counter[str], *, forget: Forget
) -> None:
    def forget_and_count(session: Session, claimed: list[Call]) -> None:
        forget(rt, session, claimed)
        counts.update(_label(call.source_name) for call in claimed)

    _in_batches(rt, marked, forget_and_count)


def _in_batches(
    rt: Runtime, matching: list[ColumnElement[bool]], act: Callable[[Session, list[Call]], None]
) -> None:
    """``act`` on the calls ``matching``, locked, a batch a transaction, until a batch comes short; ``act``
    must make them no longer match."""
    batch = rt.settings.retention.batch_size
    while True:
        with rt.db.transaction() as session:
            claimed = retention.claim(session=session, due=matching, limit=batch)
            act(session, claimed)
        if len(claimed) < batch:
            return


def _forget_audio(rt: Runtime, session: Session, claimed: list[Call]) -> None:
    for call in claimed:
        # Deleted inside the transaction: if the commit then fails, the call stays marked (``mark_audio``)
        # with its keys, and the next purge deletes them again.
        # Both keys, named by the row or not: an original that redaction's discard missed goes too.
        rt.blobs.delete(calls.audio_blob_key(call.id))
        rt.blobs.delete(calls.redacted_audio_blob_key(call.id))
        retention.forget_audio(call=call)


def _forget_text(rt: Runtime, session: Session, claimed: list[Call]) -> None:
    if claimed:
        for call in claimed:  # inside the transaction, as the recordings: a failed commit leaves it marked
            record_archive.delete(rt, call.id)
            kept_answers.delete(rt, call.id)
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
