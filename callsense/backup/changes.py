"""What an operator adds or changes in the database besides calls, measured so a restore can say what of it
is newer than the backup and would be lost: users, API tokens, deliveries, categories defined on the
dashboard.

A row counts as added after the backup when it was made after the newest row of its kind the backup holds
(``Manifest.newest_changes``). Deliveries and categories keep the time of their last change (``updated_at``),
compared the same way. Users and API tokens keep none (a new role or password, a user enabled again, leave no
time), so the backup records a fingerprint of what can be changed in each (``Manifest.fingerprints``); one
whose fingerprint differs from the backup's has changed.

Left out on purpose: what follows from calls (transcripts, analyses, events, categories of calls, retention
holds: a hold changes its call), what a source's poller rebuilds from the source (its files and status:
what it took after the backup is among the calls added), and what is short-lived (browser sessions, sign-in
attempts, webhook receipts).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, inspect, text

__all__ = ["KINDS", "Kind", "Newer", "Recorded", "newer", "record"]


@dataclass(frozen=True)
class Kind:
    table: str
    one: str  # its name, for one row and for several
    several: str
    changed_at: str | None = None  # the column a change sets; None: changes are found by fingerprint
    fingerprinted: tuple[str, ...] = ()  # the columns a change may alter

    def named(self, count: int) -> str:
        return f"{count} {self.one if count == 1 else self.several}"


KINDS = (
    Kind(
        "users",
        "user",
        "users",
        fingerprinted=("username", "role", "sees_sensitive", "password_hash", "disabled_at"),
    ),
    Kind(
        "api_tokens",
        "API token",
        "API tokens",
        fingerprinted=("name", "role", "sees_sensitive", "token_sha256", "revoked_at"),
    ),
    Kind("deliveries", "delivery", "deliveries", changed_at="updated_at"),
    Kind("category_definitions", "category", "categories", changed_at="updated_at"),
)


@dataclass(frozen=True)
class Recorded:
    """What a backup records of its snapshot, by table: the newest row's time (a kind it holds none of is
    absent), and the fingerprint of each fingerprinted row, by id."""

    newest: dict[str, datetime]
    fingerprints: dict[str, dict[str, str]]


@dataclass(frozen=True)
class Newer:
    kind: Kind
    added: int
    changed: int

    def __str__(self) -> str:
        if not self.added:
            return f"{self.kind.named(self.changed)} changed"
        changed = f" and {self.changed} changed" if self.changed else ""
        return f"{self.kind.named(self.added)} added{changed}"


def record(connection: Connection) -> Recorded:
    """The newest change of each kind and the fingerprints, in the transaction (the dump's snapshot) given."""
    newest: dict[str, datetime] = {}
    fingerprints: dict[str, dict[str, str]] = {}
    for kind, columns in _present(connection):
        latest = f"greatest(created_at, {kind.changed_at})" if kind.changed_at else "created_at"
        found = connection.execute(text(f"select max({latest}) from {kind.table}")).scalar_one()
        if found is not None:
            newest[kind.table] = found
        if kind.fingerprinted:
            fingerprints[kind.table] = _fingerprints(connection, kind, columns)
    return Recorded(newest, fingerprints)


def newer(
    connection: Connection,
    *,
    newest: dict[str, datetime] | None,
    fingerprints: dict[str, dict[str, str]] | None,
    made: datetime,
) -> list[Newer]:
    """The kinds the database holds rows of added or changed after the backup, and how many. ``newest`` and
    ``fingerprints`` are the backup's (None: made before they were recorded, so its creation time ``made``
    stands in and changes to users and tokens go unseen)."""
    found = []
    for kind, columns in _present(connection):
        # A backup that recorded the kinds and holds none of this one: every row is newer.
        since = made if newest is None else newest.get(kind.table, datetime.min.replace(tzinfo=UTC))
        added = connection.execute(
            text(f"select count(*) from {kind.table} where created_at > :since"), {"since": since}
        ).scalar_one()
        if kind.changed_at:
            changed = connection.execute(
                text(
                    f"select count(*) from {kind.table}"
                    f" where created_at <= :since and {kind.changed_at} > :since"
                ),
                {"since": since},
            ).scalar_one()
        else:
            held = (fingerprints or {}).get(kind.table, {})
            now = _fingerprints(connection, kind, columns)
            changed = sum(1 for key, digest in now.items() if key in held and held[key] != digest)
        if added or changed:
            found.append(Newer(kind, added, changed))
    return found


def _present(connection: Connection) -> list[tuple[Kind, list[str]]]:
    """The kinds whose table the database has, each with the fingerprinted columns it has: a database not
    yet upgraded (a backup before 'db upgrade', or a restore over one) lacks the later ones."""
    schema = inspect(connection)
    present = []
    for kind in KINDS:
        if schema.has_table(kind.table):
            columns = {column["name"] for column in schema.get_columns(kind.table)}
            present.append((kind, [name for name in kind.fingerprinted if name in columns]))
    return present


def _fingerprints(connection: Connection, kind: Kind, columns: list[str]) -> dict[str, str]:
    rows = connection.execute(text(f"select id, {', '.join(columns)} from {kind.table}"))
    return {str(row[0]): _digest(row[1:]) for row in rows}


def _digest(values: tuple[object, ...]) -> str:
    """SHA-256 of the values, times in UTC: the same whatever time zone the connection reads them in."""
    plain = [value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value for value in values]
    return hashlib.sha256(json.dumps(plain).encode()).hexdigest()
