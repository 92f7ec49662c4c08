"""Backup and restore for real: calls processed through the stages (fakes for the models and the CRM) on the
embedded PostgreSQL, backed up by the CLI with the server's own pg_dump, everything wiped (database, blobs,
key file), restored by the CLI, then every record, recording and delivery read back as it was; and what a
restore tells the operator (calls without their recording) and refuses (a database with newer calls)."""

from __future__ import annotations

import resource
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, select, text

import callsense
from callsense import db, version
from callsense.backup import archive, erasures, manifest, pgtools
from callsense.calls import access, categories, retention
from callsense.calls import service as calls
from callsense.calls.models import Delivery
from callsense.config import Settings
from callsense.crypto import KeyRing
from callsense.errors import BackupError, NotFoundError
from callsense.pipeline import analyse, deliver, erasure, fetch, ingest, transcribe
from callsense.runtime import Runtime, open_runtime
from callsense.security import tokens
from callsense.security.tokens import Role
from callsense.speech.audio import decode
from callsense.web import accounts
from tests.conftest import AUDIO
from tests.crm_calls import cli_env
from tests.integration.test_stages import SOURCE, runtime_with_fakes
from tests.servers import CALLSENSE

PASSPHRASE = "correct horse battery staple"
ROOT = Path(__file__).resolve().parents[2]
QUIET = archive.Silent()


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = runtime_with_fakes(settings)
    yield runtime
    runtime.db.close()


def _process(rt: Runtime, count: int) -> None:
    """``count`` calls through every stage; the first one's delivery is sent, the others' wait for theirs."""
    for number in range(count):
        call_pk = ingest.ingest(rt, call_id=f"call-{number}", source=SOURCE).call_pk
        fetch.run(rt, call_pk, local_files=False)
        transcribe.run(rt, call_pk)
        for delivery_id in analyse.run(rt, call_pk):
            if number == 0:
                deliver.run(rt, delivery_id)


