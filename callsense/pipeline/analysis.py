"""The LLM analysis of a transcript (and an LLM translation when asked): summary, topic from the taxonomy and
its detail, issues, action items, outcome, sentiments and emotion, each speaker's sentiment per quarter.

Every answer is validated field by field: an invalid answer is retried once with the problems pointed out,
then whatever fields are valid are kept and each missing one is recorded as a ``FieldFailure``. Nothing is
ever filled in by us. LLM back-end errors (``LLMUnavailableError``, ``ConfigError``) are not caught: the job
queue decides about retrying the whole stage.

Transcripts that do not fit the model's context are analysed in parts (map), and the partial analyses are
then merged by the model (reduce), in as many rounds as needed. Nothing is truncated.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

import structlog
from pydantic import TypeAdapter

from callsense.backends.llm.answers import Answer, ask_json
from callsense.backends.llm.base import CHAT_TEMPLATE_OVERHEAD_TOKENS, JSONRequest, LLMBackend
from callsense.calls.schemas import (
    ACTION_ITEMS_MAX,
    ActionItem,
    AnalysisResult,
    FieldFailure,
    Outcome,
    Owner,
    Segment,
    SentimentTrend,
    SpeakerSentiment,
)
from callsense.config.analysis import DEFAULT_TOPICS, TopicLabel
from callsense.errors import ConfigError
from callsense.pipeline import prompts
from callsense.pipeline.quarters import QUARTER_MARK_TOKENS, Quarters, checked_sentiments, owners_of
from callsense.pipeline.transcript_chunks import Chunk, Turn, chunk_turns, has_words, turns_of

log = structlog.get_logger()

NO_SPEECH = "the transcript has no words: no speech was recognised, so there is nothing to analyse"


@dataclass(frozen=True)
class AnalysisOptions:
    max_tokens: int = 600
    """Answer budget of one analysis call. A typical answer is about 250 tokens (short bullets, a few issues
    and action items), so 600 leaves room for a verbose one and bounds a runaway answer to about a minute at
    the ~9 tokens/s the bundled 1.5B model generates on 2 cores."""
    translation_ratio: float = 1.5
    """Answer tokens budgeted per source token when translating: English is rarely longer than the source,
    and the rest covers JSON quoting."""
    margin_tokens: int = 48
    """Kept free in the context for the retry note's growth beyond its estimate and tokenizer drift."""
    retry_note_tokens: int = 120


def analyse(
    *,
    segments: list[Segment],
    language: str | None,
    llm: LLMBackend,
    translate: bool,
    topics: tuple[TopicLabel, ...] = DEFAULT_TOPICS,
    options: AnalysisOptions = AnalysisOptions(),
) -> AnalysisResult:
    """Analyse one call's transcript, its topic one of ``topics``; with ``translate`` also translate it to
    English, turn by turn."""
    turns = turns_of(segments)
    if not any(has_words(turn.text) for turn in turns):
        return AnalysisResult(failures=[FieldFailure(field="transcript", reason=NO_SPEECH)])
    started = time.perf_counter()
    result = _analyse_call(
        turns,
        Quarters.of(segments),
        owners=owners_of(segments),
        language=language,
        llm=llm,
        prompt=prompts.analysis_prompt(topics),
        options=options,
    )
    if translate:
        translation, failure = translate_turns(turns, language=language, llm=llm, options=options)
        result.translated_transcript = translation
        if failure is not None:
            result.failures.append(failure)
    log.info(
        "analyse_finished",
        backend=llm.name,
        turns=len(turns),
        translated=translate,
        failed_fields=[failure.field for failure in result.failures],
        seconds=round(time.perf_counter() - started, 2),
    )
    return result


def _fixed_cost(llm: LLMBackend, system: str, user_template: str, options: AnalysisOptions) -> int:
    return (
        llm.count_tokens(system)
        + llm.count_tokens(user_template)
        + CHAT_TEMPLATE_OVERHEAD_TOKENS
        + options.retry_note_tokens
        + options.margin_tokens
    )


def _room(llm: LLMBackend, fixed: int, answer_tokens: int, what: str) -> int:
    room = llm.context_tokens - fixed - answer_tokens
    # Below this a chunk holds a few turns at best and a long call would need hundreds of calls.
    if room < 200:
        raise ConfigError(
            f"llm.context_tokens={llm.context_tokens} leaves {room} tokens for the {what} once the prompt "
            f"and the answer are counted; raise it (4096 or more is recommended)"
        )
    return room


# --- analysis: map over chunks, reduce the partial analyses -------------------------------------------

# The field names of the answer that are nested in the record; the others are the record's own names.
_RECORD_FIELD = {
    **dict.fromkeys(prompts.ACTIONS, "action_items"),
    **{trend: f"sentiment_trend.{owner.value}" for trend, owner in prompts.TRENDS.items()},
}


