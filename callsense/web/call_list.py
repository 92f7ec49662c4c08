"""The call list: sorting and keyset pagination that stay fast at any depth, and the CRM state per row.

A page is asked for by a cursor (the sort key and id of the row it starts after or ends before) rather than
an offset, so page 2,000 costs what page 1 costs: an index range scan of ``page_size`` rows.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from callsense.calls import queries, views
from callsense.calls.deliveries import DeliveryStatus
from callsense.calls.models import Call, Delivery
from callsense.web.filters import CallFilters

PAGE_SIZE = 50


def _float(value: Any) -> float:
    return float(value)


def _text(value: Any) -> str:
    return str(value)


# Sort keys never NULL, so that a (key, id) row comparison is always defined.
SORTS: dict[str, tuple[ColumnElement[Any], Callable[[Any], Any]]] = {
    "time": (queries.call_time, datetime.fromisoformat),
    "duration": (func.coalesce(Call.duration_s, -1.0), _float),
    "agent": (func.coalesce(Call.agent, ""), _text),
    "language": (func.coalesce(Call.language, ""), _text),
    "topic": (func.coalesce(Call.topic, ""), _text),
    "sentiment": (func.coalesce(Call.sentiment, ""), _text),
    "status": (func.coalesce(Call.status, ""), _text),
}


@dataclass(frozen=True)
class Row:
    call: views.CallSummary
    deliveries: dict[str, int]  # delivery status -> how many destinations are in it

    @property
    def delivery_state(self) -> str | None:
        """The state worth a supervisor's attention first: dead, then pending, delivered, skipped."""
        for state in (
            DeliveryStatus.dead,
            DeliveryStatus.pending,
            DeliveryStatus.delivered,
            DeliveryStatus.skipped,
        ):
            if self.deliveries.get(state):
                return state
        return None


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    total: int
    next_cursor: str | None
    previous_cursor: str | None


def fetch_page(
    *,
    session: Session,
    filters: CallFilters,
    include_transcripts: bool,
    sort: str = "time",
    descending: bool = True,
    after: str | None = None,
    before: str | None = None,
    page_size: int = PAGE_SIZE,
) -> Page:
    key, parse = SORTS.get(sort, SORTS["time"])
    conditions = queries.conditions(criteria=filters.criteria(), include_transcripts=include_transcripts)
    query = select(Call, key.label("sort_key")).where(*conditions)
    start_after, end_before = queries.decode_cursor(after, parse), queries.decode_cursor(before, parse)
    backwards = end_before is not None and start_after is None
    boundary = end_before if backwards else start_after
    if boundary is not None:
        position = tuple_(key, Call.id)
        # Forward in a descending list means smaller keys; paging backwards flips the comparison.
        query = query.where(position < boundary if descending != backwards else position > boundary)
    order_descending = descending != backwards
    order = [key.desc(), Call.id.desc()] if order_descending else [key.asc(), Call.id.asc()]
    fetched = list(session.execute(query.order_by(*order).limit(page_size + 1)).all())
    more = len(fetched) > page_size
    fetched = fetched[:page_size]
    if backwards:
        fetched.reverse()
    total = session.scalar(select(func.count()).select_from(Call).where(*conditions)) or 0
    calls = [row[0] for row in fetched]
    states = _delivery_states(session, [call.id for call in calls])
    summaries = views.summaries(session=session, calls=calls)
    rows = [
        Row(call=summary, deliveries=states.get(call.id, {}))
        for call, summary in zip(calls, summaries, strict=True)
    ]
    first, last = (fetched[0], fetched[-1]) if fetched else (None, None)
    has_next = more if not backwards else True
    has_previous = (boundary is not None) if not backwards else more
    return Page(
        rows=rows,
        total=total,
        next_cursor=queries.encode_cursor(last[1], last[0].id) if last is not None and has_next else None,
        previous_cursor=(
            queries.encode_cursor(first[1], first[0].id) if first is not None and has_previous else None
        ),
    )


def _delivery_states(session: Session, call_pks: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
    if not call_pks:
        return {}
    found: dict[uuid.UUID, dict[str, int]] = {}
    query = (
        select(Delivery.call_pk, Delivery.status, func.count())
        .where(Delivery.call_pk.in_(call_pks))
        .group_by(Delivery.call_pk, Delivery.status)
    )
    for call_pk, state, count in session.execute(query):
        found.setdefault(call_pk, {})[state] = count
    return found


@dataclass(frozen=True)
class FilterChoices:
    languages: list[str]
    agents: list[str]
    topics: list[str]


_CHOICES_TTL_S = 60.0
_choices_cache: dict[str, tuple[float, FilterChoices]] = {}


def filter_choices(*, session: Session, cache_key: str) -> FilterChoices:
    """Values offered in the filter menus. Each is a scan of the calls, so they are cached for a minute
    per database (``cache_key``): a new agent shows up in the menu a little late, never wrongly."""
    cached = _choices_cache.get(cache_key)
    if cached is not None and time.monotonic() - cached[0] < _CHOICES_TTL_S:
        return cached[1]

    def most_common(column: InstrumentedAttribute[str | None], limit: int) -> list[str]:
        query = (
            select(column)
            .where(column.is_not(None))
            .group_by(column)
            .order_by(func.count().desc())
            .limit(limit)
        )
        return sorted(str(value) for value in session.scalars(query))

    choices = FilterChoices(
        languages=most_common(Call.language, 50),
        agents=_agents(session, 500),
        topics=most_common(Call.topic, 100),
    )
    _choices_cache[cache_key] = (time.monotonic(), choices)
    return choices


def _agents(session: Session, limit: int) -> list[str]:
    """The agents with the most calls, each once, in its most common spelling: the filter takes "Jane Doe"
    and "jane doe " for one agent, whose calls either spelling lists."""
    spelling = queries.agent_spellings([])
    agent, shown, named = queries.by_agent(spelling)
    query = (
        select(shown).group_by(agent).having(named).order_by(func.sum(spelling.c.calls).desc()).limit(limit)
    )
    return sorted(session.scalars(query))
