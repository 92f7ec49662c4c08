"""Retention, legal hold and erasure on a real PostgreSQL, calls processed by the real stages (models and
servers fakes): the purge by age and source, holds, erasure of every row and blob with a surviving audit
event, a queued stage meeting an erased call, the periodic task, and the API's roles."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DataError

from callsense import metrics
from callsense.backends.crm.base import Outgoing, Receipt
from callsense.backends.crm.fake import FakeDestinations
from callsense.backends.recordings.sources import Listed
from callsense.backends.recordings.sources.fake import FakeSource
from callsense.calls import actions
from callsense.calls import retention as holds
from callsense.calls import service as calls
from callsense.calls.categories import EVALUATED
from callsense.calls.models import (
    Analysis,
    Call,
    CallCategory,
    CallKey,
    Delivery,
    Event,
    SourceFile,
    Transcript,
    WebhookReceipt,
)
from callsense.calls.search import CallSearch
from callsense.config import Settings
from callsense.config.deliveries import DestinationSettings
from callsense.errors import CallGoneError, LegalHoldError, NotFoundError
from callsense.pipeline import (
    analyse,
    categorise,
    deliver,
    erasure,
    fetch,
    ingest,
    poll,
    retention,
    tasks,
    transcribe,
)
from callsense.runtime import Runtime
from callsense.security import tokens
from callsense.security.tokens import Role
from callsense.server import create_app
from callsense.web import operations
from tests.blobs import read_blob
from tests.integration.test_redaction_original import DiesOnce, WorkerKilled
from tests.integration.test_stages import SOURCE, runtime_with_fakes
from tests.recording_trees import tiny_wav

RULES = {
    "audio_days": 30,
    "text_days": 90,
    "sources": {"nas": {"audio_days": 7, "text_days": "forever"}},
}


def _settings(settings: Settings, folder: Path, rules: dict[str, Any]) -> Settings:
    folder.mkdir(exist_ok=True)
    return Settings.model_validate(
        {
            **settings.model_dump(),
            "sources": {"folders": [{"name": "nas", "path": str(folder)}]},
            "retention": rules,
        }
    )


@pytest.fixture
def rt(settings: Settings, tmp_path: Path) -> Iterator[Runtime]:
    runtime = runtime_with_fakes(_settings(settings, tmp_path / "nas", RULES))
    yield runtime
    runtime.db.close()


def _processed(rt: Runtime, call_id: str, *, days_old: int, source_name: str | None = None) -> uuid.UUID:
    """A call taken through every stage and delivered, made ``days_old`` days ago."""
    details = calls.CallDetails(source_name=source_name)
    call_pk = ingest.ingest(rt, call_id=call_id, source=SOURCE, details=details).call_pk
    fetch.run(rt, call_pk, local_files=False)
    transcribe.run(rt, call_pk)
    for delivery_id in analyse.run(rt, call_pk):
        deliver.run(rt, delivery_id)
    _backdate(rt, call_pk, days_old=days_old)
    return call_pk


def _backdate(rt: Runtime, call_pk: uuid.UUID, *, days_old: int) -> None:
    with rt.db.transaction() as session:
        session.execute(
            update(Call)
            .where(Call.id == call_pk)
            .values(started_at=func.now() - text(f"interval '{days_old} days'"))
        )


def _has_audio(rt: Runtime, call_pk: uuid.UUID) -> bool:
    """Whether a recording of the call is stored: the original, or (redaction being on) its redacted copy."""
    for key in (calls.audio_blob_key(call_pk), calls.redacted_audio_blob_key(call_pk)):
        try:
            read_blob(rt.blobs, key)
        except NotFoundError:
            continue
        return True
    return False


def _count(rt: Runtime, model: Any, call_pk: uuid.UUID) -> int:
    with rt.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(model.call_pk == call_pk)) or 0


def _forgotten(what: str) -> float:
    return metrics.REGISTRY.get_sample_value("callsense_calls_forgotten_total", {"what": what}) or 0.0


def test_the_purge_removes_what_each_sources_rule_says_and_runs_again_harmlessly(rt: Runtime) -> None:
    old_webhook = _processed(rt, "old-webhook", days_old=40)  # audio past 30 days, text within 90
    ancient_webhook = _processed(rt, "ancient-webhook", days_old=200)  # both past
    recent_webhook = _processed(rt, "recent-webhook", days_old=10)
    nas_recent = _processed(rt, "nas-recent", days_old=10, source_name="nas")  # audio past nas's 7 days
    nas_ancient = _processed(rt, "nas-ancient", days_old=400, source_name="nas")  # nas keeps text forever
    held = _processed(rt, "held", days_old=400)
    with rt.db.transaction() as session:
        holds.set_hold(session=session, call_id="held", held=True, actor="legal", reason="case 7", via="cli")

    planned = retention.purge(rt, actor="test", dry_run=True)
    assert dict(planned.audio) == {retention.NO_SOURCE: 2, "nas": 2}
    assert dict(planned.text) == {retention.NO_SOURCE: 1}
    assert _has_audio(rt, old_webhook)  # a dry run changes nothing

    before = (_forgotten("audio"), _forgotten("text"))
    done = retention.purge(rt, actor="test")
    assert (done.audio, done.text) == (planned.audio, planned.text)
    assert (_forgotten("audio"), _forgotten("text")) == (before[0] + 4, before[1] + 1)

    for purged in (old_webhook, ancient_webhook, nas_recent, nas_ancient):
        assert not _has_audio(rt, purged)
    for kept in (recent_webhook, held):
        assert _has_audio(rt, kept)
    assert [_count(rt, model, ancient_webhook) for model in (Transcript, Analysis, CallSearch)] == [0, 0, 0]
    for kept in (old_webhook, nas_ancient, held):
        assert _count(rt, Transcript, kept) == 1 and _count(rt, CallSearch, kept) == 1
    with rt.db.transaction() as session:
        call = calls.get(session=session, call_id="ancient-webhook")
        assert call.audio_blob is None and call.audio_purged_at and call.text_purged_at
        assert call.sentiment is not None and call.talk is not None  # the categories and figures stay
        record = calls.to_record(call=call, keyring=rt.keyring)
        assert record.transcript == "" and record.summary == []
        event = holds.last_purge(session=session)
    assert event is not None and event.call_pk is None and event.actor == "test"
    assert "recordings of 4 calls, text of 1 calls" in (event.detail or "")
    assert "webhook" in (event.detail or "") and "ancient" not in (event.detail or "")  # counts, never ids

    again = retention.purge(rt, actor="test")
    assert sum(again.audio.values()) == sum(again.text.values()) == 0
    with rt.db.transaction() as session, pytest.raises(NotFoundError, match="removed under the retention"):
        actions.restart(session=session, call_id="old-webhook", actor="admin", via="api", blobs=rt.blobs)


class _Killed(BaseException):
    """The purge's process dying: nothing after it runs, its open transaction is rolled back."""


