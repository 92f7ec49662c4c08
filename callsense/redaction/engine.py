"""``PresidioRedactor``: Microsoft Presidio's analyzer on each speaker's words, spoken digits normalised
first.

A call's turns are read per speaker, in order, so a number split over two turns (the agent's "mm-hm" in
between) is one number; a turn that answers the other side is read once more with the question's context
words ("the three digits on the back?" / "Four five six."). Each speaker's words become two texts
(``digits.normalise``): digits joined for cards, phones, accounts, ids and security codes, kept apart for
dates, addresses, names and e-mails. Presidio finds the entities in each, its hits are mapped back onto the
words, and the first word of each hit carries the placeholder (``[CARD_NUMBER]``). The replacement is done
on Whisper's words rather than by Presidio's anonymizer, which works on the characters of the text it
analysed, here the normalised one.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass, replace

from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)

from callsense.calls.schemas import Segment, Speaker
from callsense.config.redaction import EntityType, RedactionSettings
from callsense.redaction import RedactedSpan, Redaction, ner
from callsense.redaction.context_words import WordContextEnhancer, any_said
from callsense.redaction.digits import Normalised, normalise, number_language
from callsense.redaction.fragments import with_fragments
from callsense.redaction.identifiers import identifier_word, named_as_identifier, sentence_before
from callsense.redaction.name_cues import NAME_CUE_LANGUAGES, NameCueRecognizer
from callsense.redaction.nlp import TokenizerNlpEngine
from callsense.redaction.overruled import card_talk, overruled
from callsense.redaction.postal_codes import POSTAL_CODE
from callsense.redaction.recognizers import (
    ASKED_WORDS,
    BOTH_VIEWS,
    CONTEXT_WORDS,
    JOINED_VIEW,
    LANGUAGE_INDEPENDENT,
    LANGUAGES,
    MISHEARD,
    PRESIDIO_NAMES,
    PersonRecognizer,
    language_independent,
    language_specific,
)
from callsense.redaction.said import recurring_spans, span_values, word_texts
from callsense.redaction.words import core

_OTHER = "xx"  # spaCy's multi-language tokenizer, for a language without recognizers
_KNOWN = {entity.value for entity in EntityType}
_FRAGMENT_GAP_WORDS = 4
# How many turns back an answer's question may be, and how many words a turn between them may have.
_ANSWER_REACH = 5
_HOLDING_WORDS = 6
_CARD_TALK_REACH = 6  # turns before a question for the card's code ("¿Y el código?") that may name the card


@dataclass(frozen=True)
class _Hit:
    entity: str
    first: int  # index into the speaker's words
    last: int
    score: float
    by_context_only: bool = False  # failed its type's check (MISHEARD)


@dataclass(frozen=True)
class _SpeakerWord:
    segment: int
    index: int  # in the segment's words, or in its text's words for a turn without word timings
    text: str


class PresidioRedactor:
    """The redactor of ``config/redaction.py``'s entity types; Presidio and the NER models are loaded on first
    use, once, behind a lock, and the analyzer is then shared by every thread."""

    def __init__(self, settings: RedactionSettings) -> None:
        self._settings = settings
        self._entities = [entity.value for entity in settings.entities] + list(settings.custom_patterns)
        self._analyzer: AnalyzerEngine | None = None
        self._lock = threading.Lock()

    def _engine(self) -> AnalyzerEngine:
        with self._lock:
            if self._analyzer is None:
                wants_names = EntityType.name in self._settings.entities and self._settings.ner_models
                self._analyzer = _analyzer(
                    tuple(self._settings.custom_patterns.items()),
                    tuple(self._settings.phone_regions),
                    with_names=wants_names,
                )
            return self._analyzer

    def checked(self, language: str | None) -> list[str]:
        """The entity types looked for in ``language``: all that are on for en/es/de/fr, the independent ones
        (and custom patterns) for any other, and names after a cue in Russian and Turkish."""
        if _analysis_language(language) != _OTHER:
            return list(self._entities)
        independent = [entity.value for entity in LANGUAGE_INDEPENDENT]
        if (language or "").split("-")[0].lower() in NAME_CUE_LANGUAGES:
            independent.append(EntityType.name.value)  # after "меня зовут" and its Turkish cue
        return [entity for entity in self._entities if entity in independent or entity not in _KNOWN]

    def _hits(
        self, words: list[str], turn_ends: set[int], language: str | None, *, asked: list[str] | None = None
    ) -> list[_Hit]:
        """The hits among one speaker's ``words``; ``asked``: the words (``core``) of the other side's
        question just before them, whose context words (``_lent``) count as if said beside every value."""
        analysis = _analysis_language(language)
        spoken = number_language(language)
        wanted = set(self.checked(language))
        hits: list[_Hit] = []
        for joined in (True, False):
            view = normalise(words, language=spoken, turn_ends=turn_ends, joined=joined)
            if not view.text:
                continue
            # Only names this language has a recognizer for: Presidio warns on each other one (and is to
            # refuse them), and an empty list would make it look for every entity it knows.
            supported = _supported_entities(self._engine(), analysis)
            names = [*wanted, *_presidio_names(wanted)]
            requested = [e for e in names if e in supported and _in_view(e, joined)]
            if not requested:
                continue
            for result in self._engine().analyze(
                view.text,
                language=analysis,
                entities=requested,
                score_threshold=self._settings.score_threshold,
                context=[word for word in asked if _lent(word)] if asked else None,
                return_decision_process=True,  # which context word made it (``overruled``)
            ):
                entity = PRESIDIO_NAMES.get(result.entity_type, result.entity_type)
                recognizer = (result.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY)
                misheard = recognizer == MISHEARD
                if overruled(result, entity, recognizer, view.text, asked, analysis):
                    continue
                words_hit = view.words_at(result.start, result.end)
                if words_hit is not None and str(entity) in wanted:
                    first, last = words_hit
                    if entity == EntityType.name:  # a name ends with its turn ("… is Violet" / "My last…")
                        last = min((end for end in turn_ends if first <= end < last), default=last)
                    hits.append(_Hit(str(entity), first, last, result.score, misheard))
            if joined:
                read_in_groups = {EntityType.card_number, EntityType.national_id}
                hits = [_with_fragments(hit, view) if hit.entity in read_in_groups else hit for hit in hits]
        return _merge(hits)

    def redact_segments(self, segments: list[Segment], *, language: str | None) -> Redaction:
        checked = self.checked(language)
        if not self._settings.enabled:
            return Redaction(segments=list(segments), spans=[], checked=[])
        spans: list[RedactedSpan] = []
        for speaker in dict.fromkeys(segment.speaker for segment in segments):
            words = [
                _SpeakerWord(number, index, text)
                for number, segment in enumerate(segments)
                if segment.speaker == speaker
                for index, text in enumerate(word_texts(segment))
            ]
            turn_ends = {
                i
                for i, word in enumerate(words)
                if i + 1 == len(words) or words[i + 1].segment != word.segment
            }
            hits = self._hits([word.text for word in words], turn_ends, language)
            # The question each of the speaker's turns answers, if any: segment number -> its words.
            spoken = number_language(language)
            turns = dict.fromkeys(word.segment for word in words)
            questions = {number: _asked(segments, number, spoken) for number in turns}
            for hit in _merge(hits + self._answer_hits(words, questions, language)):
                if not _asked_as_identifier(hit, words, questions):
                    spans += _spans(hit, words, segments, speaker)
        # A value found once (by its cue, its context word) is redacted wherever the call repeats it.
        spans += recurring_spans(segments, spans, span_values(segments, spans, language=language))
        spans.sort(key=lambda span: (span.segment, span.first_word))
        redacted = list(segments)
        for number in sorted({span.segment for span in spans}):
            redacted[number] = _redact_segment(segments[number], [s for s in spans if s.segment == number])
        return Redaction(segments=redacted, spans=spans, checked=checked)

    def _answer_hits(
        self, words: list[_SpeakerWord], questions: dict[int, list[str]], language: str | None
    ) -> list[_Hit]:
        """The hits in each of a speaker's turns that answers the other side: the context words of the
        question before it ("And the three digits on the back?") count for the answer's values ("Four five
        six."), which carry none of their own."""
        # Each turn's words are contiguous among the speaker's: segment number -> its first and end index.
        bounds: dict[int, list[int]] = {}
        for index, word in enumerate(words):
            bounds.setdefault(word.segment, [index, index])[1] = index + 1
        hits: list[_Hit] = []
        for number, (first, end) in bounds.items():
            if not any(map(_lent, questions[number])):
                continue
            turn = [word.text for word in words[first:end]]
            for hit in self._hits(turn, {len(turn) - 1}, language, asked=questions[number]):
                hits.append(replace(hit, first=hit.first + first, last=hit.last + first))
        return hits

    def redact_text(self, text: str, *, language: str | None) -> str:
        if not self._settings.enabled or not text.strip():
            return text
        words = re.findall(r"\s*\S+", text)
        hits = self._hits(words, set(), language)
        redacted = _replace_words(words, [(hit.first, hit.last, hit.entity) for hit in hits])
        return redacted + text[len(text.rstrip()) :]


