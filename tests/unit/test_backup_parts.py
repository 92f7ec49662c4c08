"""The parts of a backup that need no database: the sealed key ring, which pg_dump, the key file merge."""

from __future__ import annotations

import json
import os
import resource
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog.testing

from callsense.backup import archive, changes, destination, erasures, manifest
from callsense.backup.pgtools import Tool, choose
from callsense.cli import common, doctor
from callsense.config import Settings
from callsense.crypto import KeyRing
from callsense.errors import BackupError, ConfigError
from callsense.security import keywrap

PASSPHRASE = "correct horse battery staple"


def test_a_sealed_key_ring_opens_with_its_passphrase_only() -> None:
    ring = KeyRing.generate()
    sealed = keywrap.wrap(ring.export(), PASSPHRASE)
    assert ring.export() not in sealed and b"keys" not in sealed
    opened = KeyRing.from_export(keywrap.unwrap(sealed, PASSPHRASE), source="test")
    assert opened.decrypt(ring.encrypt(b"hello", context="c"), context="c") == b"hello"
    with pytest.raises(BackupError, match="passphrase does not open"):
        keywrap.unwrap(sealed, PASSPHRASE + "!")


def test_a_weakened_kdf_in_the_header_fails_like_a_wrong_passphrase() -> None:
    doc = json.loads(keywrap.wrap(b"ring", PASSPHRASE))
    doc["kdf"]["log2_n"] = 10  # cheaper guesses for whoever edits the file
    with pytest.raises(BackupError, match="passphrase does not open"):
        keywrap.unwrap(json.dumps(doc).encode(), PASSPHRASE)
    doc["kdf"]["log2_n"] = 40  # or an exhausting one
    with pytest.raises(BackupError, match="out of range"):
        keywrap.unwrap(json.dumps(doc).encode(), PASSPHRASE)


def test_a_short_passphrase_is_refused() -> None:
    with pytest.raises(BackupError, match="at least 12 characters"):
        keywrap.wrap(b"ring", "short")


def test_the_dump_tool_of_the_servers_version_is_chosen_else_the_oldest_newer() -> None:
    tools = [Tool(Path(f"/pg{major}/pg_dump"), major) for major in (15, 16, 18)]
    assert choose(tools, server=16) == tools[1]
    assert choose(tools, server=17) == tools[2]
    assert choose(tools, server=14) == tools[0]
    assert choose(tools, server=19) is None  # an older pg_dump cannot dump a newer server


def test_restoring_a_key_ring_keeps_the_keys_already_in_the_file(tmp_path: Path) -> None:
    key_file = tmp_path / "keys.json"
    here = KeyRing.load_or_create(key_file)
    restored = KeyRing.generate()
    restored.install(key_file)
    merged = KeyRing.load_or_create(key_file)
    assert merged.key_ids == here.key_ids | restored.key_ids
    assert merged.active_key_id == restored.active_key_id
    assert key_file.stat().st_mode & 0o777 == 0o600
    clash = KeyRing({here.active_key_id: bytes(32)}, here.active_key_id)
    with pytest.raises(ConfigError, match="different key under the id"):
        clash.install(key_file)


def test_what_a_database_holds_newer_than_the_backup_is_said_per_kind_named_once() -> None:
    users, _, _, categories = changes.KINDS
    assert str(changes.Newer(users, added=0, changed=1, deleted=0)) == "1 user changed"
    assert str(changes.Newer(users, added=2, changed=1, deleted=0)) == "2 users added and 1 changed"
    assert str(changes.Newer(categories, added=0, changed=0, deleted=2)) == "2 categories deleted"
    assert (
        str(changes.Newer(categories, added=1, changed=2, deleted=3))
        == "1 category added, 2 changed and 3 deleted"
    )


def test_a_file_given_as_the_backup_directory_is_refused(tmp_path: Path) -> None:
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("hello\n")
    with pytest.raises(BackupError, match=r"notes\.txt is not a callsense backup: it is not a directory"):
        manifest.read(not_a_backup)


def test_a_backup_stopped_half_way_is_named_as_unfinished_when_its_directory_is_given_again(
    tmp_path: Path,
) -> None:
    unfinished = tmp_path / "2026-12-06"
    unfinished.mkdir()
    (unfinished / "database.dump").write_bytes(b"PGDMP half")  # the dump done, the copy of blobs killed
    with pytest.raises(BackupError) as refused:
        destination.check(unfinished)
    assert str(refused.value) == (
        f"{unfinished} holds an unfinished backup (no manifest.json: it failed or was stopped half way): "
        "delete it, or give a new directory"
    )
    (unfinished / "manifest.json").write_text("{}")  # a finished one is never to be written over
    with pytest.raises(BackupError, match="is not an empty directory: give a new one for each backup"):
        destination.check(unfinished)


