"""Categories stored: the dashboard's definitions, each call's matches, and how far a re-evaluation got.

The categories in force are those of the settings (read-only here) and those defined on the dashboard (rows
of ``category_definitions``); a name of the settings hides a dashboard one of the same name. Their
*revision* is a digest of every name and rule: each call keeps the revision it was last evaluated with, so
a change of any category leaves every call stale until the queue has evaluated it again, and a call
evaluated twice with one revision is evaluated once in effect. Callers own the transaction.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import structlog
from sqlalchemy import ColumnElement, String, cast, delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from callsense.calls import service as calls
from callsense.calls.categorise import CallFacts, evaluate
from callsense.calls.models import Call, CallCategory, CategoryDefinition
from callsense.calls.schemas import AnalysisResult, CallStatus, CategoryMatch, Segment, TalkFigures
from callsense.config.categories import Category, CategoryError, parse_category
from callsense.crypto import KeyRing
from callsense.errors import NotFoundError

log = structlog.get_logger(__name__)

# Calls that have categories: those with an analysis (a call without speech or not yet analysed has none).
EVALUATED_STATUS = CallStatus.done.value


@dataclass(frozen=True)
class Defined:
    """A category in force, where it was defined (``settings`` or ``dashboard``) and by whom, when."""

    category: Category
    source: Literal["settings", "dashboard"]
    updated_by: str | None = None
    updated_at: datetime | None = None


def defined(*, session: Session, configured: Sequence[Category]) -> list[Defined]:
    """Every category in force: the settings' first, then the dashboard's by name."""
    names = {category.name.casefold() for category in configured}
    found = [Defined(category, "settings") for category in configured]
    for row in session.scalars(select(CategoryDefinition).order_by(CategoryDefinition.name)):
        if row.name.casefold() in names:
            continue
        try:
            category = parse_category({"name": row.name, "description": row.description, "rule": row.rule})
        except CategoryError as exc:  # stored by an older version: it must not stop every call's analysis
            log.warning("category skipped", reason=str(exc))
            continue
        found.append(Defined(category, "dashboard", row.updated_by, row.updated_at))
    return found


def in_force(*, session: Session, configured: Sequence[Category]) -> list[Category]:
    return [item.category for item in defined(session=session, configured=configured)]


# How ``calls/categorise.py`` answers: raised when the same rules can give another answer on a stored call, so
# that a version evaluating differently finds every call stale and the queue re-evaluates them (2: unknown
# never holds by negation; a mono call stayed in "not the agent said ..." until its rule was changed).
EVALUATION = 2


def revision(categories: Sequence[Category]) -> str:
    """A digest of the categories' names and rules (not their descriptions, which match nothing) and of how
    rules are evaluated (``EVALUATION``; not without categories: there is no answer to change)."""
    canonical = json.dumps(
        sorted([category.name, category.stored_rule()] for category in categories), sort_keys=True
    )
    if categories:
        canonical += f" evaluation {EVALUATION}"
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Saved:
    category: Category
    created: bool  # there was no dashboard category of that name: the API answers 201, not 200


def save(
    *, session: Session, raw: object, configured: Sequence[Category], topics: set[str], actor: str
) -> Saved:
    """Create or replace a dashboard category from what an admin wrote, audited (an event naming the admin);
    ``CategoryError`` says what is wrong."""
    category = parse_category(raw, topics=topics)
    for other in configured:
        if other.name.casefold() == category.name.casefold():
            raise CategoryError(
                f"category '{category.name}': the settings file defines '{other.name}' (change it there)"
            )
    same = session.scalars(
        select(CategoryDefinition).where(func.lower(CategoryDefinition.name) == category.name.lower())
    ).one_or_none()
    if same is not None and same.name != category.name:  # another spelling of an existing name
        raise CategoryError(
            f"category '{category.name}': a category '{same.name}' exists (names ignore case)"
        )
    row = same or CategoryDefinition(name=category.name)
    row.description = category.description
    row.rule = category.stored_rule()
    row.updated_by = actor
    session.add(row)
    session.flush()
    _audit(session, "saved", category.name, actor)
    return Saved(category, created=same is None)


def _audit(session: Session, kind: str, name: str, actor: str) -> None:
    calls.add_event(session=session, call_pk=None, stage="categories", kind=kind, detail=name, actor=actor)


def remove(*, session: Session, name: str, actor: str) -> None:
    """Delete a dashboard category (its name in any case, as names are unique ignoring it, and without the
    spaces around it, which a saved name never has) and every call's match of it at once, audited."""
    row = session.scalars(
        select(CategoryDefinition).where(func.lower(CategoryDefinition.name) == name.strip().lower())
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no dashboard category named '{name}'")
    name = row.name
    session.delete(row)
    # Its calls are stale under any revision: were the same category added back, their revision would
    # match again while their match is gone.
    had_it = select(CallCategory.call_pk).where(CallCategory.category == name)
    session.execute(update(Call).where(Call.id.in_(had_it)).values(categories_revision=None))
    session.execute(delete(CallCategory).where(CallCategory.category == name))
    _audit(session, "deleted", name, actor)


def store(
    *, session: Session, call: Call, keyring: KeyRing, matches: list[CategoryMatch], revision_: str
) -> None:
    """Replace the call's categories with ``matches``, evaluated under ``revision_``."""
    call.categories = [
        CallCategory(
            call_pk=call.id,
            category=match.name,
            evidence_enc=keyring.encrypt(
                calls.EVIDENCE.dump_json(match.evidence),
                context=calls.column_context(call.id, CallCategory.evidence_enc),
            ),
        )
        for match in matches
    ]
    call.categories_revision = revision_


def categorise(
    *,
    session: Session,
    call: Call,
    keyring: KeyRing,
    categories: Sequence[Category],
    segments: list[Segment] | None = None,
    analysis: AnalysisResult | None = None,
) -> list[CategoryMatch]:
    """Evaluate ``categories`` on the call and store the result; the turns and analysis are decrypted
    unless the caller has them at hand."""
    facts = CallFacts(
        segments=segments if segments is not None else calls.read_segments(call=call, keyring=keyring),
        duration=call.duration_s,
        analysis=analysis or calls.read_analysis(call=call, keyring=keyring) or AnalysisResult(),
        talk=TalkFigures.model_validate(call.talk) if call.talk is not None else None,
    )
    matches = evaluate(categories, facts)
    store(session=session, call=call, keyring=keyring, matches=matches, revision_=revision(categories))
    return matches


# Analysed calls with their text: the retention purge took a purged call's categories with its text, and
# its duration and talk figures alone would put it back in some.
EVALUATED = (Call.status == EVALUATED_STATUS, Call.text_purged_at.is_(None))


def _stale(current: str) -> list[ColumnElement[bool]]:
    return [*EVALUATED, Call.categories_revision.is_distinct_from(current)]


@dataclass(frozen=True)
class Progress:
    """How many analysed calls are evaluated with the categories in force (``done``) of ``total``."""

    done: int
    total: int

    @property
    def finished(self) -> bool:
        return self.done >= self.total


def progress(*, session: Session, current: str) -> Progress:
    total, stale = session.execute(
        select(func.count(), func.count().filter(*_stale(current))).where(*EVALUATED)
    ).one()
    return Progress(done=total - stale, total=total)


def stale_ranges(*, session: Session, current: str, batch: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """The stale calls in runs of ``batch``, each as its first and last id (inclusive)."""
    numbered = (
        select(
            cast(Call.id, String).label("id"),  # uuid has no min(); its text sorts as its bytes do
            ((func.row_number().over(order_by=Call.id) - 1) // batch).label("run"),
        )
        .where(*_stale(current))
        .subquery()
    )
    runs = select(func.min(numbered.c.id), func.max(numbered.c.id)).group_by(numbered.c.run)
    return [
        (uuid.UUID(first), uuid.UUID(last)) for first, last in session.execute(runs.order_by(numbered.c.run))
    ]


def stale_between(*, session: Session, current: str, first: uuid.UUID, last: uuid.UUID) -> list[Call]:
    """The stale calls with ids from ``first`` to ``last``, locked (stages writing a call wait)."""
    query = (
        select(Call)
        .where(*_stale(current), Call.id >= first, Call.id <= last)
        .order_by(Call.id)
        .with_for_update(of=Call)
        # what evaluating reads, in three queries for the batch instead of three for each call
        .options(selectinload(Call.transcript), selectinload(Call.analysis), selectinload(Call.categories))
    )
    return list(session.scalars(query))


def counts(*, session: Session) -> dict[str, int]:
    """Calls per category, for the admin page and the CLI."""
    query = select(CallCategory.category, func.count()).group_by(CallCategory.category)
    return {name: count for name, count in session.execute(query)}


@dataclass(frozen=True)
class Overview:
    """The categories in force, the calls in each, and how far the re-evaluation of stored calls got."""

    defined: list[Defined]
    counts: dict[str, int]
    progress: Progress


def overview(*, session: Session, configured: Sequence[Category]) -> Overview:
    """What the Categories page, ``callsense categories list`` and ``GET /categories`` show."""
    found = defined(session=session, configured=configured)
    current = revision([item.category for item in found])
    return Overview(found, counts(session=session), progress(session=session, current=current))
