"""The dashboard's queries on a real PostgreSQL: full-text search over encrypted calls, the call list's
keyset pagination, insights aggregates, and dashboard accounts and sessions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from callsense.calls import queries
from callsense.calls import service as calls
from callsense.calls.models import Call
from callsense.calls.schemas import AnalysisResult, Segment, Speaker
from callsense.config import Settings
from callsense.errors import ConfigError
from callsense.runtime import Runtime, open_runtime
from callsense.security.tokens import Role
from callsense.web import accounts, call_list, insights, search_backfill
from callsense.web.filters import CallFilters
from tests.conftest import _fresh_database
from tests.dashboard_seed import seed, seed_held_call

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def rt(embedded_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """One database for the module, seeded with the demo calls; tests only read it (or add their own)."""
    for url in _fresh_database(embedded_server_url):
        data_dir: Path = tmp_path_factory.mktemp("dashboard-data")
        runtime = open_runtime(Settings(data_dir=data_dir, database_url=url))
        seed(runtime)
        yield runtime
        runtime.db.close()


def _registered(
    rt: Runtime, session: Session, call_id: str, details: calls.CallDetails | None = None
) -> Call:
    call, _ = calls.get_or_create(
        session=session,
        keyring=rt.keyring,
        call_id=call_id,
        source="/x.wav",
        shown_source="x.wav",
        details=details or calls.CallDetails(),
    )
    return call


def _ids(rt: Runtime, filters: CallFilters, *, analyst: bool = True) -> set[str]:
    with rt.db.transaction() as session:
        page = call_list.fetch_page(session=session, filters=filters, include_transcripts=analyst)
    return {row.call.call_id for row in page.rows}


def test_search_finds_transcript_words_stemmed_and_in_other_languages(rt: Runtime) -> None:
    assert _ids(rt, CallFilters(q="Sarah Miller")) == {"demo-refund"}
    assert _ids(rt, CallFilters(q="refunds")) == {"demo-refund"}  # stemmed: "refund" in the transcript
    assert _ids(rt, CallFilters(q="contrato")) == {"demo-cancel-es"}  # Spanish original, exact word
    assert _ids(rt, CallFilters(q="moving city")) == {"demo-cancel-es"}  # its English translation
    assert _ids(rt, CallFilters(q="refund -twice")) == set()  # web search syntax: exclusion


def test_viewers_search_the_analysis_but_not_the_transcript(rt: Runtime) -> None:
    assert _ids(rt, CallFilters(q="Sarah Miller"), analyst=False) == set()
    assert _ids(rt, CallFilters(q="duplicate"), analyst=False) == {"demo-refund"}  # summary and topic


def test_the_index_holds_words_without_positions(rt: Runtime) -> None:
    """Stripped lexemes: the words of a call are matchable, its sentences cannot be rebuilt from the index."""
    with rt.db.transaction() as session:
        stored = session.execute(text("select transcript_lexemes::text from call_search")).scalars().all()
    assert stored and all(":" not in lexemes for lexemes in stored)
    assert "'miller'" in " ".join(stored)


def test_storing_again_replaces_the_indexed_words(rt: Runtime) -> None:
    with rt.db.transaction() as session:
        call = _registered(rt, session, "reindexed")
        for words in ("my parcel is lost", "my invoice is wrong"):
            segment = Segment(speaker=Speaker.customer, start=0, end=1, text=words, confidence=0.9)
            calls.store_transcript(
                session=session,
                call=call,
                keyring=rt.keyring,
                segments=[segment],
                translated=None,
                translation_engine=None,
                asr_model="base",
                options={},
            )
        calls.store_analysis(
            session=session,
            call=call,
            keyring=rt.keyring,
            result=AnalysisResult(summary=["Wrong invoice."], translated_transcript="la facture"),
            llm_backend="fake",
            llm_model="fake",
        )
    assert _ids(rt, CallFilters(q="invoice")) == {"reindexed"}
    assert _ids(rt, CallFilters(q="parcel")) == set()
    assert _ids(rt, CallFilters(q="facture")) == {"reindexed"}  # an LLM translation is transcript text
    assert _ids(rt, CallFilters(q="facture"), analyst=False) == set()


def _store_turns(rt: Runtime, call_id: str, texts: list[str], summary: list[str]) -> None:
    with rt.db.transaction() as session:
        call = _registered(rt, session, call_id)
        segments = [
            Segment(speaker=Speaker.customer, start=0, end=1, text=words, confidence=0.9) for words in texts
        ]
        calls.store_transcript(
            session=session,
            call=call,
            keyring=rt.keyring,
            segments=segments,
            translated=None,
            translation_engine=None,
            asr_model="base",
            options={},
        )
        result = AnalysisResult(summary=summary)
        calls.store_analysis(
            session=session,
            call=call,
            keyring=rt.keyring,
            result=result,
            llm_backend="fake",
            llm_model="fake",
        )


def test_search_finds_words_of_scripts_without_spaces_and_without_vowel_marks(rt: Runtime) -> None:
    """Chinese and Japanese are written without spaces, Arabic and Hebrew with optional vowel marks, Italian
    with accents a search box may leave out."""
    _store_turns(rt, "call-ja", ["はい、返金をお願いします。"], ["返金の依頼"])
    _store_turns(rt, "call-zh", ["我想要退款\uff0c谢谢。"], [])
    _store_turns(rt, "call-ar", ["أُرِيدُ اسْتِرْدَادَ المبلغ"], [])
    _store_turns(rt, "call-he", ["אֲנִי רוֹצֶה הַחְזָר"], [])
    _store_turns(rt, "call-it", ["Perché il rimborso non è arrivato?"], [])
    assert _ids(rt, CallFilters(q="返金")) == {"call-ja"}  # a word inside a run of characters
    assert _ids(rt, CallFilters(q="お願いします")) == {"call-ja"}
    assert _ids(rt, CallFilters(q="返品")) == set()
    assert _ids(rt, CallFilters(q="依頼"), analyst=False) == {"call-ja"}  # the summary
    assert _ids(rt, CallFilters(q="退款")) == {"call-zh"}
    assert _ids(rt, CallFilters(q="謝謝")) == {"call-zh"}  # Traditional characters find Simplified ones
    assert _ids(rt, CallFilters(q="退款 -谢谢")) == set()  # exclusion still works
    assert _ids(rt, CallFilters(q="お願い -返金を")) == set()
    # An excluded word leaves out the calls holding all its pairs, as a searched word needs all of them:
    # the call asks for a refund ("返金をお願いします"), it does not refuse one ("返金しません").
    assert _ids(rt, CallFilters(q="お願い -返金しません")) == {"call-ja"}
    assert _ids(rt, CallFilters(q="お願い -返品した")) == {"call-ja"}
    assert _ids(rt, CallFilters(q="استرداد")) == {"call-ar"}  # typed without harakat
    assert _ids(rt, CallFilters(q="החזר")) == {"call-he"}  # typed without niqqud
    assert _ids(rt, CallFilters(q="perche")) == {"call-it"}  # typed without the accent
    assert _ids(rt, CallFilters(q="perché")) == {"call-it"}


def test_search_reads_turkish_i_russian_letters_thai_and_digits_of_any_script(rt: Runtime) -> None:
    """The Turkish dotless i's capital is I: "light" at the start of a sentence is written with it; Russian ё
    may be written without its dots, but й is a letter of its own; Whisper writes an Arabic caller's order
    number in Arabic-Indic digits as often as in ASCII ones; Thai has no spaces."""
    light, arabic_order_number = "\u0131\u015f\u0131k", "\u0664\u0665\u0662\u0661"  # 4521
    _store_turns(rt, "call-tr", [f"I{light[1:]} faturam neden bu kadar yüksek?"], [])
    _store_turns(rt, "call-ru", ["Мой заказ ещё не пришёл."], [])
    _store_turns(rt, "call-ar-order", [f"رقم الطلب {arabic_order_number} من فضلك"], [])
    _store_turns(rt, "call-th", ["ขอคืนเงินค่าบริการครับ"], [])
    assert _ids(rt, CallFilters(q=light)) == {"call-tr"}
    assert _ids(rt, CallFilters(q="isik faturam")) == {"call-tr"}  # typed without Turkish letters
    assert _ids(rt, CallFilters(q="пришел")) == {"call-ru"}  # ё typed without its dots
    assert _ids(rt, CallFilters(q="мой")) == {"call-ru"}
    assert _ids(rt, CallFilters(q="мои")) == set()  # "my" (plural) is another word
    assert _ids(rt, CallFilters(q="4521")) == {"call-ar-order"}
    assert _ids(rt, CallFilters(q=arabic_order_number)) == {"call-ar-order"}
    assert _ids(rt, CallFilters(q="คืนเงิน")) == {"call-th"}


def test_search_finds_an_arabic_word_with_or_without_its_article(rt: Runtime) -> None:
    """Arabic joins the article to its noun ("الفاتورة", the invoice), and "with", "and"... to the article."""
    _store_turns(rt, "call-ar-invoice", ["عندي مشكلة بالفاتورة"], [])
    _store_turns(rt, "call-ar-new-invoice", ["سأرسل لك فاتورة جديدة"], [])
    both = {"call-ar-invoice", "call-ar-new-invoice"}
    assert _ids(rt, CallFilters(q="فاتورة")) == both
    assert _ids(rt, CallFilters(q="الفاتورة")) == both
    assert _ids(rt, CallFilters(q="فاتورة -مشكلة")) == {"call-ar-new-invoice"}


def test_search_finds_a_korean_word_with_its_particle(rt: Runtime) -> None:
    """Korean writes a word and its particles as one ("환불을": refund and the object particle)."""
    _store_turns(rt, "call-ko", ["환불을 받고 싶어요."], ["고객이 환불을 요청함"])
    assert _ids(rt, CallFilters(q="환불")) == {"call-ko"}
    assert _ids(rt, CallFilters(q="환불"), analyst=False) == {"call-ko"}  # the summary
    assert _ids(rt, CallFilters(q="환급")) == set()
    assert _ids(rt, CallFilters(q="환불 -받고")) == set()


def test_an_excluded_word_leaves_out_a_call_holding_it_in_any_of_its_texts(rt: Runtime) -> None:
    """The words of a search are checked against the transcript and the analysis together: a call whose
    summary says "refund" and whose transcript says "twice" is not a call about a refund without "twice"."""
    _store_turns(rt, "call-charged-twice", ["I was charged twice this month."], ["Customer wants a refund."])
    _store_turns(rt, "call-charged-once", ["The fee was charged in error."], ["Customer wants a refund."])
    assert "call-charged-twice" not in _ids(rt, CallFilters(q="refund -twice"))
    assert "call-charged-once" in _ids(rt, CallFilters(q="refund -twice"))
    # A viewer searches the summary only, so only the summary can leave the call out.
    assert "call-charged-twice" in _ids(rt, CallFilters(q="refund -twice"), analyst=False)
    # Stemmed and as written: "-charges" leaves out the calls that said "charged".
    assert {"call-charged-twice", "call-charged-once"}.isdisjoint(_ids(rt, CallFilters(q="refund -charges")))
    either = _ids(rt, CallFilters(q="error or twice month"))  # ("error" or "twice") and "month"
    assert "call-charged-twice" in either and "call-charged-once" not in either
    assert _ids(rt, CallFilters(q='refund -"charged twice"')) >= {"call-charged-once"}
    assert "call-charged-twice" not in _ids(rt, CallFilters(q='refund -"charged twice"'))
    assert _ids(rt, CallFilters(q='- " or')) == set()  # nothing searchable: nothing found


def test_a_quoted_phrase_is_searched_as_its_words(rt: Runtime) -> None:
    """The index has no positions, so a phrase matches the calls holding all its words (as documented)."""
    assert _ids(rt, CallFilters(q='"Sarah Miller"')) == {"demo-refund"}


def test_filters_narrow_the_list(rt: Runtime) -> None:
    assert _ids(rt, CallFilters(language="es")) == {"demo-cancel-es"}
    assert _ids(rt, CallFilters(agent="David", sentiment="Neutral")) == {"demo-bill-de"}
    assert _ids(rt, CallFilters(topic="internet")) == {"demo-outage", "demo-cancel-es"}
    assert _ids(rt, CallFilters(status="failed")) == {"demo-missing-recording"}
    assert _ids(rt, CallFilters(outcome="resolved")) == {"demo-refund"}
    assert _ids(rt, CallFilters(outcome="unresolved")) == _ids(rt, CallFilters(outcome="callback_needed"))
    assert _ids(rt, CallFilters(outcome="callback_needed")) == {"demo-outage"}
    assert _ids(rt, CallFilters(outcome="escalated")) == set()  # false or not said
    today = datetime.now(UTC).date()
    assert "demo-bill-de" not in _ids(rt, CallFilters(since=today - timedelta(days=1)))


def test_the_agent_filter_ignores_case_and_surrounding_spaces_through_its_index(rt: Runtime) -> None:
    """A name typed as "jane doe" finds "Jane Doe" (and a name stored with spaces around it); the filter's
    expression is the one ix_calls_agent_folded indexes, so a list of one agent's calls reads the index."""
    with rt.db.transaction() as session:
        _registered(rt, session, "agent-spaced", calls.CallDetails(agent=" Jane Doe "))
    typed = CallFilters.parse({"agent": "  jane DOE "})
    assert _ids(rt, typed) == {"agent-spaced"}
    assert _ids(rt, CallFilters(agent="david")) == _ids(rt, CallFilters(agent="David")) != set()
    with rt.db.transaction() as session:
        session.execute(text("set local enable_seqscan = off"))  # a few rows: the planner would scan them
        where = queries.conditions(criteria=typed.criteria(), include_transcripts=True)
        query = select(Call.id).where(*where)
        compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = "\n".join(session.scalars(text(f"explain {compiled}")))
    assert "ix_calls_agent_folded" in plan, plan


