"""The category rule language: validation, and evaluation on constructed calls where every answer is known."""

from __future__ import annotations

from typing import Any

import pytest

from callsense.calls.categories import revision
from callsense.calls.categorise import CallFacts, describe, evaluate, verdict
from callsense.calls.schemas import (
    AnalysisResult,
    CategoryMatch,
    Outcome,
    Segment,
    Sentiment,
    SentimentTrend,
    Speaker,
    SpeakerSentiment,
    SpeakerTalk,
    TalkFigures,
    Word,
)
from callsense.calls.textmatch import words
from callsense.config import Settings
from callsense.config.categories import (
    Category,
    CategoryError,
    parse_categories,
    parse_category,
)
from callsense.config.rule_text import parse_rule_text
from callsense.config.talk import TalkSettings
from callsense.errors import ConfigError

AGENT, CUSTOMER = Speaker.agent, Speaker.customer


def turn(speaker: Speaker, start: float, text: str, *, timed: bool = True, step: float = 0.5) -> Segment:
    """A turn whose words begin every ``step`` seconds from ``start``."""
    parts = text.split()
    words = [
        Word(start=start + i * step, end=start + i * step + step * 0.8, text=" " + part, probability=0.9)
        for i, part in enumerate(parts)
    ]
    return Segment(
        speaker=speaker,
        start=start,
        end=start + len(parts) * step,
        text=text,
        confidence=0.9,
        words=words if timed else [],
    )


CALL = [
    turn(AGENT, 1.0, "Hello, this call is recorded for quality."),
    turn(CUSTOMER, 6.0, "Je voudrais récupérer mon argent, s'il vous plaît."),
    turn(AGENT, 40.0, "I can offer a REFUND today."),
    turn(CUSTOMER, 110.0, "Thanks, goodbye."),
]


def side(share: float, interruptions: int) -> SpeakerTalk:
    return SpeakerTalk(
        talk_seconds=60 * share,
        share=share,
        interruptions=interruptions,
        longest_monologue_seconds=10,
    )


TALK = TalkFigures(
    agent=side(0.75, 3),
    customer=side(0.25, 1),
    non_talk_seconds=42.0,
    thresholds=TalkSettings(),
)
ANALYSIS = AnalysisResult(
    topic="Refund request",
    sentiment=Sentiment.negative,
    speaker_sentiment=SpeakerSentiment(agent=Sentiment.positive, customer=Sentiment.negative),
    sentiment_trend=SentimentTrend(
        agent=[Sentiment.neutral] * 4,
        customer=[Sentiment.negative, Sentiment.negative, None, Sentiment.positive],
    ),
)


def facts(segments: list[Segment] = CALL, **changes: Any) -> CallFacts:
    values: dict[str, Any] = {"duration": 120.0, "analysis": ANALYSIS, "talk": TALK}
    return CallFacts(segments=segments, **{**values, **changes})


def matched(rule: dict[str, Any], call: CallFacts | None = None) -> CategoryMatch | None:
    found = evaluate([Category.model_validate({"name": "c", "rule": rule})], call or facts())
    return found[0] if found else None


def holds(rule: dict[str, Any], call: CallFacts | None = None) -> bool:
    return matched(rule, call) is not None


def truth(rule: dict[str, Any], call: CallFacts | None = None) -> bool | None:
    """The rule on the call: true, false, or None where the call lacks what it reads."""
    return verdict(Category.model_validate({"name": "c", "rule": rule}).rule, call or facts()).truth


def test_words_fold_case_accents_and_punctuation() -> None:
    assert words("Récupérer MON argent, s'il vous plaît!") == [
        "recuperer",
        "mon",
        "argent",
        "s",
        "il",
        "vous",
        "plait",
    ]
    assert words("Straße") == ["strasse"]


def test_a_phrase_matches_whole_words_ignoring_case_accents_and_punctuation() -> None:
    assert holds({"said": "recuperer mon argent"})
    assert holds({"said": ["nothing like it", "refund"]})  # any of a list
    assert holds({"said": "call is recorded"})
    assert not holds({"said": "fund"})  # part of "refund": not a word
    assert not holds({"said": "recorded call"})  # the words in another order
    assert not holds({"said": "quality thanks"})  # across two turns


