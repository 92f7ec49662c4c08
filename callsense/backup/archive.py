"""``callsense backup``: a database dump, the audio it names and the key ring, checked by a manifest.

A backup is a directory::

    manifest.json        what it holds, the SHA-256 of every other file, sealed by the key ring (manifest.py)
    database.dump        pg_dump's custom format, taken from one snapshot
    blobs/<key>          each recording the dump names, as stored (still encrypted), and with
                         blobs.archive_records each analysed call's archived record (records/<uuid>.json)
    keyring.wrapped.json the key ring sealed with a passphrase (security/keywrap.py), unless it was written
                         to a file the operator keeps elsewhere

The recordings copied are those the dump's snapshot names (read in the snapshot pg_dump uses), so every call
in the dump finds its audio; one a worker deletes before its copy makes the dump be taken again
(``DUMP_ATTEMPTS``). The key ring is exported last: any key that sealed a copied blob is in it. The
key ring is never written in clear inside the backup: without the keys the backup is unreadable, and keys
beside it would let whoever holds the copy read every call.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

from callsense import __version__
from callsense.backends.blobstore import open_blobstore, validate_key
from callsense.backup import destination, erasures, pgtools, replaced, snapshot
from callsense.backup import manifest as manifests
from callsense.backup.keys import WRAPPED_KEYS, KeyExport, check_key_destination, open_key_ring
from callsense.config import Settings
from callsense.crypto import KeyRing
from callsense.db import (
    open_database,
    revision_status,
    schema_status,
)
from callsense.errors import BackupError, NotFoundError
from callsense.security import keywrap
from callsense.streamcipher import chunks_of

__all__ = [
    "WRAPPED_KEYS",
    "KeyExport",
    "Progress",
    "Silent",
    "check",
    "create",
    "restore",
]

DUMP = "database.dump"
BLOBS = "blobs"
# A recording a worker deletes after the dump's snapshot (a redaction's discarded original, a purge, an
# erasure) would be missing from the backup: the dump is taken again, up to this many times in all.
DUMP_ATTEMPTS = 3

T = TypeVar("T")


class Progress(Protocol):
    """How a long backup or restore reports itself (a terminal's progress bars; nothing in tests)."""

    def step(self, label: str) -> AbstractContextManager[None]:
        """Around one long step of unknown length (the dump, the restore)."""

    def track(self, items: Iterable[T], *, total: int, label: str) -> Iterable[T]:
        """Yield ``items``, showing how many of ``total`` are done."""

    def note(self, message: str) -> None:
        """One line the operator should see."""


class Silent:
    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        yield

    def track(self, items: Iterable[T], *, total: int, label: str) -> Iterable[T]:
        return items

    def note(self, message: str) -> None:
        pass


def create(
    settings: Settings, directory: Path, *, keys: KeyExport, progress: Progress, pg_bin: Path | None = None
) -> manifests.Manifest:
    """Back up the database, the recordings it names and the key ring into ``directory`` (new or empty).

    A backup that fails midway (a full disk, a database gone, Ctrl-C) is removed: what it wrote would be
    unfinished, and on a full disk it holds the space others need."""
    key_path = settings.resolved_key_file
    if not key_path.exists():
        raise BackupError(
            f"there is no key file at {key_path}: without it the data cannot be read. Put it back where "
            "key_file says, or, on a new installation, let 'callsense doctor' create it"
        )
    KeyRing.load_or_create(key_path)  # one it cannot read (mode, form) is refused now, not after the dump
    check_key_destination(keys, directory.resolve())
    destination.check(directory)
    made = not directory.exists()
    directory = destination.make_private(directory)
    try:
        return _write(settings, directory, keys=keys, progress=progress, pg_bin=pg_bin)
    except OSError as exc:  # a full disk, a file size limit, a directory gone read-only
        where = f" ({exc.filename})" if exc.filename else ""
        raise BackupError(
            f"cannot write the backup into {directory}: {exc.strerror}{where}; the unfinished backup was "
            "removed"
        ) from exc
    finally:
        if not (directory / manifests.MANIFEST).exists():
            destination.discard(directory, made=made)


def _write(
    settings: Settings, directory: Path, *, keys: KeyExport, progress: Progress, pg_bin: Path | None
) -> manifests.Manifest:
    db = open_database(settings, check=False)
    try:
        status = schema_status(db.engine)
        if status.current is None:
            raise BackupError(
                f"the database ({db.url_for_display}) has no callsense schema: nothing to back up"
            )
        server = pgtools.server_major(db.engine)
        dump_tool = pgtools.find("pg_dump", server=server, bin_dir=pg_bin)
        for attempt in range(1, DUMP_ATTEMPTS + 1):
            with progress.step(f"dumping the database with {dump_tool.path} ({dump_tool.major})"):
                dumped = snapshot.dump(
                    db, dump_tool, directory / DUMP, records=settings.blobs.archive_records
                )
            progress.note(f"database dumped: {dumped.calls} calls, {_mib(directory / DUMP)}")
            missing = _copy_blobs(settings, list(dumped.recordings), directory / BLOBS, progress)
            # a call analysed before archive_records was turned on has none: no warning
            _copy_blobs(settings, dumped.records, directory / BLOBS, progress, label="records")
            if not missing or attempt == DUMP_ATTEMPTS:
                break
            with db.engine.connect() as connection:  # a recording no call names any more was deleted
                deleted = set(missing) - set(snapshot.named_recordings(connection, among=missing))
            if not deleted:  # missing from the store itself: a warning below
                break
            progress.note(
                f"{len(deleted)} recording(s) the dump names were deleted since its snapshot (a worker "
                "redacting, purging or erasing): dumping again"
            )
            destination.discard(directory, made=False)
    finally:
        db.close()
    for key in missing:
        progress.note(
            f"warning: the database names recording {key} (call {dumped.recordings[key]}), which the blob "
            "store does not have"
        )
    # After the blobs, so every key that sealed one is in it; a copy, not following the file, so the
    # manifest is sealed under a key the backup holds even if a rotation lands meanwhile.
    ring = KeyRing.from_export(KeyRing.load_or_create(settings.resolved_key_file).export(), source="key file")
    if keys.passphrase is not None:
        (directory / WRAPPED_KEYS).write_bytes(keywrap.wrap(ring.export(), keys.passphrase))
        kept = manifests.KeyRingCopy(
            kept="wrapped", file=WRAPPED_KEYS, key_ids=sorted(ring.key_ids), active=ring.active_key_id
        )
    else:
        assert keys.path is not None
        ring.install(keys.path)
        kept = manifests.KeyRingCopy(
            kept="elsewhere", file=str(keys.path), key_ids=sorted(ring.key_ids), active=ring.active_key_id
        )
    files = sorted(str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file())
    for path in directory.rglob("*"):  # copies of the backup that keep modes stay private too
        os.chmod(path, 0o700 if path.is_dir() else 0o600)
    sums = {
        name: manifests.checksum(directory / name)
        for name in progress.track(files, total=len(files), label="checksums")
    }
    result = manifests.Manifest(
        created_at=datetime.now(UTC),
        callsense_version=__version__,
        schema_revision=status.current,
        postgresql_server=server,
        pg_dump=dump_tool.major,
        calls=dumped.calls,
        blobs=len(dumped.recordings) - len(missing),  # the recordings; the records are among the files
        missing_blobs=missing,
        missing_calls=sorted({dumped.recordings[key] for key in missing}),
        newest_change=dumped.newest_change,
        newest_changes=dumped.others.newest,
        fingerprints=dumped.others.fingerprints,
        row_keys=dumped.others.row_keys,
        key_ring=kept,
        files=sums,
    )
    return manifests.write(directory, result, ring)  # last: a backup without it is unfinished


def check(
    directory: Path,
    *,
    passphrase: str | None,
    key_file: Path | None,
    accept_unsealed: bool,
    progress: Progress,
) -> tuple[manifests.Manifest, KeyRing]:
    """The backup's manifest, authenticated by its key ring, once every file matches its sum; and the ring."""
    found, ring = _open(
        directory,
        passphrase=passphrase,
        key_file=key_file,
        accept_unsealed=accept_unsealed,
        progress=progress,
    )
    _check_sums(directory, found, progress)
    return found, ring


def _open(
    directory: Path,
    *,
    passphrase: str | None,
    key_file: Path | None,
    accept_unsealed: bool,
    progress: Progress,
) -> tuple[manifests.Manifest, KeyRing]:
    """The backup's manifest, authenticated by its key ring, and the ring: its files not yet checked."""
    listed = manifests.read(directory)  # not yet authenticated: it only says where the key ring is
    ring = open_key_ring(directory, listed, passphrase=passphrase, key_file=key_file)
    found = manifests.authenticate(directory, ring, accept_unsealed=accept_unsealed)
    if found.seal is None:
        progress.note(
            "warning: this backup's manifest carries no seal: its files are checked by their sums only"
        )
    sealed = [WRAPPED_KEYS] if found.key_ring.kept == "wrapped" else []
    for required in (DUMP, *sealed):
        if required not in found.files:
            raise BackupError(f"the backup manifest does not list {required}: it is not a whole backup")
    lacking = set(found.key_ring.key_ids) - ring.key_ids
    if lacking:
        raise BackupError(f"the key ring given lacks keys this backup needs: {', '.join(sorted(lacking))}")
    return found, ring


def _check_sums(directory: Path, found: manifests.Manifest, progress: Progress) -> None:
    manifests.verify(directory, progress.track(found.files, total=len(found.files), label="checking"), found)


def restore(
    settings: Settings,
    directory: Path,
    *,
    passphrase: str | None,
    key_file: Path | None,
    force: bool,
    progress: Progress,
    replace_newer: bool = False,
    accept_unsealed: bool = False,
    pg_bin: Path | None = None,
) -> manifests.Manifest:
    """Check the backup in ``directory`` (``check``) and the database it replaces (``replaced.check``), then
    restore its database, recordings and key ring. The checks that take no time come before the sums, so a
    refusal comes at once, not after reading every file. The erasures the replaced database records are kept
    first (``erasures.keep``): the caller erases those calls again (``erasures.pending``)."""
    found, ring = _open(  # before anything changes
        directory,
        passphrase=passphrase,
        key_file=key_file,
        accept_unsealed=accept_unsealed,
        progress=progress,
    )
    _check_schema_known(found)
    db = open_database(settings, check=False)
    try:
        server = pgtools.server_major(db.engine)
        if server < found.postgresql_server:
            raise BackupError(
                f"this backup comes from PostgreSQL {found.postgresql_server} and the database server is "
                f"PostgreSQL {server}: restore into PostgreSQL {found.postgresql_server} or newer "
                "(docs/operations.md shows a manual way into an older one)"
            )
        restore_tool = pgtools.find("pg_restore", server=max(server, found.pg_dump), bin_dir=pg_bin)
        target = replaced.survey(db, found)
        progress.note(replaced.describe(found, target))
        erased = erasures.recorded(db)
        earlier = erasures.pending(settings)
        _note_erasures(erased, earlier, found, progress)
        missing = manifests.missing_summary(directory, found)
        if missing is not None:
            progress.note(f"warning: {missing}")
        replaced.check(found, target, force=force, replace_newer=replace_newer)
        _check_sums(directory, found, progress)
        # before the database is emptied: a restore that fails keeps them
        erasures.keep(settings, erased, earlier=earlier)
        replaced.make_room(db, target, stalled_after_s=settings.queue.stalled_after_s)
        with progress.step(f"restoring the database with {restore_tool.path} ({restore_tool.major})"):
            pgtools.run(
                restore_tool,
                [
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    "--single-transaction",
                    str(directory / DUMP),
                ],
                url=db.engine.url,
            )
    finally:
        db.close()
    store = open_blobstore(settings)
    blob_files = [name for name in found.files if name.startswith(f"{BLOBS}/")]
    for name in progress.track(blob_files, total=len(blob_files), label="recordings"):
        with (directory / name).open("rb") as blob:
            store.put(validate_key(name.removeprefix(f"{BLOBS}/")), chunks_of(blob))
    ring.install(settings.resolved_key_file)
    return found


def _note_erasures(
    erased: list[erasures.Erased], kept: list[erasures.Erased], found: manifests.Manifest, progress: Progress
) -> None:
    """Say which erasures the restore will not undo: those made after the backup (the backup may hold
    these calls), and those an earlier restore kept and did not apply again."""
    after = sum(1 for one in erased if one.at > found.created_at)
    if after:
        progress.note(f"{after} call(s) erased after the backup was made will be erased again")
    if kept:
        progress.note(
            f"{len(kept)} erasure(s) kept by an earlier restore that did not finish will be applied again"
        )


def _check_schema_known(found: manifests.Manifest) -> None:
    """Refuse a backup of a schema newer than this code knows: restored, nothing of this version would run
    on it (there are no downgrades). An older one restores as it was, for 'callsense db upgrade'."""
    schema = revision_status(found.schema_revision)
    if not schema.known:
        raise BackupError(
            f"this backup was made by callsense {found.callsense_version} at schema revision "
            f"{found.schema_revision}, newer than this callsense {__version__} knows (its newest is "
            f"{schema.head}): restore it with callsense {found.callsense_version} or newer"
        )


def _copy_blobs(
    settings: Settings, keys: list[str], target: Path, progress: Progress, *, label: str = "recordings"
) -> list[str]:
    """Copy each blob as stored; returns the keys the store did not have."""
    store = open_blobstore(settings)
    missing = []
    for key in progress.track(keys, total=len(keys), label=label):
        try:
            blob = store.open(key)
        except NotFoundError:
            missing.append(key)
            continue
        path = target / validate_key(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with blob, path.open("wb") as copy:
            for chunk in chunks_of(blob):  # as stored, a part at a time: one version, never held whole
                copy.write(chunk)
    return missing


def _mib(path: Path) -> str:
    return f"{path.stat().st_size / 1024**2:.1f} MiB"
