"""Dashboard benchmark: call-list pages, search and insights over 100,000 synthetic calls.

    python bench/dashboard.py [--calls 100000] [--repeat 15]

Seeds a throw-away embedded PostgreSQL with synthetic calls (metadata, analysis columns and outcome, talk
figures, categories, audit events, search lexemes; no audio) in a few SQL statements, then times whole HTTP
pages through the real app in-process (signed in as an analyst, or an admin for the admin pages; the JSON API
with an analyst's token) and, for contrast, the same deep page fetched with OFFSET. Prints a table of median
and 95th-percentile milliseconds.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table
from sqlalchemy import select, text

from callsense.calls import queries
from callsense.calls.models import Call
from callsense.calls.queries import call_time
from callsense.config import Settings
from callsense.config.talk import TalkSettings
from callsense.pipeline import tasks
from callsense.runtime import Runtime, open_runtime
from callsense.security import tokens
from callsense.security.tokens import Role
from callsense.server import create_app
from callsense.web import accounts, call_list
from callsense.web.filters import CallFilters

PASSWORD = "benchmark password"
TOPICS = [label.label for label in Settings().analysis.topics][:12]  # the default taxonomy's labels
CATEGORIES = ["Long hold", "Escalation risk", "Churn risk", "Compliance", "Upsell", "Repeat caller"]
WORDS = [
    "refund",
    "invoice",
    "router",
    "outage",
    "contract",
    "cancel",
    "parcel",
    "depot",
    "technician",
    "password",
    "fibre",
    "roaming",
    "payment",
    "discount",
    "upgrade",
    "meter",
    "engineer",
    "delivery",
    "broadband",
    "SIM",
]

SEED_CALLS = """
insert into calls (id, call_id, status, source, agent, direction, started_at, created_at, updated_at,
                   duration_s, channels, language, topic, sentiment, emotion,
                   resolved, callback_needed, escalated, talk)
select gen_random_uuid(), 'bench-' || g,
       (array['done','done','done','done','done','failed','no_speech'])[1 + g % 7],
       'bench.wav', 'agent-' || (g * 7 % 250), 'inbound',
       now() - g * interval '53 seconds', now(), now(),
       20 + (g * 7919) % 1200, 2,
       (array['en','en','en','en','es','de','fr'])[1 + (g * 13) % 7],
       (cast(:topics as text[]))[1 + (g * 31) % 12],
       (array['Positive','Neutral','Neutral','Negative'])[1 + (g * 17) % 4],
       (array['Calm','Satisfied','Frustrated','Angry','Neutral'])[1 + (g * 19) % 5],
       case when g % 7 < 5 then (g * 23) % 3 > 0 end,
       case when g % 7 < 5 then (g * 29) % 5 = 0 end,
       case when g % 7 < 5 then (g * 37) % 11 = 0 end,
       case when g % 7 < 5 then json_build_object(
         'agent', json_build_object('talk_seconds', 60, 'share', ((g * 41) % 90 + 5) / 100.0,
                                    'interruptions', (g * 3) % 7, 'longest_monologue_seconds', 20),
         'customer', json_build_object('talk_seconds', 50, 'share', 0.5,
                                       'interruptions', (g * 5) % 9, 'longest_monologue_seconds', 15),
         'non_talk_seconds', (g * 43) % 240, 'thresholds', cast(:thresholds as json)) end
from generate_series(1, :calls) as g
"""
# Finished calls have an analysis (its ciphertext is never read by the pages timed) and a third of them are in
# one or two categories.
SEED_ANALYSES = """
insert into analyses (call_pk, result_enc, llm_backend, llm_model, created_at)
select id, '\\x00', 'fake', 'bench', now() from calls where status = 'done'
"""
# Each call's audit trail (a stage's event each), and a purge a day ago: the operations page shows the newest.
SEED_EVENTS = [
    """insert into events (call_pk, stage, kind, actor, call_id, at)
       select id, stage, 'done', 'worker', call_id, created_at
       from calls, unnest(array['ingest', 'fetch', 'transcribe', 'analyse', 'deliver', 'categorise'])
                   as stage""",
    """insert into events (stage, kind, detail, actor, at)
       values ('retention', 'purged', 'default: 0 recording(s), 0 text(s)', 'worker',
               now() - interval '1 day')""",
]
SEED_CATEGORIES = """
insert into call_categories (call_pk, category, evidence_enc)
select id, (cast(:categories as text[]))[1 + (n * k) % 6], '\\x00'
from (select id, row_number() over (order by call_id) as n from calls where status = 'done') done,
     (values (7), (11)) as factors(k)
