"""Dashboard benchmark: call-list pages, search and insights over 100,000 synthetic calls.

    python bench/dashboard.py [--calls 100000] [--repeat 15]

Seeds a throw-away embedded PostgreSQL with synthetic calls (metadata, analysis columns, search lexemes; no
audio) in a few SQL statements, then times whole HTTP pages through the real app in-process (signed in as an
analyst: query, template, response) and, for contrast, the same deep page fetched with OFFSET. Prints a table
of median and 95th-percentile milliseconds.
"""

from __future__ import annotations

import argparse
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

from callsense.calls.models import Call
from callsense.calls.queries import call_time
from callsense.config import Settings
from callsense.pipeline import tasks
from callsense.runtime import Runtime, open_runtime
from callsense.security.tokens import Role
from callsense.server import create_app
from callsense.web import accounts, call_list
from callsense.web.filters import CallFilters

PASSWORD = "benchmark password"
TOPICS = [
    "Duplicate charge refund",
    "Internet outage complaint",
    "Contract cancellation",
    "Electricity bill too high",
    "Parcel not delivered",
    "Password reset",
    "Upgrade to fibre",
    "Roaming charges",
    "Moving house",
    "Payment plan",
    "SIM card replacement",
    "Technician appointment",
]
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
                   duration_s, channels, language, topic, sentiment, emotion)
select gen_random_uuid(), 'bench-' || g,
       (array['done','done','done','done','done','failed','no_speech'])[1 + g % 7],
       'bench.wav', 'agent-' || (g * 7 % 250), 'inbound',
       now() - g * interval '53 seconds', now(), now(),
       20 + (g * 7919) % 1200, 2,
       (array['en','en','en','en','es','de','fr'])[1 + (g * 13) % 7],
       (cast(:topics as text[]))[1 + (g * 31) % 12],
       (array['Positive','Neutral','Neutral','Negative'])[1 + (g * 17) % 4],
       (array['Calm','Satisfied','Frustrated','Angry','Neutral'])[1 + (g * 19) % 5]
from generate_series(1, :calls) as g
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


def seed(rt: Runtime, count: int) -> None:
    with rt.db.transaction() as session:
        session.execute(text(SEED_CALLS), {"topics": TOPICS, "calls": count})
        session.execute(text(SEED_SEARCH), {"words": WORDS})
        accounts.create_user(session=session, username="bench", role=Role.analyst, password=PASSWORD)
    with rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("vacuum analyze"))


def sign_in(client: TestClient) -> None:
    form = client.get("/app/sign-in").text
    token = re.search(r'name="signin_token" value="([^"]+)"', form)
    assert token is not None
    response = client.post(
        "/app/sign-in",
        data={"username": "bench", "password": PASSWORD, "signin_token": token[1], "next": "/app/calls"},
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
    return call_list.encode_cursor(value, call_pk)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        rt = open_runtime(Settings(data_dir=Path(tmp)))
        started = time.perf_counter()
        seed(rt, args.calls)
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
            ("search 'router'", "/app/calls?q=router"),
            ("search 'refund technician'", "/app/calls?q=refund+technician"),
            ("search 'refund -technician'", "/app/calls?q=refund+-technician"),
            ("search 'router or refund -outage'", "/app/calls?q=router+or+refund+-outage"),
            ("insights, last 30 days", "/app/insights"),
            ("insights, last 90 days", "/app/insights?since=" + _days_ago(90)),
        ]
        app = create_app(rt, tasks.build_app(rt), worker_concurrency=0)
        table = Table(title=f"dashboard pages over {args.calls:,} calls (ms, {args.repeat} runs each)")
        for column in ("page", "median", "p95"):
            table.add_column(column, justify="left" if column == "page" else "right")
        with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as client:
            sign_in(client)
            for label, url in scenarios:

                def get(url: str = url) -> None:
                    response = client.get(url)
                    assert response.status_code == 200, (url, response.status_code)

                median, p95 = timed(get, args.repeat)
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

            for label, action in (
                ("query only: OFFSET row 50%", by_offset),
                ("query only: keyset row 50%", by_keyset),
            ):
                median, p95 = timed(action, args.repeat)
                table.add_row(label, f"{median:.1f}", f"{p95:.1f}")
        console.print(table)
        rt.db.close()


def _days_ago(days: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC).date() - timedelta(days=days)).isoformat()


if __name__ == "__main__":
    main()
