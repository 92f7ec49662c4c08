"""Turns from words: each word with its speaker (a stereo channel's, or a diarized voice's), merged by time
into the turns of the record."""

from __future__ import annotations

from dataclasses import dataclass

from callsense.calls.schemas import Segment, Speaker, Word
from callsense.speech.repetitions import cut_repetitions

__all__ = ["TURN_PAUSE_SECONDS", "SpokenWord", "turns_from_words"]

# A new turn starts when the same speaker pauses this long, so turns stay readable.
TURN_PAUSE_SECONDS = 2.0


@dataclass(frozen=True)
class SpokenWord:
    """A word and who said it: the channel's speaker, or (mono) whoever diarization assigns it to."""

    start: float
    end: float
    text: str
    probability: float
    speaker: Speaker
    # Who said it: the diarized voice (mono) or the channel (stereo). Two voices of one role (a transfer's
    # second agent) take turns of their own.
    voice: int = 0

    def timed(self) -> Word:
        return Word(
            start=round(self.start, 2),
            end=round(max(self.end, self.start), 2),
            text=self.text,
            probability=round(min(max(self.probability, 0.0), 1.0), 3),
        )


def turns_from_words(words: list[SpokenWord]) -> list[Segment]:
    """Merge both channels' words by time into turns, ended by another speaker or voice, or by a pause."""
    turns: list[Segment] = []
    current: list[SpokenWord] = []

    def close() -> None:
        if current:
            text = cut_repetitions("".join(word.text for word in current).strip())
            confidence = sum(word.probability for word in current) / len(current)
            turns.append(
                Segment(
                    speaker=current[0].speaker,
                    start=round(current[0].start, 2),
                    end=round(current[-1].end, 2),
                    text=text,
                    confidence=round(min(max(confidence, 0.0), 1.0), 3),
                    words=[word.timed() for word in current],
                )
            )
            current.clear()

    for word in sorted(words, key=lambda w: (w.start, w.end)):
        if current and (
            word.speaker is not current[-1].speaker
            or word.voice != current[-1].voice
            or word.start - current[-1].end > TURN_PAUSE_SECONDS
        ):
            close()
        current.append(word)
    close()
    return turns
