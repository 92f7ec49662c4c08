"""S3 sources against a real S3 server (SeaweedFS) and a real PostgreSQL: the listing cursor across restarts,
objects completed by their sidecars, a large object streamed in bounded chunks, the Amazon Connect preset on
its native S3 layout, what happens to an object once taken, two pollers, and bad credentials."""

from __future__ import annotations

import dataclasses
import json
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from callsense.backends.recordings.sources.s3 import CHUNK_BYTES, S3Source
from callsense.calls import service as calls
from callsense.calls import source_files
from callsense.calls.models import Call, SourceFile
from callsense.calls.schemas import CallStatus, Segment, Speaker
from callsense.cli.main import app
from callsense.config import Settings
from callsense.config.sources import S3SourceSettings
from callsense.pipeline import poll, transcribe
from callsense.runtime import Runtime, open_runtime
from callsense.speech.fake import FakeTranscriber
from tests.recording_trees import tiny_wav
from tests.s3server import ACCESS_KEY, SECRET_KEY, SeaweedS3

TURNS = [Segment(speaker=Speaker.agent, start=0.0, end=0.4, text="Hello.", confidence=0.9)]
CONTACT = "5f0c6f4e-2b1a-4c3d-9e8f-0123456789ab"
DAY = "connect/acme/CallRecordings/2024/01/15"


@dataclasses.dataclass
class Bucket:
    server: SeaweedS3
    name: str
    prefix: str

    def put(self, key: str, data: bytes) -> None:
        self.server.shared_client.put_object(Bucket=self.name, Key=self.prefix + key, Body=data)

    def keys(self) -> list[str]:
        answer = self.server.shared_client.list_objects_v2(Bucket=self.name, Prefix=self.prefix)
        return sorted(entry["Key"][len(self.prefix) :] for entry in answer.get("Contents", []))

    def source(self, **options: Any) -> dict[str, Any]:
        """The settings of a source named 'bucket' reading this prefix."""
        connection = self.server.settings(self.name)
        del connection["backend"]
        return {"name": "bucket", "prefix": self.prefix, "stable_seconds": 0, **connection, **options}


@pytest.fixture
def bucket(s3_server: SeaweedS3, s3_bucket: str, s3_prefix: str) -> Bucket:
    return Bucket(s3_server, s3_bucket, s3_prefix)


def _runtime(settings: Settings, *buckets: dict[str, Any]) -> Runtime:
    configured = Settings.model_validate({**settings.model_dump(), "sources": {"s3": list(buckets)}})
    return dataclasses.replace(open_runtime(configured), transcriber=FakeTranscriber(TURNS))


@pytest.fixture
def runtimes(settings: Settings) -> Iterator[list[Runtime]]:
    """Runtimes a test opens (a restart is a new one); all closed after it."""
    opened: list[Runtime] = []
    yield opened
    for rt in opened:
        rt.db.close()


def _open(runtimes: list[Runtime], settings: Settings, source: dict[str, Any]) -> Runtime:
    runtimes.append(_runtime(settings, source))
    return runtimes[-1]


def _source(rt: Runtime, server: SeaweedS3) -> S3Source:
    settings = rt.settings.sources.named("bucket")
    assert isinstance(settings, S3SourceSettings)
    return S3Source(settings, client=server.shared_client, max_bytes=rt.settings.max_file_bytes)


def _poll(rt: Runtime, server: SeaweedS3) -> tuple[poll.PollReport, S3Source]:
    source = _source(rt, server)
    return poll.poll_bucket(rt, source, max_files=source.settings.max_files_per_poll), source


def _rows(rt: Runtime) -> dict[str, str]:
    with rt.db.transaction() as session:
        return {path: status for path, status in session.execute(select(SourceFile.path, SourceFile.status))}


def _cursor(rt: Runtime) -> str | None:
    with rt.db.transaction() as session:
        return source_files.cursor(session=session, source="bucket")


