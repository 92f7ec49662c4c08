"""What an operator adds or changes in the database besides calls, measured so a restore can say what of it
is newer than the backup and would be lost: users, API tokens, deliveries, categories defined on the
dashboard.

A row counts as added after the backup when it was made after the newest row of its kind the backup holds
(``Manifest.newest_changes``). Deliveries and categories keep the time of their last change (``updated_at``),
compared the same way. Users and API tokens keep none (a new role or password, a user enabled again, leave no
time), so the backup records a fingerprint of what can be changed in each (``Manifest.fingerprints``); one
whose fingerprint differs from the backup's has changed.

A row counts as deleted after the backup when the backup holds it and the database no longer does: the
backup records the key of each row it holds (``Manifest.row_keys``; users and API tokens have theirs as the
fingerprints' keys). Deliveries are not looked for: one leaves the database only with its call, by an
erasure, which the restore does again (``erasures``).

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

__all__ = ["KINDS", "Kind", "Newer", "Recorded", "listed", "newer", "record"]


@dataclass(frozen=True)
class Kind:
    table: str
    one: str  # its name, for one row and for several
    several: str
    changed_at: str | None = None  # the column a change sets; None: changes are found by fingerprint
    fingerprinted: tuple[str, ...] = ()  # the columns a change may alter
    # The column naming a row, recorded to see deletions (None: found by fingerprint, or not looked for).
    key: str | None = None

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
    Kind("category_definitions", "category", "categories", changed_at="updated_at", key="name"),
)


@dataclass(frozen=True)
class Recorded:
    """What a backup records of its snapshot, by table: the newest row's time (a kind it holds none of is
    absent), the fingerprint of each fingerprinted row, by id, and the key of each row of a kind with one."""

    newest: dict[str, datetime]
    fingerprints: dict[str, dict[str, str]]
    row_keys: dict[str, list[str]]


@dataclass(frozen=True)
class Newer:
    kind: Kind
    added: int
    changed: int
    deleted: int

    def __str__(self) -> str:
        """``1 category added, 2 changed and 1 deleted``: the kind named with the first count."""
        counts = [(self.added, "added"), (self.changed, "changed"), (self.deleted, "deleted")]
        (first, what), *rest = [(count, what) for count, what in counts if count]
        return listed([f"{self.kind.named(first)} {what}", *(f"{count} {what}" for count, what in rest)])


def listed(words: list[str]) -> str:
    """``a, b and c``."""
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]


def record(connection: Connection) -> Recorded:
    """The newest change of each kind, the fingerprints and the rows' keys, in the transaction (the dump's
    snapshot) given."""
    newest: dict[str, datetime] = {}
    fingerprints: dict[str, dict[str, str]] = {}
    row_keys: dict[str, list[str]] = {}
    for kind, columns in _present(connection):
        latest = f"greatest(created_at, {kind.changed_at})" if kind.changed_at else "created_at"
        found = connection.execute(text(f"select max({latest}) from {kind.table}")).scalar_one()
        if found is not None:
            newest[kind.table] = found
        if kind.fingerprinted:
            fingerprints[kind.table] = _fingerprints(connection, kind, columns)
        if kind.key:
            row_keys[kind.table] = sorted(_keys(connection, kind))
    return Recorded(newest, fingerprints, row_keys)


def newer(
    connection: Connection,
    *,
    newest: dict[str, datetime] | None,
    fingerprints: dict[str, dict[str, str]] | None,
    row_keys: dict[str, list[str]] | None,
    made: datetime,
) -> list[Newer]:
    """The kinds the database holds rows of added or changed after the backup, or lacks rows of the backup's
    (deleted since), and how many. ``newest``, ``fingerprints`` and ``row_keys`` are the backup's (None: made
    before they were recorded, so its creation time ``made`` stands in, changes and deletions of users and
    tokens go unseen without ``fingerprints``, and deletions of categories without ``row_keys``)."""
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
            held_keys = set((row_keys or {}).get(kind.table, []))
            deleted = len(held_keys - _keys(connection, kind)) if kind.key else 0
        else:
            held = (fingerprints or {}).get(kind.table, {})
            now = _fingerprints(connection, kind, columns)
            changed = sum(1 for key, digest in now.items() if key in held and held[key] != digest)
            deleted = len(held.keys() - now.keys())
        if added or changed or deleted:
            found.append(Newer(kind, added, changed, deleted))
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


def _keys(connection: Connection, kind: Kind) -> set[str]:
    return {str(key) for key in connection.execute(text(f"select {kind.key} from {kind.table}")).scalars()}


def _digest(values: tuple[object, ...]) -> str:
    """SHA-256 of the values, times in UTC: the same whatever time zone the connection reads them in."""
    plain = [value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value for value in values]
    return hashlib.sha256(json.dumps(plain).encode()).hexdigest()
