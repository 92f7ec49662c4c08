"""The player's byte ranges on a recording of many segments (real PostgreSQL, the filesystem archive): a range
reads and decrypts only the segments it covers (and the last one, which authenticates the size), across a
segment boundary; the whole recording streams, also for a range in another unit or several ranges; a range
outside it is 416."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import pytest
from fastapi import HTTPException

from callsense import serving
from callsense.backends.blobstore import FilesystemBlobStore
from callsense.calls import service as calls
from callsense.config import Settings
from callsense.runtime import Runtime, open_runtime
from callsense.streamcipher import SEGMENT_BYTES

SEALED_SEGMENT = SEGMENT_BYTES + 16
RECORDING = os.urandom(6 * SEGMENT_BYTES + 1234)  # what the player serves is not decoded: any bytes do


class CountingFile(io.BufferedReader):
    def __init__(self, raw: io.FileIO, counter: list[int]) -> None:
        super().__init__(raw)
        self._counter = counter

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self._counter.append(len(data))
        return data


@dataclasses.dataclass
class CountingStore:
    """The filesystem archive, counting the bytes read from each blob opened."""

    store: FilesystemBlobStore
    reads: list[int] = dataclasses.field(default_factory=list)

    def put(self, key: str, chunks: Iterable[bytes]) -> None:
        self.store.put(key, chunks)

    def open(self, key: str) -> io.BufferedReader:
        file = self.store.open(key)
        return CountingFile(file.detach(), self.reads)  # type: ignore[arg-type]

    def delete(self, key: str) -> None:
        self.store.delete(key)


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = open_runtime(settings)
    counting = CountingStore(FilesystemBlobStore(settings.resolved_blob_dir))
    yield dataclasses.replace(runtime, blobs=counting)
    runtime.db.close()


def _recorded(rt: Runtime) -> None:
    with rt.db.transaction() as session:
        call, _ = calls.get_or_create(
            session=session,
            keyring=rt.keyring,
            call_id="long",
            source="/recordings/long.wav",
            shown_source="long.wav",
            details=calls.CallDetails(started_at=datetime.now(UTC)),
        )
        key = calls.audio_blob_key(call.id)
        chunks = (RECORDING[start : start + 300_000] for start in range(0, len(RECORDING), 300_000))
        rt.blobs.put(key, rt.keyring.encrypt_stream(chunks, context=calls.audio_context(call.id)))
        call.audio_blob = key
        call.audio_format = "wav/pcm_s16le 16000 Hz"


def _get(rt: Runtime, range_header: str | None) -> tuple[int, dict[str, str], bytes]:
    response = serving.audio_response(
        rt, call_id="long", range_header=range_header, actor="test", via="api", original=True
    )

    async def body() -> bytes:
        return b"".join([bytes(chunk) async for chunk in response.body_iterator])  # type: ignore[attr-defined]

    return response.status_code, dict(response.headers), asyncio.run(body())


def test_a_range_reads_only_the_segments_it_covers(rt: Runtime) -> None:
    _recorded(rt)
    counting = rt.blobs
    assert isinstance(counting, CountingStore)
    start, end = 2 * SEGMENT_BYTES - 10, 2 * SEGMENT_BYTES + 9  # across the second boundary
    counting.reads.clear()
    status, headers, content = _get(rt, f"bytes={start}-{end}")
    assert status == 206 and content == RECORDING[start : end + 1]
    assert headers["content-range"] == f"bytes {start}-{end}/{len(RECORDING)}"
    assert headers["content-length"] == "20" and headers["content-type"] == "audio/wav"
    # the header, the last segment (on opening), and the two segments the range lies in
    assert sum(counting.reads) <= 200 + 3 * SEALED_SEGMENT

    counting.reads.clear()
    status, headers, content = _get(rt, None)
    assert status == 200 and content == RECORDING
    assert headers["content-length"] == str(len(RECORDING)) and headers["accept-ranges"] == "bytes"
    for ignored in ("items=0-9", "bytes=0-9,20-29"):  # another unit, several ranges: the whole recording
        status, headers, content = _get(rt, ignored)
        assert status == 200 and content == RECORDING and "content-range" not in headers, ignored

    with pytest.raises(HTTPException) as refused:
        _get(rt, f"bytes={len(RECORDING)}-")
    assert refused.value.status_code == 416
    assert refused.value.headers == {"Content-Range": f"bytes */{len(RECORDING)}"}