def _asked(segments: list[Segment], number: int, spoken: str) -> list[str]:
    """The words (``core``) of the other side's question that turn ``number`` answers: the turn just before
    it, or one up to ``_ANSWER_REACH`` turns back across the answerer's holding turns without a number ("One
    moment.") and the asker's short replies without a question or a word it lends ("Sure, take your
    time."); with the card words said just before it where it asks for a code but names no card
    (``card_talk``)."""
    answerer = segments[number].speaker
    for question in range(number - 1, max(0, number - _ANSWER_REACH) - 1, -1):
        before = segments[question]
        said = word_texts(before)
        if before.speaker == answerer:
            holding = normalise(said, language=spoken, turn_ends={len(said) - 1}, joined=True).text
            if len(said) > _HOLDING_WORDS or any(character.isdigit() for character in holding):
                return []  # an answer of its own: a question before it was answered there
            continue
        asked = [core(word) for word in said]
        lends = any(_lent(word) or identifier_word(word) for word in asked)
        if lends or len(said) > _HOLDING_WORDS or "?" in before.text:
            earlier = segments[max(0, question - _CARD_TALK_REACH) : question]
            return asked + card_talk(asked, (core(word) for turn in earlier for word in word_texts(turn)))
    return []


@functools.lru_cache(maxsize=4096)
def _lent(word: str) -> bool:
    """Whether a question's word counts as a context word of its answer (``ASKED_WORDS``)."""
    return any_said(ASKED_WORDS, [word])


