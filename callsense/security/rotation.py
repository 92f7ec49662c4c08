"""Key rotation, and the migration in place to envelope encryption and to recordings in segments.

Each call's ciphertexts are sealed under its own data key, and only the data keys are wrapped by the key
ring (``calls/datakeys.py``). Rotating makes a new active key and re-wraps every data key: no column and no
recording is rewritten. What is left from older versions is converted in place, call by call, by the same
pass that ``callsense keys migrate-envelope`` runs alone: ciphertexts still sealed directly by a ring key
(version 1: written before envelope encryption) go under the call's data key, so they stay readable after
their ring key is retired; and recordings sealed whole (versions 1 and 2: written before segments) are
sealed again in segments (version 3), so they are read a segment at a time, never whole into memory.

The database columns are read from the models: every ``LargeBinary`` column named ``*_enc`` of every table,
each bound to the context field it declares (``models.encrypted``), so a new encrypted column is converted
without being listed here; they stay whole messages. Each batch holds its calls' row locks, which every
writer of a call takes too (``calls.lock``), so a stage storing a recording or a transcript meanwhile waits
instead of racing the rewrite. A call is marked (``call_keys.enveloped_at``) once all of it is under its
data key and its recordings are in segments: later passes read the recordings of unmarked calls only, and
the columns' version bytes in the database. Schema 0013 unmarks the calls whose recordings may be whole.

Safe to interrupt and run again: what is already under a data key and in segments is skipped, and a
recording is replaced only once its new version is whole (the blob store's put is atomic). Old keys are
retired only after a count finds no data key, database value or recording left under them.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Column, ColumnElement, LargeBinary, Select, Table, func, or_, select, union, update
from sqlalchemy.orm import Session

from callsense import streamcipher
from callsense.calls import datakeys
from callsense.calls import service as calls
from callsense.calls import users as _users  # noqa: F401  (registers the dashboard's tables, as migrations do)
from callsense.calls.models import Base, Call, CallKey
from callsense.crypto import DIRECT_VERSION, HEAD_BYTES, KeyRing, envelope_prefix
from callsense.db import Database
from callsense.errors import ConfigError, NotFoundError

# Calls per transaction: their row locks are held while their recordings are re-encrypted.
BATCH_CALLS = 20
# Data keys re-wrapped per transaction.
BATCH_KEYS = 500
# The advisory lock id that a running rotation holds ("cs-keys" in ASCII).
_ROTATION_LOCK = 0x63732D6B657973


class Blobs(Protocol):
    """What rotation asks of the blob store (``backends.blobstore.BlobStore``), named here so that security
    does not depend on the back-ends."""

    def open(self, key: str) -> io.BufferedIOBase: ...

    def put(self, key: str, chunks: Iterable[bytes]) -> None: ...


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
    """``new_key`` is None for a migration alone; ``rows`` and ``blobs`` count what was moved from a ring key
    to a data key, ``segmented`` the recordings already under a data key that were sealed whole."""

    new_key: str | None
    data_keys: int = 0
    calls: int = 0
    rows: int = 0
    blobs: int = 0
    segmented: int = 0
    missing_blobs: int = 0  # recordings a call names that the blob store does not hold
    retired: set[str] = field(default_factory=set)


class Progress(Protocol):
    def __call__(self, done: int, total: int) -> None:
        """``done`` of ``total`` calls checked by the migration."""


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


def rotate(
    rt: Stores, *, retire_old: bool, batch_calls: int = BATCH_CALLS, progress: Progress | None = None
) -> RotationReport:
    """A new active key, every data key re-wrapped under it, and whatever a ring key still seals directly
    converted to its call's data key; then, if asked, the old keys retired."""
    with _only_rotation(rt):
        _use_data_keys(rt)
        report = RotationReport(new_key=rt.keyring.rotate())
        report.data_keys = datakeys.rewrap(rt.db, rt.keyring, batch=BATCH_KEYS)
        _migrate(rt, report, batch_calls=batch_calls, progress=progress)
        if retire_old:
            report.retired = retire_old_keys(rt)
        return report


