"""Full-text search over calls whose text is stored encrypted.

When a transcript or an analysis is stored, its words are also written, as PostgreSQL lexemes without
positions, into ``call_search``: enough to answer "which calls mention a refund", not enough to read a call
back. Transcript words and analysis words (summary, topic) are kept apart so that roles which may not read
transcripts search the analysis only. Each text is indexed twice, stemmed with the English dictionary
(``refunds`` finds ``refund``) and unstemmed (``simple``), so words of other languages match as written.
Text and searches are folded first (``textmatch``: accents, Arabic and Hebrew vowel marks), and an Arabic word
with the article joined to it is indexed also without it. PostgreSQL's
parser splits words at spaces, so a run of Chinese, Japanese or Thai would be one lexeme; such runs are
indexed as their characters and each pair of neighbours (bigrams, as Lucene's CJK analyzer does), and a
search for "返金" looks for the pair "返金". Korean is indexed the same way: it joins a word's particles to it
("환불을"), so a word is rarely a whole spaced unit.
``docs/dashboard.md`` weighs this against the alternatives.
"""

from __future__ import annotations

import functools
import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import regex
from sqlalchemy import ColumnElement, ForeignKey, Index, and_, delete, false, func, not_, or_, select
from sqlalchemy.dialects.postgresql import TSVECTOR, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from callsense.calls import textmatch
from callsense.calls.models import Base, Call

_CONFIGS = ("english", "simple")


class CallSearch(Base):
    __tablename__ = "call_search"
    __table_args__ = (
        Index("ix_call_search_transcript", "transcript_lexemes", postgresql_using="gin"),
        Index("ix_call_search_analysis", "analysis_lexemes", postgresql_using="gin"),
    )

    call_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    transcript_lexemes: Mapped[Any] = mapped_column(TSVECTOR, nullable=True)  # transcript, translation
    analysis_lexemes: Mapped[Any] = mapped_column(TSVECTOR, nullable=True)  # summary and topic


_RUN = regex.compile(rf"(?:{textmatch.BY_CHARACTER}\p{{M}}*)+")


def _pairs(run: str) -> list[str]:
    characters = textmatch.words(run)  # a run of an unspaced script or Korean: one unit per character
    return [a + b for a, b in itertools.pairwise(characters)] or characters


def _indexed_text(text: str) -> str:
    """What is indexed: the folded text, each unspaced run as its characters and its pairs, and its Arabic
    words with an article also without it."""

    def characters_and_pairs(run: regex.Match[str]) -> str:
        return f" {' '.join(textmatch.words(run[0]) + _pairs(run[0]))} "

    folded = textmatch.fold(text)
    bare = textmatch.without_article(folded)
    indexed: str = _RUN.sub(characters_and_pairs, folded if bare == folded else f"{folded}\n{bare}")
    return indexed


def _searched_text(term: str) -> str:
    """One search term as the index holds it: folded, each unspaced run as its pairs, an Arabic word without
    its article (the index holds each word with an article both ways, so either finds it)."""

    def pairs(run: regex.Match[str]) -> str:
        return f" {' '.join(_pairs(run[0]))} "

    searched: str = _RUN.sub(pairs, textmatch.without_article(textmatch.fold(term)))
    return searched


def _lexemes(text: str) -> ColumnElement[Any]:
    indexed = _indexed_text(text)
    english, simple = (func.strip(func.to_tsvector(config, indexed)) for config in _CONFIGS)
    return english.op("||")(simple)


def index_transcript(*, session: Session, call_pk: uuid.UUID, texts: list[str], append: bool = False) -> None:
    """Replace (or with ``append``, extend) the transcript words of a call."""
    lexemes = _lexemes("\n".join(texts))
    statement = insert(CallSearch).values(call_pk=call_pk, transcript_lexemes=lexemes)
    update: dict[str, Any]
    if append:
        current = func.coalesce(CallSearch.transcript_lexemes, func.to_tsvector("simple", ""))
        update = {"transcript_lexemes": current.op("||")(statement.excluded.transcript_lexemes)}
    else:
        update = {"transcript_lexemes": statement.excluded.transcript_lexemes}
    session.flush()  # the call row must exist before the index row that refers to it
    session.execute(statement.on_conflict_do_update(index_elements=[CallSearch.call_pk], set_=update))


