"""Key rotation: a new active key, then every stored ciphertext re-encrypted under it, in batches of calls.

The database columns to rotate are read from the models: every ``LargeBinary`` column named ``*_enc`` of
every table, each bound to the context field it declares (``models.encrypted``), so a new encrypted column
is rotated without being listed here. Each batch holds its calls' row locks, which every writer of a call
takes too (``calls.lock``), so a stage storing a recording or a transcript meanwhile waits instead of racing
the rewrite.

Safe to interrupt and run again: values already under the active key are skipped. Old keys are retired only
after a count over every encrypted column and every recording finds nothing left under them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Column, ColumnElement, LargeBinary, Table, func, or_, select, update
from sqlalchemy.orm import Session

from callsense.calls import service as calls
from callsense.calls import users as _users  # noqa: F401  (registers the dashboard's tables, as migrations do)
from callsense.calls.models import Base, Call
from callsense.crypto import KeyRing, envelope_prefix
from callsense.db import Database
from callsense.errors import ConfigError

# Calls per transaction: their row locks are held while their recordings are re-encrypted.
BATCH_CALLS = 20
# The advisory lock id that a running rotation holds ("cs-keys" in ASCII).
_ROTATION_LOCK = 0x63732D6B657973


class Blobs(Protocol):
    """What rotation asks of the blob store (``backends.blobstore.BlobStore``), named here so that security
    does not depend on the back-ends."""

    def get(self, key: str) -> bytes: ...

    def put(self, key: str, data: bytes) -> None: ...


class Stores(Protocol):
    """Where ciphertexts are kept, and the ring they are under (a ``Runtime`` is one)."""

    @property
    def db(self) -> Database: ...

    @property
    def keyring(self) -> KeyRing: ...

    @property
    def blobs(self) -> Blobs: ...


@dataclass(frozen=True)
class EncryptedColumn:
    """A column of ciphertexts, and the column of its table naming the call whose context binds them."""

    column: Column[Any]
    call_pk: Column[Any]


@dataclass
class RotationReport:
    new_key: str
    rows: int = 0
    blobs: int = 0
    retired: set[str] = field(default_factory=set)


def encrypted_columns() -> tuple[EncryptedColumn, ...]:
    """Every ``LargeBinary`` column named ``*_enc`` of every mapped table."""
    return tuple(
        EncryptedColumn(column, _call_pk_column(table))
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("_enc") and isinstance(column.type, LargeBinary)
    )


def _call_pk_column(table: Table) -> Column[Any]:
    calls_id = Base.metadata.tables[Call.__tablename__].c.id
    if table is calls_id.table:
        return calls_id
    owners = [column for column in table.columns if column.references(calls_id)]
    if len(owners) != 1:
        raise TypeError(f"table {table.name} holds ciphertexts but no single column names its call")
    return owners[0]


def rotate(rt: Stores, *, retire_old: bool, batch_calls: int = BATCH_CALLS) -> RotationReport:
    with _only_rotation(rt):
        report = RotationReport(new_key=rt.keyring.rotate())
        by_table: dict[Table, list[EncryptedColumn]] = {}
        for item in encrypted_columns():
            by_table.setdefault(item.column.table, []).append(item)
        after: uuid.UUID | None = None
        while True:
            with rt.db.transaction() as session:
                batch = _lock_calls(session, after=after, limit=batch_calls)
                if not batch:
                    break
                call_pks = [call_pk for call_pk, _ in batch]
                for columns in by_table.values():
                    report.rows += _reencrypt_rows(session, rt.keyring, columns, call_pks)
                for _, blob_keys in batch:
                    for blob_key, blob_context in blob_keys:
                        report.blobs += _reencrypt_blob(rt, blob_key, blob_context)
                after = max(call_pks)
        if retire_old:
            report.retired = retire_old_keys(rt)
        return report


@contextmanager
def _only_rotation(rt: Stores) -> Iterator[None]:
    """Refuse a second rotation while one runs, from any host: it could retire the key the first one is
    re-encrypting under.

    A session-level advisory lock, not a transaction: it holds no rows and ends with the connection."""
    with rt.db.engine.connect() as connection:
        taken = connection.execute(select(func.pg_try_advisory_lock(_ROTATION_LOCK))).scalar_one()
        connection.commit()
        if not taken:
            raise ConfigError("another key rotation is running on this database; wait for it to finish")
        try:
            yield
        finally:
            connection.execute(select(func.pg_advisory_unlock(_ROTATION_LOCK)))
            connection.commit()


def retire_old_keys(rt: Stores) -> set[str]:
    """Forget every key but the active one; refuses while anything stored is still under another key."""
    keyring = rt.keyring
    old = set(keyring.key_ids - {keyring.active_key_id})
    rows, blobs = count_not_under_active(rt)
    if rows or blobs:
        raise ConfigError(
            f"not retiring {', '.join(sorted(old))}: {rows} database values and {blobs} recordings are not "
            f"under the active key {keyring.active_key_id} (written during the rotation by a process that "
            "did not see the new key?); run 'callsense keys rotate --retire-old' again"
        )
    for key_id in old:
        keyring.retire(key_id)
    return old


def count_not_under_active(rt: Stores) -> tuple[int, int]:
    """Database values and recordings sealed under any key but the active one (or under none we know)."""
    active = rt.keyring.active_key_id
    with rt.db.transaction() as session:
        rows = sum(
            session.scalar(
                select(func.count()).select_from(item.column.table).where(_not_under(item.column, active))
            )
            or 0
            for item in encrypted_columns()
        )
        blob_keys = [
            key
            for row in session.execute(select(Call.audio_blob, Call.redacted_audio_blob))
            for key in row
            if key is not None
        ]
    blobs = sum(rt.keyring.needs_rotation(rt.blobs.get(key)) for key in blob_keys)
    return rows, blobs


def _not_under(column: Column[Any], key_id: str) -> ColumnElement[bool]:
    """True where the column holds a ciphertext of another key (read from its header, in the database)."""
    prefix = envelope_prefix(key_id)
    return func.substring(column, 1, len(prefix), type_=LargeBinary) != prefix


def _lock_calls(
    session: Session, *, after: uuid.UUID | None, limit: int
) -> Sequence[tuple[uuid.UUID, list[tuple[str, str]]]]:
    """The next calls by id, with the blob keys and contexts of their recordings (the original, the
    redacted copy), locked as ``calls.lock`` locks one."""
    query = (
        select(Call.id, Call.audio_blob, Call.redacted_audio_blob)
        .order_by(Call.id)
        .limit(limit)
        .with_for_update()
    )
    if after is not None:
        query = query.where(Call.id > after)
    return [
        (row.id, _recordings(row.id, row.audio_blob, row.redacted_audio_blob))
        for row in session.execute(query)
    ]


def _recordings(call_pk: uuid.UUID, original: str | None, redacted: str | None) -> list[tuple[str, str]]:
    keys = [(original, calls.audio_context(call_pk)), (redacted, calls.redacted_audio_context(call_pk))]
    return [(key, blob_context) for key, blob_context in keys if key is not None]


def _reencrypt_rows(
    session: Session, keyring: KeyRing, columns: list[EncryptedColumn], call_pks: list[uuid.UUID]
) -> int:
    """Re-encrypt the values of one table's encrypted ``columns`` that belong to these calls."""
    table = columns[0].column.table
    owner = columns[0].call_pk
    primary = list(table.primary_key.columns)
    stale = or_(*(_not_under(item.column, keyring.active_key_id) for item in columns))
    selected = list(dict.fromkeys([*primary, owner, *(item.column for item in columns)]))
    query = select(*selected).where(owner.in_(call_pks), stale).with_for_update()
    count = 0
    for row in session.execute(query):
        values = row._mapping
        rotated = {
            item.column.name: keyring.reencrypt(
                values[item.column], context=calls.column_context(values[owner], item.column)
            )
            for item in columns
            if values[item.column] is not None and keyring.needs_rotation(values[item.column])
        }
        session.execute(update(table).where(*(key == values[key] for key in primary)).values(rotated))
        count += len(rotated)
    return count


def _reencrypt_blob(rt: Stores, blob_key: str, blob_context: str) -> bool:
    value = rt.blobs.get(blob_key)
    if not rt.keyring.needs_rotation(value):
        return False
    rt.blobs.put(blob_key, rt.keyring.reencrypt(value, context=blob_context))
    return True
