"""Full-text search over calls whose text is stored encrypted.

When a transcript or an analysis is stored, its words are also written, as PostgreSQL lexemes without
positions, into ``call_search``: enough to answer "which calls mention a refund", not enough to read a call
back. Transcript words and analysis words (summary, topic) are kept apart so that roles which may not read
transcripts search the analysis only. Each text is indexed twice, stemmed with the English dictionary
(``refunds`` finds ``refund``) and unstemmed (``simple``), so words of other languages match as written.
Text and searches are folded first (``textmatch``: accents, Arabic and Hebrew vowel marks). PostgreSQL's
parser splits words at spaces, so a run of Chinese, Japanese or Thai would be one lexeme; such runs are
indexed as their characters and each pair of neighbours (bigrams, as Lucene's CJK analyzer does), and a
search for "返金" looks for the pair "返金".
``docs/dashboard.md`` weighs this against the alternatives.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import regex
from sqlalchemy import ColumnElement, ForeignKey, Index, delete, func, or_, select
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


_EXCLUSION = regex.compile(r"(?:^|\s)-\w")
_RUN = regex.compile(rf"(?:{textmatch.UNSPACED}\p{{M}}*)+")


def _pairs(run: str) -> list[str]:
    characters = textmatch.words(run)  # a run of an unspaced script: one unit per character
    return [a + b for a, b in itertools.pairwise(characters)] or characters


def _indexed_text(text: str) -> str:
    """What is indexed: the folded text, each unspaced run as its characters and its pairs."""

    def characters_and_pairs(run: regex.Match[str]) -> str:
        return f" {' '.join(textmatch.words(run[0]) + _pairs(run[0]))} "

    indexed: str = _RUN.sub(characters_and_pairs, textmatch.fold(text))
    return indexed


def _searched_text(words: str) -> str:
    """A search as the index holds it; quotes dropped, as phrases cannot match lexemes without positions."""

    def pairs(run: regex.Match[str]) -> str:
        before = run.string[run.start() - 1] if run.start() else " "
        # "-お願い" excludes each of its pairs: "-お願 -願い", not "-お願 願い", which would require one
        return ("" if before in " -" else " ") + (" -" if before == "-" else " ").join(_pairs(run[0])) + " "

    searched: str = _RUN.sub(pairs, textmatch.fold(words.replace('"', " ")))
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


def matching_calls(words: str, *, include_transcripts: bool) -> ColumnElement[bool]:
    """A condition on ``calls.id``: the call's indexed text matches ``words`` (web search syntax: quoted
    phrases are matched as words, ``-word`` excludes, ``or`` alternates)."""
    columns = [CallSearch.analysis_lexemes]
    if include_transcripts:
        columns.append(CallSearch.transcript_lexemes)
    searches = [_searched_text(words)]
    # The words as typed too, as calls indexed before folding hold "perché", not "perche"; not with an
    # exclusion, which the other reading would undo ("返金 -お願いします" typed matches a call with "お願").
    if not _EXCLUSION.search(words):
        searches.append(words.replace('"', " "))
    conditions = [
        column.op("@@")(func.websearch_to_tsquery(config, search))
        for column in columns
        for config in _CONFIGS
        for search in searches
    ]
    return Call.id.in_(select(CallSearch.call_pk).where(or_(*conditions)))
