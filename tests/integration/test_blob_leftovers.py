"""What a write killed midway leaves in the blob store, and the hourly sweep that removes it: a real process
writing a recording is killed with SIGKILL (filesystem archive and S3), and the sweep removes its leftover
only once no live writer can own it, leaving blobs, live writes and other installations' uploads alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from callsense.backends.blobstore import FilesystemBlobStore
from callsense.backends.blobstore.s3 import S3BlobStore
from callsense.config import Settings
from callsense.config.blobs import MIB, BlobSettings
from callsense.errors import NotFoundError
from callsense.pipeline import leftovers, tasks
from callsense.runtime import open_runtime
from tests.blobs import read_blob
from tests.s3server import SeaweedS3

# A writer that stops for good after its first 6 MiB (one S3 part past a 5 MiB threshold), as a worker's
# fetch stage would if it were killed in the middle of storing a recording.
WRITER = """
import json, sys, time
from pathlib import Path
from callsense.backends.blobstore import FilesystemBlobStore
from callsense.backends.blobstore.s3 import S3BlobStore
from callsense.config.blobs import BlobSettings

where = json.loads(sys.argv[1])
store = (
    FilesystemBlobStore(Path(where["root"])) if "root" in where
    else S3BlobStore.from_settings(BlobSettings(**where["s3"]))
)

def chunks():
    yield b"x" * (6 * 1024 * 1024)
    print("writing", flush=True)
    time.sleep(600)

