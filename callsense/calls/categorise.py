"""Evaluating category rules (``config/categories.py``) on a stored call: deterministic, no model.

Phrases are matched on the turns' words: both sides are folded and split into words as ``textmatch`` does
(case, accents and Arabic or Hebrew vowel marks ignored; in Chinese, Japanese and Thai each character is a
unit), and a phrase matches where its words follow each other in one turn. "Récupérer" matches "recuperer",
"call" does not match "callback", punctuation is ignored, "返金" matches inside "返金をお願いします". A
phrase's time is its first word's start (Whisper's word timing; the turn's start for transcripts without
word timings).

A rule is true, false or unknown on a call (``Verdict``): unknown where the call lacks what it reads (a figure
it has not: no analysis, no talk figures, a silent quarter, an outcome flag not said; a phrase of one speaker
said only in turns whose speaker is unknown, as on a mono call without diarization). A call is in a category
only where its rule is true, so that ``not`` of what cannot be known never puts a call in a category.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from callsense.calls import textmatch
from callsense.calls.schemas import (
    AnalysisResult,
    CategoryEvidence,
    CategoryMatch,
    Outcome,
    Segment,
    Speaker,
    SpeakerTalk,
    TalkFigures,
)
from callsense.config.categories import (
    AllRule,
    AnyRule,
    Category,
    DurationRule,
    InterruptionsRule,
    NonTalkRule,
    NotRule,
    OutcomeRule,
    PhraseRule,
    Rule,
    SentimentRule,
    TalkShareRule,
    TopicRule,
)

EVIDENCE_MAX = 20  # turns and figures kept per category and call
QUOTE_MAX_CHARS = 300


@lru_cache(maxsize=50_000)
def _word_parts(text: str) -> tuple[str, ...]:
    """One Whisper word's folded parts ("I'm" gives "i", "m"); a call's words repeat, so they are cached."""
    return tuple(textmatch.words(text))


@dataclass(frozen=True)
class _TurnWords:
    words: list[str]
    starts: list[float]  # when each word began

    @classmethod
    def of(cls, segment: Segment) -> _TurnWords:
        if not segment.words:
            found = textmatch.words(segment.text)
            return cls(found, [segment.start] * len(found))
        words: list[str] = []
        starts: list[float] = []
        for word in segment.words:
            for part in _word_parts(word.text):
                words.append(part)
                starts.append(word.start)
        return cls(words, starts)

    def phrase_starts(self, phrase: Sequence[str]) -> list[float]:
        """When each occurrence of the phrase (its words) began in this turn."""
        size = len(phrase)
        return [
            self.starts[i]
            for i in range(len(self.words) - size + 1)
            if self.words[i] == phrase[0] and self.words[i : i + size] == list(phrase)
        ]


@dataclass(frozen=True)
class CallFacts:
    """What rules read of a call: its turns, duration, analysis and talk figures."""

    segments: list[Segment]
    duration: float | None
    analysis: AnalysisResult
    talk: TalkFigures | None

    @cached_property
    def turn_words(self) -> list[_TurnWords]:
        return [_TurnWords.of(segment) for segment in self.segments]

    @cached_property
    def length(self) -> float:
        """The call's length for "the last N seconds": its audio, else its last word."""
        return self.duration or max((segment.end for segment in self.segments), default=0.0)


@dataclass(frozen=True)
class Verdict:
    """A rule on one call: true (with the turns and figures that made it so), false, or None: unknown, as the
    call lacks what the rule reads (a figure it has not, a phrase of one speaker on turns whose speaker is
    unknown). Combined as in three-valued logic, so that what is unknown never holds by negation: ``not``
    of unknown is unknown; ``all`` is false if any is false, else unknown if any is unknown; ``any`` is true
    if any is true, else unknown if any is unknown."""

    truth: bool | None
    evidence: tuple[CategoryEvidence, ...] = ()


_FALSE = Verdict(False)
_UNKNOWN = Verdict(None)


