"""Environment checks behind ``callsense doctor``: each says what is wrong and how to fix it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

from callsense.assets import catalog
from callsense.config import Settings
from callsense.config.models import LLMBackendName
from callsense.errors import CallsenseError

MIN_FREE_BYTES = 2 * 1024**3


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
    yield _database(settings)
    yield _keys(settings)
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


def _database(settings: Settings) -> Check:
    from callsense.db import open_database

    try:
        db = open_database(settings)
    except CallsenseError as exc:
        return Check("database", False, str(exc))
    except Exception as exc:  # doctor reports every failure rather than stopping at one
        return Check("database", False, f"{type(exc).__name__}: {exc}")
    db.close()
    return Check("database", True, f"{db.url_for_display}, schema up to date")


def _keys(settings: Settings) -> Check:
    from callsense.crypto import KeyRing

    try:
        keyring = KeyRing.load_or_create(settings.resolved_key_file)
    except CallsenseError as exc:
        return Check("key file", False, str(exc))
    return Check("key file", True, f"{settings.resolved_key_file} (active key {keyring.active_key_id})")


def _disk(settings: Settings) -> Check:
    free = shutil.disk_usage(
        settings.data_dir if settings.data_dir.exists() else settings.data_dir.parent
    ).free
    return Check("disk", free >= MIN_FREE_BYTES, f"{free / 1024**3:.1f} GiB free")


def _gpu() -> Check:
    import ctranslate2

    count = ctranslate2.get_cuda_device_count()
    return Check("gpu", True, f"{count} CUDA device(s)" if count else "none (CPU inference)")