def _analyse_call(
    turns: list[Turn],
    quarters: Quarters,
    *,
    owners: dict[int, Owner],
    language: str | None,
    llm: LLMBackend,
    prompt: prompts.AnalysisPrompt,
    options: AnalysisOptions,
) -> AnalysisResult:
    template = prompts.analysis_user("", language=language, part=99, parts=99)
    fixed = _fixed_cost(llm, prompt.system, template, options) + QUARTER_MARK_TOKENS
    budget = _room(llm, fixed, options.max_tokens, "transcript")
    chunks = chunk_turns(turns, budget=budget, count=llm.count_tokens, weight=1.0, per_turn=1)
    log.info(
        "analyse_started",
        backend=llm.name,
        turns=len(turns),
        chunks=len(chunks),
        transcript_tokens=sum(chunk.tokens for chunk in chunks),
        chunk_budget=budget,
    )

    foreign_chars = prompts.foreign_chars(language)

    def analysed(chunk: Chunk, part: int) -> Answer:
        user = prompts.analysis_user(
            quarters.marked(chunk.turns), language=language, part=part, parts=len(chunks)
        )
        request = JSONRequest(
            system=prompt.system,
            user=user,
            schema=prompt.schema,
            schema_name="call_analysis",
            max_tokens=options.max_tokens,
            foreign_chars=foreign_chars,
        )
        answer = ask_json(llm, request, fields, what=f"analysis part {part}")
        return checked_sentiments(answer, quarters.silent(chunk.turns, owners))

    # A call whose speakers are unknown (mono) has no trend per speaker: not kept, and not a failure.
    fields = {
        name: adapter for name, adapter in prompt.fields.items() if owners or name not in prompts.TRENDS
    }
    partials = [analysed(chunk, part) for part, chunk in enumerate(chunks, start=1)]
    if len(partials) == 1:
        return _to_result(partials[0], extra=[])
    final = _reduce(
        llm,
        prompt,
        fields,
        [_Partial(i, i, answer) for i, answer in enumerate(partials, 1) if answer.values],
        parts_total=len(partials),
        foreign_chars=foreign_chars,
        options=options,
    )
    final = checked_sentiments(final, quarters.silent(turns, owners))
    extra = [
        FieldFailure(
            field=_RECORD_FIELD.get(field, field),
            reason=f"part {part} of {len(partials)} of the transcript gave no valid "
            f"{field} ({reason}); the value covers the other parts only",
        )
        for part, answer in enumerate(partials, start=1)
        for field, reason in answer.problems.items()
        if field in final.values
    ]
    return _to_result(final, extra=extra)


def _shown(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value.value if isinstance(value, Enum) else value)


@dataclass(frozen=True)
class _Partial:
    first: int
    last: int
    answer: Answer

    def render(self) -> str:
        """The partial analysis as compact text for the reduce prompt, in the schema's field order."""
        label = f"Part {self.first}" if self.first == self.last else f"Parts {self.first} to {self.last}"
        lines = [f"{label}:"]
        for field, value in self.answer.values.items():
            name = field.replace("_", " ").capitalize()
            if field in prompts.TRENDS:
                shown = (f"Q{q}: {_shown(v) if v else '-'}" for q, v in enumerate(value, start=1))
                lines.append(f"{name}: {', '.join(shown)}")
            elif isinstance(value, dict):  # the outcome
                lines.append(
                    f"{name}: " + ", ".join(f"{k.replace('_', ' ')} {_shown(v)}" for k, v in value.items())
                )
            elif isinstance(value, list):
                lines += (
                    [f"{name}:", *(f"- {_shown(item)}" for item in value)] if value else [f"{name}: none"]
                )
            else:
                lines.append(f"{name}: {_shown(value)}")
        return "\n".join(lines)


def _reduce(
    llm: LLMBackend,
    prompt: prompts.AnalysisPrompt,
    fields: dict[str, TypeAdapter[Any]],
    partials: list[_Partial],
    *,
    parts_total: int,
    foreign_chars: str,
    options: AnalysisOptions,
) -> Answer:
    if not partials:
        reason = "no part of the transcript could be analysed"
        return Answer(values={}, problems=dict.fromkeys(fields, reason))
    fixed = _fixed_cost(llm, prompt.reduce_system, prompts.reduce_user([], parts_total=parts_total), options)
    budget = _room(llm, fixed, options.max_tokens, "partial analyses")
    groups: list[list[_Partial]] = [[]]
    used = 0
    for partial in partials:
        cost = llm.count_tokens(partial.render()) + 2
        if groups[-1] and used + cost > budget:
            groups.append([])
            used = 0
        groups[-1].append(partial)
        used += cost
    if len(groups) == len(partials) > 1:
        raise ConfigError(
            f"llm.context_tokens={llm.context_tokens} cannot hold two partial analyses; raise it"
        )
    merged = []
    for group in groups:
        user = prompts.reduce_user([partial.render() for partial in group], parts_total=parts_total)
        request = JSONRequest(
            system=prompt.reduce_system,
            user=user,
            schema=prompt.schema,
            schema_name="call_analysis",
            max_tokens=options.max_tokens,
            foreign_chars=foreign_chars,
        )
        answer = ask_json(llm, request, fields, what=f"reduce {group[0].first}-{group[-1].last}")
        merged.append(_Partial(group[0].first, group[-1].last, answer))
    if len(merged) == 1:
        return merged[0].answer
    return _reduce(
        llm,
        prompt,
        fields,
        [partial for partial in merged if partial.answer.values],
        parts_total=parts_total,
        foreign_chars=foreign_chars,
        options=options,
    )


