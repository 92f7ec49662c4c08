"""Which calls: the filters of the API's call list and of the dashboard's list and insights, as SQL."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    SQLColumnExpression,
    Subquery,
    Text,
    and_,
    cast,
    exists,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.orm import aliased

from callsense.calls import search
from callsense.calls.models import Call, CallCategory
from callsense.calls.schemas import CallStatus, Sentiment
from callsense.errors import PermanentError


class OutcomeFilter(StrEnum):
    """Calls whose outcome says so; a call whose analysis left the flag unknown matches none of them."""

    resolved = "resolved"
    unresolved = "unresolved"
    callback_needed = "callback_needed"
    escalated = "escalated"


_OUTCOME_CONDITIONS: dict[OutcomeFilter, ColumnElement[bool]] = {
    OutcomeFilter.resolved: Call.resolved.is_(True),
    OutcomeFilter.unresolved: Call.resolved.is_(False),
    OutcomeFilter.callback_needed: Call.callback_needed.is_(True),
    OutcomeFilter.escalated: Call.escalated.is_(True),
}

call_time = func.coalesce(Call.started_at, Call.created_at)  # when it was made, or else when it reached us
# Its day in UTC, which Insights counts by. 'UTC' written into the SQL, not bound: the planner then matches
# the expression to its statistics (schema 0016), which tell it a period has tens of days, not a day a call.
call_day = cast(func.timezone(literal_column("'UTC'"), call_time), Date)
# Talk figures (columns kept from the clear ``talk`` JSON); NULL for calls without them (or without known
# speakers).
non_talk_seconds = Call.non_talk_seconds
agent_share = Call.agent_talk_share
interruptions = Call.interruptions


def folded_agent(name: SQLColumnExpression[str | None]) -> ColumnElement[str | None]:
    """An agent's name as the filter compares it: "jane doe " is "Jane Doe"."""
    return func.lower(func.btrim(name))


def agent_spellings(where: list[ColumnElement[bool]], *sums: ColumnElement[Any]) -> Subquery:
    """The agents' names as stored (``agent``), each with its ``calls`` and ``sums`` (labelled), of the calls
    ``where`` selects: what ``by_agent`` puts together per agent. Grouped as stored, on the column's index:
    trimming every call's name first took the filter menu's agents from 12 to 50 ms at 100 000 calls."""
    return (
        select(Call.agent.label("agent"), func.count().label("calls"), *sums)
        .where(*where, Call.agent.is_not(None))
        .group_by(Call.agent)
        .subquery()
    )


def by_agent(
    spellings: Subquery,
) -> tuple[ColumnElement[str | None], ColumnElement[str], ColumnElement[bool]]:
    """Of ``agent_spellings``: the agent as the filter compares it, to group by; the name to show for it, its
    most common spelling without the spaces around it (of as common ones, the first in code point order:
    "Jane Doe" before "jane doe", whatever the collation); and whether it is an agent at all, to keep by
    (``having``): a name of spaces alone is not, the filter takes it for none."""
    spelt = func.btrim(spellings.c.agent)
    ordered = aggregate_order_by(spelt, spellings.c.calls.desc(), spelt.collate("C"))
    # An aggregate, for ``having``: a condition on the name itself, PostgreSQL would push down to every call.
    named = func.bool_or(spelt != "")
    return folded_agent(spellings.c.agent), func.array_agg(ordered, type_=ARRAY(Text))[1], named


# The index ix_calls_agent_folded (schema 0017) is on this very expression, so a filter on one agent reads
# only that agent's calls.
agent_folded = folded_agent(Call.agent)


@dataclass(frozen=True)
class CallCriteria:
    """What the calls are narrowed to; a field left at None does not narrow them."""

    statuses: tuple[CallStatus, ...] = ()  # in any of them; () does not narrow
    since: datetime | None = None  # at or after
    until: datetime | None = None  # before
    language: str | None = None  # Whisper's code, in any case
    topic: str | None = None  # words the topic contains: a taxonomy label, or words of older free-text topics
    # The taxonomy's labels (analysis.topics): a topic filter that is one of them leaves out the other labels
    # that contain it ("Billing" is not "Billing dispute").
    topic_labels: frozenset[str] = frozenset()
    sentiment: Sentiment | None = None
    outcome: OutcomeFilter | None = None
    agent: str | None = None  # the agent's name, ignoring case and the spaces around it
    text: str | None = None  # full-text search
    non_talk_above: float | None = None  # seconds of non-talk time, exclusive
    interruptions_above: int | None = None  # both speakers' interruptions, exclusive
    category: str | None = None  # calls in this category (its name, ignoring case)