def chunked(speaker: Speaker, start: float, chunks: list[str], text: str) -> Segment:
    """A turn in a script without spaces: Whisper's words are characters or chunks of them, no spaces."""
    words = [
        Word(start=start + i, end=start + i + 0.8, text=chunk, probability=0.9)
        for i, chunk in enumerate(chunks)
    ]
    return Segment(
        speaker=speaker, start=start, end=start + len(chunks), text=text, confidence=0.9, words=words
    )


def test_phrases_in_scripts_without_spaces_match_their_characters() -> None:
    japanese = chunked(CUSTOMER, 10.0, ["返金", "を", "お願", "いします。"], "返金をお願いします。")
    call = facts([japanese])
    assert holds({"said": "返金"}, call)  # a word inside a run of characters
    assert holds({"said": "お願いします"}, call)  # across Whisper's chunks
    found = matched({"said": "お願いします"}, call)
    assert found is not None and found.evidence[0].start == 12.0  # the chunk it begins in
    assert not holds({"said": "返品"}, call)
    untimed = turn(CUSTOMER, 0.0, "我想要退款,谢谢。", timed=False)
    assert holds({"said": "退款"}, facts([untimed]))
    assert holds({"said": "ｶﾞｽ"}, facts([turn(CUSTOMER, 0.0, "ガス料金")]))  # half-width katakana
    # Whisper writes Mandarin in Traditional or Simplified characters: a phrase in either finds both.
    assert holds({"said": "发票"}, facts([turn(CUSTOMER, 0.0, "我的發票錯了")]))
    assert holds({"said": "發票"}, facts([turn(CUSTOMER, 0.0, "我的发票错了")]))


def test_arabic_phrases_match_a_word_with_or_without_its_article() -> None:
    """Arabic joins the article ("ال", the) to its noun, and "and", "with", "for" to the article: "الفاتورة"
    is "the invoice", "بالفاتورة" "with the invoice", "للفاتورة" "for the invoice"."""
    call = facts([turn(CUSTOMER, 0.0, "عندي مشكلة بالفاتورة"), turn(AGENT, 5.0, "سأرسل لك فاتورة جديدة")])
    assert holds({"said": "فاتورة"}, call)
    assert holds({"said": "الفاتورة"}, call)
    assert holds({"said": "مشكلة الفاتورة"}, call)  # "a problem with the invoice" as typed without "with"
    assert holds({"said": "فاتورة جديدة"}, call)
    assert not holds({"said": "لك"}, facts([turn(CUSTOMER, 0.0, "الملك")]))  # "the king": two letters stay


def test_korean_phrases_match_a_word_with_its_particle() -> None:
    """Korean puts spaces between a word and its particles only rarely: "환불을" is "refund" and the object
    particle, "환불이" the subject one; a phrase finds the word whatever is joined to it."""
    call = facts([turn(CUSTOMER, 0.0, "환불을 받고 싶어요. 환불이 안 되면 해지할게요")])
    assert holds({"said": "환불"}, call)
    assert holds({"said": "해지"}, call)  # "cancel", inside "해지할게요" (I'll cancel)
    assert not holds({"said": "환급"}, call)  # another word that shares a syllable


def test_phrases_ignore_arabic_and_hebrew_vowel_marks_but_keep_whole_words() -> None:
    call = facts([turn(CUSTOMER, 0.0, "أُرِيدُ اسْتِرْدَادَ المبلـــغ"), turn(AGENT, 5.0, "אֲנִי מְבִינָה")])
    assert holds({"said": "اريد استرداد المبلغ"}, call)
    assert holds({"said": "אני מבינה"}, call)
    assert not holds({"said": "داد"}, call)  # part of a word
    spelled = facts([turn(CUSTOMER, 0.0, "الفاتورة على المبنى")])  # ta marbuta and alef maqsura
    assert holds({"said": "الفاتوره علي المبني"}, spelled)  # as often typed, or written by Whisper
    hindi = facts([turn(CUSTOMER, 0.0, "मेरा नाम राज है")])
    assert holds({"said": "मेरा नाम"}, hindi)
    assert not holds({"said": "मैं"}, hindi)  # vowel signs are part of the word, not word breaks