class _DyingBlobs:
    """The blob store, and a process that dies right after deleting a recording and its redacted copy."""

    def __init__(self, blobs: Any) -> None:
        self._blobs = blobs
        self._deleted = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._blobs, name)

    def delete(self, key: str) -> None:
        self._blobs.delete(key)
        self._deleted += 1
        if self._deleted == 2:
            raise _Killed


def test_a_purge_killed_midway_then_a_hold_leaves_the_call_saying_what_the_purge_took(rt: Runtime) -> None:
    call_pk = _processed(rt, "killed-purge", days_old=400)
    with pytest.raises(_Killed):
        retention.purge(dataclasses.replace(rt, blobs=_DyingBlobs(rt.blobs)), actor="worker")
    with rt.db.transaction() as session:
        hold = holds.set_hold(
            session=session, call_id="killed-purge", held=True, actor="legal", reason="case 9", via="api"
        )
    with rt.db.transaction() as session:
        after_kill = session.get_one(Call, call_pk)
        # a recording gone is a recording the call's record says the purge took
        assert _has_audio(rt, call_pk) or after_kill.audio_purged_at is not None
        # and the officer's operations page says a purge did not finish
        assert operations.retention_state(session=session, settings=rt.settings.retention).unfinished == 1
    # the hold placed after the kill is told the truth: the recording and the text were taken
    assert hold.audio_purged_at is not None and hold.text_purged_at is not None
    retention.purge(rt, actor="worker")  # the next run finishes what the killed one marked
    assert not _has_audio(rt, call_pk)
    assert [_count(rt, model, call_pk) for model in (Transcript, Analysis, CallSearch)] == [0, 0, 0]
    with rt.db.transaction() as session:
        call = session.get_one(Call, call_pk)
        assert (call.audio_blob, call.redacted_audio_blob) == (None, None)
        assert call.audio_purged_at == hold.audio_purged_at and call.legal_hold_at is not None
        assert operations.retention_state(session=session, settings=rt.settings.retention).unfinished == 0


