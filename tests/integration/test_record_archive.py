"""The call's record in the archive (``blobs.archive_records``), on a real PostgreSQL through the real
stages (models fakes, the card-reading call of ``tests/redaction_calls.py``), with the filesystem and the
memory store: written when on and absent when off, ciphertext only in the store, the redacted view once
decrypted, written again by a retried or forced analysis and by a category re-evaluation, deleted by
erasure and by the text purge."""

from __future__ import annotations

import dataclasses
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, text, update

from callsense.backends.blobstore import MemoryBlobStore
from callsense.backup import archive
from callsense.calls import service as calls
from callsense.calls.models import Call
from callsense.calls.schemas import CallRecord
from callsense.config import Settings
from callsense.errors import DecryptionError, NotFoundError
from callsense.pipeline import analyse, categorise, erasure, inline, record_archive, retention
from callsense.runtime import Runtime
from tests.blobs import read_blob
from tests.crm_calls import cli_env
from tests.redaction_calls import CARD, process, runtime, without_timestamps
from tests.servers import CALLSENSE

FIRST_GROUP = CARD.split()[0]
QUIET = archive.Silent()
PASSPHRASE = "correct horse battery staple"


def archiving(settings: Settings, *, on: bool = True, **more: Any) -> Settings:
    """``settings`` with ``blobs.archive_records`` on (or off) and ``more`` on top."""
    blobs = {**settings.blobs.model_dump(mode="json"), "archive_records": on}
    return Settings.model_validate({**settings.model_dump(), "blobs": blobs, **more})


@pytest.fixture(params=["filesystem", "memory"])
def rt(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Runtime]:
    runtime_ = runtime(archiving(settings, retention={"text_days": 90}))
    if request.param == "memory":
        runtime_ = dataclasses.replace(runtime_, blobs=MemoryBlobStore())
    yield runtime_
    runtime_.db.close()


def archived(rt: Runtime, call_pk: uuid.UUID) -> bytes:
    """The record as the store holds it (ciphertext); ``NotFoundError`` when none is."""
    return read_blob(rt.blobs, calls.record_blob_key(call_pk))


def opened(rt: Runtime, call_pk: uuid.UUID) -> CallRecord:
    plain = rt.keyring.decrypt(archived(rt, call_pk), context=calls.record_context(call_pk))
    return CallRecord.model_validate_json(plain)


def _gone(rt: Runtime, call_pk: uuid.UUID) -> bool:
    try:
        archived(rt, call_pk)
    except NotFoundError:
        return True
    return False


def test_the_record_is_archived_encrypted_and_redacted(rt: Runtime) -> None:
    call_pk, _ = process(rt, "card")
    sealed = archived(rt, call_pk)
    for said in (FIRST_GROUP.encode(), b"CARD_NUMBER", b"My card is", b"call_id"):
        assert said not in sealed  # ciphertext only
    # under the call's data key, never directly under a ring key: key rotation has nothing to rewrite
    assert rt.keyring.key_id_of(sealed) is None
    record = opened(rt, call_pk)
    assert record == inline.record(rt, call_pk)  # the redacted view, as analysts see it
    assert "My card is [CARD_NUMBER]" in record.transcript
    assert FIRST_GROUP not in without_timestamps(record.model_dump_json())
    with pytest.raises(DecryptionError):  # bound to its call and field
        rt.keyring.decrypt(sealed, context=calls.audio_context(call_pk))


def test_a_retried_or_forced_analysis_writes_it_again(rt: Runtime) -> None:
    call_pk, _ = process(rt, "card")
    rt.blobs.delete(calls.record_blob_key(call_pk))  # as if the stage died between its commit and the write
    analyse.run(rt, call_pk)
    assert opened(rt, call_pk).call_id == "card"
    rt.blobs.delete(calls.record_blob_key(call_pk))
    analyse.run(rt, call_pk, force=True)  # a reprocessing
    assert opened(rt, call_pk).call_id == "card"


def test_a_category_re_evaluation_writes_it_again(rt: Runtime) -> None:
    call_pk, _ = process(rt, "card")
    rt.blobs.delete(calls.record_blob_key(call_pk))
    with rt.db.transaction() as session:  # stale: evaluated under another revision of the categories
        session.execute(update(Call).where(Call.id == call_pk).values(categories_revision="old"))
    assert categorise.run_batch(rt, call_pk, call_pk) == 1
    assert opened(rt, call_pk) == inline.record(rt, call_pk)


def test_erasure_deletes_it(rt: Runtime) -> None:
    call_pk, _ = process(rt, "card")
    erasure.erase(rt, call_id="card", actor="dpo", reason="DSR-1", via="cli")
    assert _gone(rt, call_pk)
    record_archive.write(rt, call_pk)  # a stage or re-evaluation that held the call's id before: no error
    assert _gone(rt, call_pk)


def test_the_text_purge_deletes_it_and_no_later_stage_writes_it_back(rt: Runtime) -> None:
    old, _ = process(rt, "old")
    recent, _ = process(rt, "recent")
    with rt.db.transaction() as session:
        session.execute(
            update(Call).where(Call.id == old).values(started_at=func.now() - text("interval '100 days'"))
        )
    assert sum(retention.purge(rt, actor="test").text.values()) == 1
    assert _gone(rt, old) and not _gone(rt, recent)
    record_archive.write(
        rt, old
    )  # as a late retry or a re-evaluation would: the text is gone, so is the record
    assert _gone(rt, old)


def test_a_backup_copies_the_records_and_a_restore_puts_them_back(settings: Settings, tmp_path: Path) -> None:
    rt = runtime(archiving(settings))  # the filesystem store the settings name, which the backup opens
    try:
        kept, _ = process(rt, "kept")
        before, _ = process(rt, "before")
        rt.blobs.delete(calls.record_blob_key(before))  # as if analysed before the setting was turned on
        sealed = archived(rt, kept)
    finally:
        rt.db.close()
    backup = tmp_path / "backup"
    made = archive.create(rt.settings, backup, keys=archive.KeyExport(passphrase=PASSPHRASE), progress=QUIET)
    assert (backup / archive.BLOBS / calls.record_blob_key(kept)).read_bytes() == sealed
    assert not (backup / archive.BLOBS / calls.record_blob_key(before)).exists() and made.missing_blobs == []

    rt.blobs.delete(calls.record_blob_key(kept))
    archive.restore(rt.settings, backup, passphrase=PASSPHRASE, key_file=None, force=True, progress=QUIET)
    assert archived(rt, kept) == sealed


def test_the_cli_prints_the_archived_record(settings: Settings) -> None:
    rt = runtime(archiving(settings))  # the filesystem store the CLI opens from the same settings
    try:
        call_pk, _ = process(rt, "card")
        expected = inline.record(rt, call_pk)
    finally:
        rt.db.close()

    def archived_cli() -> subprocess.CompletedProcess[str]:
        command = [CALLSENSE, "calls", "archived", "card"]
        return subprocess.run(
            command, env=cli_env(settings), capture_output=True, text=True, timeout=120, check=False
        )

    printed = archived_cli()
    assert printed.returncode == 0, printed.stderr
    assert CallRecord.model_validate_json(printed.stdout) == expected
    rt.blobs.delete(calls.record_blob_key(call_pk))
    missing = archived_cli()
    assert missing.returncode != 0 and "has no record in the archive" in missing.stderr


def test_nothing_is_archived_when_off(settings: Settings) -> None:
    rt = runtime(archiving(settings, on=False))
    try:
        call_pk, _ = process(rt, "card")
        assert _gone(rt, call_pk)
    finally:
        rt.db.close()
