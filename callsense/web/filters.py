"""The filters of the call list and the insights: parsed from a page's query string, leniently."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from callsense.calls import queries
from callsense.calls.schemas import CallStatus, Sentiment


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _choice(value: str | None, allowed: set[str]) -> str | None:
    return value if value in allowed else None


def _at_least_zero(value: str | None, kind: type[int] | type[float]) -> Any:
    """A non-negative finite number of ``kind``, or None for anything else."""
    try:
        number = kind(value) if value else None
    except (ValueError, OverflowError):
        return None
    return number if number is not None and 0 <= number < 1e9 else None


def _text(value: str | None, limit: int) -> str | None:
    # PostgreSQL text cannot hold NUL: a "%00" in a link would be a database error, not a filter.
    value = (value or "").replace("\x00", "").strip()[:limit]
    return value or None


@dataclass(frozen=True)
class CallFilters:
    """What a person narrowed the calls to. Unknown or malformed values are dropped, never an error page."""

    since: date | None = None  # first day included
    until: date | None = None  # last day included
    language: str | None = None
    topic: str | None = None  # words the topic contains
    sentiment: str | None = None
    outcome: str | None = None
    agent: str | None = None
    status: str | None = None
    q: str | None = None  # full-text search
    non_talk_above: float | None = None  # seconds
    interruptions_above: int | None = None
    category: str | None = None
    # Not a filter: the taxonomy's labels, which a topic filter that is one of them reads (queries.py).
    topic_labels: frozenset[str] = field(default=frozenset(), repr=False)

    @classmethod
    def parse(cls, params: Any, *, topic_labels: frozenset[str] = frozenset()) -> CallFilters:
        return cls(
            since=_day(params.get("since")),
            until=_day(params.get("until")),
            language=_text(params.get("language"), 16),
            topic=_text(params.get("topic"), 100),
            sentiment=_choice(params.get("sentiment"), {s.value for s in Sentiment}),
            outcome=_choice(params.get("outcome"), {o.value for o in queries.OutcomeFilter}),
            agent=_text(params.get("agent"), 200),
            status=_choice(params.get("status"), {s.value for s in CallStatus}),
            q=_text(params.get("q"), 200),
            non_talk_above=_at_least_zero(params.get("non_talk_above"), float),
            interruptions_above=_at_least_zero(params.get("interruptions_above"), int),
            category=_text(params.get("category"), 60),
            topic_labels=topic_labels,
        )

    @property
    def period_problem(self) -> str | None:
        """What is wrong with the chosen days, said beside the filters: a backward period matches no call."""
        if self.since and self.until and self.since > self.until:
            return "The From date is after the To date, so no call can match: swap them or clear one."
        return None

    def with_default_period(self, days: int) -> CallFilters:
        """The last ``days`` days when no period was chosen (the insights need a bounded period)."""
        if self.since or self.until:
            return self
        today = datetime.now(UTC).date()
        return replace(self, since=today - timedelta(days=days - 1), until=today)

    def query_string(self, **extra: str) -> str:
        pairs = {k: str(v) for k, v in asdict(self).items() if v is not None and k != "topic_labels"}
        pairs.update({k: v for k, v in extra.items() if v})
        return urlencode(pairs)

    def criteria(self) -> queries.CallCriteria:
        """The calls these filters select, the chosen days taken whole (UTC)."""
        return queries.CallCriteria(
            statuses=(CallStatus(self.status),) if self.status else (),
            since=datetime.combine(self.since, time.min, tzinfo=UTC) if self.since else None,
            # The day after the last one, where the period ends; the last day a date can be has none.
            until=datetime.combine(self.until + timedelta(days=1), time.min, tzinfo=UTC)
            if self.until and self.until < date.max
            else None,
            language=self.language,
            topic=self.topic,
            topic_labels=self.topic_labels,
            sentiment=Sentiment(self.sentiment) if self.sentiment else None,
            outcome=queries.OutcomeFilter(self.outcome) if self.outcome else None,
            agent=self.agent,
            text=self.q,
            non_talk_above=self.non_talk_above,
            interruptions_above=self.interruptions_above,
            category=self.category,
        )