def test_a_call_whose_text_was_purged_is_not_categorised_again_from_nothing(rt: Runtime) -> None:
    call_pk = _processed(rt, "text-past", days_old=200)
    retention.purge(rt, actor="test")
    # duration and talk figures outlive the text: a new rule on them must not put the call back in a category
    short = {"name": "Short call", "rule": {"duration_s": {"below": 10_000}}}
    changed = rt.settings.model_validate({**rt.settings.model_dump(), "categories": [short]})
    later = dataclasses.replace(rt, settings=changed)
    assert categorise.progress(later).finished  # `categories reevaluate` does not wait for it
    for first, last in categorise.stale_ranges(later):
        categorise.run_batch(later, first, last)
    assert _count(rt, CallCategory, call_pk) == 0


def test_a_call_processed_again_after_its_text_was_purged_has_its_text_again(rt: Runtime) -> None:
    call_pk = _processed(rt, "text-again", days_old=1)
    with rt.db.transaction() as session:
        holds.forget_text(session=session, call_pks=[call_pk])  # as a purge of text kept shorter than audio
    with rt.db.transaction() as session:
        again = actions.restart(
            session=session, call_id="text-again", actor="admin", via="api", blobs=rt.blobs
        )
    assert again.stage == "fetch"  # redaction kept only the redacted copy: the recording comes again
    fetch.run(rt, call_pk, local_files=False)
    transcribe.run(rt, call_pk)
    analyse.run(rt, call_pk)
    with rt.db.transaction() as session:
        call = session.get_one(Call, call_pk)
        assert call.transcript is not None and call.text_purged_at is None
    # ... so it counts as analysed again: categorised, archived, not shown as purged
    with rt.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Call).where(Call.id == call_pk, *EVALUATED))


def test_the_text_purge_deletes_the_llm_answers_kept_for_a_retry(rt: Runtime) -> None:
    """An analysis stored, then its worker killed before it deleted the answers it had kept for a retry, and
    its job never run again: the call is done, and its text purge takes them with the transcript."""
    call_pk = ingest.ingest(rt, call_id="answers-left", source=SOURCE).call_pk
    fetch.run(rt, call_pk, local_files=False)
    transcribe.run(rt, call_pk)
    kept = calls.kept_answers_blob_key(call_pk)
    with pytest.raises(WorkerKilled):
        analyse.run(dataclasses.replace(rt, blobs=DiesOnce(rt.blobs, "delete", kept)), call_pk)
    assert b"charged" not in read_blob(rt.blobs, kept)  # left behind, sealed
    _backdate(rt, call_pk, days_old=200)
    assert dict(retention.purge(rt, actor="test").text) == {retention.NO_SOURCE: 1}
    with pytest.raises(NotFoundError):
        read_blob(rt.blobs, kept)


