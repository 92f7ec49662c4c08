"""The fetch stage: copy the call's recording from its source into a temporary file, check it there is audio
we can take, store it encrypted in one streaming pass (hashed on the way). The download itself (size limits,
the SSRF guard, sniffing) is ``backends/recordings``; what is held in memory is a few segments and parts,
whatever the recording's size."""

from __future__ import annotations

import hashlib
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from callsense.calls import service as calls
from callsense.calls.schemas import CallStatus
from callsense.pipeline import stages
from callsense.speech.audio import probe
from callsense.streamcipher import chunks_of

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
        if not force and stages.is_done(calls.lock(session=session, call_pk=call_pk), "fetch"):
            return "transcribe"
    with stages.audited(rt, call_pk, "fetch"):
        started = time.perf_counter()
        if source is None:  # in the stage: a source that cannot be decrypted fails the call with the reason
            with rt.db.transaction() as session:
                source = calls.source_of(
                    call=calls.lock(session=session, call_pk=call_pk), keyring=rt.keyring
                )
        key = calls.audio_blob_key(call_pk)
        with tempfile.TemporaryFile(prefix="callsense-fetch-") as spool:  # unlinked: gone with us
            rt.recordings.spool(source, local_files=local_files, into=spool)
            info = probe(spool, max_seconds=rt.settings.max_audio_seconds)  # refuse bad audio before storing
            spool.seek(0)
            digest = hashlib.sha256()
            with rt.db.transaction() as session:
                call = calls.lock(session=session, call_pk=call_pk)
                if stages.lost_race(call, "fetch", force=force):
                    return "transcribe"
                # written under the call's row lock, as key rotation rewrites it: neither overwrites the other
                plaintext = _hashed(chunks_of(spool), digest)
                rt.blobs.put(key, rt.keyring.encrypt_stream(plaintext, context=calls.audio_context(call_pk)))
                seconds = time.perf_counter() - started
                call.audio_blob = key
                call.audio_sha256 = digest.hexdigest()
                call.audio_bytes = spool.tell()
                call.audio_format = f"{info.container}/{info.codec} {info.sample_rate} Hz"
                call.duration_s = round(info.duration, 3)
                call.channels = info.channels
                call.fetch_seconds = round(seconds, 3)
                calls.set_status(session=session, call=call, status=CallStatus.fetched)
                calls.add_event(
                    session=session, call_pk=call_pk, stage="fetch", kind="finished", seconds=seconds
                )
    return "transcribe"


def _hashed(chunks: Iterable[bytes], digest: hashlib._Hash) -> Iterator[bytes]:
    """``chunks`` as they are, each fed to ``digest`` on the way."""
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