def test_a_key_file_the_backup_cannot_read_is_refused_before_the_dump(tmp_path: Path) -> None:
    # it was found out after the database had been dumped, leaving an unfinished backup behind
    settings = Settings(data_dir=tmp_path / "data", database_url="postgresql://nobody@127.0.0.1:1/none")
    settings.resolved_key_file.parent.mkdir(parents=True)
    settings.resolved_key_file.write_text("{not json")
    os.chmod(settings.resolved_key_file, 0o600)
    sealed = archive.KeyExport(passphrase="x" * 12)
    with pytest.raises(ConfigError, match=r"keys\.json is malformed"):
        archive.create(settings, tmp_path / "backup", keys=sealed, progress=archive.Silent())
    assert not (tmp_path / "backup").exists()


def test_a_mistyped_backup_path_is_named_as_missing_not_as_damaged(tmp_path: Path) -> None:
    with pytest.raises(BackupError) as refused:
        manifest.read(tmp_path / "2026-12-0")
    assert str(refused.value) == f"there is no backup at {tmp_path / '2026-12-0'}: no such directory"


def test_a_backup_without_a_key_file_says_where_one_comes_from(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")  # a new installation: 'db upgrade' run, 'doctor' not yet
    with pytest.raises(BackupError) as refused:
        sealed = archive.KeyExport(passphrase="x" * 12)
        archive.create(settings, tmp_path / "backup", keys=sealed, progress=archive.Silent())
    assert str(refused.value) == (
        f"there is no key file at {settings.resolved_key_file}: without it the data cannot be read. Put it "
        "back where key_file says, or, on a new installation, let 'callsense doctor' create it"
    )
    assert not (tmp_path / "backup").exists()


def test_a_backup_directory_that_cannot_be_made_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    KeyRing.load_or_create(settings.resolved_key_file)
    (tmp_path / "notes.txt").write_text("hello\n")
    target = tmp_path / "notes.txt" / "backup"  # under a file: not even root can make it
    with pytest.raises(BackupError, match=r"directory .*notes\.txt/backup: .*notes\.txt is not a directory"):
        archive.create(
            settings, target, keys=archive.KeyExport(passphrase=PASSPHRASE), progress=archive.Silent()
        )


def _sealed_backup(tmp_path: Path) -> tuple[Path, Path, manifest.Manifest]:
    """A backup as ``create`` leaves one with --key-out (a dump, one recording), without a database."""
    backup, key_file = tmp_path / "backup", tmp_path / "kept" / "keys.json"
    (backup / "blobs" / "audio").mkdir(parents=True)
    (backup / archive.DUMP).write_bytes(b"PGDMP the dump")
    (backup / "blobs" / "audio" / "call-1").write_bytes(b"sealed audio")
    ring = KeyRing.generate()
    ring.install(key_file)
    names = [archive.DUMP, "blobs/audio/call-1"]
    made = manifest.Manifest(
        created_at=datetime.now(UTC),
        callsense_version="0.1.0+g0123456789ab",
        schema_revision="0016",
        postgresql_server=15,
        pg_dump=15,
        calls=1,
        blobs=1,
        missing_blobs=[],
        key_ring=manifest.KeyRingCopy(
            kept="elsewhere", file=str(key_file), key_ids=sorted(ring.key_ids), active=ring.active_key_id
        ),
        files={name: manifest.checksum(backup / name) for name in names},
    )
    return backup, key_file, manifest.write(backup, made, ring)


def _check(backup: Path, key_file: Path, *, accept_unsealed: bool = False) -> manifest.Manifest:
    found, _ = archive.check(
        backup, passphrase=None, key_file=key_file, accept_unsealed=accept_unsealed, progress=archive.Silent()
    )
    return found


def _edit(backup: Path, change: Callable[[dict[str, Any]], object]) -> None:
    doc = json.loads((backup / manifest.MANIFEST).read_text())
    change(doc)
    (backup / manifest.MANIFEST).write_text(json.dumps(doc))


def test_a_file_edited_with_its_sum_in_the_manifest_is_refused_by_the_seal(tmp_path: Path) -> None:
    # The sums alone passed it: whoever could edit the dump could write its new sum beside it.
    backup, key_file, made = _sealed_backup(tmp_path)
    assert _check(backup, key_file) == made and made.seal is not None
    (backup / archive.DUMP).write_bytes(b"PGDMP another dump")
    forged = manifest.checksum(backup / archive.DUMP).model_dump()
    _edit(backup, lambda doc: doc["files"].update({archive.DUMP: forged}))
    with pytest.raises(BackupError) as refused:
        _check(backup, key_file)
    assert str(refused.value) == (
        f"the backup manifest was altered after it was sealed (its seal, under key {made.key_ring.active}, "
        "is for other contents): do not trust this backup's files"
    )


def test_a_manifest_sealed_by_another_key_ring_or_stripped_of_its_seal_is_refused(tmp_path: Path) -> None:
    backup, key_file, made = _sealed_backup(tmp_path)
    forger = tmp_path / "forger.json"
    KeyRing.generate().install(forger)  # a forger's own ring makes a seal that opens under it only
    with pytest.raises(BackupError, match=r"seal does not open with the key ring given .* not this backup's"):
        _check(backup, forger)
    _edit(backup, lambda doc: doc.pop("seal"))
    with pytest.raises(
        BackupError, match=r"manifest \(callsense-backup-2\) has lost its seal: it was altered"
    ):
        _check(backup, key_file)
    _edit(backup, lambda doc: doc.update(format=manifest.UNSEALED_FORMAT))  # and passed off as an old one
    with pytest.raises(
        BackupError, match=r"carries no seal, .* pass --accept-unsealed to check it by its sums"
    ):
        _check(backup, key_file)
    assert _check(backup, key_file, accept_unsealed=True).files == made.files  # the operator's choice


def test_a_manifest_whose_write_fails_midway_is_not_left_behind(tmp_path: Path) -> None:
    # A full disk (here a file size limit) left a truncated manifest.json: "damaged", not "unfinished".
    backup, _, made = _sealed_backup(tmp_path)
    (backup / manifest.MANIFEST).unlink()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100, hard))
    try:
        with pytest.raises(OSError, match="File too large"):
            manifest.write(backup, made, KeyRing.generate())
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert sorted(path.name for path in backup.iterdir()) == ["blobs", archive.DUMP]