def test_a_call_still_in_the_pipeline_is_not_purged(rt: Runtime) -> None:
    call_pk = ingest.ingest(rt, call_id="waiting", source=SOURCE).call_pk
    fetch.run(rt, call_pk, local_files=False)  # fetched, waiting for its transcription
    with rt.db.transaction() as session:
        session.execute(
            update(Call).where(Call.id == call_pk).values(started_at=func.now() - text("interval '1 year'"))
        )
    assert sum(retention.purge(rt, actor="test").audio.values()) == 0
    assert _has_audio(rt, call_pk)


def test_erasure_removes_every_row_and_blob_and_leaves_one_audit_event(rt: Runtime) -> None:
    call_pk = _processed(rt, "subject", days_old=1)
    with rt.db.transaction() as session:
        session.add(WebhookReceipt(webhook_id="msg_subject", call_pk=call_pk))
        session.add(
            SourceFile(
                source="nas", path="subject.wav", size=1, mtime=1.0, status="ingested", call_pk=call_pk
            )
        )
    assert _count(rt, Delivery, call_pk) == 1 and _count(rt, Event, call_pk) > 0
    erased_before = _forgotten("erased")

    done = erasure.erase(rt, call_id="subject", actor="dpo", reason="DSR-42", via="cli")

    assert done.erased_now and done.crm_records == ["hook:hook-subject"]
    assert _forgotten("erased") == erased_before + 1
    assert not _has_audio(rt, call_pk)
    for model in (Transcript, Analysis, CallSearch, Delivery, Event):
        assert _count(rt, model, call_pk) == 0, model
    with rt.db.transaction() as session:
        assert session.get(Call, call_pk) is None
        receipt = session.get(WebhookReceipt, "msg_subject")
        assert receipt is not None and receipt.call_pk is None  # replay protection stays, unlinked
        source_file = session.scalars(select(SourceFile)).one()
        assert source_file.call_pk is None and "erased" in (source_file.reason or "")  # never taken again
        data_key = session.get(CallKey, call_pk)  # destroyed: copies of its ciphertexts open no more
        assert data_key is not None and data_key.wrapped is None and data_key.destroyed_at is not None
        (record,) = session.scalars(select(Event).where(Event.stage == "erasure"))
    assert (record.call_pk, record.call_id, record.kind, record.actor) == (None, "subject", "erased", "dpo")
    assert done.at == record.at  # the erasure is one moment, as the audit trail keeps it
    assert "DSR-42" in (record.detail or "") and "hook:hook-subject" in (record.detail or "")
    assert "charged" not in (record.detail or "")  # no words of the call

    again = erasure.erase(rt, call_id="subject", actor="someone", reason="again", via="api")
    assert not again.erased_now and again.by == "dpo" and again.at == record.at
    with pytest.raises(NotFoundError):
        erasure.erase(rt, call_id="never-was", actor="dpo", reason="DSR-43", via="cli")


def test_a_held_call_is_refused_erasure_until_released(rt: Runtime) -> None:
    call_pk = _processed(rt, "evidence", days_old=1)
    with rt.db.transaction() as session:
        holds.set_hold(
            session=session, call_id="evidence", held=True, actor="legal", reason="case 9", via="api"
        )
    with pytest.raises(LegalHoldError, match=r"legal hold .* case 9.*callsense calls release evidence"):
        erasure.erase(rt, call_id="evidence", actor="dpo", reason="DSR-44", via="cli")
    assert _has_audio(rt, call_pk)
    with rt.db.transaction() as session:
        holds.set_hold(
            session=session, call_id="evidence", held=False, actor="legal", reason="closed", via="api"
        )
        kinds = [e.kind for e in calls.events(session=session, call_pk=call_pk) if e.stage == "api"]
    assert kinds == ["hold", "hold_released"]
    assert erasure.erase(rt, call_id="evidence", actor="dpo", reason="DSR-44", via="cli").erased_now