def evaluate(categories: Sequence[Category], facts: CallFacts) -> list[CategoryMatch]:
    """The categories whose rule is true for the call, in the order given, each with its evidence; a rule
    that cannot be decided on this call (``Verdict.truth`` None) does not put it in the category."""
    matches = []
    for category in categories:
        found = verdict(category.rule, facts)
        if found.truth:
            matches.append(CategoryMatch(name=category.name, evidence=list(found.evidence[:EVIDENCE_MAX])))
    return matches


def verdict(rule: Rule, facts: CallFacts) -> Verdict:
    """The rule on the call: true with its evidence, false, or unknown."""
    if isinstance(rule, AllRule):
        found: list[CategoryEvidence] = []
        unknown = False
        for child in rule.all_:
            part = verdict(child, facts)
            if part.truth is False:
                return _FALSE
            unknown = unknown or part.truth is None
            found.extend(part.evidence)
        return _UNKNOWN if unknown else Verdict(True, tuple(found))
    if isinstance(rule, AnyRule):
        parts = [verdict(child, facts) for child in rule.any_]
        if any(part.truth for part in parts):
            return Verdict(True, tuple(item for part in parts if part.truth for item in part.evidence))
        return _UNKNOWN if any(part.truth is None for part in parts) else _FALSE
    if isinstance(rule, NotRule):
        inner = verdict(rule.not_, facts).truth
        if inner is None:
            return _UNKNOWN
        return _FALSE if inner else Verdict(True, (_figure(f"not: {describe(rule.not_)}"),))
    if isinstance(rule, PhraseRule):
        return _said(rule, facts)
    if isinstance(rule, OutcomeRule):
        return _outcome(rule, facts.analysis.outcome)
    return _figure_verdict(rule, facts)


def _figure(text: str) -> CategoryEvidence:
    return CategoryEvidence(text=text)


def _said(rule: PhraseRule, facts: CallFacts) -> Verdict:
    """True where the rule's speaker (anyone, without one) said a phrase; unknown where it was said only in
    turns whose speaker is unknown (a mono call without diarization), as the rule's speaker may have said it;
    false where nobody did."""
    phrases = [words for phrase in rule.said if (words := textmatch.words(phrase))]
    found = []
    unknown = False
    for index, (segment, turn) in enumerate(zip(facts.segments, facts.turn_words, strict=True)):
        maybe = rule.speaker is not None and segment.speaker is Speaker.unknown
        if rule.speaker is not None and segment.speaker.value != rule.speaker and not maybe:
            continue
        starts = sorted(start for phrase in phrases for start in turn.phrase_starts(phrase))
        if rule.first_s is not None:
            starts = [start for start in starts if start < rule.first_s]
        if rule.last_s is not None:
            starts = [start for start in starts if start >= facts.length - rule.last_s]
        if starts and maybe:
            unknown = True
        elif starts:
            text = segment.text.strip()
            quote = text if len(text) <= QUOTE_MAX_CHARS else text[: QUOTE_MAX_CHARS - 1].rstrip() + "…"
            found.append(CategoryEvidence(turn=index, start=starts[0], speaker=segment.speaker, text=quote))
    if found:
        return Verdict(True, tuple(found))
    return _UNKNOWN if unknown else _FALSE


def _side(talk: TalkFigures | None, speaker: str) -> SpeakerTalk | None:
    if talk is None:
        return None
    return talk.agent if speaker == Speaker.agent.value else talk.customer


def _figure_verdict(rule: Rule, facts: CallFacts) -> Verdict:
    """Sentiment, topic, talk-figure and duration rules: unknown where the call lacks the value (no
    analysis, a silent quarter, no talk figures, mono without speakers), else whether it meets the rule."""
    value: float | str | None = None
    holds = False
    if isinstance(rule, SentimentRule):
        value = _sentiment(rule, facts.analysis)
        holds = value is not None and value in rule.sentiment
    elif isinstance(rule, TopicRule):
        value = facts.analysis.topic
        holds = value is not None and value in rule.topic
    elif isinstance(rule, NonTalkRule):
        value = facts.talk.non_talk_seconds if facts.talk else None
        holds = value is not None and rule.non_talk_s.holds(value)
    elif isinstance(rule, InterruptionsRule):
        if rule.speaker is None:
            value = facts.talk.interruptions if facts.talk else None
        else:
            side = _side(facts.talk, rule.speaker)
            value = side.interruptions if side else None
        holds = value is not None and rule.interruptions.holds(value)
    elif isinstance(rule, TalkShareRule):
        side = _side(facts.talk, rule.speaker)
        value = side.share if side else None
        holds = value is not None and rule.talk_share.holds(value)
    elif isinstance(rule, DurationRule):
        value = facts.duration
        holds = value is not None and rule.duration_s.holds(value)
    if value is None:
        return _UNKNOWN
    return _met(rule, value) if holds else _FALSE