def _contents(rt: Runtime) -> tuple[dict[str, object], dict[str, bytes], list[tuple[object, ...]]]:
    """Every call's decrypted record and recording, and every delivery row."""
    records, recordings = {}, {}
    with rt.db.transaction() as session:
        for call_id in session.scalars(text("select call_id from calls order by call_id")):
            call = calls.get(session=session, call_id=call_id)
            records[call_id] = calls.to_record(call=call, keyring=rt.keyring).model_dump()
            played = access.play_recording(
                session=session,
                keyring=rt.keyring,
                blobs=rt.blobs,
                call_id=call_id,
                range_header=None,
                actor="test",
                via="test",
            )
            recordings[call_id] = b"".join(played.content())
        columns = [
            Delivery.call_pk,
            Delivery.destination,
            Delivery.status,
            Delivery.external_id,
            Delivery.attempts,
        ]
        deliveries = [tuple(row) for row in session.execute(select(*columns).order_by(Delivery.call_pk))]
    return records, recordings, deliveries


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**cli_env(settings), "CALLSENSE_BACKUP_PASSPHRASE": PASSPHRASE}
    return subprocess.run(
        [CALLSENSE, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _wipe(settings: Settings, admin_url: str) -> None:
    """Drop the database and make it again, empty; delete the blob store and the key file."""
    name = make_url(str(settings.database_url)).database
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    shutil.rmtree(settings.resolved_blob_dir)
    settings.resolved_key_file.unlink()


def test_backup_wipe_restore_gives_every_call_back(
    rt: Runtime, tmp_path: Path, embedded_server_url: str
) -> None:
    _process(rt, 2)
    before = _contents(rt)
    # what plays is the redacted copy (redaction on, the original deleted): the whole call, re-encoded
    played, said = (
        decode(audio, max_seconds=60)
        for audio in (before[1]["call-0"], (AUDIO / "en_short.mono.flac").read_bytes())
    )
    assert played.info.codec == "flac" and played.channels.shape == said.channels.shape
    assert sorted(status for _, _, status, _, _ in before[2]) == ["delivered", "pending"]
    rt.db.close()
    settings, backup = rt.settings, tmp_path / "backup"

    made = _cli(settings, "backup", "create", str(backup))
    assert made.returncode == 0, made.stderr
    assert "2 calls, 2 recordings" in made.stdout
    assert b"active" not in (backup / archive.WRAPPED_KEYS).read_bytes()  # sealed, not the key file in clear
    verified = _cli(settings, "backup", "verify", str(backup))  # its seal opened by the passphrase's ring
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith(f"backup in {backup} is intact: 4 files, made ")
    assert verified.stdout.rstrip().endswith("manifest sealed")
    _wipe(settings, embedded_server_url)

    with pytest.raises(BackupError, match="the passphrase does not open the wrapped key ring"):
        archive.restore(
            settings, backup, passphrase="not the passphrase", key_file=None, force=False, progress=QUIET
        )
    assert not settings.resolved_key_file.exists()  # refused before anything was touched

    restored = _cli(settings, "backup", "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    assert "restored 2 calls and 2 recordings" in restored.stdout

    again = open_runtime(settings)
    try:
        assert _contents(again) == before
    finally:
        again.db.close()
    with pytest.raises(BackupError, match="is not empty"):  # a second restore would overwrite calls
        archive.restore(settings, backup, passphrase=PASSPHRASE, key_file=None, force=False, progress=QUIET)


def test_a_damaged_backup_is_refused_naming_the_file(rt: Runtime, tmp_path: Path) -> None:
    _process(rt, 1)
    backup, key_out = tmp_path / "backup", tmp_path / "elsewhere" / "keys.json"
    archive.create(rt.settings, backup, keys=archive.KeyExport(path=key_out), progress=QUIET)
    assert not (backup / archive.WRAPPED_KEYS).exists() and key_out.stat().st_mode & 0o777 == 0o600
    # docs/operations.md: the directories 0700 and the files 0600, the manifest and blobs/ included
    modes = {str(path.relative_to(backup)): path.stat().st_mode & 0o777 for path in backup.rglob("*")}
    assert modes["manifest.json"] == 0o600 and modes["blobs"] == 0o700
    assert set(modes.values()) == {0o600, 0o700}
    (blob,) = [path for path in (backup / archive.BLOBS).rglob("*") if path.is_file()]
    damaged = bytearray(blob.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    blob.write_bytes(bytes(damaged))
    name = str(blob.relative_to(backup))
    with pytest.raises(BackupError, match=f"the backup is damaged: {name} has SHA-256"):
        archive.restore(rt.settings, backup, passphrase=None, key_file=key_out, force=True, progress=QUIET)
    with rt.db.transaction() as session:  # nothing was replaced
        assert session.scalar(text("select count(*) from calls")) == 1


def test_the_manifest_names_the_running_version_and_a_newer_schema_is_refused(
    rt: Runtime, tmp_path: Path
) -> None:
    _process(rt, 1)
    backup, key_out = tmp_path / "backup", tmp_path / "elsewhere" / "keys.json"
    made = archive.create(rt.settings, backup, keys=archive.KeyExport(path=key_out), progress=QUIET)
    # the build that made it, not the release alone, which every build between two releases shares
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert made.callsense_version == callsense.__version__ == f"{version.RELEASE}+g{head[:12]}"
    assert manifest.read(backup).callsense_version == made.callsense_version

    # as if a later callsense, with a migration this one lacks, had made it
    later = made.model_copy(update={"schema_revision": "0099", "callsense_version": "0.2.0+gfeedbeef0123"})
    manifest.write(backup, later, KeyRing.from_export(key_out.read_bytes(), source="test"))
    with pytest.raises(BackupError) as refused:
        archive.restore(rt.settings, backup, passphrase=None, key_file=key_out, force=True, progress=QUIET)
    head_revision = db.schema_status(rt.db.engine).head
    assert str(refused.value) == (
        "this backup was made by callsense 0.2.0+gfeedbeef0123 at schema revision 0099, newer than this "
        f"callsense {callsense.__version__} knows (its newest is {head_revision}): restore it with callsense "
        "0.2.0+gfeedbeef0123 or newer"
    )
    with rt.db.transaction() as session:  # refused before anything was replaced
        assert session.scalar(text("select count(*) from calls")) == 1


class FileSizeLimitAfterTheDump(archive.Silent):
    """Lets pg_dump write the dump, then limits the files this process writes, as a disk filling up would."""

    def __init__(self, limit: int) -> None:
        self.limit, self.was = limit, resource.getrlimit(resource.RLIMIT_FSIZE)

    def note(self, message: str) -> None:
        if message.startswith("database dumped"):
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.limit, self.was[1]))


def test_a_backup_that_cannot_be_written_whole_is_removed_and_says_why(rt: Runtime, tmp_path: Path) -> None:
    # It stopped with an OSError traceback and left the dump behind, on the disk that had filled up.
    _process(rt, 1)
    backup, full = tmp_path / "backup", FileSizeLimitAfterTheDump(1000)  # the recording is larger
    try:
        with pytest.raises(BackupError) as refused:
            archive.create(rt.settings, backup, keys=archive.KeyExport(passphrase=PASSPHRASE), progress=full)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, full.was)
    assert str(refused.value) == (
        f"cannot write the backup into {backup}: File too large; the unfinished backup was removed"
    )
    assert not backup.exists()


class WorkerBetweenTheDumpAndTheCopy(archive.Silent):
    """Runs ``stage`` once, after the dump's snapshot and before the recordings are copied."""

    def __init__(self, stage: Callable[[], object]) -> None:
        self.stage: Callable[[], object] | None = stage

    def note(self, message: str) -> None:
        if message.startswith("database dumped") and self.stage is not None:
            self.stage()
            self.stage = None


def test_a_recording_a_worker_deletes_during_the_backup_is_not_missing_from_it(
    rt: Runtime, tmp_path: Path
) -> None:
    # The snapshot named the original recording; the transcription's redaction then stored the redacted
    # copy and deleted the original: the backup warned and restored the call without any recording.
    call_pk = ingest.ingest(rt, call_id="call-0", source=SOURCE).call_pk
    fetch.run(rt, call_pk, local_files=False)
    worker = WorkerBetweenTheDumpAndTheCopy(lambda: transcribe.run(rt, call_pk))
    backup, key_out = tmp_path / "backup", tmp_path / "elsewhere" / "keys.json"
    made = archive.create(rt.settings, backup, keys=archive.KeyExport(path=key_out), progress=worker)
    assert (made.missing_blobs, made.blobs) == ([], 1)
    assert (backup / archive.BLOBS / calls.redacted_audio_blob_key(call_pk)).is_file()
    assert not (backup / archive.BLOBS / calls.audio_blob_key(call_pk)).exists()


def test_a_forced_restore_waits_until_every_process_is_stopped(rt: Runtime, tmp_path: Path) -> None:
    # A serve or worker left running would go on with the key ring and rows it had, over the restored data.
    _process(rt, 1)
    backup, key_out = tmp_path / "backup", tmp_path / "elsewhere" / "keys.json"
    archive.create(rt.settings, backup, keys=archive.KeyExport(path=key_out), progress=QUIET)
    with rt.db.transaction() as session:
        session.execute(text("select procrastinate_register_worker_v1()"))  # a worker, as it registers
    with pytest.raises(BackupError) as refused:
        archive.restore(rt.settings, backup, passphrase=None, key_file=key_out, force=True, progress=QUIET)
    assert str(refused.value).startswith(
        "1 callsense process(es) ('serve' or 'worker') still run on the database ("
    ) and str(refused.value).endswith(
        "stop every callsense process, on every machine, before restoring over it"
    )
    with rt.db.transaction() as session:  # nothing was dropped
        assert session.scalar(text("select count(*) from calls")) == 1
        session.execute(text("delete from procrastinate_workers"))  # it stopped
    archive.restore(rt.settings, backup, passphrase=None, key_file=key_out, force=True, progress=QUIET)


def test_the_key_ring_never_lands_in_clear_inside_the_backup(rt: Runtime, tmp_path: Path) -> None:
    inside = archive.KeyExport(path=tmp_path / "backup" / "keys.json")
    with pytest.raises(BackupError, match="inside the backup"):
        archive.create(rt.settings, tmp_path / "backup", keys=inside, progress=QUIET)
    assert not (tmp_path / "backup").exists()  # refused before anything was written


def _calls(rt: Runtime) -> list[str]:
    with rt.db.transaction() as session:
        return list(session.scalars(text("select call_id from calls order by call_id")))


def test_the_calls_a_backup_holds_without_their_recording_are_named_before_and_after_the_restore(
    rt: Runtime, tmp_path: Path, embedded_server_url: str
) -> None:
    # The manifest listed the missing recordings, and restore and verify said nothing of them.
    for number in range(2):
        call_pk = ingest.ingest(rt, call_id=f"call-{number}", source=SOURCE).call_pk
        fetch.run(rt, call_pk, local_files=False)
    rt.blobs.delete(calls.audio_blob_key(call_pk))  # call-1's recording is lost
    rt.db.close()
    settings, backup, key_out = rt.settings, tmp_path / "backup", tmp_path / "elsewhere" / "keys.json"
    named = (
        "1 call(s) in this backup have no recording (the blob store lacked it when the backup was made): "
        "call-1"
    )

    made = _cli(settings, "backup", "create", str(backup), "--key-out", str(key_out))
    assert made.returncode == 0, made.stderr
    assert "2 calls, 1 recordings" in made.stdout and f"warning: {named}\n" in made.stdout
    verified = _cli(settings, "backup", "verify", str(backup), "--key-file", str(key_out))
    assert verified.returncode == 0, verified.stderr
    assert "2 calls, manifest sealed" in verified.stdout and f"warning: {named}\n" in verified.stdout
    _wipe(settings, embedded_server_url)

    restored = _cli(settings, "backup", "restore", str(backup), "--key-file", str(key_out))
    assert restored.returncode == 0, restored.stderr
    # before anything changes (stderr, with the progress), then after what was restored (stdout)
    assert "the database it goes into (" in restored.stderr and "): empty\n" in restored.stderr
    assert f"warning: {named}\n" in restored.stderr
    assert restored.stdout.startswith("restored 2 calls and 1 recordings")
    assert f"warning: {named}\n" in restored.stdout


def test_a_database_with_calls_newer_than_the_backup_is_replaced_only_with_replace_newer(
    rt: Runtime, tmp_path: Path
) -> None:
    # A week-old backup restored with --force over the database that had the week's calls lost them silently.
    call_pk = ingest.ingest(rt, call_id="call-0", source=SOURCE).call_pk
    fetch.run(rt, call_pk, local_files=False)
    backup, key_out = tmp_path / "backup", tmp_path / "elsewhere" / "keys.json"
    archive.create(rt.settings, backup, keys=archive.KeyExport(path=key_out), progress=QUIET)

    transcribe.run(rt, call_pk)  # a worker goes on with a call the backup holds: it changes
    with pytest.raises(BackupError, match=r"holds calls this backup lacks: .*; 0 added and 1 changed after"):
        archive.restore(rt.settings, backup, passphrase=None, key_file=key_out, force=True, progress=QUIET)

    ingest.ingest(rt, call_id="call-1", source=SOURCE)  # and a call arrives
    refused = _cli(rt.settings, "backup", "restore", str(backup), "--key-file", str(key_out), "--force")
    assert refused.returncode == 1
    shown = " ".join(refused.stderr.split())  # as the terminal wraps it
    assert "this backup: made " in shown and ", 1 calls, the last added or changed " in shown
    assert "tables, 2 calls, the newest added " in shown
    assert "; 1 added and 1 changed after this backup's last change (" in shown
    assert (
        "Restoring it would lose them: restore a newer backup, or into an empty database, or pass " in shown
    )
    assert "--replace-newer to replace them anyway" in shown
    assert _calls(rt) == ["call-0", "call-1"]  # nothing was replaced

    restored = _cli(
        rt.settings, "backup", "restore", str(backup), "--key-file", str(key_out), "--replace-newer"
    )
    assert restored.returncode == 0, restored.stderr
    assert _calls(rt) == ["call-0"]
    with rt.db.transaction() as session:  # as it was backed up: fetched, not transcribed
        assert session.scalar(text("select status from calls")) == "fetched"

    # The same backup again: nothing in the database is newer than it, so --force will do.
    with pytest.raises(BackupError, match=r"is not empty \(.*, 1 calls, .*; none after this backup's"):
        archive.restore(rt.settings, backup, passphrase=None, key_file=key_out, force=False, progress=QUIET)
    archive.restore(rt.settings, backup, passphrase=None, key_file=key_out, force=True, progress=QUIET)
    assert _calls(rt) == ["call-0"]


def _restore_forced(rt: Runtime, backup: Path, key_out: Path, *, replace_newer: bool = False) -> None:
    archive.restore(
        rt.settings,
        backup,
        passphrase=None,
        key_file=key_out,
        force=True,
        replace_newer=replace_newer,
        progress=QUIET,
    )


def test_users_and_tokens_added_or_changed_after_the_backup_are_replaced_only_with_replace_newer(
    rt: Runtime, tmp_path: Path
) -> None:
    # Restored with --force, a token made or a user's role changed since the backup were lost silently.
    with rt.db.transaction() as session:
        accounts.create_user(session=session, username="ana", role=Role.viewer, password="a long passphrase")
    backup, key_out = tmp_path / "backup", tmp_path / "elsewhere" / "keys.json"
    archive.create(rt.settings, backup, keys=archive.KeyExport(path=key_out), progress=QUIET)
    _restore_forced(rt, backup, key_out)  # restored from this backup and untouched: nothing is newer

    with rt.db.transaction() as session:
        tokens.create(session=session, name="crm", role=Role.viewer)
    with pytest.raises(
        BackupError,
        match=r"holds API tokens this backup lacks: .*, no calls; 1 API token added after the backup",
    ):
        _restore_forced(rt, backup, key_out)

    with rt.db.transaction() as session:  # a change that leaves no time in the row
        accounts.set_role(session=session, username="ana", role=Role.admin)
    with pytest.raises(
        BackupError,
        match=r"holds users and API tokens this backup lacks: .*; 1 user changed, 1 API token added after",
    ):
        _restore_forced(rt, backup, key_out)

    _restore_forced(rt, backup, key_out, replace_newer=True)
    with rt.db.transaction() as session:
        assert [(user.username, user.role) for user in accounts.all_users(session=session)] == [
            ("ana", Role.viewer)
        ]
        assert tokens.all_tokens(session=session) == []


def test_a_delivery_sent_after_the_backup_is_replaced_only_with_replace_newer(
    rt: Runtime, tmp_path: Path
) -> None:
    # Restored, the delivery would be pending again, and sent to the CRM a second time.
    call_pk = ingest.ingest(rt, call_id="call-0", source=SOURCE).call_pk
    fetch.run(rt, call_pk, local_files=False)
    transcribe.run(rt, call_pk)
    delivery_ids = analyse.run(rt, call_pk)
    backup, key_out = tmp_path / "backup", tmp_path / "elsewhere" / "keys.json"
    archive.create(rt.settings, backup, keys=archive.KeyExport(path=key_out), progress=QUIET)

    for delivery_id in delivery_ids:
        deliver.run(rt, delivery_id)
    with pytest.raises(
        BackupError, match=r"; none after this backup's last change \(.*\); 1 delivery changed after"
    ):
        _restore_forced(rt, backup, key_out)
    _restore_forced(rt, backup, key_out, replace_newer=True)
    with rt.db.transaction() as session:
        assert session.scalars(text("select status from deliveries")).all() == ["pending"]


def _categories(rt: Runtime) -> list[str]:
    with rt.db.transaction() as session:
        return [found.category.name for found in categories.defined(session=session, configured=[])]


def _save_category(rt: Runtime, name: str) -> None:
    with rt.db.transaction() as session:
        categories.save(
            session=session,
            raw={"name": name, "rule": {"said": name}},
            configured=[],
            topics=set(),
            actor="admin",
        )


def test_a_category_deleted_after_the_backup_is_brought_back_only_with_replace_newer(
    rt: Runtime, tmp_path: Path
) -> None:
    # Restored with --force, a category deleted on the dashboard since the backup came back silently.
    _save_category(rt, "refund")
    _save_category(rt, "cancel")
    backup, key_out = tmp_path / "backup", tmp_path / "elsewhere" / "keys.json"
    made = archive.create(rt.settings, backup, keys=archive.KeyExport(path=key_out), progress=QUIET)
    assert made.row_keys == {"category_definitions": ["cancel", "refund"]}
    _restore_forced(rt, backup, key_out)  # restored from this backup and untouched: nothing is deleted

    with rt.db.transaction() as session:  # what the dashboard's and the API's delete do
        categories.remove(session=session, name="refund", actor="admin")
    refused = _cli(rt.settings, "backup", "restore", str(backup), "--key-file", str(key_out), "--force")
    assert refused.returncode == 1
    shown = " ".join(refused.stderr.split())  # as the terminal wraps it
    assert "lacks categories this backup holds: " in shown
    assert "tables, no calls; 1 category deleted after the backup; this backup was made " in shown
    assert "Restoring it would undo those changes: restore a newer backup" in shown
    assert shown.endswith("pass --replace-newer to bring them back anyway")

    _save_category(rt, "complaint")
    with rt.db.transaction() as session:  # with rows added: both said, in one message
        accounts.create_user(session=session, username="ana", role=Role.viewer, password="a long passphrase")
    with pytest.raises(
        BackupError,
        match=r"holds users and categories this backup lacks and lacks categories this backup holds: "
        r".*; 1 user added, 1 category added and 1 deleted after the backup; .*would undo those changes: "
        r".* pass --replace-newer to restore it anyway$",
    ):
        _restore_forced(rt, backup, key_out)
    _restore_forced(rt, backup, key_out, replace_newer=True)
    assert _categories(rt) == ["cancel", "refund"]

    # A backup made before the keys were recorded restores as before: the deletion goes unseen.
    ring = KeyRing.load_or_create(key_out)
    older = manifest.write(backup, manifest.read(backup).model_copy(update={"row_keys": None}), ring)
    assert older.row_keys is None and older.fingerprints is not None
    with rt.db.transaction() as session:
        categories.remove(session=session, name="refund", actor="admin")
    _restore_forced(rt, backup, key_out)
    assert _categories(rt) == ["cancel", "refund"]


def test_a_call_erased_after_the_backup_is_erased_again_by_the_restore_despite_its_old_hold(
    rt: Runtime, tmp_path: Path
) -> None:
    # The restore brought the erased call back, its wrapped data key and the key ring that opens it with it.
    _process(rt, 2)
    with rt.db.transaction() as session:  # held when the backup is made, released before the erasure
        retention.set_hold(
            session=session, call_id="call-1", held=True, actor="dpo", reason="case 9", via="cli"
        )
        erased_pk = calls.get(session=session, call_id="call-1").id
    kept = _contents(rt)[0]["call-0"]
    backup, key_out = tmp_path / "backup", tmp_path / "elsewhere" / "keys.json"
    archive.create(rt.settings, backup, keys=archive.KeyExport(path=key_out), progress=QUIET)
    with rt.db.transaction() as session:
        retention.set_hold(
            session=session, call_id="call-1", held=False, actor="dpo", reason="done", via="cli"
        )
    erasure.erase(rt, call_id="call-1", actor="dpo", reason="DSR-3", via="cli")

    restored = _cli(rt.settings, "backup", "restore", str(backup), "--key-file", str(key_out), "--force")
    assert restored.returncode == 0, restored.stderr
    assert _calls(rt) == ["call-0"]
    assert "1 call(s) erased after the backup was made will be erased again\n" in restored.stderr
    assert (
        "erased again: call-1 (erased on " in restored.stdout
        and " by dpo before this restore)" in restored.stdout
    )
    with rt.db.transaction() as session:
        wrapped, destroyed_at = session.execute(
            text("select wrapped, destroyed_at from call_keys where call_pk = :pk"), {"pk": erased_pk}
        ).one()
        recorded = session.execute(
            text(
                "select actor, detail from events where stage = 'erasure' and call_id = 'call-1' order by at"
            )
        ).all()
    assert wrapped is None and destroyed_at is not None
    assert [actor for actor, _ in recorded] == [
        "dpo",
        "restore",
    ]  # the first erasure's record, and this one's
    assert recorded[0][1] == "erased on request (cli): DSR-3"
    assert "before this restore; the legal hold it had (placed " in recorded[1][1]
    with pytest.raises(NotFoundError):
        rt.blobs.open(calls.redacted_audio_blob_key(erased_pk))
    assert _contents(rt)[0] == {"call-0": kept}
    assert not erasures.kept_in(rt.settings).exists()


def _major(url: str) -> int:
    engine = create_engine(url)
    try:
        return pgtools.server_major(engine)
    finally:
        engine.dispose()


@pytest.mark.external_pg
def test_a_backup_is_not_restored_into_an_older_postgresql(
    rt: Runtime, tmp_path: Path, external_database_url: str
) -> None:
    older = Settings(data_dir=tmp_path / "other", database_url=external_database_url)
    theirs, ours = _major(external_database_url), _major(str(rt.settings.database_url))
    if theirs >= ours:
        pytest.skip(f"the external PostgreSQL ({theirs}) is not older than the embedded one ({ours})")
    backup = tmp_path / "backup"
    archive.create(rt.settings, backup, keys=archive.KeyExport(passphrase=PASSPHRASE), progress=QUIET)
    with pytest.raises(
        BackupError, match=f"comes from PostgreSQL {ours} .* restore into PostgreSQL {ours} or newer"
    ):
        archive.restore(older, backup, passphrase=PASSPHRASE, key_file=None, force=False, progress=QUIET)
    assert not older.resolved_key_file.exists()


class _Noted(archive.Silent):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)