def test_the_amazon_connect_layout_is_read_from_the_bucket_and_the_cursor_survives_a_restart(
    settings: Settings, bucket: Bucket, runtimes: list[Runtime]
) -> None:
    bucket.put(f"{DAY}/{CONTACT}_20240115T14:30_UTC.wav", tiny_wav(channels=2))
    bucket.put("connect/acme/Analysis/Voice/2024/01/15/x_analysis.json", b"{}")  # Contact Lens: not audio
    options = bucket.source(preset="amazon-connect")
    rt = _open(runtimes, settings, options)

    report, _ = _poll(rt, bucket.server)
    (call_pk,) = report.fetched
    assert transcribe.run(rt, call_pk) == "analyse"
    with rt.db.transaction() as session:
        call = session.get(Call, call_pk)
        assert call is not None and call.call_id == CONTACT and call.agent_channel == "right"
        assert call.audio_bytes == len(tiny_wav(channels=2))
        assert call.source == f"s3://{bucket.name}/{bucket.prefix}{DAY}/{CONTACT}_20240115T14:30_UTC.wav"
        assert call.transcript is not None and call.transcript.options["speakers"]["agent"] == "right"
    assert _cursor(rt) == f"{DAY}/{CONTACT}_20240115T14:30_UTC.wav"

    restarted = _open(runtimes, settings, options)
    later = "6a1d7f5f-3c2b-4d4e-8f90-123456789abc"
    earlier = "00000000-1111-4222-8333-444444444444"
    bucket.put(f"connect/acme/CallRecordings/2024/01/16/{later}_20240116T09:00_UTC.wav", tiny_wav(channels=2))
    bucket.put(f"{DAY}/{earlier}_20240115T16:00_UTC.wav", tiny_wav(channels=2))  # sorts first in its day
    again, source = _poll(restarted, bucket.server)
    assert len(again.fetched) == 2 and again.refused == 0  # the day's folder is listed again: none missed
    assert "connect/acme/Analysis/Voice/2024/01/15/x_analysis.json" not in source.listed
    assert _cursor(restarted) == f"connect/acme/CallRecordings/2024/01/16/{later}_20240116T09:00_UTC.wav"
    assert _poll(restarted, bucket.server)[0].fetched == []  # never taken twice


def test_a_key_cursor_lists_only_what_sorts_after_the_last_key_taken(
    settings: Settings, bucket: Bucket, runtimes: list[Runtime]
) -> None:
    for second in (1700000000, 1700000100):
        bucket.put(f"{second}.1.wav", tiny_wav())
    rt = _open(runtimes, settings, bucket.source(preset="asterisk", cursor="key", max_files_per_poll=1))
    first, _ = _poll(rt, bucket.server)
    assert (len(first.fetched), first.left, _cursor(rt)) == (1, 1, "1700000000.1.wav")

    restarted = _open(runtimes, settings, bucket.source(preset="asterisk", cursor="key"))
    second, source = _poll(restarted, bucket.server)
    assert len(second.fetched) == 1 and source.listed == ["1700000100.1.wav"]
    assert _cursor(restarted) == "1700000100.1.wav"
    assert _poll(restarted, bucket.server)[1].listed == []


def test_an_object_waits_for_its_sidecar_whose_fields_fill_the_call(
    settings: Settings, bucket: Bucket, runtimes: list[Runtime]
) -> None:
    options = bucket.source(preset="asterisk", sidecar_required=True)
    rt = _open(runtimes, settings, options)
    bucket.put("1700000000.42.wav", tiny_wav())
    waiting, _ = _poll(rt, bucket.server)
    assert (waiting.seen, waiting.fetched, _cursor(rt)) == (0, [], None)  # no CDR yet: not complete

    cdr = {"uniqueid": "1700000000.42", "src": "+15551230000", "dst": "2001", "start": "2023-11-14 22:15:00"}
    bucket.put("1700000000.42.json", json.dumps({**cdr, "disposition": "ANSWERED"}).encode())
    (call_pk,) = _poll(rt, bucket.server)[0].fetched
    with rt.db.transaction() as session:
        call = session.get(Call, call_pk)
        assert call is not None and call.call_id == "1700000000.42" and call.agent == "2001"
        assert call.customer_number_enc is not None and call.status == CallStatus.fetched.value
        assert calls.read_metadata(call=call, keyring=rt.keyring)["disposition"] == "ANSWERED"
    assert _cursor(rt) == "1700000000.42.wav"


