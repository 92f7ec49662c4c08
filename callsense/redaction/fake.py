"""A fake ``Redactor`` for the tests of the stages around redaction: it redacts a given list of words."""

from __future__ import annotations

import re

from callsense.calls.schemas import Segment
from callsense.redaction import RedactedSpan, Redaction
from callsense.redaction.words import core


class FakeRedactor:
    """Redacts every word in ``words`` (case-insensitive, punctuation ignored) as ``entity``."""

    def __init__(self, words: list[str], entity: str = "NAME", checked: list[str] | None = None) -> None:
        self._words = {word.lower() for word in words}
        self._entity = entity
        self._checked = checked if checked is not None else [entity]

    def _hit(self, word: str) -> bool:
        return core(word) in self._words

    def redact_segments(self, segments: list[Segment], *, language: str | None) -> Redaction:
        spans: list[RedactedSpan] = []
        redacted: list[Segment] = []
        for number, segment in enumerate(segments):
            hits = [index for index, word in enumerate(segment.words) if self._hit(word.text)]
            spans += [
                RedactedSpan(
                    number, i, i, segment.words[i].start, segment.words[i].end, segment.speaker, self._entity
                )
                for i in hits
            ]
            if not hits:
                redacted.append(segment)
                continue
            words = [
                word.model_copy(update={"text": f" [{self._entity}]"}) if i in hits else word
                for i, word in enumerate(segment.words)
            ]
            text = "".join(word.text for word in words).strip()
            redacted.append(segment.model_copy(update={"text": text, "words": words}))
        return Redaction(segments=redacted, spans=spans, checked=list(self._checked))

    def redact_text(self, text: str, *, language: str | None) -> str:
        return re.sub(r"\S+", lambda m: f"[{self._entity}]" if self._hit(m.group()) else m.group(), text)
