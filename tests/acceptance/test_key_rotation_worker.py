"""A running `callsense worker` picks up a key rotation made by another process: `callsense keys rotate
--retire-old` runs while the worker is up, then the worker processes a call (real Whisper; the LLM is a
loopback stand-in answering at once), and everything it stored is under the new key (the call's data key
wrapped by it) and readable by a fresh process after the worker has stopped."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import LargeBinary, select, text

from callsense.backends.blobstore import FilesystemBlobStore
from callsense.calls import service as calls
from callsense.calls.models import Base
from callsense.calls.schemas import CallStatus
from callsense.config import Settings
from callsense.pipeline import ingest, tasks
from callsense.runtime import open_runtime
from tests.acceptance.test_service import recordings  # noqa: F401  (the fixture)
from tests.blobs import read_blob
from tests.conftest import status_of
from tests.crm_calls import ANALYSIS
from tests.llm_stub import openai_answering
from tests.servers import CALLSENSE, callsense_env

pytestmark = pytest.mark.slow


def _wait(what: str, seconds: float, check: Callable[[], object]) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_a_running_worker_encrypts_under_the_key_a_rotation_made(
    database_url: str,
    recordings: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    rt = open_runtime(Settings(data_dir=data_dir, database_url=database_url))  # makes the key file
    old_key = rt.keyring.active_key_id
    worker_log = tmp_path / "worker.log"
    with openai_answering(json.dumps(ANALYSIS)) as llm, worker_log.open("w") as log:
        env = callsense_env(
            data_dir,
            CALLSENSE_DATABASE_URL=database_url,
            CALLSENSE_FETCH__ALLOW_NETWORKS=json.dumps(["127.0.0.0/8"]),
            CALLSENSE_LLM__BACKEND="openai",
            CALLSENSE_LLM__BASE_URL=llm,
            CALLSENSE_LLM__MODEL="instant",
        )
        worker = subprocess.Popen([CALLSENSE, "worker"], env=env, stdout=log, stderr=log)
        try:
            with rt.db.engine.connect() as connection:  # registered once its key ring is loaded
                _wait(
                    "the worker to start",
                    120,
                    lambda: (
                        worker.poll() is None
                        and connection.execute(
                            text("select count(*) from procrastinate_workers")
                        ).scalar_one()
                    ),
                )
            rotated = subprocess.run(
                [CALLSENSE, "keys", "rotate", "--retire-old"], env=env, capture_output=True, text=True
            )
            assert rotated.returncode == 0, rotated.stderr
            new_key = json.loads(rt.settings.resolved_key_file.read_text())["active"]
            assert f"retired keys: {old_key}" in rotated.stdout and new_key != old_key

            call_pk = ingest.ingest(
                rt, call_id="after-rotation", source=f"{recordings}/en_short.mono.flac"
            ).call_pk
            app = tasks.build_app(rt)
            with app.open():
                tasks.defer_stage(app, "fetch", call_pk)
            _wait(
                "the call to be processed",
                480,
                lambda: status_of(rt, call_pk) in {CallStatus.done, CallStatus.failed},
            )
            assert status_of(rt, call_pk) is CallStatus.done, worker_log.read_text()[-3000:]
        finally:
            worker.terminate()
            worker.wait(60)

    stored: list[bytes] = []
    with rt.db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, LargeBinary):
                    stored += session.scalars(select(column).where(column.is_not(None))).all()
    # redaction is on: the redacted copy is the recording kept
    stored.append(
        read_blob(FilesystemBlobStore(rt.settings.resolved_blob_dir), calls.redacted_audio_blob_key(call_pk))
    )
    assert len(stored) >= 4  # at least the source, the transcript, the analysis and the recording
    # the call's data key wrapped by the new key (call_keys), everything else sealed by that data key (None)
    assert {rt.keyring.key_id_of(value) for value in stored} == {new_key, None}
    rt.db.close()

    shown = subprocess.run([CALLSENSE, "show", "after-rotation"], env=env, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["transcript"] and record["summary"] == ANALYSIS["summary"]
