"""The database a restore goes into: what it holds against the backup, refused where restoring over it would
lose calls (or users, API tokens, deliveries, categories: ``changes``) the backup lacks, or bring back those
deleted since, then emptied for the restore.

A call counts as newer than the backup when it was added, or changed (analysed, delivered, edited), after the
latest change to a call the backup holds (``Manifest.newest_change``: the dump's snapshot; a backup made
before that was recorded stands in with its creation time). A database restored from this same backup, and
untouched since, holds nothing newer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text

from callsense.backup import changes
from callsense.backup.manifest import Manifest
from callsense.db import Database, running_workers
from callsense.errors import BackupError

__all__ = ["Target", "check", "describe", "make_room", "survey"]


@dataclass(frozen=True)
class Target:
    shown: str  # the database's URL, without its password
    tables: int
    calls: int | None  # None: it has no calls table (not a callsense database)
    newest_call: datetime | None  # when its newest call arrived
    added: int  # calls that arrived after the backup's last change
    changed: int  # calls it holds too, changed since
    others: tuple[changes.Newer, ...] = ()  # the other kinds it holds added or changed, or lacks, since

    @property
    def newer(self) -> bool:
        return bool(self.added or self.changed or self.others)


def survey(db: Database, backup: Manifest) -> Target:
    since = _since(backup)
    with db.transaction() as session:
        tables = session.execute(
            text(
                "select count(*) from pg_tables where schemaname not in ('pg_catalog', 'information_schema')"
            )
        ).scalar_one()
        if not session.execute(text("select to_regclass('public.calls') is not null")).scalar_one():
            return Target(db.url_for_display, tables, calls=None, newest_call=None, added=0, changed=0)
        calls, newest, added, changed = session.execute(
            text(
                "select count(*), max(created_at), count(*) filter (where created_at > :since),"
                " count(*) filter (where created_at <= :since and updated_at > :since) from calls"
            ),
            {"since": since},
        ).one()
        others = changes.newer(
            session.connection(),
            newest=backup.newest_changes,
            fingerprints=backup.fingerprints,
            row_keys=backup.row_keys,
            made=backup.created_at,
        )
    return Target(db.url_for_display, tables, calls, newest, added, changed, tuple(others))


def describe(backup: Manifest, target: Target) -> str:
    """The backup against the database it would replace, for the operator to see before anything changes."""
    last = f", the last added or changed {_at(backup.newest_change)}" if backup.newest_change else ""
    made = f"this backup: made {_at(backup.created_at)}, {backup.calls} calls{last}"
    return f"{made}\nthe database it goes into ({target.shown}): {_contents(backup, target)}"


def check(backup: Manifest, target: Target, *, force: bool, replace_newer: bool) -> None:
    """Refuse to replace calls (or other kinds) newer than the backup, or to bring back rows deleted since,
    without ``replace_newer``, and any database that is not empty without ``force`` (or ``replace_newer``,
    which includes it)."""
    if target.newer and not replace_newer:
        lacking = ["calls"] if target.added or target.changed else []
        lacking += [other.kind.several for other in target.others if other.added or other.changed]
        deleted = [other.kind.several for other in target.others if other.deleted]
        differs = [f"holds {changes.listed(lacking)} this backup lacks"] if lacking else []
        differs += [f"lacks {changes.listed(deleted)} this backup holds"] if deleted else []
        undone = "undo those changes" if deleted else "lose them"
        anyway = "bring them back" if not lacking else "replace them" if not deleted else "restore it"
        raise BackupError(
            f"the database ({target.shown}) {' and '.join(differs)}: {_contents(backup, target)}; "
            f"this backup was made {_at(backup.created_at)} with {backup.calls} calls. Restoring it would "
            f"{undone}: restore a newer backup, or into an empty database, or pass --replace-newer to "
            f"{anyway} anyway"
        )
    if target.tables and not (force or replace_newer):
        raise BackupError(
            f"the database ({target.shown}) is not empty ({_contents(backup, target)}): restore into an "
            "empty database, or pass --force to replace its contents"
        )


def make_room(db: Database, target: Target, *, stalled_after_s: float) -> None:
    """Empty the database for the restore (schema ``public`` holds all of ours) once no process runs on it."""
    if not target.tables:
        return
    running = running_workers(db.engine, stalled_after_s=stalled_after_s)
    if running:  # they would go on with the keys and the rows they had, over the restored database
        raise BackupError(
            f"{running} callsense process(es) ('serve' or 'worker') still run on the database "
            f"({db.url_for_display}; a queue heartbeat within {stalled_after_s:g} s): stop every "
            "callsense process, on every machine, before restoring over it"
        )
    with db.transaction() as session:
        session.execute(text("drop schema public cascade"))
        session.execute(text("create schema public"))


def _contents(backup: Manifest, target: Target) -> str:
    if not target.tables:
        return "empty"
    if target.calls is None:
        return f"{target.tables} tables, no callsense calls"
    others = f"; {', '.join(map(str, target.others))} after the backup" if target.others else ""
    if target.newest_call is None:
        return f"{target.tables} tables, no calls{others}"
    since = f"after this backup's last change ({_at(_since(backup))})"
    calls = target.added or target.changed
    newer = f"{target.added} added and {target.changed} changed {since}" if calls else f"none {since}"
    return (
        f"{target.tables} tables, {target.calls} calls, the newest added {_at(target.newest_call)}; "
        f"{newer}{others}"
    )


def _since(backup: Manifest) -> datetime:
    return backup.newest_change or backup.created_at


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
