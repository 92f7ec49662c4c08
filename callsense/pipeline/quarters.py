"""The quarters of a call for the sentiment trend: which quarter each turn falls in, the marks that show the
model where each quarter starts, and the sentiments nulled where a speaker said nothing."""

from __future__ import annotations

from dataclasses import dataclass

from callsense.backends.llm.answers import Answer
from callsense.calls.schemas import QUARTERS, Owner, Segment
from callsense.pipeline import prompts
from callsense.pipeline.transcript_chunks import Turn

__all__ = ["QUARTER_MARK_TOKENS", "Quarters", "checked_sentiments", "owners_of"]

QUARTER_MARK_TOKENS = 4 * QUARTERS  # "[Q1]" and its line break, at most once per quarter in a chunk


@dataclass(frozen=True)
class Quarters:
    """Which quarter of the call (by time, 0 to 3) each segment starts in, and which it reaches."""

    of_segment: list[int]
    last_of_segment: list[int]

    @classmethod
    def of(cls, segments: list[Segment]) -> Quarters:
        end = max((segment.end for segment in segments), default=0.0)

        def quarter(at: float) -> int:
            return min(QUARTERS - 1, int(QUARTERS * at / end)) if end > 0 else 0

        return cls([quarter(s.start) for s in segments], [quarter(s.end) for s in segments])

    def marked(self, turns: list[Turn]) -> str:
        """The turns' lines with a quarter mark before the first turn of each quarter they reach."""
        lines: list[str] = []
        current = -1
        for turn in turns:
            quarter = self.of_segment[turn.segment]
            if quarter != current:
                lines.append(prompts.quarter_mark(quarter))
                current = quarter
            lines.append(turn.line)
        return "\n".join(lines)

    def silent(self, turns: list[Turn], segments_by: dict[int, Owner]) -> dict[Owner, set[int]]:
        """The quarters in which each speaker says nothing in ``turns`` (a turn speaks in every quarter it
        reaches): their trend there is null."""
        spoken: dict[Owner, set[int]] = {owner: set() for owner in Owner}
        for turn in turns:
            owner = segments_by.get(turn.segment)
            if owner is not None:
                spoken[owner].update(
                    range(self.of_segment[turn.segment], self.last_of_segment[turn.segment] + 1)
                )
        return {owner: set(range(QUARTERS)) - quarters for owner, quarters in spoken.items()}


def owners_of(segments: list[Segment]) -> dict[int, Owner]:
    return {i: Owner(s.speaker.value) for i, s in enumerate(segments) if s.speaker.value in Owner.__members__}


def checked_sentiments(answer: Answer, silent: dict[Owner, set[int]]) -> Answer:
    """The answer with null sentiments where the speaker said nothing: no sentiment can be read there. A
    trend's value in each quarter they were silent in, and their overall sentiment when they were silent in
    all four (the customer of a call that is one voice: the model rated a customer who never spoke)."""
    values = dict(answer.values)
    for trend, owner in prompts.TRENDS.items():
        if trend in values:
            values[trend] = [None if q in silent[owner] else v for q, v in enumerate(values[trend])]
    for sentiment, owner in prompts.SPEAKER_SENTIMENTS.items():
        if sentiment in values and len(silent[owner]) == QUARTERS:
            values[sentiment] = None
    return Answer(values=values, problems=answer.problems)
