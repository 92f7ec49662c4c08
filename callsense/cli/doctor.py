"""Environment checks behind ``callsense doctor``: each says what is wrong and how to fix it."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from callsense.assets import catalog
from callsense.config import Settings
from callsense.config.blobs import BlobBackendName
from callsense.config.models import LLMBackendName
from callsense.errors import CallsenseError, ConfigError, SchemaVersionError

if TYPE_CHECKING:
    from callsense.crypto import KeyRing

MIN_FREE_BYTES = 2 * 1024**3
# Overwritten by every run, so the check leaves one small object behind, never more.
ARCHIVE_PROBE_KEY = "doctor/probe"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def run_all(settings: Settings) -> Iterator[Check]:
    yield Check("settings", True, f"data in {settings.data_dir}")
    yield Check(
        "telemetry off",
        os.environ.get("ORT_DISABLE_TELEMETRY") == "1" and os.environ.get("HF_HUB_OFFLINE") == "1",
        "onnxruntime telemetry and model hubs disabled",
    )
    yield from _model_checks(settings)
    if settings.llm.backend is not LLMBackendName.embedded:
        yield _llm_server(settings)
    yield _database(settings)
    yield _keys(settings)
    if (unapplied := _kept_erasures(settings)) is not None:
        yield unapplied
    yield _archive(settings)
    yield _disk(settings)
    yield _gpu()


def _model_checks(settings: Settings) -> Iterator[Check]:
    wanted = [("asr model", settings.asr.model)]
    if settings.llm.backend is LLMBackendName.embedded:
        wanted.append(("llm model", settings.llm.model))
    if settings.speakers.diarization:
        wanted.append(("speaker encoder", catalog.VOICE_ENCODER))
    for label, name in wanted:
        if name in catalog.CATALOG:
            asset = catalog.lookup(name)
            installed = catalog.installed(asset)
            yield Check(
                label, installed, f"{name}: " + ("packages installed" if installed else "packages missing")
            )
        else:
            exists = os.path.exists(os.path.expanduser(name))
            yield Check(label, exists, f"{name}: " + ("found" if exists else "path not found"))


# Where each server lists its models: Ollama the pulled ones, an OpenAI-compatible server the ones it serves.
_MODEL_LISTS = {
    LLMBackendName.ollama: ("/api/tags", "models", "name"),
    LLMBackendName.openai: ("/models", "data", "id"),
}


def _llm_server(settings: Settings) -> Check:
    """The LLM server answers and lists llm.model: else every call fails its analysis, after its
    transcription and the queue's retries (over an hour for a server that refuses connections)."""
    from callsense.backends.llm.http import make_client

    llm = settings.llm
    path, items, key = _MODEL_LISTS[llm.backend]
    url = f"{(llm.base_url or '').rstrip('/')}{path}"
    headers = {"Authorization": f"Bearer {llm.api_key.get_secret_value()}"} if llm.api_key else None
    try:
        with make_client(timeout_s=10, headers=headers) as client:
            response = client.get(url)
        response.raise_for_status()
        listed = {str(model.get(key)) for model in response.json().get(items, []) if isinstance(model, dict)}
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return Check("llm server", False, f"{llm.backend.value} at {url}: {exc}")
    where = f"{llm.backend.value} at {llm.base_url}"
    if llm.backend is LLMBackendName.openai:  # llama.cpp's server answers to any model name: a note only
        listed_or_not = "lists" if llm.model in listed else "does not list (vLLM would refuse it)"
        return Check("llm server", True, f"{where} answers; it {listed_or_not} llm.model {llm.model}")
    if {llm.model, f"{llm.model}:latest"} & listed:  # Ollama takes 'qwen2.5' for 'qwen2.5:latest'
        return Check("llm server", True, f"{where} has {llm.model}")
    pulled = ", ".join(sorted(listed)) or "none"
    return Check(
        "llm server",
        False,
        f"{where} has not pulled {llm.model} (it has {pulled}): `ollama pull {llm.model}`",
    )