def test_phrases_read_turkish_i_russian_short_i_and_digits_of_any_script() -> None:
    light_bill = "\u0131\u015f\u0131k faturas\u0131"  # "light bill"; the dotless i's capital is I
    assert holds({"said": light_bill}, facts([turn(CUSTOMER, 0.0, f"{light_bill.upper()} çok yüksek")]))
    russian = facts([turn(CUSTOMER, 0.0, "Мой заказ ещё не пришёл")])
    assert holds({"said": "еще не пришел"}, russian)
    assert not holds({"said": "мои"}, russian)  # й is a letter, not a mark
    arabic = facts([turn(CUSTOMER, 0.0, "رقم الطلب \u0664\u0665\u0662\u0661")])  # 4521, Arabic-Indic
    assert holds({"said": "رقم الطلب 4521"}, arabic)
    assert holds({"said": "\u096a\u096b\u0968\u0967"}, facts([turn(CUSTOMER, 0.0, "ऑर्डर 4521 है")]))
    # Hindi writers leave out the nukta as often as not: Whisper's "फ़ोन" (phone) is the typed "फोन".
    assert holds({"said": "फोन नंबर"}, facts([turn(CUSTOMER, 0.0, "मेरा फ़ोन नंबर")]))
    assert holds({"said": "फ़ोन"}, facts([turn(CUSTOMER, 0.0, "मेरा फोन नंबर")]))


def test_a_phrase_says_which_turn_said_it_and_when() -> None:
    found = matched({"said": ["refund", "recorded"]})
    assert found is not None
    assert [(e.turn, e.start, e.speaker) for e in found.evidence] == [(0, 3.0, AGENT), (2, 42.0, AGENT)]
    assert found.evidence[1].text == "I can offer a REFUND today."


def test_a_phrase_of_one_speaker() -> None:
    assert holds({"said": "refund", "speaker": "agent"})
    assert not holds({"said": "refund", "speaker": "customer"})
    assert holds({"said": "goodbye", "speaker": "customer"})


def test_time_windows_read_the_first_words_start() -> None:
    assert holds({"said": "this call is recorded", "speaker": "agent", "first_s": 30})
    assert not holds({"said": "this call is recorded", "first_s": 1.5})  # "this" begins at 1.5 s
    assert holds({"said": "this call is recorded", "first_s": 1.6})
    assert holds({"said": "goodbye", "last_s": 10})  # begins at 110.5 s of 120
    assert not holds({"said": "refund", "last_s": 10})


def test_the_last_seconds_count_from_the_last_word_when_the_duration_is_unknown() -> None:
    assert holds({"said": "goodbye", "last_s": 1}, facts(duration=None))  # the call ends at 111 s


def test_turns_without_word_timings_use_the_turns_start() -> None:
    untimed = [turn(AGENT, 50.0, "this call is recorded", timed=False)]
    found = matched({"said": "recorded"}, facts(untimed))
    assert found is not None and found.evidence[0].start == 50.0
    assert not holds({"said": "recorded", "first_s": 30}, facts(untimed))


def test_the_absence_of_a_phrase() -> None:
    disclosure = {"said": "this call is recorded", "speaker": "agent", "first_s": 30}
    assert not holds({"not": disclosure})
    late = [turn(AGENT, 45.0, "this call is recorded"), *CALL[1:]]
    found = matched({"not": disclosure}, facts(late))
    assert found is not None
    assert found.evidence[0].turn is None
    assert "not: agent said 'this call is recorded' in the first 30 s" in found.evidence[0].text


def test_sentiment_of_the_call_a_speaker_and_a_quarter() -> None:
    assert holds({"sentiment": "Negative"})
    assert holds({"sentiment": ["Positive", "Neutral"], "speaker": "agent"})
    assert not holds({"sentiment": "Negative", "speaker": "agent"})
    assert holds({"sentiment": "Positive", "speaker": "customer", "quarter": 4})
    assert not holds({"sentiment": "Negative", "speaker": "customer", "quarter": 3})  # silent: null
    assert not holds({"sentiment": "Negative"}, facts(analysis=AnalysisResult()))  # not analysed


def test_topic_is_one_of_the_labels() -> None:
    assert holds({"topic": ["Cancellation", "Refund request"]})
    assert not holds({"topic": "Cancellation"})


