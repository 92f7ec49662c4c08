"""An S3 source: the objects under a prefix of a bucket (AWS, MinIO, Ceph, SeaweedFS), through boto3.

Keys are read relative to the prefix, so a glob, a filename pattern and the presets apply to them as to a
folder's paths; a sidecar is the object of the same key with ``.json`` or ``.xml``. S3 shows an object only
once its upload completed, so a listed object is whole (a recorder that writes the sidecar after the audio
is waited for with ``sidecar_required``).

The listing resumes where the last poll's settled keys end (``cursor``, stored by the poll): ``folder``
re-lists the folder of that key and everything after it, ``key`` only what sorts after it. S3 lists keys in
UTF-8 byte order, which is the order of Python's strings, so the cursor needs nothing but the key.

A recording goes to the fetch stage through a local temporary file written ``chunk_bytes`` at a time from
the response stream (``staged``): the object is never held whole in memory here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import PurePosixPath
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

from callsense.backends.recordings.sniff import SNIFF_BYTES, require_audio
from callsense.backends.recordings.sources import metadata
from callsense.backends.recordings.sources.base import Listed, Recording
from callsense.backends.recordings.sources.folder import MAX_SIDECAR_BYTES, Check
from callsense.backends.s3client import make_client
from callsense.config.file_sources import glob_pattern
from callsense.config.sources import AfterIngest, CursorMode, S3SourceSettings, Sidecar
from callsense.errors import BadAudioError, RecordingRefusedError, SourceUnavailableError

CHUNK_BYTES = 1024 * 1024
_DENIED = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
)


class S3Source:
    def __init__(
        self,
        settings: S3SourceSettings,
        *,
        client: Any | None = None,
        max_bytes: int | None = None,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        """``client``: a boto3 S3 client (built from the settings when None); ``max_bytes``: objects larger
        are refused before they are read."""
        self.settings = settings
        self._client = client or make_client(settings)
        self._max_bytes = max_bytes
        self._chunk_bytes = chunk_bytes
        self._glob = glob_pattern(settings.glob)
        self._sidecar = None if settings.sidecar is Sidecar.none else f".{settings.sidecar.value}"
        self.cursor: str | None = None  # the key the listing resumes from (set by the poll)
        self.listed: list[str] = []  # the keys the last scan listed past the cursor, in order
        self._sidecars: dict[str, float] = {}  # the sidecars it listed, with their modification times

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def where(self) -> str:
        return f"s3://{self.settings.bucket}/{self.settings.prefix} at {self._client.meta.endpoint_url}"

    def scan(self) -> Iterator[Listed]:
        objects = self._objects()
        if self._sidecar is not None:
            if self.settings.sidecar_required:
                objects = [item for item in objects if self._sidecar_key(item.key) in self._sidecars]
            # the sidecar's changes are the recording's: one refused, then corrected, is read again
            objects = [
                replace(item, mtime=max(item.mtime, self._sidecars.get(self._sidecar_key(item.key), 0.0)))
                for item in objects
            ]
        return iter(objects)

    def _objects(self) -> list[Listed]:
        """One listing from the cursor on, at most ``max_keys_per_poll`` keys past it; the sidecars seen
        are kept aside in ``_sidecars``."""
        settings = self.settings
        arguments = {"Bucket": settings.bucket, "Prefix": settings.prefix}
        start = self._start_after()
        if start is not None:
            arguments["StartAfter"] = start
        found: list[Listed] = []
        self._sidecars, self.listed = {}, []
        with self._translated("cannot be listed"):
            for entry in self._entries(arguments):
                key = entry["Key"][len(settings.prefix) :]
                if self.cursor is None or key > self.cursor:
                    if len(self.listed) >= settings.max_keys_per_poll:
                        return found
                    self.listed.append(key)
                if self._sidecar is not None and key.lower().endswith(self._sidecar):
                    self._sidecars[key] = entry["LastModified"].timestamp()
                elif self._is_recording(key):
                    location = f"s3://{settings.bucket}/{entry['Key']}"
                    mtime = entry["LastModified"].timestamp()
                    found.append(Listed(key=key, location=location, size=entry["Size"], mtime=mtime))
        return found

    def _entries(self, arguments: dict[str, str]) -> Iterator[dict[str, Any]]:
        """The listing's entries but the processed prefix's: on reaching it, the listing starts again after
        it, so moved objects cost no requests and no room under max_keys_per_poll (``cursor = "none"``
        lists from the prefix every poll)."""
        processed = self.settings.prefix + self.settings.processed_prefix
        for page in self._client.get_paginator("list_objects_v2").paginate(**arguments):
            for entry in page.get("Contents", []):
                if entry["Key"].startswith(processed):
                    # U+10FFFF sorts after every character that may follow the processed prefix
                    yield from self._entries({**arguments, "StartAfter": processed + "\U0010ffff"})
                    return
                yield entry

    def _start_after(self) -> str | None:
        mode = self.settings.cursor
        if self.cursor is None or mode is CursorMode.none:
            return None
        if mode is CursorMode.key:
            return self.settings.prefix + self.cursor
        folder, slash, _ = self.cursor.rpartition("/")
        # every key in the folder sorts after 'folder/'; SeaweedFS skips the folder after 'folder'
        return self.settings.prefix + folder + slash if folder else None

    def _is_recording(self, key: str) -> bool:
        if not key or key.endswith("/") or key.startswith(self.settings.processed_prefix or "\0"):
            return False
        if any(part.startswith(".") for part in key.split("/")):
            return False
        return self._glob.fullmatch(key) is not None

    def next_cursor(self, settled: set[str]) -> str | None:
        """The last key of the run of settled (taken or refused) keys the last scan began with: every key
        up to it needs no further look. None: the scan began with one still to take."""
        last = None
        for key in self.listed:
            if key not in settled and not self._sidecar_or_skipped(key):
                break
            last = key
        return last

    def _sidecar_or_skipped(self, key: str) -> bool:
        return key in self._sidecars or not self._is_recording(key)

    def inspect(self, listed: Listed) -> Recording:
        if self._max_bytes is not None and listed.size > self._max_bytes:
            raise BadAudioError(f"the object is {listed.size} bytes, over the limit of {self._max_bytes}")
        if listed.size == 0:
            raise BadAudioError("the object is empty")
        with self._translated(f"cannot read {listed.key}"):
            head = self._get(listed.key, Range=f"bytes=0-{SNIFF_BYTES - 1}")["Body"].read()
        require_audio(head, origin="the object holds")
        values = metadata.from_path(self.settings.filename_pattern, listed.key)
        if self._sidecar is not None:
            values.update(self._sidecar_values(self._sidecar_key(listed.key)))
        call_id, details = metadata.call_details(values, settings=self.settings, key=listed.key)
        return Recording(call_id=call_id, details=details)

    @contextmanager
    def staged(self, listed: Listed) -> Iterator[str]:
        """A local file holding the object, for the fetch stage, named by its descriptor: unlinked from the
        start, so that a worker killed meanwhile (SIGKILL, the OOM killer) leaves no recording in the clear
        in the temporary directory, which nothing sweeps and a container keeps across restarts."""
        with tempfile.TemporaryFile(prefix="callsense-s3-") as target:
            self.download(listed, target)
            target.flush()
            yield f"/proc/self/fd/{target.fileno()}"

    def download(self, listed: Listed, target: IO[bytes]) -> None:
        """Write the object into ``target``, ``chunk_bytes`` at a time as they arrive."""
        with self._translated(f"cannot read {listed.key}"):
            body = self._get(listed.key)["Body"]
            written = 0
            for chunk in body.iter_chunks(self._chunk_bytes):
                written += len(chunk)
                if self._max_bytes is not None and written > self._max_bytes:
                    body.close()
                    raise BadAudioError(f"the object is over the limit of {self._max_bytes} bytes")
                target.write(chunk)

    def finish(self, listed: Listed) -> None:
        after = self.settings.after_ingest
        if after is AfterIngest.leave:
            return
        keys = [listed.key]
        if self._sidecar is not None and self._sidecar_key(listed.key) in self._sidecars:
            keys.append(self._sidecar_key(listed.key))
        bucket, prefix = self.settings.bucket, self.settings.prefix
        with self._translated(f"could not {after.value} {listed.key}"):
            for key in keys:
                if after is AfterIngest.move:
                    source = {"Bucket": bucket, "Key": prefix + key}
                    self._client.copy(source, bucket, prefix + self.settings.processed_prefix + key)
                self._client.delete_object(Bucket=bucket, Key=prefix + key)

    def check(self) -> list[Check]:
        """What ``callsense sources test`` shows: the credentials are taken and the bucket is there (one
        listing of the prefix, which is all a policy limited to the prefix allows), and the recordings under
        the prefix are counted; nothing is read, moved or deleted."""
        self.cursor = None
        try:
            found = sum(1 for _ in self.scan())
        except SourceUnavailableError as exc:
            return [Check("listing", False, str(exc))]
        past = " (first listing only)" if len(self.listed) >= self.settings.max_keys_per_poll else ""
        checks = [
            Check("listing", True, f"{self.where}: credentials accepted"),
            Check("recordings", True, f"{found} object(s) match {self.settings.glob}{past}"),
        ]
        if self.settings.after_ingest is not AfterIngest.leave:
            needs = "s3:DeleteObject" + (
                " and s3:PutObject" if self.settings.after_ingest is AfterIngest.move else ""
            )
            checks.append(Check("after ingest", True, f"needs {needs} (not tried: it would change data)"))
        return checks

    def _sidecar_key(self, key: str) -> str:
        recording = PurePosixPath(key)
        return str(recording.with_suffix(metadata.sidecar_suffix(self.settings.sidecar, recording.suffix)))

    def _sidecar_values(self, key: str) -> dict[str, str]:
        try:
            with self._translated(f"cannot read its sidecar {key}"):
                response = self._get(key)
                if response["ContentLength"] > MAX_SIDECAR_BYTES:
                    raise RecordingRefusedError(f"its sidecar is over {MAX_SIDECAR_BYTES} bytes")
                data = response["Body"].read()
        except _Missing:
            return {}  # optional: what the name tells is enough
        assert self.settings.sidecar is not Sidecar.none
        return metadata.from_sidecar(self.settings.sidecar, data, self.settings.sidecar_fields)

    def _get(self, key: str, **options: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._client.get_object(
            Bucket=self.settings.bucket, Key=self.settings.prefix + key, **options
        )
        return answer

    def _no_bucket(self) -> SourceUnavailableError:
        return SourceUnavailableError(
            f"the bucket '{self.settings.bucket}' at {self._client.meta.endpoint_url} does not exist; "
            f"create it, or correct the bucket of source '{self.name}'"
        )

    @contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        """botocore's errors as the poll reads them: a ``SourceUnavailableError`` that says what to fix."""
        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            message = error.get("Message") or code
            if code in {"NoSuchKey", "404"}:
                raise _Missing(f"{self.where}: {doing}: it is gone") from exc
            if code == "NoSuchBucket":
                raise self._no_bucket() from exc
            if code in _DENIED or status == 403:
                raise SourceUnavailableError(
                    f"{self.where} refused access ({code}: {message}); check the access_key_id and "
                    f"secret_access_key of source '{self.name}' (or the AWS environment) and the bucket "
                    "policy (docs/sources.md)"
                ) from exc
            raise SourceUnavailableError(f"{self.where} {doing}: HTTP {status} {code}: {message}") from exc
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise SourceUnavailableError(
                f"{self.where}: no credentials; set access_key_id and secret_access_key of source "
                f"'{self.name}', or the standard AWS environment (AWS_ACCESS_KEY_ID, AWS_PROFILE)"
            ) from exc
        except BotoCoreError as exc:  # the network, or settings botocore cannot use (region, endpoint, TLS)
            raise SourceUnavailableError(f"{self.where} {doing}: {exc}") from exc


class _Missing(SourceUnavailableError):
    """The object (or its sidecar) is not there (any more): the next poll will not list it."""