def _asked_as_identifier(hit: _Hit, words: list[_SpeakerWord], questions: dict[int, list[str]]) -> bool:
    """Whether ``hit``, a phone number, answers a question (``questions``, by turn) for an order,
    reference… with no phone word in its turn before it ("…give me the order ID and email" / "please" /
    "7916676427")."""
    if hit.entity != EntityType.phone_number.value:
        return False
    turn = words[hit.first].segment
    said = "".join(word.text for word in words[: hit.first] if word.segment == turn)
    return named_as_identifier(sentence_before(said, len(said)), questions[turn])


def _analysis_language(language: str | None) -> str:
    code = (language or "").split("-")[0].lower()
    return code if code in LANGUAGES else _OTHER


def _in_view(name: str, joined: bool) -> bool:
    """Whether ``name`` (an entity type, a custom pattern's or Presidio's name) is looked for in the view
    with digits joined or in the one with numbers kept apart."""
    if name == POSTAL_CODE:
        return joined
    entity = PRESIDIO_NAMES.get(name, name)
    if entity not in _KNOWN or EntityType(entity) in BOTH_VIEWS:
        return True
    return (EntityType(entity) in JOINED_VIEW) == joined


@functools.cache
def _supported_entities(analyzer: AnalyzerEngine, language: str) -> frozenset[str]:
    return frozenset(analyzer.get_supported_entities(language))


def _presidio_names(entities: set[str]) -> list[str]:
    return [name for name, entity in PRESIDIO_NAMES.items() if entity.value in entities]


def _merge(hits: list[_Hit]) -> list[_Hit]:
    """Overlapping hits as one, named after the longest of them, then one found by more than its context,
    then the highest-scoring ("221 Baker Street" is an address, though the NER model calls Baker a
    person), then an expiry: four digits that read as a month and a year, asked for with a security code
    ("the expiration date and the CVV?" / "oh four twenty-eight, and the code is seven three one"), are
    the expiry more often than a four-digit code; then a card ("mi tarjeta del banco es…", misheard)."""
    clusters: list[list[_Hit]] = []
    for hit in sorted(hits, key=lambda h: h.first):
        if clusters and hit.first <= max(h.last for h in clusters[-1]):
            clusters[-1].append(hit)
        else:
            clusters.append([hit])
    named = [(cluster, max(cluster, key=_preference)) for cluster in clusters]
    return [
        _Hit(best.entity, group[0].first, max(h.last for h in group), best.score) for group, best in named
    ]


