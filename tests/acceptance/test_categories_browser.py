"""Categories in a real browser: an admin adds one on the Categories page of `callsense serve` (with its
in-process worker), watches the stored calls re-evaluated, follows the count to the filtered calls list, and
an analyst plays the recording from a category's evidence. Screenshots land in test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests import accessibility
from tests.acceptance import test_dashboard_browser as browser_tests
from tests.acceptance.test_dashboard_browser import (
    CHROMIUM,
    Dashboard,
    _call_ids,
    _shot,
    _sign_in,
    playwright_api,
    seeded_dashboard,
)
from tests.servers import callsense_env

browser = browser_tests.browser  # the fixtures: one Chromium for the module, a fresh page per test
page = browser_tests.page
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/test.sh)")


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    data_dir = tmp_path_factory.mktemp("categories-browser")
    env = callsense_env(data_dir)
    with seeded_dashboard(data_dir, env, workers=1) as served:
        yield served


def test_an_admin_adds_a_category_and_the_stored_calls_are_reevaluated(
    page: Any, dashboard: Dashboard
) -> None:
    _sign_in(page, dashboard, "ada")
    page.get_by_role("link", name="Categories").click()
    page.wait_for_url("**/app/categories")
    assert page.get_by_text("No categories yet").is_visible()

    page.get_by_label("Name").fill("Refund given")
    page.get_by_label("Rule (JSON, or TOML as in the settings file)").fill(
        'said = "full refund"\nspeaker = "boss"'
    )
    page.get_by_role("button", name="Save and re-evaluate calls").click()
    error = page.get_by_role("alert")
    playwright_api.expect(error).to_contain_text(
        "category 'Refund given': rule.said.speaker: Input should be"
    )
    _shot(page, "20-category-refused")
    accessibility.assert_accessible(page, "category refused")

    page.get_by_label("Rule (JSON, or TOML as in the settings file)").fill(
        'said = "full refund"\nspeaker = "agent"'
    )
    page.get_by_role("button", name="Save and re-evaluate calls").click()
    page.wait_for_url("**/app/categories")
    drawn_unfinished = "Re-evaluating stored calls" in page.locator("#category-progress").inner_text()
    # The worker re-evaluates the four analysed calls; the progress is polled until it says so.
    done = page.get_by_text("All 4 analysed calls are evaluated with the categories below.")
    playwright_api.expect(done).to_be_visible(timeout=90_000)
    news = page.get_by_role("status").filter(has_text="Re-evaluation finished")
    if drawn_unfinished:  # the poll that found it finished told the page's live region, once
        told = "Re-evaluation finished: all 4 analysed calls are evaluated."
        playwright_api.expect(news).to_have_text(told)
    else:
        assert news.count() == 0
    row = page.locator('tr[data-category="Refund given"]')
    assert "agent said 'full refund'" in row.inner_text()
    page.reload()  # the count is read when the page is drawn
    _shot(page, "21-categories")
    accessibility.assert_accessible(page, "categories of the dashboard")
    page.locator('tr[data-category="Refund given"]').get_by_role("link", name="1").click()
    page.wait_for_url("**/app/calls?category=Refund%20given")
    assert _call_ids(page) == ["demo-refund"]
    assert page.get_by_label("Category").input_value() == "Refund given"


def test_an_analyst_plays_the_recording_from_a_categorys_evidence(page: Any, dashboard: Dashboard) -> None:
    _sign_in(page, dashboard, "ana")
    page.get_by_label("Category").select_option("Refund given")  # htmx swaps the table in place
    page.wait_for_function("() => document.querySelectorAll('table.calls tbody a.call-link').length === 1")
    page.get_by_role("link", name="demo-refund").click()
    page.wait_for_url("**/app/calls/demo-refund")
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    evidence = page.locator('#call-categories li[data-category="Refund given"]')
    assert "I have issued a full refund of $49." in evidence.inner_text()
    evidence.get_by_role("button").click()  # "full refund" begins in the agent's turn from 25.6 s
    page.wait_for_function("() => document.getElementById('player').currentTime >= 26")
    page.locator("#player").evaluate("audio => audio.pause()")
    assert page.evaluate("document.getElementById('player').currentTime") < 30
    _shot(page, "22-call-categories")
    accessibility.assert_accessible(page, "call with a category's evidence")