def test_a_large_object_is_streamed_in_bounded_chunks(bucket: Bucket, tmp_path: Path) -> None:
    size = 50 * 1024 * 1024
    big = tmp_path / "big.wav"
    with big.open("wb") as out:
        out.write(tiny_wav()[:44])
        out.truncate(size)
    bucket.server.shared_client.upload_file(str(big), bucket.name, bucket.prefix + "big.wav")
    source = S3Source(S3SourceSettings.model_validate(bucket.source()), client=bucket.server.shared_client)
    (listed,) = source.scan()
    writes: list[int] = []

    class Counting:
        def write(self, data: bytes) -> int:
            writes.append(len(data))
            return len(data)

    tracemalloc.start()
    try:
        source.download(listed, Counting())  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(writes) == size and max(writes) <= CHUNK_BYTES and len(writes) >= size // CHUNK_BYTES
    assert peak < 8 * CHUNK_BYTES  # a few chunks in flight, never the object


@pytest.mark.parametrize("after", ["move", "delete"])
def test_objects_are_moved_or_deleted_with_their_sidecars_once_stored(
    settings: Settings, bucket: Bucket, runtimes: list[Runtime], after: str
) -> None:
    rt = _open(runtimes, settings, bucket.source(after_ingest=after, sidecar="json", cursor="none"))
    bucket.put("q1/a.wav", tiny_wav())
    bucket.put("q1/a.json", b'{"queue": "billing"}')
    bucket.put("q1/b.wav", b"<html>404</html>")  # refused: stays where it is
    report, _ = _poll(rt, bucket.server)
    assert (len(report.fetched), report.refused) == (1, 1)
    moved = ["processed/q1/a.json", "processed/q1/a.wav"] if after == "move" else []
    assert bucket.keys() == [*moved, "q1/b.wav"]
    assert _poll(rt, bucket.server)[0].seen == 1  # the processed prefix is not listed


def test_a_sidecar_corrected_after_a_refusal_makes_the_recording_taken(
    settings: Settings, bucket: Bucket, runtimes: list[Runtime]
) -> None:
    rt = _open(runtimes, settings, bucket.source(sidecar="json", sidecar_required=True, cursor="none"))
    bucket.put("q1/a.wav", tiny_wav())
    bucket.put("q1/a.json", b'{"agent": ')  # a broken export
    assert _poll(rt, bucket.server)[0].refused == 1
    time.sleep(1.1)  # S3 times objects to the second
    bucket.put("q1/a.json", b'{"agent": "alice"}')
    assert len(_poll(rt, bucket.server)[0].fetched) == 1 and _rows(rt) == {"q1/a.wav": "ingested"}


def test_moved_objects_never_crowd_new_ones_out_of_a_listing_from_the_prefix(
    settings: Settings, bucket: Bucket, runtimes: list[Runtime]
) -> None:
    for name in ("a", "b", "c"):  # 'q1/' sorts after 'processed/', where the taken ones go
        bucket.put(f"q1/{name}.wav", tiny_wav())
    options = bucket.source(after_ingest="move", cursor="none", max_keys_per_poll=2)
    rt = _open(runtimes, settings, options)
    assert len(_poll(rt, bucket.server)[0].fetched) == 2
    report, source = _poll(rt, bucket.server)
    assert len(report.fetched) == 1 and source.listed == ["q1/c.wav"]  # processed/ not listed, nor counted
    assert bucket.keys() == ["processed/q1/a.wav", "processed/q1/b.wav", "processed/q1/c.wav"]


