"""Folder sources on a real directory and a real PostgreSQL: files appearing, growing, being renamed and
disappearing; bad files beside good ones; two pollers at once; the periodic poll in a real worker."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from callsense.backends.blobstore.filesystem import FilesystemBlobStore
from callsense.backends.recordings.sources import FolderSource, Listed
from callsense.backends.recordings.sources.fake import FakeSource
from callsense.backends.recordings.sources.metadata import derived_call_id
from callsense.calls import service as calls
from callsense.calls import source_files
from callsense.calls.models import Call, Event, SourceFile
from callsense.calls.schemas import CallStatus, Segment, Speaker, SpeakerMethod, SpeakersFound
from callsense.config import Settings
from callsense.config.models import AgentSpeaks, Channel
from callsense.errors import SourceUnavailableError
from callsense.pipeline import fetch, ingest, poll, queue_figures, tasks, transcribe
from callsense.runtime import Runtime, open_runtime
from callsense.speech.fake import FakeTranscriber
from tests.recording_trees import put, tiny_wav

TURNS = [Segment(speaker=Speaker.agent, start=0.0, end=0.4, text="Hello.", confidence=0.9)]
STABLE = 0.3


def _runtime(settings: Settings, root: Path, **options: Any) -> Runtime:
    folder = {"name": "nas", "path": str(root), "stable_seconds": STABLE, **options}
    configured = Settings.model_validate({**settings.model_dump(), "sources": {"folders": [folder]}})
    return dataclasses.replace(open_runtime(configured), transcriber=FakeTranscriber(TURNS))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "share"
    folder.mkdir()
    return folder


@pytest.fixture
def rt(settings: Settings, root: Path) -> Iterator[Runtime]:
    runtime = _runtime(settings, root)
    yield runtime
    runtime.db.close()


def _poll(rt: Runtime, name: str = "nas") -> poll.PollReport:
    settings = rt.settings.sources.named(name)
    assert settings is not None
    return poll.poll(
        rt,
        FolderSource(settings),
        stable_seconds=settings.stable_seconds,
        max_files=settings.max_files_per_poll,
        rules=poll.TakeRules.of(settings),
    )


def _rows(rt: Runtime) -> dict[str, tuple[str, str | None]]:
    with rt.db.transaction() as session:
        rows = session.execute(select(SourceFile.path, SourceFile.status, SourceFile.reason))
        return {path: (status, reason) for path, status, reason in rows}


def _calls(rt: Runtime) -> dict[str, str]:
    with rt.db.transaction() as session:
        return {call_id: status for call_id, status in session.execute(select(Call.call_id, Call.status))}


def test_a_growing_file_is_taken_once_it_stopped_changing_and_never_again(rt: Runtime, root: Path) -> None:
    recording = put(root, "2024/01/a.wav", tiny_wav()[:200])  # the recorder is still writing
    first = _poll(rt)
    assert (first.seen, first.waiting, first.fetched) == (1, 1, [])
    time.sleep(STABLE + 0.1)
    recording.write_bytes(tiny_wav())  # grew since the last poll: wait again
    assert _poll(rt).fetched == []
    time.sleep(STABLE + 0.1)

    taken = _poll(rt)
    (call_pk,) = taken.fetched
    with rt.db.transaction() as session:
        call = session.get(Call, call_pk)
        assert call is not None and call.status == CallStatus.fetched.value
        assert call.audio_bytes == len(tiny_wav()) and call.source == str(recording)
    assert _rows(rt) == {"2024/01/a.wav": ("ingested", None)}
    time.sleep(STABLE + 0.1)
    assert _poll(rt).fetched == []  # left in place, remembered: never taken twice
    assert recording.exists()


def test_a_backlog_is_taken_a_few_files_per_poll(settings: Settings, root: Path) -> None:
    rt = _runtime(settings, root, stable_seconds=0, max_files_per_poll=2)
    try:
        for name in ("a", "b", "c"):
            put(root, f"{name}.wav", tiny_wav())
        first = _poll(rt)
        second = _poll(rt)
        assert (len(first.fetched), first.left, len(second.fetched), second.left) == (2, 1, 1, 0)
    finally:
        rt.db.close()


def test_renamed_and_vanished_files_are_forgotten_until_they_settle(rt: Runtime, root: Path) -> None:
    put(root, "a.wav", tiny_wav())
    put(root, "b.wav", tiny_wav())
    _poll(rt)
    (root / "a.wav").rename(root / "renamed.wav")
    (root / "b.wav").unlink()
    time.sleep(STABLE + 0.1)
    report = _poll(rt)
    assert report.fetched == [] and _rows(rt) == {"renamed.wav": ("pending", None)}  # renamed: wait again
    time.sleep(STABLE + 0.1)
    assert len(_poll(rt).fetched) == 1 and _rows(rt) == {"renamed.wav": ("ingested", None)}


@pytest.mark.parametrize("after", ["move", "delete"])
def test_files_are_moved_or_deleted_with_their_sidecars_once_stored(
    settings: Settings, root: Path, after: str
) -> None:
    rt = _runtime(settings, root, after_ingest=after, stable_seconds=0, sidecar="json")
    try:
        put(root, "q1/a.wav", tiny_wav())
        put(root, "q1/a.json", b'{"queue": "billing"}')
        assert len(_poll(rt).fetched) == 1
        assert not (root / "q1/a.wav").exists() and not (root / "q1/a.json").exists()
        moved = [root / "processed/q1/a.wav", root / "processed/q1/a.json"]
        assert all(path.exists() for path in moved) is (after == "move")
        assert _poll(rt).seen == 0  # the processed folder is not listed
    finally:
        rt.db.close()


def test_bad_files_are_refused_with_reasons_and_do_not_stop_the_good_ones(
    settings: Settings, root: Path
) -> None:
    rt = _runtime(settings, root, stable_seconds=0, sidecar="json", filename_pattern=r"(?:.*/)?[\w.-]+\.wav")
    try:
        put(root, "good.wav", tiny_wav())
        put(root, "empty.wav", b"")
        put(root, "page.wav", b"<html><body>404</body></html>")
        put(root, "cut.wav", tiny_wav()[:60])  # a RIFF header, then nothing: the probe refuses it
        put(root, "bad-cdr.wav", tiny_wav())
        put(root, "bad-cdr.json", b"{oops")
        put(root, "name with spaces.wav", tiny_wav())

        report = _poll(rt)
        rows = _rows(rt)
        assert (len(report.fetched), report.refused) == (1, 5)
        assert rows["good.wav"] == ("ingested", None)
        assert rows["empty.wav"] == ("refused", "the file is empty")
        assert "HTML" in (rows["page.wav"][1] or "")
        assert "sidecar is not JSON" in (rows["bad-cdr.wav"][1] or "")
        assert "does not match the source's filename_pattern" in (rows["name with spaces.wav"][1] or "")
        assert rows["cut.wav"][0] == "refused" and _calls(rt)[_call_id_of(rt, "cut.wav")] == "failed"
        with rt.db.transaction() as session:
            refusals = session.scalars(select(Event.detail).where(Event.stage == "source")).all()
            status = source_files.statuses(session=session)["nas"]
        assert len(refusals) == 5 and all(detail.startswith("nas: ") for detail in refusals)
        assert (status.files_seen, status.ingested, status.refused) == (6, 1, 5)
        assert status.last_error is not None

        assert _poll(rt).refused == 0  # unchanged: retrying cannot help
        put(root, "empty.wav", tiny_wav())  # the recorder wrote it after all: taken now
        assert len(_poll(rt).fetched) == 1
    finally:
        rt.db.close()


def _call_id_of(rt: Runtime, key: str) -> str:
    with rt.db.transaction() as session:
        call_pk = session.scalar(select(SourceFile.call_pk).where(SourceFile.path == key))
        call = session.get(Call, call_pk)
        assert call is not None
        return call.call_id


def test_a_sidecar_completed_after_a_refusal_makes_the_recording_taken(
    settings: Settings, root: Path
) -> None:
    rt = _runtime(settings, root, stable_seconds=0, sidecar="json", sidecar_required=True)
    try:
        put(root, "a.wav", tiny_wav())
        sidecar = put(root, "a.json", b'{"agent": "al')  # listed while the recorder writes it
        assert _poll(rt).refused == 1
        sidecar.write_bytes(b'{"agent": "alice"}')
        os.utime(sidecar, ns=(time.time_ns() + 10**9,) * 2)  # on a file system with a coarse clock too
        assert len(_poll(rt).fetched) == 1 and _rows(rt) == {"a.wav": ("ingested", None)}
    finally:
        rt.db.close()


def test_a_file_that_cannot_be_read_now_is_tried_again_next_poll(rt: Runtime) -> None:
    listed = Listed(key="locked.wav", location="/mnt/nas/locked.wav", size=10, mtime=1.0)
    source = FakeSource("nas", [listed])
    source.refusals["locked.wav"] = SourceUnavailableError("cannot read the file: Permission denied")
    assert (poll.poll(rt, source, stable_seconds=0).failed, _rows(rt)["locked.wav"][0]) == (1, "error")
    assert poll.poll(rt, source, stable_seconds=0).failed == 1  # tried again: permissions may be fixed
    source.files = []
    poll.poll(rt, source, stable_seconds=0)
    assert _rows(rt) == {}  # gone before it was ever taken: nothing to remember


def test_a_missing_folder_is_the_source_s_error_and_not_the_other_sources(
    settings: Settings, root: Path
) -> None:
    folders = [
        {"name": "gone", "path": str(root / "unmounted")},
        {"name": "nas", "path": str(root), "stable_seconds": 0},
    ]
    configured = Settings.model_validate({**settings.model_dump(), "sources": {"folders": folders}})
    rt = open_runtime(configured)
    try:
        put(root, "a.wav", tiny_wav())
        assert (
            _poll(rt, "gone").error == f"the folder {root / 'unmounted'} does not exist (or is not a folder)"
        )
        assert len(_poll(rt, "nas").fetched) == 1
        with rt.db.transaction() as session:
            status = source_files.statuses(session=session)
        assert status["gone"].last_error is not None and "does not exist" in status["gone"].last_error
        assert status["nas"].last_error is None
    finally:
        rt.db.close()


def test_two_pollers_at_once_take_each_file_exactly_once(settings: Settings, root: Path) -> None:
    for index in range(20):
        put(root, f"batch/{index:03}.wav", tiny_wav())
    pollers = [_runtime(settings, root, stable_seconds=0) for _ in range(2)]
    reports: list[poll.PollReport] = []
    start = threading.Barrier(2)

    def run(rt: Runtime) -> None:
        start.wait()
        reports.append(_poll(rt))

    threads = [threading.Thread(target=run, args=(rt,)) for rt in pollers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        taken = [call_pk for report in reports for call_pk in report.fetched]
        assert len(taken) == len(set(taken)) == 20
        assert all(report.fetched for report in reports)  # both worked, neither took the other's files
        with pollers[0].db.transaction() as session:
            assert session.scalar(select(func.count()).select_from(Call)) == 20
            received = session.scalar(select(func.count()).select_from(Event).where(Event.kind == "received"))
            assert received == 20
    finally:
        for rt in pollers:
            rt.db.close()


def test_the_source_s_agent_channel_reaches_the_transcriber(settings: Settings, root: Path) -> None:
    rt = _runtime(settings, root, stable_seconds=0, preset="amazon-connect")
    try:
        contact = "5f0c6f4e-2b1a-4c3d-9e8f-0123456789ab"
        put(
            root,
            f"connect/acme/CallRecordings/2024/01/15/{contact}_20240115T14:30_UTC.wav",
            tiny_wav(channels=2),
        )
        (call_pk,) = _poll(rt).fetched
        assert transcribe.run(rt, call_pk) == "analyse"
        with rt.db.transaction() as session:
            call = session.get(Call, call_pk)
            assert call is not None and call.call_id == contact and call.agent_channel == "right"
            assert call.transcript is not None and call.transcript.options["speakers"]["agent"] == "right"
            notes = [e.detail for e in calls.events(session=session, call_pk=call_pk) if e.kind == "speakers"]
            assert notes == ["agent channel right from its recording source"]
    finally:
        rt.db.close()


def test_a_worker_polls_each_source_on_its_schedule_and_queues_the_transcription(
    settings: Settings, root: Path
) -> None:
    rt = _runtime(settings, root, stable_seconds=0, poll_cron="* * * * * *")  # every second
    app = tasks.build_app(rt)
    periodic = app.periodic_registry.periodic_tasks[("callsense:poll_source", "source:nas")]
    assert periodic.configure_kwargs["lock"] == periodic.configure_kwargs["queueing_lock"] == "poll:nas"
    put(root, "a.wav", tiny_wav())

    async def work() -> None:
        async with app.open_async():
            options = tasks.worker_options(rt, queues=["sources"], concurrency=1)
            worker = asyncio.create_task(app.run_worker_async(**options, install_signal_handlers=False))
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and _rows(rt).get("a.wav", ("",))[0] != "ingested":
                await asyncio.sleep(0.2)
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    try:
        asyncio.run(work())
        assert _rows(rt) == {"a.wav": ("ingested", None)}
        with rt.db.transaction() as session:
            jobs = queue_figures.job_counts(session=session)
        assert ("transcribe", "todo", 1) in jobs
    finally:
        rt.db.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file: the permission case cannot happen")
def test_an_unreadable_file_is_an_error_to_retry_not_a_refusal(rt: Runtime, root: Path) -> None:
    locked = put(root, "locked.wav", tiny_wav())
    locked.chmod(0)
    _poll(rt)
    time.sleep(STABLE + 0.1)
    report = _poll(rt)
    assert report.failed == 1 and _rows(rt)["locked.wav"][0] == "error"


class _Killed(BaseException):
    """What a SIGKILL does to a poll: it stops where it is, running no handler (nor our except clauses)."""


def test_a_poll_killed_while_fetching_leaves_the_call_to_the_next_poller_not_a_fetch_job(
    rt: Runtime, root: Path
) -> None:
    """The worker dies while it stores a file's recording: the call is registered (`received`) and the file
    `taking`. The reconciler must leave that call to the source's next poll, which takes the file over
    after the lease; a fetch job would refuse a local path for good and fail the call in the meantime."""
    put(root, "a.wav", tiny_wav())
    _poll(rt)
    time.sleep(STABLE + 0.1)

    class DyingMidFetch(FilesystemBlobStore):
        def put(self, key: str, chunks: Iterable[bytes]) -> None:
            raise _Killed

    with pytest.raises(_Killed):
        _poll(dataclasses.replace(rt, blobs=DyingMidFetch(rt.settings.resolved_blob_dir)))
    (call_id,) = _calls(rt)
    assert _calls(rt)[call_id] == CallStatus.received.value and _rows(rt)["a.wav"][0] == "taking"

    app = tasks.build_app(rt)
    with app.open():
        assert tasks.reconcile_calls(rt, app) == 0
    with rt.db.transaction() as session:  # the lease of the dead poller runs out
        session.execute(update(SourceFile).values(updated_at=func.now() - source_files.TAKING_LEASE))
    assert _poll(rt).fetched
    assert _calls(rt)[call_id] == CallStatus.fetched.value and _rows(rt)["a.wav"][0] == "ingested"

    with rt.db.transaction() as session:  # a call no poll came back for (its file gone) is not left silent
        call = session.scalars(select(Call)).one()
        call.status, call.created_at = (
            CallStatus.received.value,
            call.created_at - 2 * source_files.TAKING_LEASE,
        )
    with app.open():
        assert tasks.reconcile_calls(rt, app) == 1


def test_a_call_id_taken_from_one_file_is_not_taken_from_another_with_other_audio(
    settings: Settings, root: Path
) -> None:
    # Two sites write into the same share; the pattern takes the recorder's call id from the name.
    rt = _runtime(settings, root, stable_seconds=0, filename_pattern=r"\w+/(?P<call_id>[\w-]+)\.wav")
    try:
        recording = tiny_wav()
        put(root, "site1/c-1.wav", recording)
        (call_pk,) = _poll(rt).fetched
        put(root, "copy/c-1.wav", recording)  # the same recording, copied into a second folder
        put(root, "site2/c-1.wav", tiny_wav(seconds=0.7))  # another recording under the same call id
        report = _poll(rt)
        rows = _rows(rt)
        assert rows["copy/c-1.wav"] == ("ingested", None) and report.refused == 1
        assert rows["site2/c-1.wav"][0] == "refused"
        assert "call id 'c-1' was taken already from another recording" in (rows["site2/c-1.wav"][1] or "")
        with rt.db.transaction() as session:
            call = session.get(Call, call_pk)
            assert call is not None and call.audio_bytes == len(tiny_wav())
            trail = [event.detail for event in calls.events(session=session, call_pk=call_pk)]
        assert any(detail and "site2/c-1.wav" in detail for detail in trail)
    finally:
        rt.db.close()


def test_a_call_id_holding_the_caller_s_number_is_derived_and_its_audio_checked_like_one(
    settings: Settings, root: Path
) -> None:
    # The recorder names each file after the caller's number: no call id may carry it (logs, URLs).
    rt = _runtime(settings, root, stable_seconds=0, filename_pattern=r"(?:\w+/)?(?P<call_id>[^/]+)\.wav")
    try:
        recording = tiny_wav()
        put(root, "+4915112345678_2026-12-05.wav", recording)
        (call_pk,) = _poll(rt).fetched
        put(root, "copy/+4915112345678_2026-12-05.wav", recording)  # the same recording, copied
        assert _poll(rt).fetched == []
        assert _calls(rt) == {derived_call_id("nas", "+4915112345678_2026-12-05.wav"): "fetched"}
        rows = _rows(rt)
        assert rows["+4915112345678_2026-12-05.wav"] == ("ingested", None)
        assert rows["copy/+4915112345678_2026-12-05.wav"][0] == "ingested"  # settled as that call's
        with rt.db.transaction() as session:
            trail = [event.kind for event in calls.events(session=session, call_pk=call_pk)]
        assert "duplicate" in trail
    finally:
        rt.db.close()


def test_a_file_copied_in_with_its_size_set_first_and_its_time_kept_waits_until_written(
    rt: Runtime, root: Path
) -> None:
    # Windows' copy over SMB sets the file's final size first and its original modification time, which
    # writes then leave alone (SMB's "sticky" write time): only the change time tells it is being written.
    recording, wav = root / "a.wav", tiny_wav()
    recording.write_bytes(bytes(len(wav)))
    original = time.time_ns() - 3600 * 10**9
    os.utime(recording, ns=(original, original))
    assert _poll(rt).waiting == 1
    time.sleep(STABLE + 0.1)
    with recording.open("r+b") as copying:
        copying.write(wav[: len(wav) // 2])
    os.utime(recording, ns=(original, original))
    assert _poll(rt).fetched == []  # half of it is written: wait
    time.sleep(STABLE + 0.1)
    with recording.open("r+b") as copying:
        copying.write(wav)
    os.utime(recording, ns=(original, original))
    time.sleep(STABLE + 0.1)
    assert _poll(rt).fetched == []  # changed since the last poll: wait once more
    time.sleep(STABLE + 0.1)
    (call_pk,) = _poll(rt).fetched
    with rt.db.transaction() as session:
        call = session.get(Call, call_pk)
        assert call is not None and call.audio_sha256 == hashlib.sha256(wav).hexdigest()


def test_a_file_that_grows_after_it_was_taken_is_on_the_trail_once(settings: Settings, root: Path) -> None:
    # A recorder that stops writing for longer than stable_seconds (a call on hold) and then goes on.
    rt = _runtime(settings, root, stable_seconds=0)
    try:
        recording = put(root, "a.wav", tiny_wav())
        (call_pk,) = _poll(rt).fetched
        recording.write_bytes(tiny_wav(seconds=1.0))
        report = _poll(rt)
        assert report.fetched == [] and report.error is not None
        assert "a.wav: it changed after it was taken" in report.error
        assert _rows(rt)["a.wav"][0] == "ingested"
        assert _poll(rt).error is None  # said once, not at every poll
        with rt.db.transaction() as session:
            trail = [event.detail or "" for event in calls.events(session=session, call_pk=call_pk)]
        assert sum("changed after it was taken" in detail for detail in trail) == 1
    finally:
        rt.db.close()


def test_a_sidecar_that_names_the_agent_channel_wins_over_the_source_s(
    settings: Settings, root: Path
) -> None:
    # One folder for inbound calls (recorded on the caller's leg) and outbound campaigns (the agent's leg):
    # the recorder's metadata says, per call, which side the agent is on.
    sidecar = {"sidecar": "json", "sidecar_fields": {"agent_channel": "recording.agent_side"}}
    rt = _runtime(settings, root, stable_seconds=0, agent_channel="right", **sidecar)
    try:
        put(root, "out-1.wav", tiny_wav(channels=2))
        put(root, "out-1.json", json.dumps({"recording": {"agent_side": "left"}}).encode())
        (call_pk,) = _poll(rt).fetched
        transcribe.run(rt, call_pk)
        with rt.db.transaction() as session:
            call = session.get(Call, call_pk)
            assert call is not None and call.transcript is not None
            assert call.transcript.options["speakers"]["agent"] == "left"
    finally:
        rt.db.close()


def test_a_sidecar_that_says_when_the_agent_speaks_wins_over_the_source_s(
    settings: Settings, root: Path
) -> None:
    # Mono recordings of an outbound campaign (the customer answers, the agent speaks second), and an
    # inbound call among them whose sidecar says so.
    sidecar = {"sidecar": "json", "sidecar_fields": {"agent_speaks": "call.agent_speaks"}}
    voices = SpeakersFound(
        method=SpeakerMethod.diarization, count=2, agent="speaker 1", agent_source="conversation"
    )
    rt = _runtime(settings, root, stable_seconds=0, agent_speaks="second", **sidecar)
    rt = dataclasses.replace(rt, transcriber=FakeTranscriber(TURNS, speakers=voices))
    try:
        put(root, "inbound.wav", tiny_wav())
        put(root, "inbound.json", json.dumps({"call": {"agent_speaks": "first"}}).encode())
        put(root, "outbound.wav", tiny_wav())
        for call_pk in _poll(rt).fetched:
            transcribe.run(rt, call_pk)
        with rt.db.transaction() as session:
            told = {
                calls.read_metadata(call=call, keyring=rt.keyring)["path"]: (
                    calls.to_record(call=call, keyring=rt.keyring).speakers,
                    [
                        e.detail
                        for e in calls.events(session=session, call_pk=call.id)
                        if e.kind == "speakers"
                    ],
                )
                for call in session.scalars(select(Call))
            }
    finally:
        rt.db.close()
    (inbound, inbound_notes), (outbound, outbound_notes) = told["inbound.wav"], told["outbound.wav"]
    assert inbound is not None and (inbound.agent, inbound.agent_source) == ("speaker 1", "metadata")
    assert inbound_notes == ["agent speaker 1, the first voice to say a word, from the call's metadata"]
    assert outbound is not None and (outbound.agent, outbound.agent_source) == ("speaker 2", "metadata")
    assert outbound_notes == ["agent speaker 2, the second voice to say a word, from its recording source"]


def test_a_call_keeps_the_agent_its_source_named_when_it_was_taken(settings: Settings, root: Path) -> None:
    # The operator turns an inbound folder into an outbound one while its calls wait in the queue: those
    # calls were answered by the agent, whatever the source says now.
    voices = SpeakersFound(
        method=SpeakerMethod.diarization, count=2, agent="speaker 2", agent_source="conversation"
    )
    rt = _runtime(settings, root, stable_seconds=0, agent_speaks="first", agent_channel="right")
    transcriber = FakeTranscriber(TURNS, speakers=voices)
    try:
        put(root, "waiting.wav", tiny_wav())
        (call_pk,) = _poll(rt).fetched
        changed = _runtime(settings, root, stable_seconds=0, agent_speaks="second", agent_channel="left")
        changed.db.close()
        transcribe.run(dataclasses.replace(rt, settings=changed.settings, transcriber=transcriber), call_pk)
        with rt.db.transaction() as session:
            call = session.get(Call, call_pk)
            assert call is not None
            record = calls.to_record(call=call, keyring=rt.keyring)
            notes = [e.detail for e in calls.events(session=session, call_pk=call_pk) if e.kind == "speakers"]
    finally:
        rt.db.close()
    assert (transcriber.agent_speaks, transcriber.agent_channels) == ([AgentSpeaks.first], [Channel.right])
    assert record.speakers is not None and record.speakers.agent == "speaker 1"
    assert "agent speaker 1, the first voice to say a word, from its recording source" in notes


def test_a_call_taken_before_its_source_s_agent_speaks_was_kept_gets_the_source_s_now(
    settings: Settings, root: Path
) -> None:
    rt = _runtime(settings, root, agent_speaks="second")
    transcriber = FakeTranscriber(TURNS)
    try:
        put(root, "queued.wav", tiny_wav())
        as_stored = calls.CallDetails(metadata={"source": "nas", "path": "queued.wav"}, source_name="nas")
        ingested = ingest.ingest(rt, call_id="queued", source=str(root / "queued.wav"), details=as_stored)
        fetch.run(rt, ingested.call_pk, local_files=True)
        transcribe.run(dataclasses.replace(rt, transcriber=transcriber), ingested.call_pk)
    finally:
        rt.db.close()
    assert transcriber.agent_speaks == [AgentSpeaks.second]


def test_a_name_that_is_not_utf8_is_refused_and_the_other_files_are_taken(rt: Runtime, root: Path) -> None:
    # A recorder on a Windows code page writes "Müller" as Latin-1 onto the share; Linux keeps the bytes.
    put(root, "good.wav", tiny_wav())
    with open(os.path.join(os.fsencode(root), b"M\xfcller.wav"), "wb") as latin1:
        latin1.write(tiny_wav())
    _poll(rt)
    time.sleep(STABLE + 0.1)
    report = _poll(rt)
    assert len(report.fetched) == 1 and report.refused == 1
    assert (
        report.error
        == "M\\xfcller.wav: its name is not UTF-8 (a recorder writing another code page): rename it"
    )
    assert _rows(rt)["good.wav"][0] == "ingested"


class _Crashing(FakeSource):
    """Stops each take as ``stop`` says: a SIGKILL (``_Killed``) or an error of no callsense kind."""

    def __init__(self, listed: Listed, stop: BaseException | None) -> None:
        super().__init__("nas", [listed])
        self.stop = stop

    def staged(self, listed: Listed) -> contextlib.AbstractContextManager[str]:
        if self.stop is not None:
            raise self.stop
        return super().staged(listed)


@pytest.mark.parametrize("stop", [_Killed(), ValueError("a decoder's bug")], ids=["killed", "unexpected"])
def test_a_file_that_stops_every_take_is_given_up_with_its_reason_and_taken_again_by_hand(
    rt: Runtime, root: Path, stop: BaseException
) -> None:
    """A file whose take kills the poller (or fails on an error nobody foresaw) was taken again every 15
    minutes (every poll) for ever. After max_attempts takes it is given up: said on its row, the source's
    status and the trail, counted for the operations page and metrics; a retry by hand takes it."""
    listed = Listed(key="bad.wav", location=str(put(root, "bad.wav", tiny_wav())), size=10, mtime=1.0)
    source = _Crashing(listed, stop)
    rules = poll.TakeRules(max_attempts=2)
    for _take in range(2):
        with contextlib.suppress(_Killed):
            assert poll.poll(rt, source, stable_seconds=0, rules=rules).failed == 1
        with rt.db.transaction() as session:  # a killed poller's lease runs out
            session.execute(update(SourceFile).values(updated_at=func.now() - source_files.TAKING_LEASE))
    report = poll.poll(rt, source, stable_seconds=0, rules=rules)
    status, reason = _rows(rt)["bad.wav"]
    assert (report.given_up, status) == (1, "given_up") and "given up after 2 takes" in (reason or "")
    assert poll.poll(rt, source, stable_seconds=0, rules=rules).given_up == 0  # said once, then left
    with rt.db.transaction() as session:
        assert source_files.given_up(session=session) == {"nas": 1}
        assert "given up after 2 takes" in (source_files.statuses(session=session)["nas"].last_error or "")
        kinds = session.scalars(select(Event.kind).where(Event.stage == "source")).all()
        assert kinds.count("given_up") == 1
        assert source_files.retry_given_up(session=session, source="nas") == ["bad.wav"]
    source.stop = None
    assert len(poll.poll(rt, source, stable_seconds=0, rules=rules).fetched) == 1
    assert _rows(rt)["bad.wav"] == ("ingested", None)


def test_a_take_killed_after_its_fetch_is_taken_over_as_its_own_call_not_a_copy(
    rt: Runtime, root: Path
) -> None:
    """Killed after the fetch stored the audio, before the file's row said so: the poll that takes it over
    finds the file's own call with that audio, which is no copy of another call."""
    put(root, "a.wav", tiny_wav())

    class DyingAfterFetch(FolderSource):
        @contextlib.contextmanager
        def staged(self, listed: Listed) -> Iterator[str]:
            with super().staged(listed) as local_copy:
                yield local_copy
            raise _Killed

    settings = rt.settings.sources.named("nas")
    assert settings is not None
    _poll(rt)
    time.sleep(STABLE + 0.1)
    with pytest.raises(_Killed):
        poll.poll(rt, DyingAfterFetch(settings), stable_seconds=STABLE)
    with rt.db.transaction() as session:  # the lease of the dead poller runs out
        session.execute(update(SourceFile).values(updated_at=func.now() - source_files.TAKING_LEASE))
    report = _poll(rt)
    assert (len(report.fetched), report.duplicates, _rows(rt)["a.wav"]) == (1, 0, ("ingested", None))


