"""The fetch stage on a real PostgreSQL: it checks a recording without holding its decoded samples."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from callsense.calls.models import Call
from callsense.config import Settings
from callsense.pipeline import fetch, ingest
from callsense.runtime import Runtime, open_runtime
from tests.long_audio import decoded_bytes, stereo_noise_wav

SECONDS = 300


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = open_runtime(settings)
    yield runtime
    runtime.db.close()


def test_fetch_checks_a_long_call_without_decoding_it_into_memory(rt: Runtime, tmp_path: Path) -> None:
    source = tmp_path / "long.wav"
    source.write_bytes(stereo_noise_wav(SECONDS))  # 4.8 MB that decode to 38 MB of samples
    call_pk = ingest.ingest(rt, call_id="long", source=str(source)).call_pk
    tracemalloc.start()
    try:
        fetch.run(rt, call_pk, source=str(source))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < decoded_bytes(SECONDS) / 2  # the file and its ciphertext, not the samples
    with rt.db.transaction() as session:
        call = session.get(Call, call_pk)
        assert call is not None
        assert (call.status, call.duration_s, call.channels) == ("fetched", SECONDS, 2)
        assert call.audio_format == "wav/pcm_u8 8000 Hz"