def _store_topic(rt: Runtime, call_id: str, topic: str) -> None:
    with rt.db.transaction() as session:
        call = _registered(rt, session, call_id, calls.CallDetails(started_at=datetime.now(UTC)))
        result = AnalysisResult(summary=["s"], topic=topic)
        calls.store_analysis(
            session=session, call=call, keyring=rt.keyring, result=result, llm_backend="f", llm_model="f"
        )


def test_a_topic_label_does_not_find_the_labels_that_contain_it(rt: Runtime) -> None:
    """A custom taxonomy with "Billing" and "Billing dispute": Insights counts them apart, and the list
    filtered on one shows that one (and older free-text topics with its words), as many calls as counted."""
    for call_id, topic in [
        ("bill-1", "Billing"),
        ("bill-2", "Billing dispute"),
        ("bill-3", "Billing dispute"),
    ]:
        _store_topic(rt, call_id, topic)
    _store_topic(rt, "bill-old", "billing question about an invoice")  # free text, before the taxonomy
    labels = frozenset({"Billing", "Billing dispute", "Other"})
    billing = CallFilters.parse({"topic": "Billing"}, topic_labels=labels)
    assert _ids(rt, billing) == {"bill-1", "bill-old"}
    assert _ids(rt, CallFilters.parse({"topic": "billing dispute"}, topic_labels=labels)) == {
        "bill-2",
        "bill-3",
    }
    assert {"bill-1", "bill-2", "bill-3", "bill-old"} <= _ids(
        rt, CallFilters(topic="bill", topic_labels=labels)
    )
    assert _ids(rt, CallFilters(topic="Billing")) >= {"bill-1", "bill-2"}  # no taxonomy given: words only
    assert billing.query_string() == "topic=Billing"  # the labels are no filter of the page's links
    with rt.db.transaction() as session:
        counted = insights.chart("topics", session=session, filters=billing, include_transcripts=True)
    assert dict(map(tuple, counted.rows)) == {"Billing": 1, "billing question about an invoice": 1}


