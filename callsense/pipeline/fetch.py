"""The fetch stage: read the call's recording from its source, check it is audio we can take, store it
encrypted. The download itself (size limits, the SSRF guard, sniffing) is ``backends/recordings``."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import TYPE_CHECKING

from callsense.calls import service as calls
from callsense.calls.schemas import CallStatus
from callsense.pipeline import stages
from callsense.speech.audio import probe

if TYPE_CHECKING:
    from callsense.runtime import Runtime


def run(
    rt: Runtime,
    call_pk: uuid.UUID,
    *,
    source: str | None = None,
    force: bool = False,
    local_files: bool = True,
) -> stages.Stage:
    """Fetch ``source`` (None: the one the call was registered with); next comes ``transcribe``.

    ``local_files=False`` for sources that came over the network: a webhook must not read our disk."""
    with rt.db.transaction() as session:
        call = calls.lock(session=session, call_pk=call_pk)
        if not force and stages.is_done(call, "fetch"):
            return "transcribe"
        if source is None:
            source = calls.source_of(call=call, keyring=rt.keyring)
    with stages.audited(rt, call_pk, "fetch"):
        started = time.perf_counter()
        data = rt.recordings.read(source, local_files=local_files)
        info = probe(data, max_seconds=rt.settings.max_audio_seconds)  # refuse bad audio before storing it
        key = calls.audio_blob_key(call_pk)
        with rt.db.transaction() as session:
            call = calls.lock(session=session, call_pk=call_pk)
            # written under the call's row lock, as key rotation rewrites it: neither overwrites the other
            rt.blobs.put(key, rt.keyring.encrypt(data, context=calls.audio_context(call_pk)))
            seconds = time.perf_counter() - started
            call.audio_blob = key
            call.audio_sha256 = hashlib.sha256(data).hexdigest()
            call.audio_bytes = len(data)
            call.audio_format = f"{info.container}/{info.codec} {info.sample_rate} Hz"
            call.duration_s = round(info.duration, 3)
            call.channels = info.channels
            call.fetch_seconds = round(seconds, 3)
            calls.set_status(session=session, call=call, status=CallStatus.fetched)
            calls.add_event(session=session, call_pk=call_pk, stage="fetch", kind="finished", seconds=seconds)
    return "transcribe"