store.put(sys.argv[2], chunks())
"""
HOUR = 3600.0


def _writer(where: dict[str, Any], key: str) -> subprocess.Popen[str]:
    """A process storing ``key`` that is half way through its write when this returns."""
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, json.dumps(where), key], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    if process.stdout.readline() != "writing\n":
        process.kill()
        pytest.fail(f"the writer did not start writing (exit status {process.wait()})")
    return process


def _kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    assert process.stdout is not None
    process.stdout.close()


def _temporary_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob(".*.tmp") if path.is_file())


def _aged(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_killed_write_leaves_a_file_the_sweep_removes_once_no_writer_holds_it(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FilesystemBlobStore(root)
    store.put("audio/kept", [b"a recording"])
    store.put("audio/.looks-temporary.tmp", [b"a blob whose key looks like a temporary file"])
    store.put("odd/.dir.tmp/blob", [b"in a directory whose name looks like one"])
    for blob in root.rglob("*@blob"):
        _aged(blob, 10 * HOUR)

    writer = _writer({"root": str(root)}, "audio/written")
    try:
        (live,) = _temporary_files(root)
        assert live.parent == root / "audio" and live.stat().st_size == 6 * MIB
        _aged(live, 10 * HOUR)  # a writer stalled for hours (a hung NFS server): its lock still protects it
        assert store.sweep_leftovers() == []
        assert store.sweep_leftovers(older_than_s=0) == []
        assert live.exists()
    finally:
        _kill(writer)

    os.utime(live)  # killed a moment ago: too young to be swept, in case its lock was never taken
    assert store.sweep_leftovers() == []
    assert live.exists()

    _aged(live, 2 * HOUR)
    (removed,) = store.sweep_leftovers()
    assert removed.name == f"audio/{live.name}" and removed.size == 6 * MIB
    assert 2 * HOUR <= removed.age_s < 2 * HOUR + 60
    assert _temporary_files(root) == []
    assert read_blob(store, "audio/kept") == b"a recording"
    assert read_blob(store, "audio/.looks-temporary.tmp").startswith(b"a blob")
    assert read_blob(store, "odd/.dir.tmp/blob").startswith(b"in a directory")
    with pytest.raises(NotFoundError):
        read_blob(store, "audio/written")  # the killed write never became a blob
    assert store.sweep_leftovers(older_than_s=0) == []  # nothing left; blobs are never candidates


def test_the_sweep_is_an_hourly_maintenance_job_that_logs_what_it_removed(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    scheduled = tasks.blueprint.periodic_registry.periodic_tasks.values()
    (periodic,) = [task for task in scheduled if task.task.name == "sweep_blobs"]
    assert periodic.cron == leftovers.SWEEP_CRON == "41 * * * *"

    rt = open_runtime(settings)
    try:
        rt.blobs.put("audio/kept", [b"a recording"])
        leftover = settings.resolved_blob_dir / "audio" / ".k1ll3d.tmp"
        leftover.write_bytes(b"half a recording")
        _aged(leftover, 3 * HOUR)
        app = tasks.build_app(rt)
        capsys.readouterr()
        with app.open():  # the job as the schedule queues it, run by a real worker of the maintenance queue
            app.configure_task("callsense:sweep_blobs").defer(timestamp=int(time.time()))
            options = tasks.worker_options(rt, queues=["maintenance"], concurrency=1)
            app.run_worker(wait=False, **options)
        assert not leftover.exists()
        assert read_blob(rt.blobs, "audio/kept") == b"a recording"
    finally:
        rt.db.close()
    logged = [line for line in "".join(capsys.readouterr()).splitlines() if "killed write" in line]
    assert len(logged) == 1, logged
    assert "leftover=audio/.k1ll3d.tmp" in logged[0] and "bytes=16" in logged[0] and "age_h=3.0" in logged[0]


def _uploads(server: SeaweedS3, bucket: str) -> list[str]:
    listed = server.shared_client.list_multipart_uploads(Bucket=bucket)
    return sorted(upload["Key"] for upload in listed.get("Uploads", []))


def test_a_killed_multipart_upload_is_aborted_by_the_sweep_and_others_stay(
    s3_server: SeaweedS3, s3_bucket: str, s3_prefix: str
) -> None:
    settings = s3_server.settings(
        s3_bucket, prefix=s3_prefix, multipart_threshold_bytes=5 * MIB, multipart_part_bytes=5 * MIB
    )
    store = S3BlobStore.from_settings(BlobSettings(**settings))
    store.put("audio/kept", [b"a recording"])
    # another installation sharing the bucket under another prefix: its upload is not ours to abort
    client = s3_server.shared_client
    client.create_multipart_upload(Bucket=s3_bucket, Key="other-installation/audio/1")

    writer = _writer({"s3": settings}, "audio/written")
    try:
        deadline = time.monotonic() + 30
        while f"{s3_prefix}audio/written" not in _uploads(s3_server, s3_bucket):
            assert time.monotonic() < deadline, "the writer's multipart upload never began"
            time.sleep(0.1)
    finally:
        _kill(writer)
    ours = f"{s3_prefix}audio/written"
    assert _uploads(s3_server, s3_bucket) == sorted([ours, "other-installation/audio/1"])

    assert store.sweep_leftovers() == []  # begun seconds ago: it could be a live write
    (removed,) = store.sweep_leftovers(older_than_s=0)
    assert removed.name.startswith(f"{s3_prefix}audio/written (upload ") and removed.size is None
    assert _uploads(s3_server, s3_bucket) == ["other-installation/audio/1"]
    listed = client.list_objects_v2(Bucket=s3_bucket, Prefix=s3_prefix)["Contents"]
    assert [item["Key"] for item in listed] == [f"{s3_prefix}audio/kept"]
    assert read_blob(store, "audio/kept") == b"a recording"


def test_a_bucket_that_refuses_the_listing_is_left_to_its_lifecycle_rule_and_said_so(
    s3_server: SeaweedS3, s3_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # an identity without s3:ListBucketMultipartUploads (here: refused credentials) fails no job every hour
    refused = S3BlobStore.from_settings(
        BlobSettings(**{**s3_server.settings(s3_bucket), "secret_access_key": "not-the-secret"})
    )
    capsys.readouterr()
    assert leftovers.sweep(refused) == []
    logged = [line for line in "".join(capsys.readouterr()).splitlines() if "cannot sweep" in line]
    assert len(logged) == 1 and "refused access" in logged[0], logged