@pytest.mark.parametrize(("sort", "descending"), [("time", True), ("duration", False), ("agent", True)])
def test_keyset_pages_cover_every_call_once_both_ways(rt: Runtime, sort: str, descending: bool) -> None:
    everything = CallFilters()
    with rt.db.transaction() as session:
        total = call_list.fetch_page(session=session, filters=everything, include_transcripts=True).total
        forward: list[list[str]] = []
        cursor = None
        while True:
            page = call_list.fetch_page(
                session=session,
                filters=everything,
                include_transcripts=True,
                sort=sort,
                descending=descending,
                after=cursor,
                page_size=2,
            )
            forward.append([row.call.call_id for row in page.rows])
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        backward = call_list.fetch_page(
            session=session,
            filters=everything,
            include_transcripts=True,
            sort=sort,
            descending=descending,
            before=page.previous_cursor,
            page_size=2,
        )
    flat = [call_id for chunk in forward for call_id in chunk]
    assert len(flat) == len(set(flat)) == total
    assert [row.call.call_id for row in backward.rows] == forward[-2]


def test_rows_carry_the_crm_delivery_state(rt: Runtime) -> None:
    with rt.db.transaction() as session:
        page = call_list.fetch_page(session=session, filters=CallFilters(), include_transcripts=True)
    states = {row.call.call_id: row.delivery_state for row in page.rows}
    assert states["demo-refund"] == "delivered"
    assert states["demo-outage"] == "dead"
    assert states["demo-cancel-es"] is None


