"""The composition root: the ports the pipeline, the API, the dashboard and the CLI work through.

``open_runtime(settings)`` builds it once per process from the settings; a test builds a ``Runtime`` with the
fakes that live beside each port (``backends/llm/fake.py``, ``backends/blobstore/memory.py``,
``backends/recordings/fake.py``, ``backends/crm/fake.py``, ``speech/fake.py``, ``redaction/fake.py``).
Models load on first use: the runtime holds lazy adapters, so a process that never transcribes never reads
the Whisper weights, nor one that never redacts the recognizers. Only the layers above the pipeline import
this module; the stages take the runtime as an argument.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from callsense.backends.blobstore import BlobStore, open_blobstore
from callsense.backends.crm import Destinations, HTTPDestinations
from callsense.backends.llm import JSONRequest, LLMBackend, build_llm
from callsense.backends.recordings import Recordings, SourceReader
from callsense.calls.datakeys import DataKeyStore, open_key_ring
from callsense.calls.schemas import Segment
from callsense.config import Settings
from callsense.crypto import KeyRing
from callsense.db import Database, open_database
from callsense.redaction import Redaction, Redactor
from callsense.speech.transcriber import Transcriber
from callsense.speech.whisper import WhisperTranscriber

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Runtime:
    """What every stage and every request needs; ``dataclasses.replace`` swaps one port for a fake."""

    settings: Settings
    db: Database
    keyring: KeyRing
    blobs: BlobStore
    llm: LLMBackend
    transcriber: Transcriber
    recordings: Recordings
    crm: Destinations
    redactor: Redactor


class _Once(Generic[T]):
    """Builds its value on the first ``get`` and keeps it; concurrent first callers build it once."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._build()
            return self._value


class LazyLLM:
    """The configured LLM back-end, assembled (and checksummed) on the first request, not at start-up."""

    def __init__(self, settings: Settings) -> None:
        self._backend = _Once(lambda: build_llm(settings.llm, model_dir=settings.resolved_model_dir))

    @property
    def name(self) -> str:
        return self._backend.get().name

    @property
    def model(self) -> str:
        return self._backend.get().model

    @property
    def context_tokens(self) -> int:
        return self._backend.get().context_tokens

    def complete_json(self, request: JSONRequest) -> str:
        return self._backend.get().complete_json(request)

    def count_tokens(self, text: str) -> int:
        return self._backend.get().count_tokens(text)

    def prepare(self, systems: Sequence[str]) -> bool:
        return self._backend.get().prepare(systems)


class LazyRedactor:
    """The Presidio redactor of ``settings.redaction``, its recognizers and NER model loaded on the first
    call: a process that never redacts (the API, the dashboard) never loads them."""

    def __init__(self, settings: Settings) -> None:
        def build() -> Redactor:
            from callsense.redaction.engine import PresidioRedactor

            return PresidioRedactor(settings.redaction)

        self._redactor = _Once(build)

    def redact_segments(self, segments: list[Segment], *, language: str | None) -> Redaction:
        return self._redactor.get().redact_segments(segments, language=language)

    def redact_text(self, text: str, *, language: str | None) -> str:
        return self._redactor.get().redact_text(text, language=language)


def whisper_transcriber(settings: Settings) -> WhisperTranscriber:
    """The configured transcriber; segments holding read-out numbers are decoded twice only while they are
    redacted (``redaction.number_beam_size``)."""
    return WhisperTranscriber(
        settings.asr,
        model_dir=settings.resolved_model_dir,
        speakers=settings.speakers,
        number_beam_size=settings.redaction.number_beam_size if settings.redaction.enabled else 1,
    )


def open_runtime(settings: Settings) -> Runtime:
    """Open the blob store, connect to (or start) the database, load or create the key ring."""
    settings.make_data_dir()
    # connects to nothing: a blob_dir it cannot use is refused before the database starts
    blobs = open_blobstore(settings)
    db = open_database(settings)
    try:
        keyring = open_key_ring(db, settings.resolved_key_file)
    except BaseException:
        db.close()
        raise
    keyring.use_data_keys(DataKeyStore(db, keyring))  # each call's ciphertexts under its own data key
    return Runtime(
        settings=settings,
        db=db,
        keyring=keyring,
        blobs=blobs,
        llm=LazyLLM(settings),
        transcriber=whisper_transcriber(settings),
        recordings=SourceReader.from_settings(settings),
        crm=HTTPDestinations(),
        redactor=LazyRedactor(settings),
    )