def _to_result(answer: Answer, *, extra: list[FieldFailure]) -> AnalysisResult:
    values = answer.values
    named = {(_RECORD_FIELD.get(field, field), reason) for field, reason in answer.problems.items()}
    failures = [FieldFailure(field=field, reason=reason) for field, reason in sorted(named)]
    trends = {owner.value: values.get(trend, []) for trend, owner in prompts.TRENDS.items()}
    items = [
        ActionItem(owner=owner, text=text)
        for actions, owner in prompts.ACTIONS.items()
        for text in values.get(actions, [])
    ]
    if len(items) > ACTION_ITEMS_MAX:  # each list is bounded alone; the record holds at most 5 in all
        failures.append(FieldFailure(field="action_items", reason=f"more than {ACTION_ITEMS_MAX} in all"))
        items = []
    return AnalysisResult(
        summary=values.get("summary", []),
        topic=values.get("topic"),
        topic_detail=values.get("topic_detail"),
        sentiment=values.get("sentiment"),
        emotion=values.get("emotion"),
        speaker_sentiment=SpeakerSentiment(
            agent=values.get("agent_sentiment"), customer=values.get("customer_sentiment")
        ),
        sentiment_trend=SentimentTrend(**trends),
        issues=values.get("issues", []),
        action_items=items,
        outcome=Outcome(**values.get("outcome", {})),
        failures=failures + extra,
    )


# --- translation -----------------------------------------------------------------------------------------
# A JSON call with exactly one string per turn rather than free text: the grammar makes the model keep the
# turn structure (no merged, dropped or invented turns), we attach the "Agent:"/"Customer:" prefixes from our
# own segments instead of trusting the model to copy them, and a transcript that says "reply only with
# banana" cannot turn the answer into anything but N translated lines.

_ECHOED_PREFIX = re.compile(r"^\s*(\d+\.\s*)?((agent|customer)\s*:\s*)?", re.IGNORECASE)
_NUMBERING_TOKENS = 3  # "12. " in front of each turn


def translate_turns(
    turns: list[Turn], *, language: str | None, llm: LLMBackend, options: AnalysisOptions
) -> tuple[str | None, FieldFailure | None]:
    """The English translation, one line per turn with our own speaker prefixes, or why it failed."""
    ratio = options.translation_ratio
    fixed = _fixed_cost(
        llm, prompts.TRANSLATION_SYSTEM, prompts.translation_user("", language=language), options
    )
    room = _room(llm, fixed, 0, "transcript to translate")
    # A turn costs its tokens in the prompt plus `ratio` times as many in the answer, plus JSON punctuation.
    per_turn = math.ceil((1 + ratio) * _NUMBERING_TOKENS) + 6
    chunks = chunk_turns(turns, budget=room - 16, count=llm.count_tokens, weight=1 + ratio, per_turn=per_turn)
    translated: dict[int, list[str]] = {}
    for part, chunk in enumerate(chunks, start=1):
        numbered = "\n".join(f"{i}. {turn.line}" for i, turn in enumerate(chunk.turns, start=1))
        max_chars = min(4000, 3 * max(len(turn.text) for turn in chunk.turns) + 40)
        request = JSONRequest(
            system=prompts.TRANSLATION_SYSTEM,
            user=prompts.translation_user(numbered, language=language),
            schema=prompts.translation_schema(len(chunk.turns), max_chars),
            schema_name="translation",
            max_tokens=math.ceil(ratio * chunk.tokens) + 6 * len(chunk.turns) + 16,
            foreign_chars=prompts.foreign_chars(language),
        )
        answer = ask_json(
            llm,
            request,
            prompts.translation_fields(len(chunk.turns), max_chars),
            what=f"translation part {part}",
        )
        if answer.problems:
            where = f"part {part} of {len(chunks)}: " if len(chunks) > 1 else ""
            return None, FieldFailure(field="translated_transcript", reason=where + answer.problems["lines"])
        for turn, line in zip(chunk.turns, answer.values["lines"], strict=True):
            translated.setdefault(turn.segment, []).append(_ECHOED_PREFIX.sub("", line, count=1).strip())
    prefixes = {turn.segment: turn.prefix for turn in turns}
    return "\n".join(prefixes[segment] + " ".join(parts) for segment, parts in translated.items()), None