def migrate_envelope(
    rt: Stores, *, batch_calls: int = BATCH_CALLS, progress: Progress | None = None
) -> RotationReport:
    """Convert every ciphertext a ring key still seals directly to its call's data key, and every recording
    sealed whole to segments; resumable."""
    with _only_rotation(rt):
        _use_data_keys(rt)
        report = RotationReport(new_key=None)
        _migrate(rt, report, batch_calls=batch_calls, progress=progress)
        return report


def _use_data_keys(rt: Stores) -> None:
    """Seal under data keys even where the runtime was built without them (tests, tools)."""
    rt.keyring.use_data_keys(datakeys.DataKeyStore(rt.db, rt.keyring))


def _migrate(rt: Stores, report: RotationReport, *, batch_calls: int, progress: Progress | None) -> None:
    by_table: dict[Table, list[EncryptedColumn]] = {}
    for item in encrypted_columns():
        by_table.setdefault(item.column.table, []).append(item)
    with rt.db.transaction() as session:
        total = session.scalar(select(func.count()).select_from(_unmigrated().subquery())) or 0
    after: uuid.UUID | None = None
    while True:
        with rt.db.transaction() as session:
            batch = _lock_calls(session, after=after, limit=batch_calls)
            if not batch:
                break
            call_pks = [call_pk for call_pk, _ in batch]
            for columns in by_table.values():
                report.rows += _envelope_rows(session, rt.keyring, columns, call_pks)
            for _, recordings in batch:
                for blob_key, blob_context in recordings:
                    _segment_blob(rt, blob_key, blob_context, report)
            session.execute(
                update(CallKey)
                .where(CallKey.call_pk.in_(call_pks), CallKey.destroyed_at.is_(None))
                .values(enveloped_at=func.now())
            )
            after = max(call_pks)
        report.calls += len(batch)
        if progress is not None:
            progress(min(report.calls, total), total)


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
    data_keys, rows, blobs = count_not_under_active(rt)
    if data_keys or rows or blobs:
        raise ConfigError(
            f"not retiring {', '.join(sorted(old))}: {data_keys} data keys, {rows} database values and "
            f"{blobs} recordings are not under the active key {keyring.active_key_id} (written during the "
            "rotation by a process that did not see the new key?); run 'callsense keys rotate --retire-old' "
            "again"
        )
    for key_id in old:
        keyring.retire(key_id)
    return old


def count_not_under_active(rt: Stores) -> tuple[int, int, int]:
    """Data keys, database values and recordings sealed by any ring key but the active one (or by one we do
    not know). Recordings are read for the calls the migration has not marked only."""
    active = rt.keyring.active_key_id
    with rt.db.transaction() as session:
        data_keys = datakeys.wrapped_elsewhere(session, active)
        rows = sum(
            session.scalar(
                select(func.count())
                .select_from(item.column.table)
                .where(_direct(item.column), _not_under(item.column, active))
            )
            or 0
            for item in encrypted_columns()
        )
        blob_keys = [key for row in session.execute(_unmigrated()) for key in row[1:] if key is not None]
    blobs = sum(rt.keyring.needs_rotation(_head(rt, key)) for key in blob_keys)
    return data_keys, rows, blobs


def _head(rt: Stores, blob_key: str) -> bytes:
    """The first bytes of a blob, enough to tell which key sealed it."""
    with rt.blobs.open(blob_key) as blob:
        return blob.read(HEAD_BYTES)


def _direct(column: Column[Any]) -> ColumnElement[bool]:
    """True where the column holds a ciphertext sealed by a ring key, not by its call's data key."""
    return func.substring(column, 1, 1, type_=LargeBinary) == DIRECT_VERSION


def _not_under(column: Column[Any], key_id: str) -> ColumnElement[bool]:
    """True where the column holds a ciphertext of another key (read from its header, in the database)."""
    prefix = envelope_prefix(key_id)
    return func.substring(column, 1, len(prefix), type_=LargeBinary) != prefix


