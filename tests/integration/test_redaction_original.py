"""The original recording under redaction with ``keep_original_audio`` off, on a real PostgreSQL through the
real stages: it is deleted only once the transcript and the redacted copy are committed, and a transcription
that stopped between that commit and the delete leaves no orphan behind once the queue runs it again."""

from __future__ import annotations

import dataclasses
import io
import uuid
from collections.abc import Iterable

import pytest
from sqlalchemy import func, text, update

from callsense.backends.blobstore.base import BlobStore
from callsense.calls import service as calls
from callsense.calls.models import Call
from callsense.config import Settings
from callsense.errors import NotFoundError
from callsense.pipeline import analyse, deliver, fetch, ingest, retention, transcribe
from callsense.runtime import Runtime
from tests.blobs import read_blob
from tests.redaction_calls import SOURCE, runtime


class WorkerKilled(BaseException):
    """What a worker killed at this point leaves: nothing after it runs (not an ``Exception``, so no
    handler of the stage sees it as a failure to record)."""


@dataclasses.dataclass
class DiesOnce:
    """The blob store, except that the first ``operation`` on ``key`` stops the worker instead."""

    store: BlobStore
    operation: str
    key: str
    died: bool = False

    def _maybe_die(self, operation: str, key: str) -> None:
        if not self.died and (operation, key) == (self.operation, self.key):
            self.died = True
            raise WorkerKilled(f"killed before {operation} {key}")

    def put(self, key: str, chunks: Iterable[bytes]) -> None:
        self._maybe_die("put", key)
        self.store.put(key, chunks)

    def open(self, key: str) -> io.BufferedIOBase:
        return self.store.open(key)

    def delete(self, key: str) -> None:
        self._maybe_die("delete", key)
        self.store.delete(key)


def _fetched(settings: Settings, call_id: str, *, operation: str, key: str) -> tuple[Runtime, uuid.UUID]:
    rt = runtime(settings)  # keep_original_audio unset: with redaction on, the original goes
    call_pk = ingest.ingest(rt, call_id=call_id, source=SOURCE).call_pk
    fetch.run(rt, call_pk, local_files=False)
    return dataclasses.replace(rt, blobs=DiesOnce(rt.blobs, operation, key.format(call_pk))), call_pk


def _stored(rt: Runtime, call_pk: uuid.UUID) -> tuple[bool, bool]:
    """Whether the row names a transcript, whether the original recording is in the blob store."""
    with rt.db.transaction() as session:
        transcribed = calls.lock(session=session, call_pk=call_pk).transcript is not None
    try:
        read_blob(rt.blobs, calls.audio_blob_key(call_pk))
    except NotFoundError:
        return transcribed, False
    return transcribed, True


def test_a_transcription_killed_after_its_commit_deletes_the_original_when_run_again(
    settings: Settings,
) -> None:
    rt, call_pk = _fetched(settings, "orphan", operation="delete", key="audio/{}")
    try:
        with pytest.raises(WorkerKilled):
            transcribe.run(rt, call_pk)
        assert _stored(rt, call_pk) == (True, True)  # committed, the row names no original: an orphan
        assert transcribe.run(rt, call_pk) == "analyse"  # the queue hands the job back (recover_stalled)
        assert _stored(rt, call_pk) == (True, False)
        read_blob(rt.blobs, calls.redacted_audio_blob_key(call_pk))  # what the call plays now
    finally:
        rt.db.close()


def test_a_transcription_killed_before_its_commit_keeps_the_original(settings: Settings) -> None:
    rt, call_pk = _fetched(settings, "uncommitted", operation="put", key="audio-redacted/{}")
    try:
        with pytest.raises(WorkerKilled):  # inside the transaction: nothing of it is stored
            transcribe.run(rt, call_pk)
        assert _stored(rt, call_pk) == (False, True)
        assert transcribe.run(rt, call_pk) == "analyse"
        assert _stored(rt, call_pk) == (True, False)
    finally:
        rt.db.close()


def test_the_audio_purge_deletes_an_original_the_row_no_longer_names(settings: Settings) -> None:
    rt, call_pk = _fetched(settings, "purged", operation="delete", key="audio/{}")
    try:
        with pytest.raises(WorkerKilled):
            transcribe.run(rt, call_pk)  # and never run again (its job gave up); the call goes on
        for delivery_id in analyse.run(rt, call_pk):
            deliver.run(rt, delivery_id)
        with rt.db.transaction() as session:
            session.execute(
                update(Call)
                .where(Call.id == call_pk)
                .values(started_at=func.now() - text("interval '2 days'"))
            )
        purging = Settings.model_validate({**rt.settings.model_dump(), "retention": {"audio_days": 1}})
        report = retention.purge(dataclasses.replace(rt, settings=purging), actor="test")
        assert sum(report.audio.values()) == 1
        assert _stored(rt, call_pk) == (True, False)
    finally:
        rt.db.close()