where n % 3 = 0 and (k = 7 or n % 2 = 0)
on conflict do nothing
"""
SEED_SEARCH = """
insert into call_search (call_pk, transcript_lexemes, analysis_lexemes)
select id,
       strip(to_tsvector('english', t)) || strip(to_tsvector('simple', t)),
       strip(to_tsvector('english', coalesce(topic, ''))) || strip(to_tsvector('simple', coalesce(topic, '')))
from (
  select id, topic, w[1 + (n * 7) % 20] || ' ' || w[1 + (n * 11) % 20] || ' customer '
         || w[1 + (n * 3) % 20] || ' please help with my account thank you' as t
  from (select id, topic, row_number() over () as n, cast(:words as text[]) as w from calls) numbered
) texts
"""


class PageFailed(Exception):
    """A page answered other than 200."""


def seed(rt: Runtime, count: int) -> str:
    """Seeds the calls, an analyst and an admin of the dashboard; returns an analyst's API token."""
    with rt.db.transaction() as session:
        thresholds = json.dumps(TalkSettings().model_dump())
        session.execute(text(SEED_CALLS), {"topics": TOPICS, "calls": count, "thresholds": thresholds})
        session.execute(text(SEED_SEARCH), {"words": WORDS})
        session.execute(text(SEED_ANALYSES))
        for statement in SEED_EVENTS:
            session.execute(text(statement))
        session.execute(text(SEED_CATEGORIES), {"categories": CATEGORIES})
        accounts.create_user(session=session, username="bench", role=Role.analyst, password=PASSWORD)
        accounts.create_user(session=session, username="bench-admin", role=Role.admin, password=PASSWORD)
        token = tokens.create(session=session, name="bench", role=Role.analyst)
    with rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("vacuum analyze"))
    return token


def sign_in(client: TestClient, username: str) -> None:
    form = client.get("/app/sign-in").text
    token = re.search(r'name="signin_token" value="([^"]+)"', form)
    assert token is not None
    response = client.post(
        "/app/sign-in",
        data={"username": username, "password": PASSWORD, "signin_token": token[1], "next": "/app/calls"},
    )
    assert response.status_code == 303, response.text


def timed(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    action()  # warm: first use compiles templates, fills caches
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.95 * len(samples)))]