def count_marked(session: Session) -> int:
    """Calls a schema upgrade marked for ``migrate_envelope`` (stored before envelope encryption, or with
    recordings from before segments) and not converted since; read from the marks, no ciphertext."""
    marked = (
        select(func.count())
        .select_from(Call)
        .outerjoin(CallKey, CallKey.call_pk == Call.id)
        .where(CallKey.destroyed_at.is_(None), CallKey.enveloped_at.is_(None))
    )
    return session.scalar(marked) or 0


def _unmigrated() -> Select[uuid.UUID, str | None, str | None]:
    """Calls, with their recordings' blob keys, that the migration has to look at: not yet marked (stored
    before envelope encryption, or with recordings from before segments: schema 0013), or owning
    a value sealed by a ring key (written since by a process without data keys). Calls whose key was
    destroyed are left alone: nothing of theirs can be opened to convert."""
    direct_owners = union(*(select(item.call_pk).where(_direct(item.column)) for item in encrypted_columns()))
    return (
        select(Call.id, Call.audio_blob, Call.redacted_audio_blob)
        .outerjoin(CallKey, CallKey.call_pk == Call.id)
        .where(CallKey.destroyed_at.is_(None))
        .where(or_(CallKey.enveloped_at.is_(None), Call.id.in_(direct_owners)))
    )


def _lock_calls(
    session: Session, *, after: uuid.UUID | None, limit: int
) -> Sequence[tuple[uuid.UUID, list[tuple[str, str]]]]:
    """The next calls to migrate by id, with their recordings' blob keys, locked as ``calls.lock`` locks."""
    query = _unmigrated().order_by(Call.id).limit(limit).with_for_update(of=Call)
    if after is not None:
        query = query.where(Call.id > after)
    return [
        (row.id, _recordings(row.id, row.audio_blob, row.redacted_audio_blob))
        for row in session.execute(query)
    ]


def _recordings(call_pk: uuid.UUID, original: str | None, redacted: str | None) -> list[tuple[str, str]]:
    """The blob keys and contexts of a call's recordings: the original and the redacted copy."""
    keys = [(original, calls.audio_context(call_pk)), (redacted, calls.redacted_audio_context(call_pk))]
    return [(key, blob_context) for key, blob_context in keys if key is not None]


def _envelope_rows(
    session: Session, keyring: KeyRing, columns: list[EncryptedColumn], call_pks: list[uuid.UUID]
) -> int:
    """Seal again under their call's data key the values of one table's encrypted ``columns`` that belong
    to these calls and are sealed by a ring key."""
    table = columns[0].column.table
    owner = columns[0].call_pk
    primary = list(table.primary_key.columns)
    selected = list(dict.fromkeys([*primary, owner, *(item.column for item in columns)]))
    direct = or_(*(_direct(item.column) for item in columns))
    query = select(*selected).where(owner.in_(call_pks), direct).with_for_update()
    count = 0
    for row in session.execute(query):
        values = row._mapping
        converted = {
            item.column.name: keyring.reencrypt(
                values[item.column], context=calls.column_context(values[owner], item.column)
            )
            for item in columns
            if values[item.column] is not None and keyring.key_id_of(values[item.column]) is not None
        }
        session.execute(update(table).where(*(key == values[key] for key in primary)).values(converted))
        count += len(converted)
    return count


def _segment_blob(rt: Stores, blob_key: str, blob_context: str, report: RotationReport) -> None:
    """Seal a recording again under its call's data key and in segments, unless it is both already; streamed
    from the old version to the new, which replaces it only once whole. A recording sealed whole (version 1
    or 2) is decrypted whole, as every read of it was until now."""
    try:
        blob = rt.blobs.open(blob_key)
    except NotFoundError:
        report.missing_blobs += 1  # nothing to convert; the blob store's own problem, not the migration's
        return
    head = blob.read(HEAD_BYTES)
    under_ring_key = rt.keyring.key_id_of(head) is not None
    if not under_ring_key and head[:1] == bytes([streamcipher.VERSION]):
        blob.close()
        return
    blob.seek(0)
    with rt.keyring.open_blob(blob, context=blob_context) as plaintext:
        rt.blobs.put(
            blob_key, rt.keyring.encrypt_stream(streamcipher.chunks_of(plaintext), context=blob_context)
        )
    if under_ring_key:
        report.blobs += 1
    else:
        report.segmented += 1
