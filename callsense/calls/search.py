"""Full-text search over calls whose text is stored encrypted.

When a transcript or an analysis is stored, its words are also written, as PostgreSQL lexemes without
positions, into ``call_search``: enough to answer "which calls mention a refund", not enough to read a call
back. Transcript words and analysis words (summary, topic) are kept apart so that roles which may not read
transcripts search the analysis only. Each text is indexed twice, stemmed with the English dictionary
(``refunds`` finds ``refund``) and unstemmed (``simple``), so words of other languages match exactly.
``docs/dashboard.md`` weighs this against the alternatives.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, Index, delete, func, or_, select
from sqlalchemy.dialects.postgresql import TSVECTOR, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

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


def _lexemes(text: str) -> ColumnElement[Any]:
    english, simple = (func.strip(func.to_tsvector(config, text)) for config in _CONFIGS)
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


def unindexed_calls(*, session: Session) -> list[uuid.UUID]:
    """Calls with a transcript or an analysis but no search row: stored before the index existed."""
    has_text = Call.transcript.has() | Call.analysis.has()
    indexed = select(CallSearch.call_pk)
    return list(session.scalars(select(Call.id).where(has_text, Call.id.not_in(indexed))))


def matching_calls(words: str, *, include_transcripts: bool) -> ColumnElement[bool]:
    """A condition on ``calls.id``: the call's indexed text matches ``words`` (web search syntax: quoted
    phrases are matched as words, ``-word`` excludes, ``or`` alternates)."""
    columns = [CallSearch.analysis_lexemes]
    if include_transcripts:
        columns.append(CallSearch.transcript_lexemes)
    conditions = [
        column.op("@@")(func.websearch_to_tsquery(config, words)) for column in columns for config in _CONFIGS
    ]
    return Call.id.in_(select(CallSearch.call_pk).where(or_(*conditions)))
