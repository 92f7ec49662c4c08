"""The analysis fields added to summary and sentiment: the taxonomy topic, issues, action items, outcome and
the sentiment per quarter, against the scripted FakeLLM (validation, bounds, enums, quarter marks)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from callsense.backends.llm.base import JSONRequest
from callsense.backends.llm.fake import FakeLLM
from callsense.calls.schemas import ActionItem, Owner, Segment, Sentiment, Speaker
from callsense.config import Settings, load_settings
from callsense.config.analysis import AnalysisSettings, TopicLabel
from callsense.errors import ConfigError
from callsense.pipeline.analysis import AnalysisOptions, analyse
from tests.unit.test_analyse import PROMPT, VALID, answer, data_block


def turn(speaker: Speaker, start: float, text: str = "Words.") -> Segment:
    return Segment(speaker=speaker, start=start, end=start + 4, text=text, confidence=0.9)


A, C = Speaker.agent, Speaker.customer
# 100 s: quarters start at 0, 25, 50 and 75 s. The agent is silent in the third quarter, the customer in
# the second.
TIMED_CALL = [turn(A, 0, "Hello."), turn(C, 10, "My bill is wrong."), turn(A, 30, "Let me see."),
              turn(C, 55, "Well?"), turn(A, 80, "Fixed."), turn(C, 90, "Thanks.")]  # fmt: skip


def run(llm: FakeLLM, segments: list[Segment] = TIMED_CALL, **kwargs: Any) -> Any:
    return analyse(segments=segments, language="en", llm=llm, translate=False, **kwargs)


def failed(result: Any) -> set[str]:
    return {failure.field for failure in result.failures}


def test_every_new_field_reaches_the_result() -> None:
    result = run(FakeLLM([answer()]))
    assert result.failures == []
    assert result.topic == "Technical support" and result.topic_detail == "Router repair"
    assert result.issues == ["Router keeps failing"]
    assert result.action_items == [ActionItem(owner=Owner.agent, text="Send an engineer on Thursday")]
    assert (result.outcome.resolved, result.outcome.callback_needed, result.outcome.escalated) == (
        False,
        None,
        False,
    )
    positive, neutral, negative = Sentiment.positive, Sentiment.neutral, Sentiment.negative
    # Each speaker's silent quarter is null whatever the model said: nothing was said to judge.
    assert result.sentiment_trend.agent == [neutral, neutral, None, positive]
    assert result.sentiment_trend.customer == [negative, None, neutral, neutral]


@pytest.mark.parametrize(
    ("speaker", "kept"),
    [
        (A, {"agent": Sentiment.positive, "customer": None}),
        (Speaker.unknown, {"agent": None, "customer": None}),
    ],
)
def test_a_speaker_who_never_spoke_has_no_sentiment(
    speaker: Speaker, kept: dict[str, Sentiment | None]
) -> None:
    # A 3-second mono call is one voice (the agent's): the model still rated the customer's sentiment.
    result = run(FakeLLM([answer()]), [turn(speaker, 0, "Can I have your full name, please?")])
    assert result.speaker_sentiment.model_dump() == kept
    assert result.failures == []


def test_the_transcript_marks_where_each_quarter_begins() -> None:
    llm = FakeLLM([answer()])
    run(llm)
    assert data_block(llm.requests[0].user).split("\n") == [
        "[Q1]", "Agent: Hello.", "Customer: My bill is wrong.",
        "[Q2]", "Agent: Let me see.",
        "[Q3]", "Customer: Well?",
        "[Q4]", "Agent: Fixed.", "Customer: Thanks.",
    ]  # fmt: skip
    assert "[Q1] to [Q4]" in llm.requests[0].system


def test_a_quarter_without_speech_gets_no_mark() -> None:
    llm = FakeLLM([answer()])
    run(llm, [turn(A, 0), turn(C, 90)])
    assert re.findall(r"\[Q\d\]", data_block(llm.requests[0].user)) == ["[Q1]", "[Q4]"]


def test_the_topic_is_a_label_of_the_configured_taxonomy() -> None:
    topics = (
        TopicLabel(label="Roaming", description="using the phone abroad"),
        TopicLabel(label="Anything else", description="all other calls"),
    )
    llm = FakeLLM([answer(topic="roaming ")])  # a server that ignores the grammar changes the case
    result = run(llm, topics=topics)
    assert result.topic == "Roaming"
    (request,) = llm.requests
    assert request.schema["properties"]["topic"]["enum"] == ["Roaming", "Anything else"]
    assert "Roaming (using the phone abroad)" in request.system
    assert "Anything else (all other calls)" in request.system
    assert "Billing and payments" not in request.system


# The default taxonomy as issue 11 lists it, in its order (written out here, not read from the code).
ISSUE_11_TOPICS = [
    "Billing and payments",
    "Refund request",
    "Cancellation",
    "Technical support",
    "Account access",
    "Account changes",
    "Orders and delivery",
    "Sales and upgrades",
    "Bookings and reservations",
    "Fraud and security",
    "Complaint",
    "Product information",
    "Other",
]


def test_the_default_taxonomy_is_the_thirteen_labels_of_the_issue_and_the_grammar_s_enum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CALLSENSE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./callsense.toml: the defaults alone
    topics = Settings().analysis.topics
    assert [topic.label for topic in topics] == ISSUE_11_TOPICS
    assert all(topic.description.strip() for topic in topics)
    for given in ({"topics": topics}, {}):  # the settings' taxonomy, and the one analyse uses by default
        llm = FakeLLM([answer()])
        run(llm, **given)
        (request,) = llm.requests
        assert request.schema["properties"]["topic"]["enum"] == ISSUE_11_TOPICS
        for topic in topics:
            assert f"{topic.label} ({topic.description})" in request.system


def test_a_label_outside_the_taxonomy_is_never_stored() -> None:
    result = run(FakeLLM([answer(topic="Router repair")] * 2))
    assert result.topic is None and "topic" in failed(result)
    assert result.topic_detail == "Router repair"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"issues": ["One.", "Two.", "Three.", "Four."]}, "issues"),
        ({"issues": ["x" * 101]}, "issues"),
        ({"agent_todo": [f"Step {i}" for i in range(6)]}, "action_items"),
        ({"customer_todo": ["x" * 101]}, "action_items"),
        ({"customer_todo": "Call back"}, "action_items"),
        ({"outcome": "yes"}, "outcome"),
        ({"outcome": "yn"}, "outcome"),
        ({"outcome": [True, None, False]}, "outcome"),
        ({"agent_trend": "000"}, "sentiment_trend.agent"),
        ({"agent_trend": ["Neutral"] * 4}, "sentiment_trend.agent"),
        ({"customer_trend": "0x00"}, "sentiment_trend.customer"),
        ({"customer_trend": "+_+_"}, "sentiment_trend.customer"),  # silence is ours to tell, not a mark
        ({"topic_detail": "x" * 61}, "topic_detail"),
    ],
)
def test_an_answer_out_of_bounds_leaves_that_field_empty_with_a_reason(
    changes: dict[str, Any], field: str
) -> None:
    result = run(FakeLLM([answer(**changes)] * 2))
    assert failed(result) == {field}
    assert result.topic == "Technical support" and result.summary == VALID["summary"]
    empty = {
        "issues": result.issues,
        "action_items": [item for item in result.action_items if item.owner is Owner.customer],
        "outcome": any(flag is not None for flag in result.outcome.model_dump().values()),
        "sentiment_trend.agent": result.sentiment_trend.agent,
        "sentiment_trend.customer": result.sentiment_trend.customer,
        "topic_detail": result.topic_detail,
    }[field]
    assert not empty


def test_unknown_outcomes_and_no_follow_ups_are_valid_answers() -> None:
    nothing = {"issues": [], "agent_todo": [], "customer_todo": []}
    result = run(FakeLLM([answer(outcome="???", **nothing)]))
    assert result.failures == []
    assert result.outcome.model_dump() == {"resolved": None, "callback_needed": None, "escalated": None}
    assert result.issues == [] and result.action_items == []


def test_an_item_that_says_nothing_was_promised_is_no_action_item() -> None:
    placeholders = ["No tasks", "None.", "N/A", "No further action needed"]
    result = run(FakeLLM([answer(agent_todo=["Call back on Monday"], customer_todo=placeholders)]))
    assert result.failures == []
    assert result.action_items == [ActionItem(owner=Owner.agent, text="Call back on Monday")]


def test_near_misses_in_the_new_fields_are_normalised() -> None:
    items = ["- Send the meter reading"]
    result = run(FakeLLM([answer(customer_todo=items, issues=["* Wrong bill"], agent_trend=" 0000 ")]))
    assert result.failures == []
    assert result.action_items == [
        ActionItem(owner=Owner.agent, text="Send an engineer on Thursday"),
        ActionItem(owner=Owner.customer, text="Send the meter reading"),
    ]
    assert result.issues == ["Wrong bill"]


def test_more_than_five_action_items_in_all_are_none_at_all() -> None:
    result = run(FakeLLM([answer(agent_todo=["A", "B", "C"], customer_todo=["D", "E", "F"])]))
    assert result.action_items == [] and failed(result) == {"action_items"}


def test_a_long_call_merges_every_field_and_nulls_silent_quarters_of_the_whole_call() -> None:
    reduces: list[JSONRequest] = []

    def script(request: JSONRequest) -> str:
        if request.system == PROMPT.reduce_system:
            reduces.append(request)
            return answer(agent_trend="----")
        return answer(outcome="??n")

    # 40 agent turns spread over the whole call, the customer only in the first quarter.
    segments = [turn(A, 10.0 * i, " ".join(f"w{i}x{j}" for j in range(12))) for i in range(40)]
    segments.insert(1, turn(C, 5, "Hello."))
    result = run(FakeLLM(script, context_tokens=1000), segments, options=AnalysisOptions(max_tokens=60))
    assert reduces, "the call was analysed in parts"
    partials = reduces[-1].user
    assert "Topic detail: Router repair" in partials and "- Send an engineer on Thursday" in partials
    assert "Outcome: resolved unknown, callback needed unknown, escalated no" in partials
    assert re.search(r"Customer trend: Q1: \w+, Q2: -, Q3: -, Q4: -", partials), "silent in later parts"
    assert result.sentiment_trend.agent == [Sentiment.negative] * 4
    assert result.sentiment_trend.customer == [Sentiment.negative, None, None, None]


def test_every_request_asks_for_the_whole_schema_in_one_call() -> None:
    llm = FakeLLM([answer()])
    run(llm)
    (request,) = llm.requests
    assert list(request.schema["properties"]) == list(VALID)
    assert set(PROMPT.fields) == set(VALID)


def test_topic_labels_must_differ_and_come_from_toml(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="must differ"):
        AnalysisSettings(
            topics=(
                TopicLabel(label="Billing", description="a"),
                TopicLabel(label="billing ", description="b"),
            )
        )
    config = tmp_path / "callsense.toml"
    config.write_text(
        '[[analysis.topics]]\nlabel = "Roaming"\ndescription = "abroad"\n'
        '[[analysis.topics]]\nlabel = "Other"\ndescription = "the rest"\n'
    )
    monkeypatch.setenv("CALLSENSE_CONFIG", str(config))
    assert [topic.label for topic in Settings().analysis.topics] == ["Roaming", "Other"]


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        (
            'label = "Roaming"\n[[analysis.topics]]\nlabel = "Other"\ndescription = "the rest"\n',
            "analysis.topics.0: the label 'Roaming' needs a description: what calls it covers, in a few "
            "words (the model reads it) (in ",
        ),
        (
            'label = "Roaming"\ndescription = " "\n[[analysis.topics]]\nlabel = "Other"\ndescription = "x"\n',
            "analysis.topics.0: the label 'Roaming' needs a description",
        ),
        (
            'label = "Roaming"\ndescription = "abroad"\n',
            "analysis.topics: list at least 2 labels, one of them a catch-all such as 'Other' (1 given) (in ",
        ),
        (
            'label = "Other"\ndescription = "a"\n[[analysis.topics]]\nlabel = "OTHER"\ndescription = "b"\n',
            "analysis.topics: topic labels must differ (ignoring case): 'Other' and 'OTHER' (in ",
        ),
    ],
)
def test_a_taxonomy_mistake_is_one_message_naming_the_label(
    toml: str, problem: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "callsense.toml"
    config.write_text("[[analysis.topics]]\n" + toml)
    monkeypatch.setenv("CALLSENSE_CONFIG", str(config))
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert str(refused.value).startswith("invalid configuration: " + problem)
    assert ";" not in str(refused.value)  # one problem: two labels were also "at least 2 items..., not 1"


def test_an_empty_taxonomy_is_refused() -> None:
    with pytest.raises(ValueError, match=r"list at least 2 labels, one of them a catch-all .* \(0 given\)"):
        AnalysisSettings(topics=())


def test_answers_keep_their_keys_short() -> None:
    # Every key is generated token by token in every answer: the schema stays compact.
    assert all(len(key) <= 18 for key in PROMPT.schema["properties"])
    assert json.dumps(PROMPT.schema).count('"type": "object"') == 1, "one flat object, no nested keys"
    assert PROMPT.schema["properties"]["agent_trend"]["pattern"] == "^[+0-]{4}$"


def test_a_call_whose_speakers_are_unknown_has_no_trend_per_speaker() -> None:
    mono = [turn(Speaker.unknown, 0, "Hello."), turn(Speaker.unknown, 60, "My bill is wrong.")]
    result = run(FakeLLM([answer(agent_trend="bad")]), mono)  # no retry for it either
    assert result.failures == []  # not asked of a mono call, so not failed either
    assert result.sentiment_trend.agent == result.sentiment_trend.customer == []
    assert result.topic == "Technical support"
