"""The call page's question box in a real browser: Chromium driven by Playwright against `callsense serve`,
whose LLM is a loopback OpenAI-compatible stub with a scripted answer (one quote real, one invented)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests import accessibility
from tests.acceptance.test_dashboard_browser import (
    PASSWORD,
    Dashboard,
    _shot,
    _sign_in,
    browser,
    page,
    seeded_dashboard,
)
from tests.llm_stub import openai_answering
from tests.servers import CALLSENSE, callsense_env

playwright_api = pytest.importorskip("playwright.sync_api")
__all__ = ["browser", "page"]  # the browser fixtures, shared with the other dashboard tests

ANSWER = json.dumps(
    {
        "quotes": [
            {"turn": 6, "text": "i have issued a FULL refund of $49"},
            {"turn": 3, "text": "I want a new phone for free"},  # never said: must not appear
        ],
        "answer": "Yes: the agent issued a full refund of $49.",
    }
)


@pytest.fixture(scope="module")
def asking_dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    data_dir = tmp_path_factory.mktemp("ask-dashboard")
    with openai_answering(ANSWER) as llm_url:
        env = callsense_env(data_dir, CALLSENSE_LLM__BACKEND="openai", CALLSENSE_LLM__BASE_URL=llm_url)
        with seeded_dashboard(data_dir, env) as served:
            yield served


def test_an_analyst_asks_and_a_supporting_turn_seeks_the_player(
    page: Any, asking_dashboard: Dashboard
) -> None:
    _sign_in(page, asking_dashboard, "ana")
    page.goto(f"{asking_dashboard.url}/app/calls/demo-refund")
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    page.get_by_label("Question").fill("Did the agent offer a refund?")
    page.get_by_role("button", name="Ask", exact=True).click()
    answer = page.locator("#ask-answer")
    playwright_api.expect(answer).to_contain_text("Yes: the agent issued a full refund of $49.")
    quotes = answer.locator(".ask-quotes li")
    assert (
        quotes.count() == 1 and quotes.first.locator("q").inner_text() == "I have issued a full refund of $49"
    )
    assert "free" not in answer.inner_text()
    _shot(page, "10-call-asked")
    quotes.first.get_by_role("button").click()  # the turn at 0:25 plays from there
    page.wait_for_function("() => Math.abs(document.getElementById('player').currentTime - 25.598) < 0.5")
    page.locator("#player").evaluate("audio => audio.pause()")
    assert "playing" in (page.locator("#turns .turn").nth(6).get_attribute("class") or "")
    shown = subprocess.run(
        [CALLSENSE, "show", "demo-refund", "--events"],
        env=asking_dashboard.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert any("asked" in line and "user:ana" in line for line in shown.splitlines())


def test_a_viewer_has_no_question_box(page: Any, asking_dashboard: Dashboard) -> None:
    _sign_in(page, asking_dashboard, "vic")
    page.goto(f"{asking_dashboard.url}/app/calls/demo-refund")
    assert page.get_by_text("Transcript and audio are hidden.").is_visible()
    assert page.get_by_label("Question").count() == 0


def test_the_main_flows_work_with_the_keyboard_alone(page: Any, asking_dashboard: Dashboard) -> None:
    """Sign in, filter the list, open a call, play and seek, ask, and play a cited turn: keys only, each
    control reached with Tab and showing the focus."""
    player = "document.getElementById('player')"
    page.goto(f"{asking_dashboard.url}/app/calls")  # to the sign-in page, the user name focused
    page.wait_for_url("**/app/sign-in**")
    page.keyboard.type("ana")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{asking_dashboard.url}/app/calls")  # not the sign-in page's ?next=/app/calls

    page.keyboard.press("Tab")  # the first stop is the skip link, shown when focused
    skip = page.get_by_role("link", name="Skip to content")
    assert page.evaluate("() => document.activeElement.className") == "skip-link"
    assert skip.bounding_box()["x"] >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    accessibility.tab_to(page, "#language")
    page.keyboard.press("e")  # picks "en"; htmx swaps the table in
    page.wait_for_function("() => document.querySelectorAll('table.calls tbody a.call-link').length === 2")
    accessibility.tab_to(page, "a.call-link[href$='/demo-refund']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/calls/demo-refund")
    page.wait_for_function(f"() => {player}.readyState >= 1")

    accessibility.tab_to(page, "#player")
    page.keyboard.press("Space")  # the player's own controls: play
    page.wait_for_function(f"() => !{player}.paused && {player}.currentTime > 0")
    accessibility.tab_to(page, "#turns .turn:nth-child(5) .turn-seek")
    page.keyboard.press("Enter")  # "I can see two payments of $49", from 16.2 s
    page.wait_for_function(f"() => {player}.currentTime >= 16")
    page.evaluate(f"() => {player}.pause()")

    accessibility.tab_to(page, "#ask-question")
    page.keyboard.type("Did the agent offer a refund?")
    page.keyboard.press("Enter")
    answer = page.locator("#ask-answer")
    playwright_api.expect(answer).to_contain_text("Yes: the agent issued a full refund of $49.")
    accessibility.assert_accessible(page, "call with an answer")
    accessibility.tab_to(page, "#ask-answer .turn-seek")
    page.keyboard.press("Enter")  # the cited turn at 0:25
    page.wait_for_function(f"() => Math.abs({player}.currentTime - 25.598) < 0.5")
    page.evaluate(f"() => {player}.pause()")

    page.focus("#player")  # back before the transcript: its skip link leads past every turn
    accessibility.tab_to(page, "#skip-transcript", limit=10)  # the player's own controls first
    box, height = page.locator("#skip-transcript").bounding_box(), page.viewport_size["height"]
    assert box["y"] >= 0 and box["y"] + box["height"] <= height  # shown where the focus is
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "call-side"
    accessibility.tab_to(page, "#ask-question", limit=3)