def test_two_pollers_at_once_take_each_object_exactly_once(
    settings: Settings, bucket: Bucket, runtimes: list[Runtime]
) -> None:
    for index in range(20):
        bucket.put(f"batch/{index:03}.wav", tiny_wav())
    pollers = [_open(runtimes, settings, bucket.source()) for _ in range(2)]
    reports: list[poll.PollReport] = []
    start = threading.Barrier(2)

    def run(rt: Runtime) -> None:
        start.wait()
        reports.append(_poll(rt, bucket.server)[0])

    threads = [threading.Thread(target=run, args=(rt,)) for rt in pollers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = [call_pk for report in reports for call_pk in report.fetched]
    assert len(taken) == len(set(taken)) == 20
    with pollers[0].db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 20
    assert _cursor(pollers[0]) == "batch/019.wav"


def test_sources_test_tries_the_credentials_and_the_listing(
    database_url: str, bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket.put("a.wav", tiny_wav())
    buckets = [
        bucket.source(),
        {**bucket.source(), "name": "wrong-key", "secret_access_key": "not-the-secret"},
        {**bucket.source(), "name": "no-bucket", "bucket": "no-such-bucket-here"},
        {**bucket.source(access_key_id=None, secret_access_key=None), "name": "from-env"},
    ]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)  # boto3's standard chain
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("CALLSENSE_DATABASE_URL", database_url)
    monkeypatch.setenv("CALLSENSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CALLSENSE_SOURCES__S3", json.dumps(buckets))
    runner = CliRunner()

    good = runner.invoke(app, ["sources", "test", "bucket"])
    assert good.exit_code == 0, good.output
    assert "credentials accepted" in good.output and "1 object(s) match **/*.wav" in good.output
    wrong = runner.invoke(app, ["sources", "test", "wrong-key"], terminal_width=300)
    assert wrong.exit_code == 1 and "FAIL" in wrong.output
    assert "refused access" in wrong.output and "secret_access_key of source 'wrong-key'" in wrong.output
    missing = runner.invoke(app, ["sources", "test", "no-bucket"], terminal_width=300)
    assert missing.exit_code == 1 and "does not exist" in missing.output
    from_env = runner.invoke(app, ["sources", "test", "from-env"])
    assert from_env.exit_code == 0 and "credentials accepted" in from_env.output, from_env.output
    polled = runner.invoke(app, ["sources", "poll", "wrong-key"], terminal_width=300)
    assert polled.exit_code == 75 and "refused access" in polled.output


def test_the_documented_genesys_cloud_export_layout_is_read_with_a_pattern(
    settings: Settings, bucket: Bucket, runtimes: list[Runtime]
) -> None:
    """The layout of Genesys Cloud's AWS S3 recording bulk export, read as docs/sources.md shows."""
    pattern = (
        r"(?:.*/)?year=\d{4}/month=\d{1,2}/day=\d{1,2}/hour=\d{1,2}/conversation_id=(?P<conversation_id>[^/]+)"
        r"/(?P<call_id>[A-Za-z0-9-]+)\.(?:wav|ogg|opus|webm|mp3)"
    )
    conversation, recording = "11111111-2222-4333-8444-555555555555", "99999999-8888-4777-8666-555555555555"
    organization = "0b1c2d3e-1234-4abc-8def-0123456789ab"
    folder = f"{organization}/year=2024/month=1/day=15/hour=14/conversation_id={conversation}"
    bucket.put(f"{folder}/{recording}.wav", tiny_wav())
    bucket.put(f"{folder}/{recording}_metadata.json", b'{"mediaType": "Call"}')
    options = bucket.source(glob="**/conversation_id=*/*", filename_pattern=pattern)
    rt = _open(runtimes, settings, options)

    report, _ = _poll(rt, bucket.server)
    assert (len(report.fetched), report.refused) == (1, 1)  # the metadata file: not audio, refused once
    with rt.db.transaction() as session:
        call = session.get(Call, report.fetched[0])
        assert call is not None and call.call_id == recording
        assert calls.read_metadata(call=call, keyring=rt.keyring)["conversation_id"] == conversation
    assert _poll(rt, bucket.server)[0].refused == 0


class _DyingClient:
    """A boto3 client whose server is killed (SIGKILL) as the ``die_at``-th GetObject is sent."""

    def __init__(self, server: SeaweedS3, die_at: int) -> None:
        self._client = server.client(max_attempts=1)
        self._server = server
        self._die_at = die_at
        self.gets = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_object(self, **request: Any) -> Any:
        self.gets += 1
        if self.gets == self._die_at:
            self._server.kill()
        return self._client.get_object(**request)


def test_a_server_killed_mid_poll_or_down_loses_nothing_and_takes_nothing_twice(
    settings: Settings, tmp_path: Path, runtimes: list[Runtime]
) -> None:
    server = SeaweedS3(tmp_path / "seaweedfs")  # its own: this test kills it
    server.start()
    try:
        bucket = Bucket(server, server.new_bucket(), "")
        for index in range(5):
            bucket.put(f"calls/{index}.wav", tiny_wav())
        rt = _open(runtimes, settings, bucket.source())
        options = rt.settings.sources.s3[0]

        dying = _DyingClient(server, die_at=4)  # each object: a ranged GET (audio check), then the download
        first = poll.poll_bucket(rt, S3Source(options, client=dying))
        assert len(first.fetched) == 1 and first.failed == 4  # the 2nd was registered, its download cut
        assert _cursor(rt) == "calls/0.wav"

        down = poll.poll_bucket(rt, S3Source(options, client=server.client(max_attempts=1)))
        assert (down.seen, down.fetched, _cursor(rt)) == (0, [], "calls/0.wav")
        assert down.error is not None and "s3://" in down.error  # the source is down: said, nothing changed

        server.start()
        again = poll.poll_bucket(rt, S3Source(options, client=server.client()))
        assert len(again.fetched) == 4 and again.failed == 0
        assert set(_rows(rt).values()) == {"ingested"} and _cursor(rt) == "calls/4.wav"
        with rt.db.transaction() as session:
            assert session.scalar(select(func.count()).select_from(Call)) == 5  # the 2nd was found, not added
            fetched = session.scalars(select(Call.status)).all()
        assert fetched == [CallStatus.fetched.value] * 5
    finally:
        server.kill()


def test_an_object_staged_for_the_fetch_leaves_no_file_a_killed_worker_would_leave_behind(
    bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The object is a customer's recording in the clear: a worker killed (SIGKILL, the OOM killer) while it
    is staged must leave nothing of it in the temporary directory, which a container keeps across restarts
    and nothing sweeps. So it has no name there at any moment; the fetch reads it all the same."""
    staging = tmp_path / "tmp"
    staging.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(staging))
    recording = tiny_wav()
    bucket.put("call.wav", recording)
    source = S3Source(S3SourceSettings.model_validate(bucket.source()), client=bucket.server.shared_client)
    (listed,) = source.scan()
    with source.staged(listed) as local_copy:
        assert list(staging.rglob("*")) == []
        assert Path(local_copy).read_bytes() == recording


ODD_KEYS = ["q 1/ünï+code%20&=.wav", "q 1/a#b?c;d.wav", "q 1/tab\there.wav"]


def test_keys_with_odd_characters_past_a_thousand_others_are_each_taken_once(
    settings: Settings, runtimes: list[Runtime], bucket: Bucket
) -> None:
    # More keys than one listing page holds (1000), then recordings whose names a recorder's export wrote
    # with spaces, non-ASCII letters and the characters URLs give meanings to.
    with ThreadPoolExecutor(8) as uploads:
        list(uploads.map(lambda index: bucket.put(f"exports/{index:04}.csv", b"x"), range(1003)))
    for key in ODD_KEYS:
        bucket.put(key, tiny_wav())
    rt = _open(runtimes, settings, bucket.source(cursor="key"))
    report, _ = _poll(rt, bucket.server)
    assert (report.seen, len(report.fetched), report.refused) == (3, 3, 0)
    with rt.db.transaction() as session:
        sources = set(session.scalars(select(Call.source)))
    assert sources == {f"s3://{bucket.name}/{bucket.prefix}{key}" for key in ODD_KEYS}
    assert _cursor(rt) == max(ODD_KEYS)
    again, _ = _poll(rt, bucket.server)
    assert (again.seen, again.fetched) == (0, [])


def test_an_object_overwritten_after_it_was_taken_is_told_not_taken_again(
    settings: Settings, runtimes: list[Runtime], bucket: Bucket
) -> None:
    bucket.put("q1/a.wav", tiny_wav())
    rt = _open(runtimes, settings, bucket.source())
    (call_pk,) = _poll(rt, bucket.server)[0].fetched
    bucket.put("q1/a.wav", tiny_wav(seconds=1.0))  # the recorder uploads a new version under the same key
    report, _ = _poll(rt, bucket.server)
    assert report.fetched == [] and "q1/a.wav: it changed after it was taken" in (report.error or "")
    with rt.db.transaction() as session:
        call = session.get(Call, call_pk)
        assert call is not None and call.audio_bytes == len(tiny_wav())
    assert _poll(rt, bucket.server)[0].error is None
