"""A call in which the customer reads out a card number, through the real stages with every model a fake:
the recording is constructed (seeded noise, 16-bit 16 kHz, so the redacted copy can be compared sample for
sample), the redactor is ``redaction/fake.py`` taking the digit groups as CARD_NUMBER."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import uuid
import wave
from typing import Any

import numpy as np
import numpy.typing as npt

from callsense.backends.crm.fake import FakeDestinations
from callsense.backends.llm.fake import FakeLLM
from callsense.backends.recordings.fake import FakeRecordings
from callsense.calls.schemas import RoleSource, Segment, Speaker, SpeakerMethod, SpeakersFound
from callsense.config import Settings
from callsense.pipeline import analyse, fetch, ingest, transcribe
from callsense.redaction.fake import FakeRedactor
from callsense.runtime import Runtime, open_runtime
from callsense.speech.audio import SAMPLE_RATE
from callsense.speech.fake import FakeTranscriber
from tests.crm_calls import ANALYSIS
from tests.dashboard_seed import spread_words

SOURCE = "https://recorder.example/card.wav"
CARD = "4111 1111 1111 1111"
SECONDS = 6.0
MARGIN_S = 0.15
SAID = [
    (Speaker.agent, "Thanks for calling, how can I help?", 0.0, 2.0),
    (Speaker.customer, f"My card is {CARD}.", 2.0, 5.0),
]
ANSWER = {**ANALYSIS, "summary": [f"Customer read out card {CARD} to pay.", "Agent took the payment."]}
STEREO = SpeakersFound(method=SpeakerMethod.channels, count=2, agent="left", agent_source=RoleSource.settings)
MONO = SpeakersFound(method=SpeakerMethod.none, count=0)
# Fields a destination receives: what was said, redacted, and the summary as said for one that opts in.
SAID_FIELDS = ["call_id", "summary", "transcript"]
# A timestamp as a record (JSON) or a log line writes it, to the microsecond.
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?")


def without_timestamps(text: str) -> str:
    """``text`` (a record's JSON, log lines) without its timestamps, to look for the card's digits in: the
    clock's microseconds can read as a group of them (a call received at 14:31:44.411187)."""
    return TIMESTAMP.sub("<timestamp>", text)


def turns() -> list[Segment]:
    return [
        Segment(
            speaker=who, start=start, end=end, text=text, confidence=0.9, words=spread_words(text, start, end)
        )
        for who, text, start, end in SAID
    ]


def recording(channels: int) -> npt.NDArray[np.int16]:
    """Seeded noise, one row per channel, loud enough that no stretch of it is mistaken for silence."""
    rng = np.random.default_rng(12)
    return rng.integers(-9000, 9000, size=(channels, int(SECONDS * SAMPLE_RATE))).astype(np.int16)


def wav(pcm: npt.NDArray[np.int16]) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(pcm.shape[0])
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.T.tobytes())
    return buffer.getvalue()


def runtime(settings: Settings, *, channels: int = 2, **redaction: Any) -> Runtime:
    """The real runtime on ``settings``: a webhook destination sent the redacted fields, another that opts
    in to the summary as said; the recording of ``channels`` channels; ``redaction`` settings on top."""
    hooks = [
        {
            "name": name,
            "kind": "webhook",
            "base_url": f"https://crm.example/{name}",
            "secret": "whsec_test",
            "fields": SAID_FIELDS,
            "unredacted_fields": unredacted,
        }
        for name, unredacted in (("hook", []), ("raw", ["summary"]))
    ]
    configured = Settings.model_validate(
        {
            **settings.model_dump(),
            "deliveries": {"destinations": hooks},
            "redaction": {"audio_margin_s": MARGIN_S, **redaction},
        }
    )
    return dataclasses.replace(
        open_runtime(configured),
        recordings=FakeRecordings({SOURCE: wav(recording(channels))}),
        transcriber=FakeTranscriber(turns(), speakers=STEREO if channels == 2 else MONO),
        llm=FakeLLM(lambda request: json.dumps(ANSWER)),
        crm=FakeDestinations(),
        redactor=FakeRedactor(CARD.split(), entity="CARD_NUMBER"),
    )


def process(rt: Runtime, call_id: str) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """The call through fetch, transcribe and analyse; its id and its waiting deliveries."""
    call_pk = ingest.ingest(rt, call_id=call_id, source=SOURCE).call_pk
    fetch.run(rt, call_pk, local_files=False)
    transcribe.run(rt, call_pk)
    return call_pk, analyse.run(rt, call_pk)