def test_an_erasure_the_database_refuses_leaves_the_recording_with_the_call(rt: Runtime) -> None:
    """A reason PostgreSQL cannot store (a NUL character, from a form or a query string) fails the erasure
    before any recording is deleted: the call stays whole, and a proper request erases it."""
    call_pk = _processed(rt, "unstorable-reason", days_old=1)
    with pytest.raises(DataError):
        erasure.erase(rt, call_id="unstorable-reason", actor="dpo", reason="DSR\x0045", via="api")
    assert _has_audio(rt, call_pk)
    assert erasure.erase(rt, call_id="unstorable-reason", actor="dpo", reason="DSR-45", via="api").erased_now


def test_a_queued_stage_that_meets_an_erased_call_ends_quietly(rt: Runtime) -> None:
    call_pk = ingest.ingest(rt, call_id="racing", source=SOURCE).call_pk
    fetch.run(rt, call_pk, local_files=False)
    app = tasks.build_app(rt)
    with app.open():
        tasks.defer_stage(app, "transcribe", call_pk)
        erasure.erase(rt, call_id="racing", actor="dpo", reason="DSR-45", via="cli")
        with pytest.raises(CallGoneError):
            transcribe.run(rt, call_pk)  # the stage itself says so
        options = tasks.worker_options(rt, queues=["transcribe"], concurrency=1)
        app.run_worker(**{**options, "wait": False, "install_signal_handlers": False})
    with rt.db.transaction() as session:
        query = "select status::text from procrastinate_jobs where queue_name = 'transcribe'"
        states = list(session.execute(text(query)).scalars())
    assert states == []  # the job ran and succeeded (successful jobs are deleted): no failure to look into
    assert rt.transcriber.requests == []  # type: ignore[attr-defined]


def test_a_queued_delivery_of_an_erased_call_ends_quietly(rt: Runtime) -> None:
    call_pk = ingest.ingest(rt, call_id="undelivered", source=SOURCE).call_pk
    fetch.run(rt, call_pk, local_files=False)
    transcribe.run(rt, call_pk)
    (delivery_id,) = analyse.run(rt, call_pk)
    app = tasks.build_app(rt)
    with app.open():
        tasks.defer_delivery(app, delivery_id)
        erasure.erase(rt, call_id="undelivered", actor="dpo", reason="DSR-47", via="cli")
        options = tasks.worker_options(rt, queues=["deliver"], concurrency=1)
        app.run_worker(**{**options, "wait": False, "install_signal_handlers": False})
    with rt.db.transaction() as session:
        query = "select status::text from procrastinate_jobs where queue_name = 'deliver'"
        assert list(session.execute(text(query)).scalars()) == []
    assert rt.crm.sent == []  # type: ignore[attr-defined]


