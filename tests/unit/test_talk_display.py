"""How the talk figures are shown: the call page's strip marks, the list's filters, a CRM body's line."""

from __future__ import annotations

import pytest

from callsense.calls.schemas import (
    RoleSource,
    SpeakerMethod,
    SpeakersFound,
    SpeakerTalk,
    TalkFigures,
    TimeSpan,
)
from callsense.config.talk import TalkSettings
from callsense.web.call_view import clock, speakers_told, strip_marks
from callsense.web.filters import CallFilters


def side(share: float, interruptions: list[float]) -> SpeakerTalk:
    return SpeakerTalk(
        talk_seconds=100 * share,
        share=share,
        interruptions=len(interruptions),
        interruption_times=interruptions,
        longest_monologue_seconds=10,
    )


FIGURES = TalkFigures(
    agent=side(0.62, []),
    customer=side(0.38, [30.0, 45.0]),
    non_talk_seconds=35.2,
    non_talk_spans=[TimeSpan(start=60, end=95.2)],
    overlap_seconds=1.5,
    turns=12,
    thresholds=TalkSettings(),
)


def test_strip_marks_lie_where_the_spans_and_interruptions_are() -> None:
    marks = strip_marks(FIGURES, duration=200)
    assert [(m.kind, m.left) for m in marks] == [
        ("non-talk", 30.0),
        ("interruption", 15.0),
        ("interruption", 22.5),
    ]
    assert marks[0].width == pytest.approx(17.6)
    assert marks[1].label == "customer interrupted at 0:30"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0:00"),
        (59.9, "0:59"),
        (754, "12:34"),
        (3599, "59:59"),
        (3600, "1:00:00"),
        (3620.4, "1:00:20"),
        (7503, "2:05:03"),
    ],
)
def test_times_of_an_hour_and_more_read_as_hours_minutes_and_seconds(seconds: float, shown: str) -> None:
    """A two-hour call reads 2:05:03, not 125:03, in the list, the transcript and the strip."""
    assert clock(seconds) == shown


def test_a_crm_body_gets_one_line() -> None:
    assert FIGURES.one_line() == (
        "Agent 62% of the talk, 0 interruptions; Customer 38% of the talk, 2 interruptions; non-talk 35 s"
    )
    mono = TalkFigures(non_talk_seconds=7.0, thresholds=TalkSettings())
    assert mono.one_line() == "non-talk 7 s" and mono.interruptions is None


@pytest.mark.parametrize(
    ("query", "non_talk", "interruptions"),
    [
        ({"non_talk_above": "30", "interruptions_above": "2"}, 30.0, 2),
        ({"non_talk_above": "12.5", "interruptions_above": "2.5"}, 12.5, None),  # a count is whole
        ({"non_talk_above": "-1", "interruptions_above": "lots"}, None, None),
        ({"non_talk_above": "nan", "interruptions_above": "1e99"}, None, None),
        ({"non_talk_above": "", "interruptions_above": ""}, None, None),
    ],
)
def test_talk_filters_are_read_leniently(
    query: dict[str, str], non_talk: float | None, interruptions: int | None
) -> None:
    filters = CallFilters.parse(query)
    assert (filters.non_talk_above, filters.interruptions_above) == (non_talk, interruptions)
    assert filters.criteria().non_talk_above == non_talk


def channels(**given: object) -> SpeakersFound:
    return SpeakersFound(method=SpeakerMethod.channels, count=2, **given)  # type: ignore[arg-type]


def voices(count: int, agent: str | None, role_confidence: float, clarity: float = 0.5) -> SpeakersFound:
    return SpeakersFound(
        method=SpeakerMethod.diarization,
        count=count,
        confidence=clarity,
        agent=agent,
        agent_source=RoleSource.conversation,
        role_confidence=role_confidence,
    )


@pytest.mark.parametrize(
    ("found", "told"),
    [
        (
            channels(agent="left", agent_source=RoleSource.settings),
            "by channel; agent on the left, as asr.agent_channel says",
        ),
        (
            channels(
                agent="left", agent_source=RoleSource.settings, role_confidence=0.9, swap_suggested=True
            ),
            "by channel; agent on the left, as asr.agent_channel says; but the words say the right "
            "(confidence 0.90)",
        ),
        (
            channels(agent="right", agent_source=RoleSource.conversation, role_confidence=0.86, swapped=True),
            "by channel; agent on the right, swapped from asr.agent_channel by the words (confidence 0.86)",
        ),
        (
            channels(
                agent="right", agent_source=RoleSource.metadata, role_confidence=0.9, swap_suggested=True
            ),
            "by channel; agent on the right, as the call's metadata says; but the words say the left "
            "(confidence 0.90)",
        ),
        (
            voices(2, "speaker 1", 0.99),
            "2 voices told apart (clarity 0.50); agent speaker 1 by the words (confidence 0.99)",
        ),
        (
            voices(2, "speaker 1", 0.0),
            "2 voices told apart (clarity 0.50); agent speaker 1, the first voice to speak: no words tell",
        ),
        (voices(1, None, 0.63), "1 voice told apart (clarity 0.50); no agent: a customer alone speaks"),
        (voices(0, None, 0.0), "no voice told apart: too little speech to tell voices by"),
        (
            voices(1, "speaker 1", 0.0, clarity=0.0),
            "one voice assumed: too little speech to tell voices apart; agent speaker 1, the first voice "
            "to speak: no words tell",
        ),
        (
            SpeakersFound(method=SpeakerMethod.none, count=1),
            "not told apart: mono, and speakers.diarization is off",
        ),
        (
            voices(2, "speaker 2", 0.0).model_copy(update={"agent_source": RoleSource.metadata}),
            "2 voices told apart (clarity 0.50); agent speaker 2, as the call's metadata says (agent_speaks)",
        ),
        (
            voices(2, "speaker 1", 0.86).model_copy(
                update={"agent_source": RoleSource.metadata, "swap_suggested": True}
            ),
            "2 voices told apart (clarity 0.50); agent speaker 1, as the call's metadata says "
            "(agent_speaks); but the words say another voice (confidence 0.86)",
        ),
    ],
)
def test_the_call_page_says_how_the_speakers_were_found(found: SpeakersFound, told: str) -> None:
    assert speakers_told(found) == told
