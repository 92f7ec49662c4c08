"""The parts of applying redaction that need no database: which channels a span is masked on, and the
destinations' opt-in to unredacted fields refused when it names what cannot be sent or is never redacted."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from callsense.calls.schemas import RoleSource, Speaker, SpeakerMethod, SpeakersFound
from callsense.config.deliveries import DestinationSettings
from callsense.pipeline.redact import audio_masks, speaker_rows
from callsense.redaction import RedactedSpan

SWAPPED = SpeakersFound(
    method=SpeakerMethod.channels, count=2, agent="right", agent_source=RoleSource.conversation, swapped=True
)
DIARIZED = SpeakersFound(method=SpeakerMethod.diarization, count=2, agent="speaker 1")


@pytest.mark.parametrize(
    ("speaker", "channels", "found", "rows"),
    [
        (Speaker.customer, 2, SWAPPED, (0,)),  # the agent moved to the right: the customer is on the left
        (Speaker.agent, 2, SWAPPED, (1,)),
        (Speaker.unknown, 2, SWAPPED, (0, 1)),
        (Speaker.customer, 2, DIARIZED, (0, 1)),  # voices, not channels: both channels
        (Speaker.customer, 1, SWAPPED, (0,)),
        (Speaker.agent, 2, None, (0, 1)),
    ],
)
def test_a_span_is_masked_on_its_speakers_channel_when_channels_tell_speakers_apart(
    speaker: Speaker, channels: int, found: SpeakersFound | None, rows: tuple[int, ...]
) -> None:
    assert speaker_rows(speaker, channels=channels, speakers=found) == rows


def test_masks_are_the_spans_widened_by_the_margin() -> None:
    span = RedactedSpan(0, 3, 6, start=0.1, end=2.5, speaker=Speaker.customer, entity="CARD_NUMBER")
    (mask,) = audio_masks([span], margin_s=0.2, channels=2, speakers=SWAPPED)
    assert (mask.start, mask.end, mask.rows) == (0.0, 2.7, (0,))


def _destination(**changes: Any) -> DestinationSettings:
    values = {"name": "crm", "kind": "webhook", "base_url": "https://crm.example/hook", "secret": "c2Vj"}
    return DestinationSettings.model_validate({**values, **changes})


def test_unredacted_fields_must_be_sent_and_redactable() -> None:
    chosen = _destination(fields=["call_id", "summary"], unredacted_fields=["summary"])
    assert chosen.unredacted_fields == ["summary"]
    with pytest.raises(ValidationError, match="transcript, which is not in its fields"):
        _destination(fields=["call_id", "summary"], unredacted_fields=["transcript"])
    with pytest.raises(ValidationError, match="call_id is never redacted"):
        _destination(fields=["call_id"], unredacted_fields=["call_id"])