def test_a_renamed_recording_without_a_call_id_is_not_a_second_call(settings: Settings, root: Path) -> None:
    """With no call id in its name, a file's call id comes from its path: the same recording renamed or
    copied was a second call, its audio processed twice. Its SHA-256 finds the call taken already."""
    recording = tiny_wav()
    put(root, "a.wav", recording)
    rt = _runtime(settings, root, stable_seconds=0)
    try:
        (call_pk,) = _poll(rt).fetched
        (root / "a.wav").rename(root / "renamed.wav")
        put(root, "b.wav", tiny_wav())  # another call: taken
        report = _poll(rt)
        assert (len(report.fetched), report.duplicates) == (1, 1) and len(_calls(rt)) == 2
        status, reason = _rows(rt)["renamed.wav"]
        with rt.db.transaction() as session:
            original = session.get(Call, call_pk)
            assert original is not None and f"as call '{original.call_id}'" in (reason or "")
            trail = [event.kind for event in calls.events(session=session, call_pk=call_pk)]
        assert status == "ingested" and "duplicate" in trail
    finally:
        rt.db.close()
    taking_copies = _runtime(settings, root, stable_seconds=0, duplicate_audio="take")
    try:
        put(root, "copy.wav", recording)
        assert len(_poll(taking_copies).fetched) == 1 and len(_calls(taking_copies)) == 3
    finally:
        taking_copies.db.close()
