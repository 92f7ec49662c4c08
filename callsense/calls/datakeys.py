"""Envelope encryption's data keys: one random 256-bit AES key per call, stored wrapped by the key ring.

A call's data key is made on the first encryption of anything of that call (``KeyRing.encrypt`` with a
``call:<uuid>:`` context asks ``DataKeyStore.key_for``), in a short transaction of its own: an ``INSERT ...
ON CONFLICT`` that stores it only where the call has no key yet, and then a read, so two workers, on one
machine or many, that seal the same new call's first values at once both end up with the key stored first.
Keys are kept in memory for ``CACHE_SECONDS`` (at most ``CACHE_CALLS`` of them), so a stage that writes and
reads a call several times reads its key once.

Lookups use connections of their own (``LOOKUP_CONNECTIONS``), not the database's pool: the code that
encrypts or decrypts usually holds one of those already, and many threads each holding one while waiting
for a second could starve the pool.

The wrapping is AES-256-GCM under the ring's active key, bound to the call (context ``data-key:<uuid>``),
so a wrapped key copied to another call's row does not open. Rotating the ring re-wraps these rows only
(``rewrap``); the ciphertexts themselves never change. ``destroy_data_key`` overwrites a call's wrapped key:
from then on no copy of that call's ciphertexts opens, wherever it was copied to. PostgreSQL keeps the row's
old version, the wrapped key in it, in the table until a VACUUM: ``vacuum_data_keys`` runs one.
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, create_engine, event, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from callsense.calls.models import Call, CallKey
from callsense.crypto import KeyRing
from callsense.db import Database
from callsense.errors import ConfigError, DataKeyDestroyedError, DecryptionError

__all__ = [
    "CACHE_CALLS",
    "CACHE_SECONDS",
    "DataKeyStore",
    "destroy_data_key",
    "open_key_ring",
    "rewrap",
    "vacuum_data_keys",
    "wrapped_elsewhere",
]

log = structlog.get_logger(__name__)

# How many calls' data keys a process keeps in memory, and for how long: after a key is destroyed by
# another process, this one may use its copy for at most this long (the destroying process drops its own
# at once).
CACHE_CALLS = 4096
CACHE_SECONDS = 60.0
# Connections a store keeps for lookups, and how many more it opens when they are all busy.
LOOKUP_CONNECTIONS = 2
LOOKUP_OVERFLOW = 8
# How long the VACUUM after an erasure waits for its lock (another VACUUM of the table, a migration) before
# it gives up: autovacuum removes the old row version later then.
VACUUM_LOCK_TIMEOUT_MS = 10_000

# Every store of this process, so that destroying a key drops it from all their caches.
_STORES: weakref.WeakSet[DataKeyStore] = weakref.WeakSet()
_STORES_LOCK = threading.Lock()


def wrap_context(call_pk: uuid.UUID) -> str:
    """The context a call's data key is wrapped under (not ``call:``: the ring seals it under a ring key)."""
    return f"data-key:{call_pk}"