def cursor_at(rt: Runtime, position: int, sort: str, descending: bool) -> str:
    key = call_list.SORTS[sort][0]
    order = [key.desc(), Call.id.desc()] if descending else [key.asc(), Call.id.asc()]
    with rt.db.transaction() as session:
        value, call_pk = session.execute(
            select(key, Call.id).order_by(*order).offset(position).limit(1)
        ).one()
    return queries.encode_cursor(value, call_pk)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--only", default="", help="time only the pages whose label contains these words")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        rt = open_runtime(Settings(data_dir=Path(tmp)))
        started = time.perf_counter()
        token = seed(rt, args.calls)
        console.print(f"seeded {args.calls:,} calls in {time.perf_counter() - started:.1f} s")
        middle = args.calls // 2
        scenarios: list[tuple[str, str]] = [
            ("first page, newest first", "/app/calls"),
            ("page 2", f"/app/calls?after={cursor_at(rt, 49, 'time', True)}"),
            (f"deep page (row {middle:,})", f"/app/calls?after={cursor_at(rt, middle, 'time', True)}"),
            ("last page (oldest)", f"/app/calls?after={cursor_at(rt, args.calls - 30, 'time', True)}"),
            ("sorted by duration, first", "/app/calls?sort=duration&dir=asc"),
            (
                f"sorted by duration, row {middle:,}",
                f"/app/calls?sort=duration&dir=asc&after={cursor_at(rt, middle, 'duration', False)}",
            ),
            ("sorted by agent (no index), first", "/app/calls?sort=agent&dir=asc"),
            ("filter language + sentiment", "/app/calls?language=es&sentiment=Negative"),
            ("filter one agent + 7 days", "/app/calls?agent=agent-42&since=" + _days_ago(7)),
            ("filter one agent, typed in another case", "/app/calls?agent=+AGENT-42+"),
            ("search 'router'", "/app/calls?q=router"),
            ("search 'refund technician'", "/app/calls?q=refund+technician"),
            ("search 'refund -technician'", "/app/calls?q=refund+-technician"),
            ("search 'router or refund -outage'", "/app/calls?q=router+or+refund+-outage"),
            ("insights, last 30 days", "/app/insights"),
            ("insights, last 90 days", "/app/insights?since=" + _days_ago(90)),
            *_newer_filters(),
            *_api_pages(),
            ("insights, 1 year", f"/app/insights?since={_days_ago(365)}"),
            ("insights, 2 years", f"/app/insights?since={_days_ago(730)}"),
            ("insights, 2 years, one topic", f"/app/insights?since={_days_ago(730)}&topic=Complaint"),
            ("insights, 2 years, one category", f"/app/insights?since={_days_ago(730)}&category=Upsell"),
            *[
                (f"insights CSV {name}, 2 years", f"/app/insights/{name}.csv?since={_days_ago(730)}")
                for name in ("topics", "categories", "outcomes", "talk_per_agent", "calls_per_day")
            ],
            ("operations page (admin)", "/app/operations"),
            ("categories page (admin)", "/app/categories"),
        ]
        scenarios = [(label, url) for label, url in scenarios if args.only in label]
        app = create_app(rt, tasks.build_app(rt), worker_concurrency=0)
        table = Table(title=f"dashboard pages over {args.calls:,} calls (ms, {args.repeat} runs each)")
        for column in ("page", "median", "p95"):
            table.add_column(column, justify="left" if column == "page" else "right")
        with TestClient(
            app, base_url="http://127.0.0.1", follow_redirects=False, raise_server_exceptions=False
        ) as client:
            # The cookies of each user: one client, as a second one would start the app's lifespan again.
            sessions: dict[str, dict[str, str]] = {}
            for username in ("bench-admin", "bench"):
                client.cookies.clear()
                sign_in(client, username)
                sessions[username] = dict(client.cookies)
            for label, url in scenarios:
                client.cookies = sessions["bench-admin" if "(admin)" in label else "bench"]
                headers = {"Authorization": f"Bearer {token}"} if label.startswith("API") else {}

                def get(url: str = url, headers: dict[str, str] = headers) -> None:
                    response = client.get(url, headers=headers)
                    if response.status_code != 200:
                        raise PageFailed(f"HTTP {response.status_code}")

                try:
                    median, p95 = timed(get, args.repeat)
                except PageFailed as failure:  # an older version's answer, shown where its figures would be
                    table.add_row(label, str(failure), "")
                    continue
                table.add_row(label, f"{median:.1f}", f"{p95:.1f}")
        with rt.db.transaction() as session:

            def by_offset() -> None:
                query = select(Call).order_by(call_time.desc(), Call.id.desc()).offset(middle).limit(50)
                session.execute(query).all()

            halfway = cursor_at(rt, middle, "time", True)

            def by_keyset() -> None:
                call_list.fetch_page(
                    session=session, filters=CallFilters(), include_transcripts=True, after=halfway
                )

            def filter_menus() -> None:  # uncached: a fresh key each time
                call_list.filter_choices(session=session, cache_key=str(time.perf_counter()))

            for label, action in (
                ("query only: OFFSET row 50%", by_offset),
                ("query only: keyset row 50%", by_keyset),
                ("query only: filter menus (agents, languages, topics)", filter_menus),
            ):
                median, p95 = timed(action, args.repeat)
                table.add_row(label, f"{median:.1f}", f"{p95:.1f}")
        console.print(table)
        rt.db.close()


def _newer_filters() -> list[tuple[str, str]]:
    """The call list's filters added after the first version of this bench, alone and with a period."""
    month = f"since={_days_ago(30)}&until={_days_ago(0)}"
    return [
        ("filter taxonomy topic", "/app/calls?topic=Complaint"),
        ("filter category", "/app/calls?category=Upsell"),
        ("filter category, 30 days", f"/app/calls?category=Upsell&{month}"),
        ("filter outcome unresolved", "/app/calls?outcome=unresolved"),
        ("filter outcome escalated, 30 days", f"/app/calls?outcome=escalated&{month}"),
        ("filter non-talk above 200 s", "/app/calls?non_talk_above=200"),
        ("filter interruptions above 12", "/app/calls?interruptions_above=12"),
        ("filter interruptions above 12, 30 days", f"/app/calls?interruptions_above=12&{month}"),
        ("filter status failed", "/app/calls?status=failed"),
        ("filter topic + outcome + 30 days", f"/app/calls?topic=Complaint&outcome=escalated&{month}"),
    ]


def _api_pages() -> list[tuple[str, str]]:
    """The JSON API's call list, with the same filters, and its offset paging."""
    return [
        ("API calls, first page", "/calls"),
        ("API calls, offset 50,000", "/calls?offset=50000"),
        ("API calls, topic + category", "/calls?topic=Complaint&category=Upsell"),
        ("API calls, one agent in another case", "/calls?agent=Agent-42"),
        ("API calls, two statuses", "/calls?status=failed&status=no_speech"),
        ("API calls, interruptions above 12", "/calls?interruptions_above=12"),
        (
            "API calls, non-talk above 200 s, 30 days",
            f"/calls?non_talk_above=200&since={_days_ago(30)}",
        ),
    ]


def _days_ago(days: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC).date() - timedelta(days=days)).isoformat()


if __name__ == "__main__":
    main()