def test_outcome_flags_and_one_the_call_leaves_unsaid() -> None:
    """As the calls list's outcome filter reads them; a flag left null ("?") is unknown, so its not is too."""
    ended = facts(analysis=ANALYSIS.model_copy(update={"outcome": Outcome(resolved=False, escalated=True)}))
    assert holds({"outcome": "unresolved"}, ended)
    assert holds({"outcome": ["resolved", "escalated"]}, ended)
    assert truth({"outcome": ["resolved", "callback_needed"]}, ended) is None  # false, and not said
    assert truth({"outcome": ["resolved", "unresolved"]}, ended) is True
    assert (
        truth(
            {"outcome": ["resolved", "escalated"]},
            facts(analysis=ANALYSIS.model_copy(update={"outcome": Outcome(resolved=True, escalated=False)})),
        )
        is True
    )
    assert (
        truth(
            {"outcome": ["callback_needed", "escalated"]},
            facts(
                analysis=ANALYSIS.model_copy(
                    update={"outcome": Outcome(resolved=True, callback_needed=False, escalated=False)}
                )
            ),
        )
        is False
    )
    assert not holds({"outcome": "unresolved"}, facts())  # nothing said: not unresolved either
    assert not holds({"not": {"outcome": "resolved"}}, facts())  # nor not resolved
    assert holds({"not": {"outcome": "resolved"}}, ended)
    found = matched({"all": [{"topic": "Refund request"}, {"outcome": ["unresolved", "escalated"]}]}, ended)
    assert found is not None and [item.text for item in found.evidence] == [
        "topic is 'Refund request': Refund request",
        "outcome is unresolved or escalated: unresolved",
    ]


def test_talk_figures_and_duration() -> None:
    assert holds({"non_talk_s": {"above": 30}})
    assert not holds({"non_talk_s": {"above": 42}})  # above is exclusive
    assert holds({"interruptions": {"above": 3}})  # both speakers: 4
    assert not holds({"interruptions": {"above": 3}, "speaker": "agent"})
    assert holds({"interruptions": {"below": 2}, "speaker": "customer"})
    assert holds({"talk_share": {"above": 0.7}, "speaker": "agent"})
    assert holds({"talk_share": {"above": 0.2, "below": 0.3}, "speaker": "customer"})
    assert holds({"duration_s": {"above": 60, "below": 180}})
    assert not holds({"duration_s": {"below": 60}})


def test_a_figure_the_call_lacks_is_unknown_and_never_holds_by_negation() -> None:
    mono = TalkFigures(non_talk_seconds=0, thresholds=TalkSettings())
    silent_quarter = {"sentiment": "Negative", "speaker": "customer", "quarter": 3}
    lacking = [
        ({"talk_share": {"above": 0}, "speaker": "agent"}, facts(talk=mono)),  # mono: no speakers
        ({"interruptions": {"below": 100}}, facts(talk=mono)),
        ({"interruptions": {"below": 100}, "speaker": "customer"}, facts(talk=mono)),
        ({"non_talk_s": {"below": 100}}, facts(talk=None)),  # no talk figures
        ({"duration_s": {"below": 100}}, facts(duration=None)),
        ({"sentiment": "Negative"}, facts(analysis=AnalysisResult())),  # not analysed
        ({"sentiment": "Negative", "speaker": "agent"}, facts(analysis=AnalysisResult())),
        (silent_quarter, facts()),  # the customer said nothing in it
        ({"topic": "Cancellation"}, facts(analysis=AnalysisResult())),
    ]
    for rule, call in lacking:
        assert truth(rule, call) is None, rule
        assert not holds(rule, call) and not holds({"not": rule}, call), rule
    # Where the call has the figure, its not holds as it always did.
    assert holds({"not": {"talk_share": {"above": 0.8}, "speaker": "agent"}})
    assert holds({"not": {"sentiment": "Negative", "speaker": "customer", "quarter": 4}})


def test_all_any_and_not_nest() -> None:
    refund = {"said": "refund", "speaker": "agent"}
    assert holds({"all": [refund, {"topic": "Refund request"}, {"not": {"said": "cancel"}}]})
    assert not holds({"all": [refund, {"said": "cancel"}]})
    assert holds({"any": [{"said": "cancel"}, {"all": [refund, {"sentiment": "Negative"}]}]})
    assert not holds({"any": [{"said": "cancel"}, {"not": refund}]})
    assert holds({"not": {"not": refund}})