def test_a_truncated_or_missing_file_of_a_sealed_backup_is_named(tmp_path: Path) -> None:
    backup, key_file, _ = _sealed_backup(tmp_path)
    (backup / archive.DUMP).write_bytes(b"PGDMP")  # a copy cut short
    with pytest.raises(
        BackupError, match=r"damaged: database\.dump has SHA-256 .* \(5 bytes\), the manifest"
    ):
        _check(backup, key_file)
    (backup / archive.DUMP).write_bytes(b"PGDMP the dump")
    (backup / "blobs" / "audio" / "call-1").unlink()
    with pytest.raises(BackupError, match="the backup is incomplete: blobs/audio/call-1 is missing"):
        _check(backup, key_file)


def test_the_calls_a_backup_holds_without_their_recording_are_named_the_first_few_then_where_all_are(
    tmp_path: Path,
) -> None:
    backup, _, made = _sealed_backup(tmp_path)
    assert manifest.missing_summary(backup, made) is None
    many = made.model_copy(
        update={
            "missing_blobs": [f"audio/{number}" for number in range(7)],
            "missing_calls": [f"call-{number}" for number in range(7)],
        }
    )
    assert manifest.missing_summary(backup, many) == (
        "7 call(s) in this backup have no recording (the blob store lacked it when the backup was made): "
        f"call-0, call-1, call-2, call-3, call-4, … (all 7: missing_calls in {backup / 'manifest.json'})"
    )
    # made before the call ids were recorded: the recordings are all it can name
    older = many.model_copy(update={"missing_calls": None})
    assert manifest.missing_summary(backup, older) == (
        "7 recording(s) the database named are not in this backup (the blob store lacked them when it was "
        "made), so their calls have none: audio/0, audio/1, audio/2, audio/3, audio/4, … (all 7: "
        f"missing_blobs in {backup / 'manifest.json'})"
    )


def test_the_erasures_a_restore_keeps_outlive_a_restore_that_stops_and_join_the_next_ones(
    tmp_path: Path,
) -> None:
    # Killed between the restore and the erasures, the next restore reads a database that lacks them.
    settings = Settings(data_dir=tmp_path / "data")
    first = erasures.Erased(
        "call-1", datetime(2026, 12, 3, 10, tzinfo=UTC), "dpo", "erased on request (cli): 3"
    )
    assert erasures.keep(settings, [first], earlier=erasures.pending(settings)) == [first]
    assert erasures.kept_in(settings).stat().st_mode & 0o777 == 0o600
    later = erasures.Erased("call-2", datetime(2026, 12, 4, tzinfo=UTC), "dpo", "erased on request (api): 4")
    again = erasures.Erased("call-1", datetime(2026, 12, 5, tzinfo=UTC), "restore", "erased on request ...")
    # the first erasure of each call
    assert erasures.keep(settings, [again, later], earlier=erasures.pending(settings)) == [first, later]
    assert erasures.pending(settings) == [first, later]
    assert first.reason == "erased on 2026-12-03 10:00:00 UTC by dpo before this restore"
    check = doctor._kept_erasures(settings)  # and doctor fails until they are applied
    assert check is not None and not check.ok and "2 erasure(s) kept by a restore" in check.detail
    assert "callsense backup reerase" in check.detail
    erasures.clear(settings)
    assert erasures.pending(settings) == []
    assert doctor._kept_erasures(settings) is None


def test_a_service_started_with_erasures_a_restore_kept_says_so(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    erased = [erasures.Erased("call-1", datetime(2026, 12, 3, tzinfo=UTC), "dpo", None)]
    erasures.keep(settings, erased, earlier=[])
    with structlog.testing.capture_logs() as logged:
        common.warn_of_kept_erasures(settings)
    assert [entry["log_level"] for entry in logged] == ["warning"]
    assert "1 erasure(s) kept by a restore are not applied yet" in logged[0]["event"]
    erasures.clear(settings)
    with structlog.testing.capture_logs() as logged:
        common.warn_of_kept_erasures(settings)
    assert logged == []