def _database(settings: Settings) -> Check:
    from callsense.cli.db import pending_conversion
    from callsense.db import open_database

    try:
        db = open_database(settings)
    except CallsenseError as exc:
        return Check("database", False, str(exc))
    except Exception as exc:  # doctor reports every failure rather than stopping at one
        return Check("database", False, f"{type(exc).__name__}: {exc}")
    try:
        conversion = pending_conversion(db)
    finally:
        db.close()
    schema = (
        f"schema upgraded from {db.upgraded_from} by this run" if db.upgraded_from else "schema up to date"
    )
    return Check("database", True, "; ".join(filter(None, [f"{db.url_for_display}, {schema}", conversion])))


def _keys(settings: Settings) -> Check:

    from callsense.tempfiles import leftovers_of

    try:
        keyring = _key_ring(settings)
    except CallsenseError as exc:
        return Check("key file", False, str(exc))
    leftovers = leftovers_of(settings.resolved_key_file)
    if leftovers:  # a retired key must not live on in one of them
        return Check(
            "key file",
            False,
            f"a write of the key file killed midway left {len(leftovers)} cop(ies) of the key ring in clear "
            f"beside it, with the keys it then held: delete {' '.join(str(path) for path in leftovers)}",
        )
    return Check("key file", True, f"{settings.resolved_key_file} (active key {keyring.active_key_id})")


def _key_ring(settings: Settings) -> KeyRing:
    """Loaded (or made) as every command does; without a database, made or loaded regardless: the database
    check says why it failed, and a new installation gets its key ring all the same. Never made beside a
    database at another schema (before 'db upgrade'): its calls may be sealed by the missing file."""
    from callsense.calls.datakeys import open_key_ring
    from callsense.crypto import KeyRing
    from callsense.db import open_database

    key_file = settings.resolved_key_file
    try:
        db = open_database(settings)
    except SchemaVersionError:
        if not key_file.exists():
            raise ConfigError(
                f"key file {key_file} does not exist, and none is made while the database is at another "
                "schema (see the database check): the calls it holds may be sealed by it; put it back"
            ) from None
        return KeyRing.load_or_create(key_file)
    except Exception:
        return KeyRing.load_or_create(key_file)
    try:
        return open_key_ring(db, key_file)
    finally:
        db.close()


def _kept_erasures(settings: Settings) -> Check | None:
    """Erasures a restore kept and has not applied again (it stopped midway): the calls may be back."""
    from callsense.backup.erasures import pending_warning

    try:
        warning = pending_warning(settings)
    except CallsenseError as exc:
        return Check("erasures", False, str(exc))
    return None if warning is None else Check("erasures", False, warning)


def _archive(settings: Settings) -> Check:
    """Write a probe blob and read it back: the store is reachable, the credentials and policy allow both."""
    from callsense.backends.blobstore import open_blobstore

    if settings.blobs.backend is BlobBackendName.s3:
        where = f"S3 bucket {settings.blobs.bucket}/{settings.blobs.prefix}"
    else:
        where = str(settings.resolved_blob_dir)
    probe = secrets.token_bytes(32)
    try:
        store = open_blobstore(settings)
        store.put(ARCHIVE_PROBE_KEY, [probe])
        with store.open(ARCHIVE_PROBE_KEY) as written:
            ok = written.read() == probe
    except CallsenseError as exc:
        return Check("archive", False, str(exc))
    except OSError as exc:  # a directory we may not create or write
        return Check("archive", False, f"{where}: {exc}")
    return Check("archive", ok, f"{where}: " + ("writable" if ok else "reads back other bytes than written"))


def _disk(settings: Settings) -> Check:
    free = shutil.disk_usage(
        settings.data_dir if settings.data_dir.exists() else settings.data_dir.parent
    ).free
    return Check("disk", free >= MIN_FREE_BYTES, f"{free / 1024**3:.1f} GiB free")


def _gpu() -> Check:
    import ctranslate2

    count = ctranslate2.get_cuda_device_count()
    return Check("gpu", True, f"{count} CUDA device(s)" if count else "none (CPU inference)")