def test_insights_count_what_the_list_shows(rt: Runtime) -> None:
    filters = CallFilters(status="done").with_default_period(30)
    with rt.db.transaction() as session:
        per_day = insights.chart("calls_per_day", session=session, filters=filters, include_transcripts=True)
        mood = insights.chart("topic_sentiment", session=session, filters=filters, include_transcripts=True)
        languages = insights.chart("languages", session=session, filters=filters, include_transcripts=True)
        totals = insights.summary(session=session, filters=filters, include_transcripts=True)
    assert len(per_day.rows) == 30  # quiet days are zeros, not gaps
    assert sum(row[1] for row in per_day.rows) == totals.calls == 4
    assert ["Internet outage complaint", 0, 0, 1] in mood.rows
    assert dict((row[0], row[1]) for row in languages.rows) == {"en": 2, "es": 1, "de": 1}
    assert totals.negative_share == pytest.approx(0.25)
    assert per_day.to_csv().splitlines()[0] == "day,calls"


def test_a_call_without_a_language_is_charted_but_not_counted_as_a_language(rt: Runtime) -> None:
    """The failed demo call was never transcribed: the mix shows it as "unknown", the count of languages
    spoken is still three."""
    filters = CallFilters().with_default_period(30)
    with rt.db.transaction() as session:
        languages = insights.chart("languages", session=session, filters=filters, include_transcripts=True)
        totals = insights.summary(session=session, filters=filters, include_transcripts=True)
    assert {row[0] for row in languages.rows} == {"en", "es", "de", "unknown"}
    assert totals.languages == 3