def _containing(words: str) -> str:
    """An ILIKE pattern for ``words`` anywhere, its own ``%``, ``_`` and backslashes taken literally."""
    return "%" + re.sub(r"([%_\\])", r"\\\1", words) + "%"


def _topic(words: str, labels: frozenset[str]) -> list[ColumnElement[bool]]:
    """Topics containing ``words``; when they are a taxonomy label, not the other labels that contain them,
    which Insights counts apart (older free-text topics with the words are still found)."""
    found: list[ColumnElement[bool]] = [Call.topic.ilike(_containing(words))]
    folded = words.casefold()
    if folded in {label.casefold() for label in labels}:
        others = [label for label in labels if folded in label.casefold() and label.casefold() != folded]
        if others:
            found.append(Call.topic.not_in(others))
    return found


def _typed(value: str | None) -> str | None:
    """A typed filter as compared: without the spaces around it (" Billing" is "Billing"); None when blank.
    The dashboard's form strips them; an API client's query string may not."""
    return (value or "").strip() or None


def conditions(*, criteria: CallCriteria, include_transcripts: bool) -> list[ColumnElement[bool]]:
    """The ``where`` clauses; the text search reaches transcripts only with ``include_transcripts``."""
    found: list[ColumnElement[bool]] = []
    language, topic, agent, category, words = map(
        _typed, (criteria.language, criteria.topic, criteria.agent, criteria.category, criteria.text)
    )
    if criteria.statuses:
        found.append(Call.status.in_([status.value for status in criteria.statuses]))
    if criteria.since is not None:
        found.append(call_time >= criteria.since)
    if criteria.until is not None:
        found.append(call_time < criteria.until)
    if language:
        found.append(Call.language == language.lower())  # Whisper's codes are lower case: "EN" is "en"
    if topic:
        found.extend(_topic(topic, criteria.topic_labels))
    if criteria.sentiment is not None:
        found.append(Call.sentiment == criteria.sentiment.value)
    if criteria.outcome is not None:
        found.append(_OUTCOME_CONDITIONS[criteria.outcome])
    if agent:
        found.append(agent_folded == func.lower(agent))
    if criteria.non_talk_above is not None:
        found.append(non_talk_seconds > criteria.non_talk_above)
    if criteria.interruptions_above is not None:
        found.append(interruptions > criteria.interruptions_above)
    if category:
        # Names are unique ignoring case (as categories.save compares them): "long hold" is "Long hold".
        # An alias: a query of call_categories joined to calls (Insights' categories chart) would otherwise
        # correlate both tables out of the subquery, leaving it no FROM.
        tagged = aliased(CallCategory)
        named = func.lower(tagged.category) == func.lower(category)
        found.append(exists().where(tagged.call_pk == Call.id, named))
    if words:
        found.append(search.matching_calls(words, include_transcripts=include_transcripts))
    return found


def encode_cursor(value: Any, row_id: uuid.UUID) -> str:
    """Where a list stopped: the last row's sort value and id, not its place, so rows that arrive or go
    before it do not move the next page (the dashboard's pages of calls; the API's of calls, deliveries)."""
    shown = value.isoformat() if isinstance(value, datetime) else value
    return base64.urlsafe_b64encode(json.dumps([shown, str(row_id)]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, parse: Callable[[Any], Any]) -> tuple[Any, uuid.UUID] | None:
    """The sort value (read by ``parse``) and row id of ``encode_cursor``; None for none or a mangled one."""
    if not cursor:
        return None
    try:
        value, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return parse(value), uuid.UUID(str(row_id))  # str: uuid.UUID(5) raises AttributeError
    except (ValueError, TypeError, OverflowError):
        return None


def newest_first_after(
    cursor: str, *, at: SQLColumnExpression[datetime], row_id: SQLColumnExpression[uuid.UUID], listed: str
) -> ColumnElement[bool]:
    """The rows a list ordered by ``at`` newest first, then by ``row_id``, shows after the row ``cursor`` was
    made from; a cursor no page of ``listed`` gave is refused (422)."""
    decoded = decode_cursor(cursor, datetime.fromisoformat)
    if decoded is None:
        raise PermanentError(f"the cursor is not one a page of {listed} gave (next_cursor)")
    after_at, after_id = decoded
    return or_(at < after_at, and_(at == after_at, row_id > after_id))


def cursor_of(call: Call) -> str:
    """The cursor after ``call`` in a list ordered newest first (by ``call_time``, then id)."""
    return encode_cursor(call.started_at or call.created_at, call.id)


def listed_after(cursor: str) -> ColumnElement[bool]:
    """The calls a list ordered as ``cursor_of`` says shows after the call the cursor was made from."""
    return newest_first_after(cursor, at=call_time, row_id=Call.id, listed="calls")
