"""Cutting a transcript into consecutive pieces that fit an LLM context, without losing a word."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from callsense.calls.schemas import Segment, Speaker

TokenCounter = Callable[[str], int]
# What speech recognisers write for what is not words: "[inaudible]", "(music)", "[BLANK_AUDIO]".
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)")


@dataclass(frozen=True)
class Turn:
    segment: int
    """Index of the segment this text comes from; a turn too long for one chunk is split into several."""
    prefix: str
    """"Agent: ", "Customer: " or "" when the speaker is unknown, as in ``render_transcript``."""
    text: str

    @property
    def line(self) -> str:
        return self.prefix + self.text


@dataclass(frozen=True)
class Chunk:
    turns: list[Turn]
    tokens: int
    """Tokens of the chunk's lines, as the back-end counts them."""

    def text(self) -> str:
        return "\n".join(turn.line for turn in self.turns)


def turns_of(segments: list[Segment]) -> list[Turn]:
    """One turn per segment that has words."""
    return [
        Turn(
            index, "" if s.speaker is Speaker.unknown else f"{s.speaker.value.capitalize()}: ", s.text.strip()
        )
        for index, s in enumerate(segments)
        if s.text.strip()
    ]


def has_words(text: str) -> bool:
    """Whether ``text`` holds a word (a letter or digit, in any script) outside bracketed annotations: a
    transcript of only "[inaudible]", "♪" or "..." gives the LLM nothing to analyse but room to invent."""
    return any(character.isalnum() for character in _ANNOTATION.sub("", text))


def chunk_turns(
    turns: list[Turn], *, budget: int, count: TokenCounter, weight: float = 1.0, per_turn: int = 1
) -> list[Chunk]:
    """Consecutive turns grouped so each group costs at most ``budget``, where a turn of n tokens costs
    ``weight * n + per_turn``. A turn too long on its own is split between words."""
    whole = count("\n".join(turn.line for turn in turns))
    if math.ceil(weight * whole) + per_turn * len(turns) <= budget:
        return [Chunk(turns, whole)]  # the common case, counted with one tokenizer call
    limit = max(1, int((budget - per_turn) / weight))
    chunks: list[Chunk] = []
    current: list[Turn] = []
    used = tokens = 0
    for turn in turns:
        for piece in split_turn(turn, limit=limit, count=count):
            piece_tokens = count(piece.line)
            cost = math.ceil(weight * piece_tokens) + per_turn
            if current and used + cost > budget:
                chunks.append(Chunk(current, tokens))
                current, used, tokens = [], 0, 0
            current.append(piece)
            used += cost
            tokens += piece_tokens
    chunks.append(Chunk(current, tokens))
    return chunks


def split_turn(turn: Turn, *, limit: int, count: TokenCounter) -> list[Turn]:
    """``turn`` cut between words into pieces of at most ``limit`` tokens (a word is never cut)."""
    tokens = count(turn.line)
    words = turn.text.split()
    if tokens <= limit or len(words) < 2:
        return [turn]
    size = math.ceil(len(words) / math.ceil(tokens / limit))
    pieces = [
        replace(turn, text=" ".join(words[start : start + size])) for start in range(0, len(words), size)
    ]
    return [smaller for piece in pieces for smaller in split_turn(piece, limit=limit, count=count)]
