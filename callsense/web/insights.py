"""Aggregates for the insights page. Each chart is a ``Table`` so that the page draws it and the CSV
download writes exactly the same numbers."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import ColumnElement, Numeric, cast, distinct, exists, func, select
from sqlalchemy.orm import Session

from callsense.calls import queries
from callsense.calls.models import Analysis, Call, CallCategory
from callsense.calls.schemas import Outcome, Sentiment
from callsense.web.filters import CallFilters

TOP_TOPICS = 15  # the default taxonomy's 13 labels, and a couple of older free-text topics
TOP_AGENTS = 15
TOP_CATEGORIES = 8
MAX_FILLED_DAYS = 3660  # a period longer than ten years is charted only where it has calls
SENTIMENTS = [s.value for s in Sentiment]


@dataclass(frozen=True)
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]

    def plain_rows(self) -> list[list[Any]]:
        """Rows with dates as ISO strings: what the CSV and the page's chart data hold."""
        return [[_cell(value) for value in row] for row in self.rows]

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)  # RFC 4180 line ends (CRLF): a carriage return in a cell is quoted too
        writer.writerow(self.columns)
        writer.writerows([[_inert(value) for value in row] for row in self.plain_rows()])
        return out.getvalue()


def _cell(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


# A spreadsheet runs a cell that starts with one of these as a formula, and a topic is the LLM's reading of
# what the caller said: "=HYPERLINK(...)" must arrive as text. OWASP's advice: prefix the cell with a quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_STARTS) else value


@dataclass(frozen=True)
class Summary:
    calls: int
    average_duration_s: float | None
    negative_share: float | None  # of the calls with a sentiment
    resolved_share: float | None  # of the calls whose analysis says whether they were resolved
    languages: int  # languages spoken: a call without one (never transcribed) is not a language


CHARTS = (
    "calls_per_day",
    "sentiment_trend",
    "topics",
    "topic_sentiment",
    "outcomes",
    "languages",
    "duration",
    "talk_per_agent",
    "categories",
)
_OUTCOME_COLUMNS = {name: getattr(Call, name) for name in Outcome.model_fields}
# What an empty chart says when the period has calls (with none it says so): "No calls in this period"
# under the KPI "Calls 120" sent an analyst looking for lost calls when none had, say, an agent's name.
_TOPICLESS = "None of these calls has a topic yet (not analysed, or analysed without one)."
EMPTY_WITH_CALLS = {
    "topics": _TOPICLESS,
    "topic_sentiment": _TOPICLESS,
    "outcomes": "None of these calls is analysed yet.",
    "duration": "None of these calls has a duration yet.",
    "talk_per_agent": "None of these calls has both an agent's name and talk figures.",
    "categories": "None of these calls is in a category.",
}


def summary(*, session: Session, filters: CallFilters, include_transcripts: bool) -> Summary:
    where = queries.conditions(criteria=filters.criteria(), include_transcripts=include_transcripts)
    calls, average, negative, rated, resolved, judged, languages = session.execute(
        select(
            func.count(),
            func.avg(Call.duration_s),
            func.count().filter(Call.sentiment == Sentiment.negative.value),
            func.count(Call.sentiment),
            func.count().filter(Call.resolved.is_(True)),
            func.count(Call.resolved),
            func.count(distinct(Call.language)),
        ).where(*where)
    ).one()
    return Summary(
        calls=calls,
        average_duration_s=float(average) if average is not None else None,
        negative_share=negative / rated if rated else None,
        resolved_share=resolved / judged if judged else None,
        languages=languages,
    )


class _Period:
    """The calls the filters select, with the counts that several charts share: per day (calls, sentiments,
    average duration) and per topic (calls, sentiments), each read in one pass the first time a chart asks,
    so that the page reads the period twice where its five charts read it five times."""

    def __init__(self, session: Session, filters: CallFilters, include_transcripts: bool) -> None:
        self.session = session
        self.filters = filters
        self.where = queries.conditions(criteria=filters.criteria(), include_transcripts=include_transcripts)
        self.day = queries.call_day

    @cached_property
    def per_day(self) -> list[list[Any]]:
        """Each day's [day, calls, *calls per sentiment, average duration (None: no call has one)]."""
        average = func.round(cast(func.avg(Call.duration_s), Numeric), 1)
        query = (
            select(self.day, func.count(), *_per_sentiment(), average)
            .where(*self.where)
            .group_by(self.day)
            .order_by(self.day)
        )
        return [list(row) for row in self.session.execute(query)]

    @cached_property
    def per_topic(self) -> list[list[Any]]:
        """The most common topics' [topic, calls, *calls per sentiment], most calls first."""
        query = (
            select(Call.topic, func.count(), *_per_sentiment())
            .where(*self.where, Call.topic.is_not(None))
            .group_by(Call.topic)
            .order_by(func.count().desc(), Call.topic)
            .limit(TOP_TOPICS)
        )
        return [list(row) for row in self.session.execute(query)]


def _per_sentiment() -> list[ColumnElement[int]]:
    return [func.count().filter(Call.sentiment == value) for value in SENTIMENTS]


def chart(name: str, *, session: Session, filters: CallFilters, include_transcripts: bool) -> Table:
    """One chart's table; ``name`` is one of ``CHARTS``."""
    return _chart(name, _Period(session, filters, include_transcripts))


def charts(*, session: Session, filters: CallFilters, include_transcripts: bool) -> dict[str, Table]:
    """Every chart's table, by name, the counts they share read once."""
    period = _Period(session, filters, include_transcripts)
    return {name: _chart(name, period) for name in CHARTS}


def _chart(name: str, period: _Period) -> Table:
    session, filters, where = period.session, period.filters, period.where
    sentiments = slice(2, 2 + len(SENTIMENTS))
    if name == "calls_per_day":
        rows = _every_day([row[:2] for row in period.per_day], filters, width=1)
        return Table("Calls per day", ["day", "calls"], rows)
    if name == "sentiment_trend":
        found = [[row[0], *row[sentiments]] for row in period.per_day]
        rows = _every_day(found, filters, width=len(SENTIMENTS))
        return Table("Sentiment per day", ["day", *SENTIMENTS], rows)
    if name == "topics":
        return Table("Top topics", ["topic", "calls"], [row[:2] for row in period.per_topic])
    if name == "topic_sentiment":
        rows = [[row[0], *row[sentiments]] for row in period.per_topic]
        return Table("Sentiment by topic", ["topic", *SENTIMENTS], rows)
    if name == "outcomes":
        return _outcomes(session, where)
    if name == "languages":
        language = func.coalesce(Call.language, "unknown")
        query = select(language, func.count()).where(*where).group_by(language).order_by(func.count().desc())
        return Table("Language mix", ["language", "calls"], [list(r) for r in session.execute(query)])
    if name == "duration":
        rows = [[row[0], float(row[-1])] for row in period.per_day if row[-1] is not None]
        return Table("Average duration per day (seconds)", ["day", "average_seconds"], rows)
    if name == "talk_per_agent":
        return _talk_per_agent(session, where)
    if name == "categories":
        return _categories_per_day(session, where, filters, period.day)
    raise KeyError(name)


def _outcomes(session: Session, where: list[ColumnElement[bool]]) -> Table:
    """Each outcome flag of the analysed calls: yes, no or not said, every flag counted in one pass over the
    calls (a query per flag read the period three times)."""
    # Of the analysed calls: one that failed or waits for its analysis is no "not said".
    analysed = exists().where(Analysis.call_pk == Call.id)
    answers = (True, False, None)
    counts = [
        func.count().filter(column.is_(answer)) for column in _OUTCOME_COLUMNS.values() for answer in answers
    ]
    found = list(session.execute(select(*counts).where(*where, analysed)).one())
    rows = [
        [flag.replace("_", " ").capitalize(), *found[index * len(answers) : (index + 1) * len(answers)]]
        for index, flag in enumerate(_OUTCOME_COLUMNS)
    ]
    calls = sum(rows[0][1:])  # every call answers each flag: yes, no or not said
    return Table("Outcomes", ["outcome", "Yes", "No", "Not said"], rows if calls else [])


def _talk_per_agent(session: Session, where: list[ColumnElement[bool]]) -> Table:
    """The agents with the most calls that have talk figures: the agent's average share of the talk (of calls
    whose speakers are known) and the average time nobody talked. An agent is a name as the agent filter
    compares it ("jane doe " is "Jane Doe"), shown in its most common spelling, so a row's calls are the
    calls its filter lists."""
    spelling = queries.agent_spellings(
        [*where, Call.talk.is_not(None)],
        func.sum(queries.agent_share).label("share_sum"),
        func.count(queries.agent_share).label("shared"),
        func.sum(queries.non_talk_seconds).label("quiet_sum"),
        func.count(queries.non_talk_seconds).label("timed"),
    )
    agent, shown, named = queries.by_agent(spelling)
    calls = func.sum(spelling.c.calls)
    share = func.round(cast(func.sum(spelling.c.share_sum) / func.sum(spelling.c.shared) * 100, Numeric), 1)
    quiet = func.round(cast(func.sum(spelling.c.quiet_sum) / func.sum(spelling.c.timed), Numeric), 1)
    query = (
        select(shown, calls, share, quiet, func.count().over())
        .group_by(agent)
        .having(named)
        .order_by(calls.desc(), shown.collate("C"))
        .limit(TOP_AGENTS)
    )
    found = session.execute(query).all()
    rows = [
        [name, int(count), float(share) if share is not None else None, float(quiet)]
        for name, count, share, quiet, _ in found
    ]
    title = "Talk share and non-talk per agent"
    agents = found[0][-1] if found else 0  # the window counts the agents before the limit
    if agents > TOP_AGENTS:
        # A lead looks for each agent of the team: one left out must be said to be, not just be missing.
        title += f" (the {TOP_AGENTS} of {agents} with the most calls; filter by agent for another)"
    return Table(title, ["agent", "calls", "agent_talk_share_percent", "average_non_talk_seconds"], rows)


def _categories_per_day(
    session: Session, where: list[ColumnElement[bool]], filters: CallFilters, day: ColumnElement[Any]
) -> Table:
    """Calls per day in each of the categories that most calls of the period are in: every category's calls
    per day in one pass over the period, the top ones picked from those counts."""
    query = (
        select(day, CallCategory.category, func.count())
        .select_from(CallCategory)
        .join(Call, Call.id == CallCategory.call_pk)
        .where(*where)
        .group_by(day, CallCategory.category)
    )
    per_day: dict[date, dict[str, int]] = {}
    totals: Counter[str] = Counter()
    for when, category, calls in session.execute(query):
        per_day.setdefault(when, {})[category] = calls
        totals[category] += calls
    top = sorted(totals, key=lambda name: (-totals[name], name))[:TOP_CATEGORIES]
    title = "Categories per day"
    if not top:
        return Table(title, ["day"], [])
    found = [
        [when, *(counts.get(name, 0) for name in top)]
        for when, counts in sorted(per_day.items())
        if any(name in counts for name in top)  # a day only of other categories is no day of the chart's
    ]
    rows = _every_day(found, filters, width=len(top))
    return Table(title, ["day", *top], rows)


def _every_day(rows: list[list[Any]], filters: CallFilters, *, width: int) -> list[list[Any]]:
    """Counts for every day of the period, quiet days as zeros, so a gap in calls shows as a gap."""
    if filters.since is None or filters.until is None:
        return rows
    days = (filters.until - filters.since).days + 1
    if not 0 < days <= MAX_FILLED_DAYS:
        return rows
    found = {row[0]: row for row in rows}
    every = (filters.since + timedelta(days=n) for n in range(days))
    return [found.get(day, [day, *([0] * width)]) for day in every]
