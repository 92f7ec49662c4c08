"""The database unreachable while ``serve`` takes webhooks: the sender is told to come back later."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from callsense.config import Settings
from callsense.pipeline import tasks
from callsense.runtime import Runtime, open_runtime
from callsense.server import create_app
from tests.integration.test_webhooks import LOCAL, SECRET, signed


@pytest.fixture
def rt(tmp_path: Path, database_url: str) -> Iterator[Runtime]:
    runtime = open_runtime(
        Settings(data_dir=tmp_path / "data", database_url=database_url, webhooks={"secrets": [SECRET]})
    )
    yield runtime
    runtime.db.close()


def refuse_connections(database_url: str, *, allowed: bool) -> None:
    """Cut the database off as a restart does: no new connection, the open ones closed."""
    url = make_url(database_url)
    name = url.database
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'alter database "{name}" allow_connections {str(allowed).lower()}'))
        if not allowed:
            connection.execute(
                text("select pg_terminate_backend(pid) from pg_stat_activity where datname = :name"),
                {"name": name},
            )
    admin.dispose()


def test_a_webhook_while_the_database_is_down_answers_503_with_retry_after(
    rt: Runtime, database_url: str
) -> None:
    app = create_app(rt, tasks.build_app(rt))
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as client:
        body, headers = signed(
            {"call_id": "during-outage", "recording_url": "https://recorder.example/r.wav"}
        )
        refuse_connections(database_url, allowed=False)
        try:
            refused = client.post("/webhooks/recording", content=body, headers=headers)
        finally:
            refuse_connections(database_url, allowed=True)
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "10"
        assert refused.json() == {"detail": "the database is unreachable; try again later"}
        # the sender's retry, the same message, registers the call once and queues its fetch
        again = client.post("/webhooks/recording", content=body, headers=headers)
        assert again.status_code == 202, again.text
    with rt.db.transaction() as session:
        assert session.scalar(text("select count(*) from calls where call_id = 'during-outage'")) == 1
        fetches = "select count(*) from procrastinate_jobs where queue_name = 'fetch'"
        assert session.scalar(text(fetches)) == 1
