"""The "view sensitive data" permission in a real browser: Chromium driven by Playwright against `callsense
serve`, on a call whose customer read out a card number, processed through the real stages with the fake
redactor (``tests/redaction_calls.py``) and its original recording kept."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from callsense.config import Settings
from tests import accessibility
from tests.acceptance.test_dashboard_browser import PASSWORD, Dashboard, _shot, _sign_in, browser, page
from tests.conftest import MODEL_DIR
from tests.redaction_calls import CARD, process, runtime
from tests.servers import CALLSENSE, callsense_env, callsense_serve

playwright_api = pytest.importorskip("playwright.sync_api")
__all__ = ["browser", "page"]  # the browser fixtures, shared with the other dashboard tests


@pytest.fixture(scope="module")
def redacting_dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    data_dir = tmp_path_factory.mktemp("redaction-dashboard")
    env = callsense_env(data_dir)
    subprocess.run(
        [CALLSENSE, "users", "create", "ana", "--role", "analyst", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rt = runtime(Settings(data_dir=data_dir, model_dir=MODEL_DIR), keep_original_audio=True)
    try:
        process(rt, "card")
    finally:
        rt.db.close()
    with callsense_serve(env, data_dir / "serve.log", "--worker-concurrency", "0") as url:
        yield Dashboard(url=url, env=env)


def _opened(page: Any, open_page: Any) -> str:
    """Open the call page with ``open_page``; the content type of the recording its player loads."""
    with page.expect_response(lambda response: "/app/calls/card/audio" in response.url) as audio:
        open_page()
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    return str(audio.value.headers["content-type"])


def test_the_original_is_shown_and_played_only_after_the_permission_is_granted_and_asked_for(
    page: Any, redacting_dashboard: Dashboard
) -> None:
    call_page = f"{redacting_dashboard.url}/app/calls/card"
    turns = page.locator("#turns")
    show = page.get_by_role("link", name="Show sensitive data")
    _sign_in(page, redacting_dashboard, "ana")

    assert _opened(page, lambda: page.goto(call_page)) == "audio/flac"  # the redacted copy
    playwright_api.expect(turns).to_contain_text("My card is [CARD_NUMBER]")
    assert CARD not in page.content() and show.count() == 0
    accessibility.assert_accessible(page, "call redacted")
    assert page.locator(".redaction-note").inner_text() == "Personal data is redacted (card number: 4)."
    redacted = page.locator(".timeline .event-redacted")  # what redaction found is no error: not in red
    assert "CARD_NUMBER 4" in redacted.inner_text() and redacted.locator(".error-text").count() == 0

    granted = subprocess.run(
        [CALLSENSE, "users", "sensitive", "ana", "--allow"],
        env=redacting_dashboard.env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "ana may view sensitive data" in granted.stdout
    assert _opened(page, page.reload) == "audio/flac"  # granted, not yet asked for: still redacted
    assert CARD not in page.content()

    assert _opened(page, show.click) == "audio/wav"  # the original recording, as fetched
    playwright_api.expect(turns).to_contain_text(f"My card is {CARD}.")
    assert page.get_by_text("Showing sensitive data").is_visible()
    page.locator("details.access summary").click()
    playwright_api.expect(page.locator("details.access")).to_contain_text("sensitive viewed by user:ana")
    _shot(page, "11-call-sensitive")
    accessibility.assert_accessible(page, "call showing sensitive data")

    assert _opened(page, page.get_by_role("link", name="Hide sensitive data").click) == "audio/flac"
    playwright_api.expect(turns).to_contain_text("My card is [CARD_NUMBER]")
    assert CARD not in page.locator("#turns").inner_text() and show.is_visible()
    page.locator("details.access summary").click()
    playwright_api.expect(page.locator("details.access")).to_contain_text("sensitive played by user:ana")