# Rules of known truth on a call without talk figures: true, false, and unknown (the non-talk time).
TRUE, FALSE, UNKNOWN = {"said": "refund"}, {"said": "cancel"}, {"non_talk_s": {"above": 30}}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"not": TRUE}, False),
        ({"not": FALSE}, True),
        ({"not": UNKNOWN}, None),
        ({"not": {"not": UNKNOWN}}, None),
        ({"all": [TRUE, TRUE]}, True),
        ({"all": [TRUE, UNKNOWN]}, None),
        ({"all": [UNKNOWN, FALSE]}, False),
        ({"all": [UNKNOWN, UNKNOWN]}, None),
        ({"any": [FALSE, FALSE]}, False),
        ({"any": [FALSE, UNKNOWN]}, None),
        ({"any": [UNKNOWN, TRUE]}, True),
        ({"any": [UNKNOWN, UNKNOWN]}, None),
        ({"not": {"all": [TRUE, UNKNOWN]}}, None),
        ({"not": {"all": [FALSE, UNKNOWN]}}, True),
        ({"not": {"any": [FALSE, UNKNOWN]}}, None),
        ({"not": {"any": [TRUE, UNKNOWN]}}, False),
    ],
)
def test_all_any_and_not_in_three_valued_logic(rule: dict[str, Any], expected: bool | None) -> None:
    """Unknown is neither true nor false: a category is assigned only where its rule is true."""
    call = facts(talk=None)
    assert truth(rule, call) is expected
    assert holds(rule, call) is (expected is True)


def test_any_true_beside_an_unknown_gives_the_true_ones_evidence() -> None:
    found = matched({"any": [UNKNOWN, TRUE, FALSE]}, facts(talk=None))
    assert found is not None and [(e.turn, e.text) for e in found.evidence] == [
        (2, "I can offer a REFUND today.")
    ]


def _unknown(segment: Segment) -> Segment:
    return segment.model_copy(update={"speaker": Speaker.unknown})


MONO = [_unknown(segment) for segment in CALL]  # mono without diarization: every turn's speaker unknown


def test_a_phrase_of_one_speaker_on_turns_whose_speaker_is_unknown() -> None:
    """Who said a phrase on a mono call is unknown; that nobody said it is known."""
    mono = facts(MONO, talk=TalkFigures(non_talk_seconds=42, thresholds=TalkSettings()))
    disclosure = {"said": "this call is recorded", "speaker": "agent", "first_s": 30}
    assert truth(disclosure, mono) is None  # said in the first 30 s, by someone
    assert not holds({"not": disclosure}, mono)  # "Recording disclosure missing" is not assigned
    assert truth({"said": "this call is recorded"}, mono) is True  # by anyone: known
    assert truth({"said": "cancel", "speaker": "agent"}, mono) is False  # nobody said it, the agent neither
    late = facts([_unknown(turn(AGENT, 45.0, "this call is recorded")), *MONO[1:]])
    found = matched({"not": disclosure}, late)  # said by someone, but only after 30 s: missing
    assert found is not None
    assert found.evidence[0].text == "not: agent said 'this call is recorded' in the first 30 s"
    # Some speakers known: a turn of the rule's speaker decides; one of an unknown speaker leaves it open.
    partly = facts([CALL[0], *MONO[1:]])
    assert truth(disclosure, partly) is True
    assert truth({"said": "refund", "speaker": "agent"}, partly) is None
    assert truth({"said": "refund", "speaker": "customer"}, partly) is None
    assert truth({"said": "recorded", "speaker": "customer"}, partly) is False  # said, by the agent
    assert matched({"said": ["recorded", "refund"], "speaker": "agent"}, partly) == matched(
        {"said": "recorded", "speaker": "agent"}, partly
    )  # only the known agent turn is evidence