def index_analysis(*, session: Session, call_pk: uuid.UUID, texts: list[str]) -> None:
    statement = insert(CallSearch).values(call_pk=call_pk, analysis_lexemes=_lexemes("\n".join(texts)))
    session.flush()
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[CallSearch.call_pk],
            set_={"analysis_lexemes": statement.excluded.analysis_lexemes},
        )
    )


def forget(*, session: Session, call_pk: uuid.UUID) -> None:
    """Drop a call's words, with the transcript and analysis they came from."""
    session.execute(delete(CallSearch).where(CallSearch.call_pk == call_pk))


def calls_to_index(*, session: Session, again: bool = False) -> list[uuid.UUID]:
    """Calls with a transcript or an analysis but no search row (stored before the index existed), or with
    ``again`` every call with text (indexed by an earlier version, which indexed words differently)."""
    has_text = Call.transcript.has() | Call.analysis.has()
    statement = select(Call.id).where(has_text)
    if not again:
        statement = statement.where(Call.id.not_in(select(CallSearch.call_pk)))
    return list(session.scalars(statement))


@dataclass(frozen=True)
class _Term:
    text: str
    excluded: bool


# A quoted phrase (possibly excluded, possibly unclosed) or a bare word.
_TOKEN = regex.compile(r'(-?)"([^"]*)"?|(\S+)')


def _parsed(words: str) -> list[list[_Term]]:
    """Web search syntax as groups that must all match, each of alternatives joined by ``or``: ``a b or -c``
    is ``a`` and (``b`` or not ``c``), as PostgreSQL's ``websearch_to_tsquery`` reads it. A phrase is one
    term of its words, as the index has no positions to check their order."""
    groups: list[list[_Term]] = []
    alternative = False
    for match in _TOKEN.finditer(words):
        minus, phrase, bare = match.groups()
        if bare is not None and bare.casefold() == "or" and groups:
            alternative = True
            continue
        if bare is not None:
            minus, phrase = ("-", bare[1:]) if bare.startswith("-") else ("", bare)
        if not regex.search(r"\w", phrase):
            continue  # punctuation alone matches nothing and excludes nothing
        term = _Term(text=phrase, excluded=minus == "-")
        if alternative:
            groups[-1].append(term)
        else:
            groups.append([term])
        alternative = False
    return groups


def _found(term: _Term, columns: list[Any]) -> ColumnElement[bool]:
    """Whether any of the columns holds the term, under every reading of it: stemmed and as written, folded
    and as typed (calls indexed before folding hold "perché", not "perche"). An excluded term leaves out a
    call if any reading is in any column, so "refund -charges" leaves out a call that said "charged"."""
    readings: list[ColumnElement[Any]] = [
        func.plainto_tsquery(config, reading)
        for config in _CONFIGS
        for reading in dict.fromkeys((_searched_text(term.text), term.text))
    ]
    query = functools.reduce(lambda either, other: either.op("||")(other), readings)
    held = or_(*(column.op("@@", is_comparison=True)(query) for column in columns))
    # A column without text is NULL, and NOT NULL would drop the call: count it as not holding the term.
    return not_(func.coalesce(held, False)) if term.excluded else held


def matching_calls(words: str, *, include_transcripts: bool) -> ColumnElement[bool]:
    """A condition on ``calls.id``: the call's indexed text, all its columns together, matches ``words``
    (web search syntax: quoted phrases are matched as words, ``-word`` excludes, ``or`` alternates)."""
    columns: list[Any] = [CallSearch.analysis_lexemes]
    if include_transcripts:
        columns.append(CallSearch.transcript_lexemes)
    groups = _parsed(words)
    if not groups:
        return false()
    matched = and_(*(or_(*(_found(term, columns) for term in group)) for group in groups))
    return Call.id.in_(select(CallSearch.call_pk).where(matched))
