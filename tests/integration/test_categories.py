"""Categories on a real PostgreSQL: 1,000 stored calls (real encryption) re-evaluated by a real Procrastinate
worker after categories are added, changed and removed, each call ending with exactly the right categories."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from callsense.backends.llm.fake import FakeLLM
from callsense.calls import categories
from callsense.calls import service as calls
from callsense.calls.models import Call, CallCategory, CategoryDefinition
from callsense.calls.schemas import (
    AnalysisResult,
    CallStatus,
    Segment,
    Sentiment,
    Speaker,
    SpeakerTalk,
    TalkFigures,
)
from callsense.config import Settings
from callsense.config.categories import CategoryError
from callsense.config.deliveries import DeliverySettings
from callsense.config.talk import TalkSettings
from callsense.errors import NotFoundError
from callsense.pipeline import analyse, categorise, deliver, tasks
from callsense.runtime import Runtime, open_runtime
from tests.conftest import _fresh_database
from tests.crm_calls import ANALYSIS
from tests.dashboard_seed import spread_words

CALLS = 1000
SENTIMENTS = [Sentiment.positive, Sentiment.neutral, Sentiment.negative]
SHORT_CALL = {"name": "Short call", "rule": {"duration_s": {"below": 100}}}  # from the settings file


def _turn(speaker: Speaker, text: str, start: float) -> Segment:
    end = start + 3
    return Segment(
        speaker=speaker, start=start, end=end, text=text, confidence=0.9, words=spread_words(text, start, end)
    )


def _side(share: float, interruptions: int) -> SpeakerTalk:
    return SpeakerTalk(
        talk_seconds=100 * share, share=share, interruptions=interruptions, longest_monologue_seconds=5
    )


def _store(rt: Runtime, n: int) -> None:
    """Call ``c{n}``: the agent says the call is recorded early (n % 3 == 0), late (1) or never (2); the
    customer wants to cancel in German when n % 4 == 0; n % 100 s of non-talk, n % 7 agent interruptions,
    sentiment by n % 3, 90 s long when n % 10 == 0 else 120 s."""
    opening = "Hello, this call is recorded." if n % 3 < 2 else "Hello, how can I help?"
    segments = [
        _turn(Speaker.agent, opening, 2.0 if n % 3 == 0 else 45.0),
        _turn(Speaker.customer, "Ich möchte KÜNDIGEN, bitte." if n % 4 == 0 else "I have a question.", 50.0),
    ]
    if n % 3 == 1:  # the late disclosure comes after the customer's turn
        segments.reverse()
    with rt.db.transaction() as session:
        call = Call(id=uuid.uuid4(), call_id=f"c{n}", status=CallStatus.done.value, source="test")
        call.duration_s = 90.0 if n % 10 == 0 else 120.0
        session.add(call)
        calls.store_transcript(
            session=session,
            call=call,
            keyring=rt.keyring,
            segments=segments,
            translated=None,
            translation_engine=None,
            asr_model="base",
            options={},
            talk=TalkFigures(
                agent=_side(0.6, n % 7),
                customer=_side(0.4, 0),
                non_talk_seconds=float(n % 100),
                thresholds=TalkSettings(),
            ),
        )
        topic = "Cancellation" if n % 4 == 0 else "Billing and payments"
        result = AnalysisResult(summary=["s"], topic=topic, sentiment=SENTIMENTS[n % 3])
        calls.store_analysis(
            session=session, call=call, keyring=rt.keyring, result=result, llm_backend="x", llm_model="y"
        )


@pytest.fixture(scope="module")
def stored(
    tmp_path_factory: pytest.TempPathFactory, embedded_server_url: str, model_dir: Path
) -> Iterator[Settings]:
    """A database of 1,000 analysed calls and one still waiting for its analysis, made once for the module
    (the settings, with the key ring that opens them, in their data dir)."""
    databases = _fresh_database(embedded_server_url)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("categories"), model_dir=model_dir, database_url=next(databases)
    )
    rt = open_runtime(settings)
    for n in range(CALLS):
        _store(rt, n)
    with rt.db.transaction() as session:
        session.add(Call(id=uuid.uuid4(), call_id="waiting", status=CallStatus.transcribed.value, source="t"))
    rt.db.close()
    yield settings
    next(databases, None)  # drops the database


@pytest.fixture
def rt(stored: Settings) -> Iterator[Runtime]:
    settings = Settings.model_validate({**stored.model_dump(), "categories": [SHORT_CALL]})
    runtime = open_runtime(settings)
    yield runtime
    runtime.db.close()


def _run_worker(rt: Runtime) -> int:
    """Queue the re-evaluation as the dashboard does and let a real worker empty the queue."""
    app = tasks.build_app(rt)
    with app.open():
        jobs = categorise.requeue(rt, lambda first, last: tasks.defer_categorise(app, first, last))
        options = tasks.worker_options(rt, queues=["categories"], concurrency=2)
        options.pop("queues")
        app.run_worker(queues=["categories"], wait=False, **options)
    return jobs


def _categories_by_call(rt: Runtime) -> dict[str, set[str]]:
    with rt.db.transaction() as session:
        rows = session.execute(select(Call.call_id, CallCategory.category).join(CallCategory))
        found: dict[str, set[str]] = {}
        for call_id, name in rows:
            found.setdefault(call_id, set()).add(name)
        return found


def _expected(rules: dict[str, Any]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for n in range(CALLS):
        names = {name for name, holds in rules.items() if holds(n)}
        if names:
            found[f"c{n}"] = names
    return found


def _save(rt: Runtime, *raw: dict[str, Any]) -> None:
    labels = {topic.label for topic in rt.settings.analysis.topics}
    with rt.db.transaction() as session:
        for item in raw:
            categories.save(
                session=session, raw=item, configured=rt.settings.categories, topics=labels, actor="admin"
            )


DISCLOSURE = {"said": "this call is recorded", "speaker": "agent", "first_s": 30}


def test_changing_categories_reevaluates_every_stored_call_through_the_queue(rt: Runtime) -> None:
    short = lambda n: n % 10 == 0  # noqa: E731
    # The settings' category alone: the first evaluation of the 1,000 calls.
    assert _run_worker(rt) == CALLS // categorise.BATCH_CALLS
    assert _categories_by_call(rt) == _expected({"Short call": short})
    assert categorise.progress(rt) == categories.Progress(done=CALLS, total=CALLS)  # "waiting" not counted

    _save(
        rt,
        {"name": "Disclosure missing", "rule": {"not": DISCLOSURE}},
        {"name": "Cancel intent", "rule": {"said": "kundigen", "speaker": "customer"}},
        {
            "name": "Long hold, unhappy",
            "rule": {"all": [{"non_talk_s": {"above": 60}}, {"sentiment": "Negative"}]},
        },
    )
    assert categorise.progress(rt).done == 0  # every call is stale now
    _run_worker(rt)
    assert _categories_by_call(rt) == _expected(
        {
            "Short call": short,
            "Disclosure missing": lambda n: n % 3 != 0,
            "Cancel intent": lambda n: n % 4 == 0,
            "Long hold, unhappy": lambda n: n % 100 > 60 and n % 3 == 2,
        }
    )

    # Change one, add one, remove one.
    _save(
        rt,
        {
            "name": "Long hold, unhappy",
            "rule": {"all": [{"non_talk_s": {"above": 80}}, {"sentiment": "Negative"}]},
        },
        {"name": "Interruptive agent", "rule": {"interruptions": {"above": 4}, "speaker": "agent"}},
    )
    with rt.db.transaction() as session:
        categories.remove(session=session, name="Disclosure missing", actor="test")
    assert "Disclosure missing" not in set().union(*_categories_by_call(rt).values())  # gone at once
    _run_worker(rt)
    assert _categories_by_call(rt) == _expected(
        {
            "Short call": short,
            "Cancel intent": lambda n: n % 4 == 0,
            "Long hold, unhappy": lambda n: n % 100 > 80 and n % 3 == 2,
            "Interruptive agent": lambda n: n % 7 > 4,
        }
    )
    assert categorise.progress(rt).finished
    with rt.db.transaction() as session:
        assert categories.counts(session=session)["Cancel intent"] == CALLS // 4
        waiting = session.scalars(select(Call).where(Call.call_id == "waiting")).one()
        assert waiting.categories == [] and waiting.categories_revision is None

    # Idempotent: nothing stale, nothing queued; a batch run again evaluates nothing.
    assert _run_worker(rt) == 0
    with rt.db.transaction() as session:
        first, last = (
            session.execute(select(Call.id).order_by(Call.id).limit(1)).scalar_one(),
            max(session.scalars(select(Call.id))),
        )
    assert categorise.run_batch(rt, first, last) == 0


def test_the_evidence_is_stored_encrypted_and_read_back_with_the_record(rt: Runtime) -> None:
    _save(rt, {"name": "Cancel intent", "rule": {"said": "kundigen", "speaker": "customer"}})
    for first, last in categorise.stale_ranges(rt):
        categorise.run_batch(rt, first, last)
    with rt.db.transaction() as session:
        call = calls.get(session=session, call_id="c8")
        (row,) = [row for row in call.categories if row.category == "Cancel intent"]
        assert b"NDIGEN" not in row.evidence_enc and b"bitte" not in row.evidence_enc
        record = calls.to_record(call=call, keyring=rt.keyring)
    (match,) = [match for match in record.categories if match.name == "Cancel intent"]
    (evidence,) = match.evidence
    assert (evidence.turn, evidence.speaker, evidence.text) == (
        1,
        Speaker.customer,
        "Ich möchte KÜNDIGEN, bitte.",
    )
    assert evidence.start == pytest.approx(51.5)  # the third of four words spread over 50 s to 53 s
    assert [
        m.evidence for m in (x.without_quotes() for x in record.categories) if m.name == "Cancel intent"
    ] == [[]]


def test_a_crm_mapping_can_send_the_names_of_the_categories(rt: Runtime) -> None:
    _save(rt, {"name": "Cancel intent", "rule": {"said": "kundigen", "speaker": "customer"}})
    for first, last in categorise.stale_ranges(rt):
        categorise.run_batch(rt, first, last)
    hook = {
        "name": "hook",
        "kind": "webhook",
        "base_url": "https://crm.example/hook",
        "secret": "whsec_test",
        "fields": ["call_id", "categories"],
    }
    helpdesk = {
        **hook,
        "name": "helpdesk",
        "kind": "hubspot",
        "token": "pat",
        "subject_template": "{call_id}",
        "body_template": "{categories}",
    }
    destinations = DeliverySettings.model_validate({"destinations": [hook, helpdesk]}).destinations
    with rt.db.transaction() as session:
        call = calls.get(session=session, call_id="c8")
        sent = [
            deliver.render(call=call, rt=rt, destination=destination, delivery_id=uuid.uuid4())
            for destination in destinations
        ]
    assert sent[0].fields == {"call_id": "c8", "categories": ["Cancel intent"]}  # names, no evidence
    assert sent[1].body == "- Cancel intent"


def test_the_reconciler_requeues_when_the_settings_categories_changed(rt: Runtime) -> None:
    changed = Settings.model_validate(
        {
            **rt.settings.model_dump(),
            "categories": [{"name": "Short call", "rule": {"duration_s": {"below": 95}}}],
        }
    )
    other = dataclasses.replace(rt, settings=changed)
    app = tasks.build_app(other)
    with app.open():
        first = tasks.reconcile_categories(other, app)
        assert first >= 1
        assert tasks.reconcile_categories(other, app) == 0  # jobs are waiting: nothing doubles


def test_a_dashboard_category_cannot_shadow_or_duplicate_one_of_the_settings(rt: Runtime) -> None:
    with pytest.raises(CategoryError, match="'short CALL': the settings file defines 'Short call'"):
        _save(rt, {"name": "short CALL", "rule": {"said": "x"}})
    _save(rt, {"name": "Hold", "rule": {"non_talk_s": {"above": 1}}})
    with pytest.raises(CategoryError, match="a category 'Hold' exists"):
        _save(rt, {"name": "HOLD", "rule": {"said": "x"}})
    with pytest.raises(CategoryError, match="topic 'Refunds' is not a taxonomy label"):
        _save(rt, {"name": "Refunds", "rule": {"topic": "Refunds"}})
    with rt.db.transaction() as session, pytest.raises(NotFoundError):
        categories.remove(session=session, name="nothing", actor="test")
    with rt.db.transaction() as session:  # a rule this version does not read is skipped, not fatal
        session.add(CategoryDefinition(name="Old", description="", rule={"said_by": "x"}))
    with rt.db.transaction() as session:
        names = [c.name for c in categories.in_force(session=session, configured=rt.settings.categories)]
        assert names == ["Short call", "Hold"]
        categories.remove(session=session, name="Old", actor="test")


def test_a_new_call_gets_its_categories_at_the_end_of_the_analyse_stage(rt: Runtime) -> None:
    _save(
        rt,
        {"name": "Agent greets", "rule": {"said": "hello", "speaker": "agent"}},
        # The scripted outcome "y?n": resolved, callback not said, not escalated.
        {
            "name": "Resolved here",
            "rule": {"all": [{"outcome": "resolved"}, {"not": {"outcome": "escalated"}}]},
        },
        {"name": "Callback", "rule": {"outcome": "callback_needed"}},
    )
    with_llm = dataclasses.replace(rt, llm=FakeLLM(lambda request: json.dumps(ANALYSIS)))
    with rt.db.transaction() as session:
        call = Call(id=uuid.uuid4(), call_id="new", status=CallStatus.transcribed.value, source="t")
        call.duration_s = 60.0
        session.add(call)
        calls.store_transcript(
            session=session,
            call=call,
            keyring=rt.keyring,
            segments=[_turn(Speaker.agent, "Hello there.", 1.0)],
            translated=None,
            translation_engine=None,
            asr_model="base",
            options={},
        )
        call_pk = call.id
    analyse.run(with_llm, call_pk)
    with rt.db.transaction() as session:
        call = calls.get(session=session, call_id="new")
        assert call.status == CallStatus.done.value
        assert [m.name for m in calls.read_categories(call=call, keyring=rt.keyring)] == [
            "Agent greets",  # by name, as stored
            "Resolved here",
            "Short call",
        ]
        assert call.categories_revision == categories.revision(
            categories.in_force(session=session, configured=rt.settings.categories)
        )


def test_a_change_while_the_last_ones_jobs_wait_leaves_no_call_stale(rt: Runtime) -> None:
    """The first change's jobs wait, but for the second batch's, which ran; ten calls of the first batch are
    being reprocessed; a second change then cuts the batches differently: the new first batch reaches ten
    calls into the old second one. Every stale call is in a job that runs (none waits for the reconciler)."""
    with rt.db.transaction() as session:  # jobs an earlier test left waiting would cover the gap
        session.execute(text("delete from procrastinate_jobs where queue_name = 'categories'"))
    app = tasks.build_app(rt)
    with app.open():
        _save(rt, {"name": "Greeting", "rule": {"said": "hello"}})
        ranges = categorise.stale_ranges(rt)
        for first, last in [ranges[0], *ranges[2:]]:
            assert tasks.defer_categorise(app, first, last)
        assert categorise.run_batch(rt, *ranges[1]) == categorise.BATCH_CALLS
    first, last = ranges[0]
    with rt.db.transaction() as session:
        later = select(Call.id).where(Call.id > first, Call.id <= last).order_by(Call.id).limit(10)
        reprocessed = list(session.scalars(later))
        session.execute(
            update(Call).where(Call.id.in_(reprocessed)).values(status=CallStatus.transcribed.value)
        )
    try:
        _save(rt, {"name": "Greeting", "rule": {"said": "hello there"}})
        assert categorise.stale_ranges(rt)[0][0] == first  # the same first call, a later last one
        _run_worker(rt)  # queues the second change's batches as the dashboard does, and runs every job
        assert categorise.progress(rt).finished
    finally:
        with rt.db.transaction() as session:
            session.execute(update(Call).where(Call.id.in_(reprocessed)).values(status=CallStatus.done.value))


@pytest.fixture(autouse=True)
def _fresh_definitions(rt: Runtime) -> Iterator[None]:
    """The module shares its 1,000 calls; each test starts from no dashboard categories."""
    yield
    with rt.db.transaction() as session:
        for item in categories.defined(session=session, configured=rt.settings.categories):
            if item.source == "dashboard":
                categories.remove(session=session, name=item.category.name, actor="test")
        session.query(Call).filter(Call.call_id == "new").delete()