def _met(rule: Rule, value: float | str) -> Verdict:
    """A condition met, its evidence the value: ``non-talk seconds over 60: 75``."""
    shown = f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    return Verdict(True, (_figure(f"{describe(rule)}: {shown}"),))


# Each outcome a rule names: the flag it reads and the value that makes it hold (null is unknown).
_OUTCOME_FLAGS = {
    "resolved": ("resolved", True),
    "unresolved": ("resolved", False),
    "callback_needed": ("callback_needed", True),
    "escalated": ("escalated", True),
}


def _outcome(rule: OutcomeRule, outcome: Outcome) -> Verdict:
    """True where the outcome says one of the rule's names; unknown where it says none of them but leaves
    one of their flags unsaid (null); else false."""
    says = {name: _outcome_says(outcome, name) for name in rule.outcome}
    held = next((name for name, said in says.items() if said), None)
    if held is not None:
        return _met(rule, held)
    return _UNKNOWN if None in says.values() else _FALSE


def _outcome_says(outcome: Outcome, name: str) -> bool | None:
    flag, wanted = _OUTCOME_FLAGS[name]
    value = getattr(outcome, flag)
    return None if value is None else value is wanted


def _sentiment(rule: SentimentRule, analysis: AnalysisResult) -> str | None:
    if rule.speaker is None:
        overall = analysis.sentiment
    elif rule.quarter is None:
        overall = getattr(analysis.speaker_sentiment, rule.speaker)
    else:
        trend = getattr(analysis.sentiment_trend, rule.speaker)
        overall = trend[rule.quarter - 1] if len(trend) >= rule.quarter else None
    return overall.value if overall is not None else None


def describe(rule: Rule) -> str:
    """The rule in a few words, for evidence and pages: ``agent said 'recorded' in the first 30 s``."""
    if isinstance(rule, AllRule):
        return "all of (" + "; ".join(describe(child) for child in rule.all_) + ")"
    if isinstance(rule, AnyRule):
        return "any of (" + "; ".join(describe(child) for child in rule.any_) + ")"
    if isinstance(rule, NotRule):
        return f"not: {describe(rule.not_)}"
    if isinstance(rule, PhraseRule):
        window = (
            f" in the first {rule.first_s:g} s"
            if rule.first_s is not None
            else f" in the last {rule.last_s:g} s"
            if rule.last_s is not None
            else ""
        )
        phrases = " or ".join(repr(phrase) for phrase in rule.said)
        return f"{rule.speaker or 'anyone'} said {phrases}{window}"
    if isinstance(rule, SentimentRule):
        whose = f"{rule.speaker} sentiment" if rule.speaker else "sentiment"
        when = f" in quarter {rule.quarter}" if rule.quarter else ""
        return f"{whose}{when} is {' or '.join(rule.sentiment)}"
    if isinstance(rule, TopicRule):
        return f"topic is {' or '.join(repr(label) for label in rule.topic)}"
    if isinstance(rule, OutcomeRule):
        return f"outcome is {' or '.join(rule.outcome)}"
    if isinstance(rule, NonTalkRule):
        return f"non-talk seconds {rule.non_talk_s.describe()}"
    if isinstance(rule, InterruptionsRule):
        return f"interruptions by {rule.speaker or 'both speakers'} {rule.interruptions.describe()}"
    if isinstance(rule, TalkShareRule):
        return f"{rule.speaker} talk share {rule.talk_share.describe()}"
    assert isinstance(rule, DurationRule)
    return f"duration seconds {rule.duration_s.describe()}"