def test_talk_filters_and_the_talk_per_agent_chart(rt: Runtime) -> None:
    """A call with a 30 s hold and an interruption stands out from the demo calls, which have neither."""
    seed_held_call(rt)
    assert _ids(rt, CallFilters(non_talk_above=29)) == {"held"}
    assert _ids(rt, CallFilters(non_talk_above=30)) == set()  # 10 s to 40 s, and 58 s to the end at 60 s
    assert _ids(rt, CallFilters(interruptions_above=0)) == {"held"}
    assert _ids(rt, CallFilters(interruptions_above=1)) == set()
    assert len(_ids(rt, CallFilters(non_talk_above=0))) == 1  # the demo calls have figures: 0 s each

    with rt.db.transaction() as session:
        table = insights.chart(
            "talk_per_agent",
            session=session,
            filters=CallFilters(status="done").with_default_period(30),
            include_transcripts=True,
        )
    per_agent = {row[0]: row[1:] for row in table.rows}
    assert per_agent["David"] == [2, pytest.approx((62.1 + 54.5) / 2, abs=0.1), 0.0]  # refund and German bill
    assert per_agent["Hold-agent"] == [1, pytest.approx(100 * 28 / 30, abs=0.1), 30.0]


def test_the_talk_per_agent_chart_says_when_it_leaves_agents_out(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the agents with the most calls are charted; a lead looking for another must be told."""
    filters = CallFilters(status="done").with_default_period(30)

    def talk_per_agent() -> insights.Table:
        with rt.db.transaction() as session:
            return insights.chart(
                "talk_per_agent", session=session, filters=filters, include_transcripts=True
            )

    every_agent = talk_per_agent()
    assert every_agent.title == "Talk share and non-talk per agent"
    monkeypatch.setattr(insights, "TOP_AGENTS", len(every_agent.rows))
    assert talk_per_agent().title == "Talk share and non-talk per agent"  # all of them fit
    monkeypatch.setattr(insights, "TOP_AGENTS", 2)
    top = talk_per_agent()
    assert [row[0] for row in top.rows] == [row[0] for row in every_agent.rows[:2]]
    assert top.title == (
        f"Talk share and non-talk per agent (the 2 of {len(every_agent.rows)} with the most calls;"
        " filter by agent for another)"
    )


def test_agents_are_charted_and_offered_once_in_their_most_common_spelling(rt: Runtime) -> None:
    """The agent filter takes "david " for "David": Insights and the filter's suggestions must too, or a row
    of each spelling links to a list of both rows' calls. Respelt in a savepoint, undone for other tests."""
    with rt.db.transaction() as session:
        respelt = session.begin_nested()
        session.execute(update(Call).where(Call.call_id == "demo-bill-de").values(agent="david "))
        table = insights.chart(
            "talk_per_agent",
            session=session,
            filters=CallFilters(status="done").with_default_period(30),
            include_transcripts=True,
        )
        suggested = call_list.filter_choices(session=session, cache_key="respelt-agents").agents
        respelt.rollback()
    per_agent = {row[0]: row[1:] for row in table.rows}
    # One call each way: of as common spellings, the capitalised one (first in code point order).
    assert per_agent["David"] == [2, pytest.approx((62.1 + 54.5) / 2, abs=0.1), 0.0]
    assert [row[0] for row in table.rows].count("David") == 1 and "david" not in per_agent
    assert suggested.count("David") == 1 and "david " not in suggested and "david" not in suggested


def test_passwords_are_argon2id_hashes_and_checked(rt: Runtime) -> None:
    with rt.db.transaction() as session:
        user = accounts.create_user(
            session=session, username="hash-check", role=Role.viewer, password=PASSWORD
        )
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    with rt.db.transaction() as session:
        assert (
            accounts.authenticate(session=session, username="hash-check", password="wrong password!") is None
        )
        assert accounts.authenticate(session=session, username="nobody", password=PASSWORD) is None
        assert accounts.authenticate(session=session, username="hash-check", password=PASSWORD) is not None
    with pytest.raises(ConfigError, match="at least"):
        accounts.hash_password("short")


def test_sessions_end_on_sign_out_password_change_and_disable(rt: Runtime) -> None:
    with rt.db.transaction() as session:
        user = accounts.create_user(
            session=session, username="sessions", role=Role.analyst, password=PASSWORD
        )
        session.flush()
        first, second, third = (accounts.start_session(session=session, user=user) for _ in range(3))
    with rt.db.transaction() as session:
        signed_in = accounts.resolve_session(session=session, token=first)
        assert signed_in is not None and signed_in.role is Role.analyst and signed_in.actor == "user:sessions"
        accounts.end_session(session=session, token=first)
        assert accounts.resolve_session(session=session, token=first) is None
        assert accounts.resolve_session(session=session, token=second) is not None
        accounts.set_password(session=session, username="sessions", password="another long password")
        assert accounts.resolve_session(session=session, token=second) is None
        fourth = accounts.start_session(session=session, user=user)
        accounts.disable(session=session, username="sessions")
        assert accounts.resolve_session(session=session, token=fourth) is None
        assert accounts.resolve_session(session=session, token=third) is None
        assert (
            accounts.authenticate(session=session, username="sessions", password="another long password")
            is None
        )


def test_backfill_indexes_calls_stored_before_the_index(rt: Runtime) -> None:
    with rt.db.transaction() as session:
        session.execute(
            text(
                "delete from call_search where call_pk = (select id from calls where call_id = 'demo-refund')"
            )
        )
    assert _ids(rt, CallFilters(q="Sarah Miller")) == set()
    assert search_backfill.backfill(db=rt.db, keyring=rt.keyring) == 1
    assert _ids(rt, CallFilters(q="Sarah Miller")) == {"demo-refund"}
    assert _ids(rt, CallFilters(q="duplicate"), analyst=False) == {"demo-refund"}
    assert search_backfill.backfill(db=rt.db, keyring=rt.keyring) == 0


def test_backfill_again_reindexes_calls_indexed_by_an_earlier_version(rt: Runtime) -> None:
    """Before folding, a Japanese sentence was one lexeme: part of it found nothing until indexed again."""
    _store_turns(rt, "indexed-whole", ["返品をお願いします"], [])
    with rt.db.transaction() as session:
        session.execute(
            text(
                "update call_search set transcript_lexemes = to_tsvector('simple', '返品をお願いします')"
                " where call_pk = (select id from calls where call_id = 'indexed-whole')"
            )
        )
    assert _ids(rt, CallFilters(q="返品")) == set()
    assert search_backfill.backfill(db=rt.db, keyring=rt.keyring) == 0  # it has a row
    assert search_backfill.backfill(db=rt.db, keyring=rt.keyring, again=True) >= 1
    assert _ids(rt, CallFilters(q="返品")) == {"indexed-whole"}