def test_a_call_erased_while_the_crm_files_it_leaves_a_warning_naming_the_record(
    rt: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    call_pk = ingest.ingest(rt, call_id="in-flight", source=SOURCE).call_pk
    fetch.run(rt, call_pk, local_files=False)
    transcribe.run(rt, call_pk)
    (delivery_id,) = analyse.run(rt, call_pk)

    def erased_meanwhile(settings: DestinationSettings, outgoing: Outgoing) -> Receipt:
        erasure.erase(rt, call_id="in-flight", actor="dpo", reason="DSR-48", via="cli")
        return Receipt(external_id="crm-7")

    filing = dataclasses.replace(rt, crm=FakeDestinations(erased_meanwhile))
    capsys.readouterr()
    # the log as written (capture_logs would leave the loggers it caches writing to its list for good)
    with pytest.raises(CallGoneError):
        deliver.run(filing, delivery_id)
    warnings = [line for line in "".join(capsys.readouterr()).splitlines() if "warning" in line]
    assert len(warnings) == 1 and "external_id=crm-7" in warnings[0], warnings


def test_the_purge_is_a_periodic_task_only_when_a_rule_purges(rt: Runtime, settings: Settings) -> None:
    app = tasks.build_app(rt)
    periodic = {task.periodic_id: task for task in app.periodic_registry.periodic_tasks.values()}
    assert periodic[retention.PURGE_LOCK].cron == "17 3 * * *"
    assert app.tasks["callsense:purge"].queue == "maintenance"
    _processed(rt, "due", days_old=100)
    app.tasks["callsense:purge"](timestamp=0)
    with rt.db.transaction() as session:
        last = holds.last_purge(session=session)
    assert last is not None and last.actor == "worker"

    keeping = dataclasses.replace(rt, settings=settings)  # no retention rule: nothing to schedule
    idle = tasks.build_app(keeping)
    assert "callsense:purge" not in idle.tasks
    assert retention.PURGE_LOCK not in {t.periodic_id for t in idle.periodic_registry.periodic_tasks.values()}


def test_holds_and_erasure_over_the_api_are_for_admins(rt: Runtime) -> None:
    _processed(rt, "api-call", days_old=1)
    with rt.db.transaction() as session:
        admin = {"Authorization": f"Bearer {tokens.create(session=session, name='a', role=Role.admin)}"}
        analyst = {"Authorization": f"Bearer {tokens.create(session=session, name='b', role=Role.analyst)}"}
    reason = {"reason": "case 11"}
    with TestClient(create_app(rt, tasks.build_app(rt), worker_concurrency=0)) as client:
        assert client.post("/calls/api-call/hold", json=reason, headers=analyst).status_code == 403
        assert client.delete("/calls/api-call", params=reason, headers=analyst).status_code == 403
        assert client.post("/calls/api-call/hold", json={"reason": " "}, headers=admin).status_code == 422
        as_form = client.post("/calls/api-call/hold", data=reason, headers=admin)  # a form: not JSON
        assert as_form.status_code == 415 and "not application/x-www-form-urlencoded" in as_form.text
        held = client.post("/calls/api-call/hold", json=reason, headers=admin)
        assert held.status_code == 200 and held.json()["held"] and held.json()["by"] == "a"
        refused = client.delete("/calls/api-call", params=reason, headers=admin)
        assert refused.status_code == 409 and "legal hold" in refused.json()["detail"]
        assert not client.post("/calls/api-call/release", json=reason, headers=admin).json()["held"]
        assert client.delete("/calls/api-call", headers=admin).status_code == 422  # a reason is required
        erased = client.delete("/calls/api-call", params=reason, headers=admin)
        assert erased.status_code == 200 and erased.json()["erased_now"]
        again = client.delete("/calls/api-call", params=reason, headers=admin)
        assert again.status_code == 200 and not again.json()["erased_now"]
        assert again.json()["at"] == erased.json()["at"]  # the same erasure, answered again
        assert client.get("/calls/api-call", headers=admin).status_code == 404
        assert client.post("/calls/nothing/hold", json=reason, headers=admin).status_code == 404


def test_a_sources_calls_carry_its_name_and_an_erased_one_is_not_taken_again(
    rt: Runtime, tmp_path: Path
) -> None:
    # Recorders put the caller's number and the agent's name in file names (docs/sources.md).
    name = "in_alice_4930123.wav"
    recording = tmp_path / name  # the poll reads the file itself (its digest), before the fetch stage
    recording.write_bytes(tiny_wav())
    source = FakeSource("nas", [Listed(key=name, location=str(recording), size=10, mtime=1.0)])
    for _ in range(2):  # first sighting, then taken
        poll.poll(rt, source, stable_seconds=0)
    with rt.db.transaction() as session:
        call = calls.get(session=session, call_id=name)
        assert call.source_name == "nas"  # its rule: retention.sources.nas
    erasure.erase(rt, call_id=name, actor="dpo", reason="DSR-46", via="cli")
    for _ in range(2):  # the file is still there (changed, even), not taken again
        assert poll.poll(rt, source, stable_seconds=0).fetched == []
        source.files[0] = dataclasses.replace(source.files[0], size=11)
    with rt.db.transaction() as session:
        assert session.scalars(select(Call)).all() == []
        (row,) = session.scalars(select(SourceFile))
        assert "4930123" not in row.path and "alice" not in row.path  # the name survives as a digest only