def _preference(hit: _Hit) -> tuple[int, bool, float, bool, bool]:
    expiry, card = hit.entity == EntityType.card_expiry, hit.entity == EntityType.card_number
    return hit.last - hit.first, not hit.by_context_only, hit.score, expiry, card


def _with_fragments(hit: _Hit, view: Normalised) -> _Hit:
    """A card or id hit with the groups read just before or after it (``fragments.py``)."""
    id_parts = hit.entity == EntityType.national_id
    first, last = with_fragments(view, hit.first, hit.last, gap=_FRAGMENT_GAP_WORDS, id_parts=id_parts)
    return replace(hit, first=first, last=last)


def _spans(
    hit: _Hit, words: list[_SpeakerWord], segments: list[Segment], speaker: Speaker
) -> list[RedactedSpan]:
    """One span per turn the hit covers."""
    spans: list[RedactedSpan] = []
    covered = words[hit.first : hit.last + 1]
    for number in dict.fromkeys(word.segment for word in covered):
        indices = [word.index for word in covered if word.segment == number]
        segment = segments[number]
        timed = segment.words
        start = timed[indices[0]].start if timed else segment.start
        end = timed[indices[-1]].end if timed else segment.end
        spans.append(RedactedSpan(number, indices[0], indices[-1], start, end, speaker, hit.entity))
    return spans


def _replace_words(words: list[str], ranges: list[tuple[int, int, str]]) -> str:
    out = list(words)
    for first, last, entity in ranges:
        space = words[first][: len(words[first]) - len(words[first].lstrip())]
        ending = re.search(r"[.,;:!?]*$", words[last].rstrip())
        out[first] = f"{space}[{entity}]{ending.group() if ending else ''}"
        for index in range(first + 1, last + 1):
            out[index] = ""
    return "".join(out)


def _redact_segment(segment: Segment, spans: list[RedactedSpan]) -> Segment:
    ranges = [(span.first_word, span.last_word, span.entity) for span in spans]
    text = _replace_words(word_texts(segment), ranges).strip()
    if not segment.words:
        return segment.model_copy(update={"text": text})
    placeholders = {span.first_word: f" [{span.entity}]" for span in spans}
    covered = {index for span in spans for index in range(span.first_word, span.last_word + 1)}
    words = [
        word.model_copy(update={"text": placeholders.get(index, "")}) if index in covered else word
        for index, word in enumerate(segment.words)
    ]
    return segment.model_copy(update={"text": text, "words": words})


# One analyzer per process and configuration: loading the recognizers and the NER pipelines takes seconds,
# and every runtime (a worker's, the CLI's, each test's) would otherwise load its own.
@functools.lru_cache(maxsize=4)
def _analyzer(
    custom_patterns: tuple[tuple[str, str], ...], phone_regions: tuple[str, ...], *, with_names: bool
) -> AnalyzerEngine:
    languages = [*LANGUAGES, _OTHER]
    named = ner.installed_languages() if with_names else ()
    recognizers: list[EntityRecognizer] = []
    for language in languages:
        recognizers += language_independent(language, phone_regions)
        recognizers += (
            [NameCueRecognizer(language, elsewhere=True)]
            if language == _OTHER
            else language_specific(language)
        )
        if language in named:
            recognizers.append(PersonRecognizer(language, named))
        recognizers += [
            PatternRecognizer(
                supported_entity=name,
                patterns=[Pattern(name, pattern, 0.6)],
                supported_language=language,
                global_regex_flags=re.MULTILINE,
            )
            for name, pattern in custom_patterns
        ]
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=languages)
    return AnalyzerEngine(
        registry=registry,
        # Context words after a number count too: "the 3rd of March 1985, when I was born".
        context_aware_enhancer=WordContextEnhancer(context_prefix_count=6, context_suffix_count=4),
        nlp_engine=TokenizerNlpEngine(
            languages, CONTEXT_WORDS, ner=ner.load_ner_pipeline if with_names else None
        ),
        supported_languages=languages,
    )
