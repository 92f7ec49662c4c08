"""Sign-in limits against real components: the app served by uvicorn on loopback (configured as `callsense
serve` configures it: proxy headers trusted only from --forwarded-allow-ips), real PostgreSQL, and two
`callsense serve` processes on one database."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, update

from callsense.calls.users import SignInAttempt
from callsense.config import Settings
from callsense.config.service import SignInSettings
from callsense.pipeline import tasks
from callsense.runtime import Runtime, open_runtime
from callsense.security.tokens import Role
from callsense.server import create_app
from callsense.web import accounts
from tests.servers import callsense_env, callsense_serve, uvicorn_serving

PASSWORD = "correct horse battery"


def _runtime(tmp_path: Path, database_url: str, **limits: Any) -> Runtime:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, sign_in=SignInSettings(**limits)
    )
    rt = open_runtime(settings)
    with rt.db.transaction() as session:
        accounts.create_user(session=session, username="maria", role=Role.analyst, password=PASSWORD)
    return rt


@contextmanager
def _serve(rt: Runtime, forwarded_allow_ips: str = "127.0.0.1") -> Iterator[str]:
    try:
        with uvicorn_serving(create_app(rt, tasks.build_app(rt)), forwarded_allow_ips) as url:
            yield url
    finally:
        rt.db.close()


def _sign_in(
    url: str, username: str, password: str = "wrong password", forwarded_for: str | None = None
) -> int:
    """The status of one complete sign-in (form, then post) by a fresh browser."""
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as browser:
        token = re.search(r'name="signin_token" value="([^"]+)"', browser.get("/app/sign-in").text)
        assert token is not None
        data = {"username": username, "password": password, "signin_token": token[1]}
        return browser.post("/app/sign-in", data=data).status_code


def _rows(rt: Runtime) -> int:
    with rt.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(SignInAttempt)) or 0)


def test_concurrent_guesses_for_one_user_never_pass_the_limit(tmp_path: Path, database_url: str) -> None:
    rt = _runtime(tmp_path, database_url, max_failures_per_user=5, hash_concurrency=8, hash_queue=64)
    with _serve(rt) as url, ThreadPoolExecutor(24) as browsers:
        statuses = Counter(browsers.map(lambda _: _sign_in(url, "maria"), range(24)))
        assert statuses == {401: 5, 429: 19}
        assert _sign_in(url, "maria", PASSWORD) == 429  # the right password too, until the window passes
        assert _rows(rt) == 5


def test_spraying_user_names_from_one_address_is_stopped(tmp_path: Path, database_url: str) -> None:
    rt = _runtime(tmp_path, database_url, max_failures_per_client=4)
    with _serve(rt) as url:  # the test is the trusted proxy, naming the clients
        sprayed = [_sign_in(url, f"user{i}", forwarded_for="203.0.113.7") for i in range(6)]
        assert sprayed == [401, 401, 401, 401, 429, 429]
        assert _sign_in(url, "maria", PASSWORD, forwarded_for="203.0.113.7") == 429
        assert _sign_in(url, "someone", forwarded_for="198.51.100.9") == 401  # another address still may
        # one IPv6 host owns a whole /64: its addresses share one count
        assert [_sign_in(url, f"v6-{i}", forwarded_for=f"2001:db8:0:1::{i}") for i in range(1, 6)] == [
            *[401] * 4,
            429,
        ]
        assert _sign_in(url, "maria", PASSWORD, forwarded_for="198.51.100.9") == 303


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(tmp_path: Path, database_url: str) -> None:
    rt = _runtime(tmp_path, database_url, max_failures_per_client=3)
    with _serve(rt, forwarded_allow_ips="10.0.0.1") as url:  # the loopback peer is not that proxy
        statuses = [_sign_in(url, f"user{i}", forwarded_for=f"203.0.113.{i}") for i in range(5)]
    assert statuses == [401, 401, 401, 429, 429]


def test_unknown_user_names_do_not_grow_the_state(tmp_path: Path, database_url: str) -> None:
    rt = _runtime(tmp_path, database_url, max_failures_per_client=5, max_failures_total=5, window_s=60)
    with _serve(rt) as url:
        statuses = [_sign_in(url, f"nobody-{i}", forwarded_for=f"198.51.100.{i}") for i in range(20)]
        assert statuses == [401] * 5 + [429] * 15
        assert _rows(rt) == 5
        with rt.db.transaction() as session:  # the window passes
            session.execute(
                update(SignInAttempt).values(started_at=SignInAttempt.started_at - timedelta(seconds=61))
            )
        assert _sign_in(url, "nobody-new", forwarded_for="198.51.100.99") == 401
        assert _rows(rt) == 1  # the aged rows went with that attempt


def test_a_success_forgets_its_own_typos_but_not_other_clients_guesses(
    tmp_path: Path, database_url: str
) -> None:
    rt = _runtime(tmp_path, database_url, max_failures_per_user=5)
    with _serve(rt) as url:
        assert [_sign_in(url, "maria", forwarded_for="203.0.113.1") for _ in range(2)] == [401, 401]
        assert [_sign_in(url, "Maria ", forwarded_for="198.51.100.2") for _ in range(2)] == [401, 401]
        assert _sign_in(url, "maria", PASSWORD, forwarded_for="198.51.100.2") == 303
        assert _rows(rt) == 2  # the other address's two guesses still count
        assert [_sign_in(url, "maria", forwarded_for="203.0.113.1") for _ in range(4)] == [401, 401, 401, 429]
        assert _sign_in(url, "maria", PASSWORD, forwarded_for="198.51.100.2") == 429


def test_two_serve_processes_on_one_database_share_the_limit(tmp_path: Path, database_url: str) -> None:
    _runtime(tmp_path, database_url).db.close()  # the schema, the key file and the user
    env = callsense_env(
        tmp_path / "data", CALLSENSE_DATABASE_URL=database_url, CALLSENSE_SIGN_IN__MAX_FAILURES_PER_USER="3"
    )
    first = callsense_serve(env, tmp_path / "first.log", "--worker-concurrency", "0")
    second = callsense_serve(env, tmp_path / "second.log", "--worker-concurrency", "0")
    with first as one, second as other:
        assert [_sign_in(one, "maria"), _sign_in(other, "maria"), _sign_in(one, "maria")] == [401] * 3
        assert _sign_in(other, "maria") == 429
        assert _sign_in(one, "maria", PASSWORD) == 429
