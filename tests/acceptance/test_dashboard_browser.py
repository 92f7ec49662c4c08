"""The dashboard in a real browser: Debian's Chromium driven by Playwright against `callsense serve` on
loopback with its embedded PostgreSQL. Calls are seeded through the service layer (no Whisper, no LLM);
users are made with `callsense users create`. Screenshots of every page land in
test-artifacts/screenshots/ for a person to look at."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from callsense.config import Settings
from callsense.runtime import open_runtime
from callsense.web import insights
from tests import accessibility
from tests.conftest import MODEL_DIR, ROOT
from tests.dashboard_seed import seed, seed_mono_call
from tests.servers import CALLSENSE, callsense_env, callsense_serve

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery staple"
USERS = {"ada": "admin", "ana": "analyst", "vic": "viewer"}
# A category of the settings file, so that Insights charts the calls in it.
CATEGORIES = '[{"name": "Agent thanks", "rule": {"said": "thank you", "speaker": "agent"}}]'

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/test.sh)")


@dataclass
class Dashboard:
    url: str
    env: dict[str, str]


@contextmanager
def seeded_dashboard(
    data_dir: Path, env: dict[str, str], *, workers: int = 0, **settings: Any
) -> Iterator[Dashboard]:
    """``callsense serve`` (with ``workers`` in-process workers) on a database seeded with the demo calls and
    one user per role; ``settings`` are those the seeding runtime needs beside the environment's."""
    for name, role in USERS.items():
        subprocess.run(
            [CALLSENSE, "users", "create", name, "--role", role, "--password-stdin"],
            input=PASSWORD + "\n",
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    rt = open_runtime(Settings(data_dir=data_dir, model_dir=MODEL_DIR, **settings))
    try:
        seed(rt)
    finally:
        rt.db.close()
    with callsense_serve(env, data_dir / "serve.log", "--worker-concurrency", str(workers)) as url:
        yield Dashboard(url=url, env=env)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    data_dir = tmp_path_factory.mktemp("dashboard-data")
    env = callsense_env(data_dir, CALLSENSE_CATEGORIES=CATEGORIES)
    with seeded_dashboard(data_dir, env, categories=json.loads(CATEGORIES)) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _sign_in(page: Any, dashboard: Dashboard, username: str, *, shot: bool = False) -> None:
    page.goto(f"{dashboard.url}/app/calls")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    if shot:
        _shot(page, "01-sign-in")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/app/calls")


def _call_ids(page: Any) -> list[str]:
    return [text.strip() for text in page.locator("table.calls tbody a.call-link").all_inner_texts()]


# What each role opens for the accessibility sweep: (what, address, what to do there before axe runs).
A11Y_PAGES: dict[str, list[tuple[str, str, str | None]]] = {
    "ana": [
        ("calls", "/calls", None),
        ("calls filtered in place", "/calls", "language"),
        ("calls sorted", "/calls?sort=duration&dir=desc", None),
        ("calls none found", "/calls?q=zzzz", None),
        ("calls period backwards", "/calls?since=2030-01-02&until=2030-01-01", None),
        ("call", "/calls/demo-refund", None),
        ("call translated", "/calls/demo-cancel-es", "#show-translation"),
        ("call failed", "/calls/demo-missing-recording", None),
        ("call not found", "/calls/no-such-call", None),
        ("insights", "/insights", None),
        ("insights empty", "/insights?since=2001-01-01&until=2001-01-02", None),
        ("refused", "/operations", None),
        ("no such page", "/no-such-page", None),
    ],
    "ada": [
        ("calls", "/calls", None),
        ("call with admin controls", "/calls/demo-outage", "details"),
        ("operations", "/operations", None),
        ("categories", "/categories", None),
    ],
    "vic": [("calls", "/calls", None), ("call", "/calls/demo-refund", None), ("insights", "/insights", None)],
}


def _prepare(page: Any, action: str | None) -> None:
    if action == "language":  # htmx swaps the filtered table in
        page.get_by_label("Language").select_option("en")
        page.wait_for_function("() => document.querySelectorAll('table.calls tbody tr').length === 2")
    elif action == "details":
        for summary in page.locator("details summary").all():
            summary.click()
    elif action is not None:
        page.locator(action).check()


def test_every_page_passes_axe_as_each_role(browser: Any, dashboard: Dashboard) -> None:
    """axe-core's WCAG 2.1 A and AA rules on every page and state, as each role (their pages differ), and
    each page at 320 CSS pixels wide (reflow). Before the tests below change the seeded calls."""
    found: dict[str, dict[str, list[str]]] = {}
    anonymous = browser.new_page()
    anonymous.goto(f"{dashboard.url}/app/sign-in")
    accessibility.check(anonymous, "sign-in", found)
    accessibility.check_reflow(anonymous, "sign-in", found)
    anonymous.get_by_label("User name").fill("ana")
    anonymous.get_by_label("Password").fill("wrong")
    anonymous.get_by_role("button", name="Sign in").click()
    anonymous.get_by_role("alert").wait_for()
    accessibility.check(anonymous, "sign-in refused", found)
    anonymous.context.close()
    for username, pages in A11Y_PAGES.items():
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        _sign_in(page, dashboard, username)
        for what, path, action in pages:
            page.goto(f"{dashboard.url}/app{path}")
            _prepare(page, action)
            accessibility.check(page, f"{what} ({username})", found)
            accessibility.check_reflow(page, f"{what} ({username})", found)
        context.close()
    assert found == {}, accessibility.report(found)


def test_an_analyst_finds_the_call_and_listens_with_the_transcript_following(
    page: Any, dashboard: Dashboard
) -> None:
    _sign_in(page, dashboard, "ana", shot=True)
    assert set(_call_ids(page)) == {
        "demo-refund",
        "demo-outage",
        "demo-cancel-es",
        "demo-bill-de",
        "demo-missing-recording",
    }
    _shot(page, "02-calls")
    page.get_by_role("link", name="Duration").click()  # sort: the longest call first
    page.wait_for_url("**sort=duration**")
    assert _call_ids(page)[:2] == ["demo-refund", "demo-cancel-es"]
    assert page.locator("th[aria-sort]").get_attribute("aria-sort") == "descending"
    assert page.locator("th[aria-sort]").inner_text().lower().startswith("duration")
    page.get_by_role("link", name="Reset").click()

    found = page.locator("#result-count")
    found.evaluate("region => { region.dataset.before = 'yes'; }")
    page.get_by_label("Language").select_option("en")  # htmx swaps the table in place
    page.wait_for_function("() => document.querySelectorAll('table.calls tbody a.call-link').length === 2")
    assert set(_call_ids(page)) == {"demo-refund", "demo-outage"}
    # A screen reader hears the count, from the status region that stayed, not the whole table read out.
    assert found.get_attribute("role") == "status" and found.get_attribute("data-before") == "yes"
    assert found.inner_text() == "2 calls"
    assert page.locator("[aria-live] table, [role=status] table").count() == 0
    assert "language=en" in page.url  # the filtered list has its own address

    page.get_by_label("Search").fill("refund chocolate")  # every word must match
    page.get_by_label("Search").press("Enter")
    page.wait_for_function("() => document.querySelectorAll('table.calls tbody a.call-link').length === 0")
    page.get_by_label("Search").fill("Sarah Miller")  # a name said in the transcript only
    page.get_by_label("Search").press("Enter")
    page.wait_for_function("() => document.querySelectorAll('table.calls tbody a.call-link').length === 1")
    assert _call_ids(page) == ["demo-refund"]
    _shot(page, "03-calls-searched")

    page.get_by_role("link", name="demo-refund").click()
    page.wait_for_url("**/app/calls/demo-refund")
    player = page.locator("#player")
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    assert page.evaluate("document.getElementById('player').duration") == pytest.approx(40.0, abs=0.5)
    turn = page.locator("#turns .turn").nth(4)  # "I can see two payments of $49", from 16.2 s
    turn.get_by_role("button").click()
    page.wait_for_function("() => document.getElementById('player').currentTime >= 16")
    assert "playing" in (turn.get_attribute("class") or "")
    page.wait_for_function("() => document.getElementById('player').currentTime > 16.5")  # it plays on
    player.evaluate("audio => audio.pause()")

    page.locator("#turns .turn").nth(1).get_by_role("button").focus()  # keyboard: Enter on a turn seeks
    page.keyboard.press("Enter")
    page.wait_for_function("() => Math.abs(document.getElementById('player').currentTime - 5.156) < 0.5")
    player.evaluate("audio => audio.pause()")
    assert page.get_by_text("Agent confirmed two $49 payments").is_visible()
    # What the strip and the sentiment table show, in words for a screen reader.
    strip = page.get_by_role(
        "img", name="Who spoke when, coloured by sentiment: agent positive, customer negative"
    )
    assert strip.count() == 1
    # The sentiment per quarter: a small line chart drawn by call.js, named with its values...
    chart = page.get_by_role(
        "img",
        name="Sentiment over the call, by quarter: Agent: Positive, Positive, Positive, Positive; "
        "Customer: Negative, Negative, silent, Positive",
    )
    assert chart.count() == 1 and chart.evaluate("canvas => canvas.id") == "trend-chart"
    page.wait_for_function("() => Chart.getChart('trend-chart') !== undefined")
    drawn = page.evaluate(
        "(() => { const chart = Chart.getChart('trend-chart');"
        " return { type: chart.config.type, labels: chart.data.labels,"
        " series: chart.data.datasets.map(d => [d.label, d.data]),"
        " ticks: chart.scales.y.ticks.map(t => t.label),"
        " points: chart.data.datasets.map((_, n) => chart.getDatasetMeta(n).data.filter(p=>!p.skip).length),"
        " height: chart.canvas.getBoundingClientRect().height }; })()"
    )
    assert drawn["type"] == "line" and drawn["labels"] == ["Q1", "Q2", "Q3", "Q4"]
    assert drawn["series"] == [["Agent", [2, 2, 2, 2]], ["Customer", [0, 0, None, 2]]]
    assert drawn["ticks"] == ["Negative", "Neutral", "Positive"]  # the y axis: three levels, in words
    assert drawn["points"] == [4, 3]  # the customer's silent third quarter is a gap, not a point
    assert 100 <= drawn["height"] <= 180  # small: it sits in the side column
    # ...and its numbers as the badge table, shown on demand as on Insights.
    trend = page.get_by_role("table", name="Sentiment over the call")
    assert trend.count() == 0  # hidden until asked for
    page.get_by_text("Show the numbers of the sentiment over the call").click()
    assert [
        trend.get_by_role("cell", name=word, exact=True).count()
        for word in ("Positive", "Negative", "silent")
    ] == [
        5,
        2,
        1,
    ]
    analysis = page.locator("section[aria-labelledby=analysis-title]")
    issues = analysis.get_by_role("heading", name="Issues").locator("xpath=following-sibling::ul[1]")
    assert issues.get_by_role("listitem").all_inner_texts() == [
        "Charged twice for one phone bill",
        "Needs the duplicate payment refunded",
    ]
    answers = {
        name: analysis.locator("dt", has_text=name).locator("xpath=following-sibling::dd[1]").inner_text()
        for name in ("Resolved", "Callback needed", "Escalated")
    }
    assert answers == {"Resolved": "Yes", "Callback needed": "not said", "Escalated": "No"}
    drawn_share = page.evaluate(  # the agent's talk bar, drawn by call.js: 20.9 s of the 33.6 s of talk
        "(() => { const bar = document.querySelector('.talk-bar.talk-agent');"
        " return bar.getBoundingClientRect().width / bar.parentElement.getBoundingClientRect().width; })()"
    )
    assert drawn_share == pytest.approx(0.621, abs=0.01)
    _shot(page, "04-call")

    page.goto(f"{dashboard.url}/app/calls/demo-cancel-es")
    assert page.locator("#turns .turn-text").first.get_attribute("lang") == "es"  # read out in Spanish
    assert not page.get_by_text("I want to cancel my internet contract").is_visible()
    page.get_by_label("Show the English translation side by side").check()
    assert page.get_by_text("I want to cancel my internet contract").is_visible()
    _shot(page, "05-call-translated")


def test_a_typed_filter_is_one_request_and_one_step_back(page: Any, dashboard: Dashboard) -> None:
    """Enter in a text field (or Apply after typing) filters once: the Back button then leaves the filter in
    one press, as a lead expects, and the server is asked once."""
    _sign_in(page, dashboard, "ana")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/app/calls?" in request.url else None)
    steps_before = page.evaluate("history.length")
    page.get_by_label("Agent").fill("David")
    page.get_by_label("Agent").press("Enter")
    page.wait_for_function("() => document.querySelectorAll('table.calls tbody a.call-link').length === 2")
    assert page.url == f"{dashboard.url}/app/calls?agent=David&sort=time&dir=desc"  # to bookmark or share
    page.get_by_label("Topic").fill("refund")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_function("() => document.querySelectorAll('table.calls tbody a.call-link').length === 1")
    page.wait_for_timeout(300)  # a second request would have been sent by now
    assert len(asked) == 2, asked
    assert page.evaluate("history.length") - steps_before == 2
    page.go_back()
    page.wait_for_function("() => document.querySelectorAll('table.calls tbody a.call-link').length === 2")
    assert page.get_by_label("Topic").input_value() == ""
    assert page.get_by_label("Agent").input_value() == "David"
    page.go_back()
    page.wait_for_function("() => document.querySelectorAll('table.calls tbody a.call-link').length === 5")


def test_insights_charts_render_with_data(page: Any, dashboard: Dashboard) -> None:
    _sign_in(page, dashboard, "ana")
    page.get_by_role("link", name="Insights").click()
    page.wait_for_url("**/app/insights")
    for name in insights.CHARTS:
        page.wait_for_function(f"() => Chart.getChart('chart-{name}') !== undefined")
        points = page.evaluate(
            f"Chart.getChart('chart-{name}').data.datasets.flatMap(d => d.data).filter(v => v > 0).length"
        )
        assert points > 0, name
    assert page.locator("#kpi-calls").inner_text() == "5"
    assert page.locator("#kpi-languages").inner_text() == "3"  # the failed call has none: not a fourth
    legend = page.evaluate("Chart.getChart('chart-talk_per_agent').data.datasets.map(d => d.label)")
    assert legend == ["agent's share of the talk (%)", "average non-talk (s)"]  # words, not CSV columns
    page.get_by_text("Show the numbers of Top topics").click()  # the chart's numbers, as a table
    topics = page.get_by_role("table", name="Top topics")
    assert topics.get_by_role("row").count() == 1 + page.evaluate(
        "Chart.getChart('chart-topics').data.labels.length"
    )
    assert topics.get_by_role("rowheader", name="Duplicate charge refund").is_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV of Top topics").click()
    assert Path(download.value.path()).read_text(encoding="utf-8-sig").startswith("topic,calls")
    page.wait_for_timeout(600)  # let the charts' entry animation finish before the screenshot
    _shot(page, "06-insights")


def test_an_admin_sees_operations(page: Any, dashboard: Dashboard) -> None:
    _sign_in(page, dashboard, "ada")
    page.get_by_role("link", name="Operations").click()
    page.wait_for_url("**/app/operations")
    assert page.get_by_text("fetch: the recording server answered 404 Not Found").is_visible()
    assert page.get_by_role("button", name="Reprocess demo-missing-recording").is_visible()
    assert page.get_by_role("button", name="Retry delivery").is_visible()
    _shot(page, "07-operations")
    # htmx posts with the session's CSRF header; the buttons are replaced by what happened.
    page.get_by_role("button", name="Reprocess demo-missing-recording").click()
    playwright_api.expect(page.get_by_role("status").filter(has_text="Queued from fetch")).to_be_visible()
    page.get_by_role("button", name="Retry delivery").click()
    playwright_api.expect(page.get_by_role("status").filter(has_text="Delivery pending")).to_be_visible()
    page.get_by_role("button", name="Retry all dead deliveries").click()
    playwright_api.expect(page.get_by_role("status").filter(has_text="deliveries queued")).to_be_visible()
    accessibility.assert_accessible(page, "operations after htmx swapped what happened in")


def test_a_viewer_cannot_reach_transcript_or_audio_and_signs_out(page: Any, dashboard: Dashboard) -> None:
    _sign_in(page, dashboard, "vic")
    assert page.get_by_role("link", name="Operations").count() == 0
    page.goto(f"{dashboard.url}/app/calls/demo-refund")
    assert page.get_by_text("Transcript and audio are hidden.").is_visible()
    assert page.locator("#turns").count() == 0 and page.locator("audio").count() == 0
    assert page.get_by_text("Agent confirmed two $49 payments").is_visible()  # the analysis is theirs
    _shot(page, "08-call-as-viewer")
    audio = page.goto(f"{dashboard.url}/app/calls/demo-refund/audio")
    assert audio is not None and audio.status == 403
    operations = page.goto(f"{dashboard.url}/app/operations")
    assert operations is not None and operations.status == 403
    _shot(page, "09-refused")

    page.goto(f"{dashboard.url}/app/calls")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/app/sign-in")
    page.goto(f"{dashboard.url}/app/calls/demo-refund")
    assert "/app/sign-in" in page.url


def _access_log(dashboard: Dashboard, call_id: str) -> list[str]:
    shown = subprocess.run(
        [CALLSENSE, "show", call_id, "--events"],
        env=dashboard.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in shown.splitlines() if "transcript_viewed" in line or "audio_streamed" in line]


@pytest.fixture
def other_site(dashboard: Dashboard) -> Iterator[str]:
    """A page of another site (localhost is not 127.0.0.1 to a browser) that links to a call."""
    html = f'<!doctype html><a id="go" href="{dashboard.url}/app/calls/demo-outage">a ticket</a>'.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_link_from_another_site_does_not_make_the_analyst_view_the_call(
    page: Any, dashboard: Dashboard, other_site: str
) -> None:
    _sign_in(page, dashboard, "ana")
    before = _access_log(dashboard, "demo-outage")
    page.goto(other_site)
    page.click("#go")  # the session cookie (SameSite=Lax) goes along with a top-level navigation
    page.wait_for_url("**/app/calls/demo-outage")
    assert _access_log(dashboard, "demo-outage") == before  # no forged "transcript_viewed"
    assert page.get_by_text("Transcript and audio are not shown yet.").is_visible()
    assert page.locator("#turns").count() == 0 and page.locator("audio").count() == 0
    _shot(page, "10-call-from-another-site")
    accessibility.assert_accessible(page, "call held back")
    page.get_by_role("link", name="Show the transcript and recording").click()
    page.wait_for_function("() => document.getElementById('player') !== null")
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")  # the audio loads
    assert page.locator("#turns .turn").count() > 0
    assert len(_access_log(dashboard, "demo-outage")) >= len(before) + 2  # viewed, and the audio streamed


def test_an_admin_holds_a_call_then_erases_it_after_typing_its_id(page: Any, dashboard: Dashboard) -> None:
    _sign_in(page, dashboard, "ada")
    page.goto(f"{dashboard.url}/app/calls/demo-cancel-es")
    page.get_by_text("Legal hold and erasure").click()
    page.locator("form[action$='/hold'] input[name=reason]").fill("case 2024-117")
    page.get_by_role("button", name="Put under legal hold").click()
    playwright_api.expect(page.get_by_role("status").filter(has_text="Legal hold")).to_contain_text(
        "case 2024-117"
    )
    _shot(page, "10-legal-hold")
    accessibility.assert_accessible(page, "call under legal hold")
    page.get_by_text("Legal hold and erasure").click()
    page.locator("form[action$='/release'] input[name=reason]").fill("case closed")
    page.get_by_role("button", name="Release the legal hold").click()
    page.get_by_text("Legal hold and erasure").click()
    erase = page.locator("form[action$='/erase']")
    erase.locator("input[name=reason]").fill("DSR-42")
    erase.get_by_role("button", name="Erase this call").click()  # the browser asks for the typed id first
    assert page.url.endswith("/app/calls/demo-cancel-es")
    erase.locator("input[name=confirm_call_id]").fill("demo-cancel-es")
    erase.get_by_role("button", name="Erase this call").click()
    playwright_api.expect(page.get_by_role("heading", name="Call erased")).to_be_visible()
    _shot(page, "11-erased")
    accessibility.assert_accessible(page, "call erased")
    page.goto(f"{dashboard.url}/app/calls/demo-cancel-es")
    playwright_api.expect(page.get_by_role("heading", name="Not available")).to_be_visible()


def test_turns_of_unknown_speakers_take_the_colour_of_the_sentiment(page: Any, dashboard: Dashboard) -> None:
    """A mono call whose speakers were not told apart: each band is coloured by the call's sentiment, as its
    tooltip says, and sits on the middle row. Seeded into the running dashboard, after the tests that count
    its calls."""
    rt = open_runtime(Settings(data_dir=Path(dashboard.env["CALLSENSE_DATA_DIR"]), model_dir=MODEL_DIR))
    try:
        seed_mono_call(rt)
    finally:
        rt.db.close()
    _sign_in(page, dashboard, "ana")
    page.goto(f"{dashboard.url}/app/calls/mono")
    bands = page.locator(".strip .band")
    assert bands.count() == 2 and bands.first.get_attribute("title") == "unknown: Negative"
    colours = bands.evaluate_all("bands => bands.map(band => getComputedStyle(band).backgroundColor)")
    negative = page.locator(".legend .key.band-negative").evaluate(
        "key => getComputedStyle(key).backgroundColor"
    )
    assert colours == [negative, negative] and negative == "rgb(224, 85, 103)"
    assert "one row: speakers not told apart" in page.locator(".legend").inner_text()
    words = "Who spoke when, coloured by sentiment: unknown negative; nobody talking 0:12 to 0:20."
    assert page.get_by_role("img", name=words, exact=True).count() == 1  # the strip, for a screen reader
    _shot(page, "12-call-mono")
    accessibility.assert_accessible(page, "call with speakers not told apart")