class DataKeyStore:
    """Each call's data key from the ``call_keys`` table, unwrapped by ``keyring``; thread-safe."""

    def __init__(
        self,
        db: Database,
        keyring: KeyRing,
        *,
        cache_calls: int = CACHE_CALLS,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self._sessions = sessionmaker(_lookup_engine(db.engine))
        self._keyring = keyring
        self._cache_calls = cache_calls
        self._cache_seconds = cache_seconds
        self._cache: OrderedDict[uuid.UUID, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        with _STORES_LOCK:
            _STORES.add(self)

    def key_for(self, call: uuid.UUID, *, create: bool) -> bytes:
        cached = self._cached(call)
        if cached is not None:
            return cached
        with self._sessions.begin() as session:
            row = _read(session, call)
            if row is None and create:
                self._make(session, call)
                row = _read(session, call)  # ours, or the one another worker stored first
        if row is None:
            raise DecryptionError(f"call {call} has no data key (a ciphertext from another database?)")
        stored, destroyed_at = row
        if stored is None:
            raise DataKeyDestroyedError(
                f"the data key of call {call} was destroyed{_when(destroyed_at)}: "
                "its recording and encrypted fields can no longer be read"
            )
        key = self._keyring.decrypt(stored, context=wrap_context(call))
        self._remember(call, key)
        return key

    def _make(self, session: Session, call: uuid.UUID) -> None:
        """Store a fresh key for the call unless another worker has stored one (or destroyed it) first."""
        fresh = AESGCM.generate_key(bit_length=256)
        wrapped = self._keyring.encrypt(fresh, context=wrap_context(call))
        values = {"wrapped": wrapped, "key_id": self._keyring.key_id_of(wrapped)}
        session.execute(
            insert(CallKey)
            .values(call_pk=call, enveloped_at=func.now(), **values)  # a new call: nothing to migrate
            .on_conflict_do_update(  # a call from before envelope encryption: its row marks it, keep that
                index_elements=[CallKey.call_pk],
                set_=values,
                where=CallKey.wrapped.is_(None) & CallKey.destroyed_at.is_(None),
            )
        )

    def forget(self, call: uuid.UUID) -> None:
        with self._lock:
            self._cache.pop(call, None)

    def _cached(self, call: uuid.UUID) -> bytes | None:
        with self._lock:
            entry = self._cache.get(call)
            if entry is None:
                return None
            if time.monotonic() - entry[0] > self._cache_seconds:
                del self._cache[call]
                return None
            self._cache.move_to_end(call)
            return entry[1]

    def _remember(self, call: uuid.UUID, key: bytes) -> None:
        with self._lock:
            self._cache[call] = (time.monotonic(), key)
            self._cache.move_to_end(call)
            while len(self._cache) > self._cache_calls:
                self._cache.popitem(last=False)


def _lookup_engine(engine: Engine) -> Engine:
    """A small pool to the same database, closed when ``engine`` is disposed (``Database.close``)."""
    lookups = create_engine(
        engine.url,
        pool_size=LOOKUP_CONNECTIONS,
        max_overflow=LOOKUP_OVERFLOW,
        pool_pre_ping=True,
        hide_parameters=engine.hide_parameters,  # as the main engine: no wrapped key in an error's message
    )

    def dispose(_engine: Engine) -> None:
        lookups.dispose()

    event.listen(engine, "engine_disposed", dispose)
    return lookups


def _read(session: Session, call: uuid.UUID) -> tuple[bytes | None, datetime | None] | None:
    """The call's wrapped key and when it was destroyed; None while it has no key (no row, or the row that
    marks a call stored before envelope encryption)."""
    row = session.execute(
        select(CallKey.wrapped, CallKey.destroyed_at).where(CallKey.call_pk == call)
    ).one_or_none()
    if row is None or (row.wrapped is None and row.destroyed_at is None):
        return None
    return row.wrapped, row.destroyed_at


def _when(moment: datetime | None) -> str:
    return f" at {moment.isoformat(timespec='seconds')}" if moment is not None else ""


def destroy_data_key(session: Session, call_pk: uuid.UUID) -> None:
    """Destroy the call's data key in the caller's transaction (erasure): once committed, none of the call's
    ciphertexts opens again, wherever it was copied (blob-store backups, a dumped column value), and nothing
    makes the call a new key. A call that had no key yet gets a destroyed one. Idempotent."""
    now = datetime.now(UTC)
    session.execute(
        insert(CallKey)
        .values(call_pk=call_pk, wrapped=None, key_id=None, created_at=now, destroyed_at=now)
        .on_conflict_do_update(
            index_elements=[CallKey.call_pk],
            set_={"wrapped": None, "key_id": None, "destroyed_at": func.coalesce(CallKey.destroyed_at, now)},
        )
    )
    _forget_everywhere(call_pk)  # now, and again once committed: a read meanwhile may have cached it

    def forget_after_commit(_session: Any) -> None:
        _forget_everywhere(call_pk)

    event.listen(session, "after_commit", forget_after_commit, once=True)


def vacuum_data_keys(db: Database) -> None:
    """VACUUM the data-key table after a key was destroyed: an UPDATE leaves the row's old version, the
    wrapped key in it, in the table (readable with page-inspection tools) until a VACUUM removes it. The
    bytes may stay in the page's free space until a new row takes that space (docs/archive.md, Erasure).
    VACUUM cannot run in a transaction, hence a connection in autocommit. Best effort: a failure is logged
    and autovacuum does it later; a transaction older than the destruction (a pg_dump running meanwhile)
    keeps the old version until it ends."""
    try:
        with db.engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.exec_driver_sql(f"SET lock_timeout = {VACUUM_LOCK_TIMEOUT_MS}")
            try:
                autocommit.exec_driver_sql(f"VACUUM {CallKey.__tablename__}")
            finally:  # the setting would stay with the pooled connection
                autocommit.exec_driver_sql("RESET lock_timeout")
    except SQLAlchemyError as exc:
        log.warning(
            "the data-key table was not vacuumed: the destroyed key's old row version stays in its pages "
            "until autovacuum runs",
            error=str(exc).splitlines()[0],
        )


def _forget_everywhere(call_pk: uuid.UUID) -> None:
    with _STORES_LOCK:
        stores = list(_STORES)
    for store in stores:
        store.forget(call_pk)


def rewrap(db: Database, keyring: KeyRing, *, batch: int) -> int:
    """Wrap every data key under the ring's active key, ``batch`` rows per transaction; returns how many
    were re-wrapped. The data keys, and so every ciphertext, stay as they are."""
    active = keyring.active_key_id
    count = 0
    while True:
        with db.transaction() as session:
            rows = session.execute(
                select(CallKey.call_pk, CallKey.wrapped)
                .where(CallKey.key_id != active, CallKey.wrapped.is_not(None))
                .order_by(CallKey.call_pk)
                .limit(batch)
                .with_for_update()
            ).all()
            for row in rows:
                context = wrap_context(row.call_pk)
                session.execute(
                    update(CallKey)
                    .where(CallKey.call_pk == row.call_pk)
                    .values(wrapped=keyring.reencrypt(row.wrapped, context=context), key_id=active)
                )
        if not rows:
            return count
        count += len(rows)


def open_key_ring(db: Database, key_file: Path) -> KeyRing:
    """The key ring in ``key_file``, made there when missing, unless the database holds calls: a new ring
    made then (a mistyped ``key_file``, a volume not mounted) would seal new calls under a key no backup has,
    and open no old one."""
    if not key_file.exists():
        with db.transaction() as session:
            key_ids = session.scalars(
                select(CallKey.key_id)
                .where(CallKey.key_id.is_not(None))
                .distinct()
                .order_by(CallKey.key_id)
                .limit(5)
            ).all()
            # Calls stored before envelope encryption (an upgraded database) have no data key: the ring's
            # keys sealed their values and recordings directly, until 'keys migrate-envelope'.
            direct = session.scalar(
                select(func.count())
                .select_from(Call)
                .outerjoin(CallKey, CallKey.call_pk == Call.id)
                .where(CallKey.wrapped.is_(None), CallKey.destroyed_at.is_(None))
            )
        held = []
        if key_ids:
            held.append(f"calls sealed under the ring key(s) {', '.join(str(key_id) for key_id in key_ids)}")
        if direct:
            held.append(
                f"{direct} call(s) stored before envelope encryption, sealed by the ring's keys directly"
            )
        if held:
            raise ConfigError(
                f"key file {key_file} does not exist, but the database holds {' and '.join(held)}: "
                "put the key file back there, or point key_file at it"
            )
    return KeyRing.load_or_create(key_file)


def wrapped_elsewhere(session: Session, key_id: str) -> int:
    """How many data keys are wrapped by a ring key other than ``key_id``."""
    return session.scalar(select(func.count()).where(CallKey.key_id != key_id)) or 0