def test_calls_evaluated_before_unknown_stopped_holding_by_negation_are_stale() -> None:
    """The revision a stored call keeps changes with the evaluation: after the upgrade, the queue
    re-evaluates the calls a previous version put in a category by the negation of an unknown."""
    disclosure = parse_categories(
        [
            {
                "name": "Recording disclosure missing",
                "rule": {"not": {"said": ["this call is recorded"], "speaker": "agent", "first_s": 30}},
            }
        ]
    )
    assert revision(disclosure) != "981c80ed840dd036"  # as the previous version computed it
    assert revision([]) == "4f53cda18c2baa0c"  # no category: no answer changed, nothing stale


def test_evidence_gathers_the_turns_and_figures_that_made_it_hold() -> None:
    found = matched({"all": [{"said": "refund"}, {"non_talk_s": {"above": 30}}]})
    assert found is not None
    assert [(e.turn, e.text) for e in found.evidence] == [
        (2, "I can offer a REFUND today."),
        (None, "non-talk seconds over 30: 42"),
    ]


def test_categories_are_evaluated_in_order_each_on_its_own() -> None:
    categories = parse_categories(
        [
            {"name": "Refund offered", "rule": {"said": "refund", "speaker": "agent"}},
            {"name": "Cancellation", "rule": {"said": "cancel"}},
            {"name": "Long hold", "rule": {"non_talk_s": {"above": 30}}},
        ]
    )
    assert [match.name for match in evaluate(categories, facts())] == ["Refund offered", "Long hold"]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (
            {"name": "Bad", "rule": {"sayd": "x"}},
            "category 'Bad': rule: a rule is a table with one of the keys",
        ),
        (
            {"name": "Bad", "rule": {"said": []}},
            "category 'Bad': rule.said: List should have at least 1",
        ),
        (
            {"name": "Bad", "rule": {"any": [{"said": "x"}, {"not": {"sentiment": ["Negative", "Angry"]}}]}},
            "category 'Bad': rule.any[1].not.sentiment[1]: Input should be 'Positive'",
        ),
        ({"name": "Bad", "rule": {"said": "..."}}, "a phrase needs at least one word"),
        (
            {"name": "Bad", "rule": {"said": "x", "first_s": 5, "last_s": 5}},
            "category 'Bad': rule.said: give 'first_s' or 'last_s', not both",
        ),
        ({"name": "Bad", "rule": {"said": "x", "speaker": "boss"}}, "Input should be 'agent' or 'customer'"),
        (
            {"name": "Bad", "rule": {"sentiment": "Angry"}},
            "Input should be 'Positive', 'Neutral' or 'Negative'",
        ),
        ({"name": "Bad", "rule": {"sentiment": "Negative", "quarter": 2}}, "'quarter' needs 'speaker'"),
        (
            {"name": "Bad", "rule": {"non_talk_s": {}}},
            "category 'Bad': rule.non_talk_s: give 'above', 'below'",
        ),
        (
            {"name": "Bad", "rule": {"interruptions": 3, "speaker": "agent"}},
            "category 'Bad': rule.interruptions: a range is a table: { above = 3 }, { below = 3 } or both",
        ),
        ({"name": "Bad", "rule": {"duration_s": {"above": 9, "below": 3}}}, "must be less than 'below'"),
        ({"name": "Bad", "rule": {"talk_share": {"above": 70}, "speaker": "agent"}}, "between 0 and 1"),
        ({"name": "Bad", "rule": {"talk_share": {"above": 0.5}}}, "speaker: Field required"),
        # TOML's nan and inf: stored as JSON null, the rule would lose its bound and be skipped when read back
        (
            {"name": "Bad", "rule": {"non_talk_s": {"above": float("nan")}}},
            "category 'Bad': rule.non_talk_s.above: Input should be a finite number",
        ),
        ({"name": "Bad", "rule": {"said": "x", "first_s": float("inf")}}, "first_s: Input should be a"),
        # TOML's true read as the number 1: the first second, a bound of 1, the first quarter
        (
            {"name": "Bad", "rule": {"said": "x", "first_s": True}},
            "category 'Bad': rule.said.first_s: a number is expected here, not true or false",
        ),
        (
            {"name": "Bad", "rule": {"non_talk_s": {"above": True}}},
            "rule.non_talk_s.above: a number is expected",
        ),
        (
            {"name": "Bad", "rule": {"sentiment": "Negative", "speaker": "agent", "quarter": True}},
            "rule.sentiment.quarter: a number is expected here, not true or false",
        ),
        # A number written as text, read as the number by pydantic's lax mode: refused as true is
        (
            {"name": "Bad", "rule": {"said": "x", "first_s": "30"}},
            "category 'Bad': rule.said.first_s: a number is expected here, not the text \"30\": "
            "write it without quotes",
        ),
        (
            {"name": "Bad", "rule": {"interruptions": {"above": "5"}, "speaker": "agent"}},
            'rule.interruptions.above: a number is expected here, not the text "5": write it without quotes',
        ),
        (
            {"name": "Bad", "rule": {"sentiment": "Negative", "speaker": "agent", "quarter": "4"}},
            'rule.sentiment.quarter: a number is expected here, not the text "4"',
        ),
        (
            {"name": "Bad", "rule": {"duration_s": {"below": "half a minute"}}},
            'rule.duration_s.below: a number is expected here, not the text "half a minute"',
        ),
        (
            {"name": "Bad", "rule": {"outcome": "solved"}},
            "rule.outcome[0]: Input should be 'resolved', 'unres",
        ),
        ({"name": "Bad", "rule": {"all": []}}, "List should have at least 1"),
        (
            {"name": "Bad", "rule": {"said": "x", "speakr": "agent"}},
            "category 'Bad': rule.said.speakr: unknown key 'speakr' "
            "(the keys here: said, speaker, first_s, last_s)",
        ),
        ({"name": "", "rule": {"said": "x"}}, "a category without a name"),
        ({"name": "<script>", "rule": {"said": "x"}}, "String should match pattern"),
        ({"rule": {"said": "x"}}, "a category without a name: name: Field required"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_category(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(CategoryError, match=None) as refused:
        parse_category(raw)
    assert problem in str(refused.value)
    assert isinstance(refused.value, ConfigError)  # the CLI ends it as exit code 1


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        # Two rules in one table read as "both" to an admin; pydantic said "Extra inputs are not permitted".
        (
            {"said": "refund", "topic": "Refund request"},
            "rule.said.topic: 'topic' is another rule (a table holds one): combine them with "
            "all = [{ said = ... }, { topic = ... }] or any = [...]",
        ),
        (
            {"all": [{"not": {"sentiment": "Negative", "outcome": "resolved"}}]},
            "rule.all[0].not.sentiment.outcome: 'outcome' is another rule (a table holds one): combine them "
            "with all = [{ sentiment = ... }, { outcome = ... }] or any = [...]",
        ),
        (
            {"not": {"said": "x"}, "said": "y"},
            "rule.said.not: 'not' is another rule (a table holds one): combine them with "
            "all = [{ said = ... }, { not = ... }] or any = [...]",
        ),
        # A range's keys, and a kind's name beside a range (above/below are its only keys)
        (
            {"non_talk_s": {"abov": 60}},
            "rule.non_talk_s.abov: unknown key 'abov' (the keys here: above, below)",
        ),
        (
            {"duration_s": {"above": 60, "topic": "x"}},
            "rule.duration_s.topic: unknown key 'topic' (the keys here: above, below)",
        ),
        ({"any": [{"said": "x"}], "al": []}, "rule.any.al: unknown key 'al' (the keys here: any)"),
    ],
)
def test_a_key_the_rule_does_not_take_says_what_to_write(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(CategoryError) as refused:
        parse_category({"name": "Bad", "rule": raw})
    assert str(refused.value) == f"category 'Bad': {problem}"


def test_a_key_the_category_does_not_take_says_what_to_write() -> None:
    with pytest.raises(CategoryError) as refused:
        parse_category({"name": "Bad", "descripton": "x", "said": ["refund"]})
    assert str(refused.value) == (
        "category 'Bad': rule: Field required; descripton: unknown key 'descripton' (the keys here: name, "
        "description, rule); said: 'said' goes in the rule: rule = { said = ... }"
    )


def test_rules_nest_at_most_eight_deep() -> None:
    rule: dict[str, Any] = {"said": "x"}
    for _ in range(8):
        rule = {"not": rule}
    with pytest.raises(CategoryError, match="nest at most 8 deep"):
        parse_category({"name": "Deep", "rule": rule})


def test_a_topic_outside_the_taxonomy_is_refused() -> None:
    with pytest.raises(CategoryError, match="category 'T': topic 'Refunds' is not a taxonomy label"):
        parse_category({"name": "T", "rule": {"topic": "Refunds"}}, topics={"Refund request"})


def test_names_are_distinct_ignoring_case_and_every_problem_is_listed() -> None:
    with pytest.raises(CategoryError) as refused:
        parse_categories(
            [
                {"name": "Hold", "rule": {"non_talk_s": {"above": 60}}},
                {"name": "hold", "rule": {"non_talk_s": {"above": 90}}},
                {"name": "Broken", "rule": {}},
            ]
        )
    assert str(refused.value).splitlines() == [
        "category 'Broken': rule: a rule is a table with one of the keys said, sentiment, topic, outcome, "
        "non_talk_s, interruptions, talk_share, duration_s, all, any, not",
        "category 'hold': defined twice (names ignore case)",
    ]


def test_the_settings_take_categories_from_toml_and_check_their_topics(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "callsense.toml"
    config.write_text(
        """
[[categories]]
name = "Recording disclosure missing"
description = "The agent must say the call is recorded in the first 30 seconds."
rule = { not = { said = ["this call is recorded", "call may be recorded"], speaker = "agent", first_s = 30 } }

[[categories]]
name = "Unhappy cancellation"
[categories.rule]
all = [{ topic = "Cancellation" }, { sentiment = "Negative", speaker = "customer", quarter = 4 }]
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("CALLSENSE_CONFIG", str(config))
    loaded = Settings()
    assert [c.name for c in loaded.categories] == ["Recording disclosure missing", "Unhappy cancellation"]
    assert loaded.categories[0].stored_rule() == {
        "not": {
            "said": ["this call is recorded", "call may be recorded"],
            "speaker": "agent",
            "first_s": 30.0,
        }
    }
    with pytest.raises(ValueError, match="category 'X': topic 'Nope' is not a taxonomy label"):
        Settings(categories=[{"name": "X", "rule": {"topic": "Nope"}}])


def test_a_rule_reads_back_as_written() -> None:
    category = parse_category(
        {"name": "Escalation risk", "rule": {"any": [{"said": "manager"}, {"interruptions": {"above": 5}}]}}
    )
    assert parse_category({"name": category.name, "rule": category.stored_rule()}) == category
    assert describe(category.rule) == (
        "any of (anyone said 'manager'; interruptions by both speakers over 5)"
    )


@pytest.mark.parametrize(
    "text",
    [
        'not = { said = ["this call is recorded"], speaker = "agent", first_s = 30 }',
        # the settings file's line or table copied whole onto the Categories page
        'rule = { not = { said = ["this call is recorded"], speaker = "agent", first_s = 30 } }',
        '[rule.not]\nsaid = ["this call is recorded"]\nspeaker = "agent"\nfirst_s = 30',
        '{"rule": {"not": {"said": ["this call is recorded"], "speaker": "agent", "first_s": 30}}}',
    ],
)
def test_a_rule_is_read_from_text_with_or_without_its_rule_key(text: str) -> None:
    category = parse_category({"name": "Disclosure missing", "rule": parse_rule_text(text)})
    assert describe(category.rule) == "not: agent said 'this call is recorded' in the first 30 s"


@pytest.mark.parametrize(
    "text", ['said = ["on hold"]\nfirst_s = "30"', '{"said": ["on hold"], "first_s": "30"}']
)
def test_a_number_written_as_text_is_refused_in_a_rule_text(text: str) -> None:
    with pytest.raises(CategoryError) as refused:
        parse_category({"name": "Hold", "rule": parse_rule_text(text)})
    assert str(refused.value) == (
        "category 'Hold': rule.said.first_s: a number is expected here, not the text \"30\": "
        "write it without quotes"
    )


def test_a_number_written_as_text_is_refused_in_the_settings_file(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "callsense.toml"
    config.write_text(
        '[[categories]]\nname = "Long hold"\nrule = { non_talk_s = { above = "60" } }\n', encoding="utf-8"
    )
    monkeypatch.setenv("CALLSENSE_CONFIG", str(config))
    with pytest.raises(ValueError) as refused:
        Settings()
    assert "category 'Long hold': rule.non_talk_s.above: a number is expected here" in str(refused.value)