def test_erasures_kept_by_a_restore_that_stopped_are_applied_by_the_next_restore_and_reerase(
    rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _process(rt, 2)
    with rt.db.transaction() as session:
        erased_pk = calls.get(session=session, call_id="call-1").id
    backup, key_out = tmp_path / "backup", tmp_path / "elsewhere" / "keys.json"
    archive.create(rt.settings, backup, keys=archive.KeyExport(path=key_out), progress=QUIET)
    erasure.erase(rt, call_id="call-1", actor="dpo", reason="DSR-4", via="cli")

    def stopped(*_: object, **__: object) -> None:
        raise BackupError("pg_restore stopped")

    # The restore stops after it emptied the database: the erasure it recorded is only in the kept file now.
    with monkeypatch.context() as patched:
        patched.setattr(pgtools, "run", stopped)
        with pytest.raises(BackupError, match="pg_restore stopped"):
            _restore_forced(rt, backup, key_out)
    assert [one.call_id for one in erasures.pending(rt.settings)] == ["call-1"]

    # The next restore finds an empty database, which records no erasure, and keeps the earlier one.
    noted = _Noted()
    archive.restore(rt.settings, backup, passphrase=None, key_file=key_out, force=False, progress=noted)
    assert "1 erasure(s) kept by an earlier restore that did not finish will be applied again" in noted.notes
    assert _calls(rt) == ["call-0", "call-1"]  # back from the backup until it is erased again
    assert [one.call_id for one in erasures.pending(rt.settings)] == ["call-1"]

    again = _cli(rt.settings, "backup", "reerase")
    assert again.returncode == 0, again.stderr
    assert "erased again: call-1 (erased on " in again.stdout
    assert " by dpo before this restore)" in again.stdout
    assert "1 call(s) erased before this restore were erased again" in again.stdout
    assert _calls(rt) == ["call-0"]
    with rt.db.transaction() as session:
        destroyed_at = session.execute(
            text("select destroyed_at from call_keys where call_pk = :pk"), {"pk": erased_pk}
        ).scalar_one()
    assert destroyed_at is not None
    assert not erasures.kept_in(rt.settings).exists()
    assert _cli(rt.settings, "backup", "reerase").stdout == ""  # nothing left to do
