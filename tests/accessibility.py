"""axe-core on a dashboard page in the browser (axe-playwright-python bundles it): the rules of WCAG 2.0 and
2.1, levels A and AA, which public-sector and large customers must meet for their staff's tools."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
_AXE = Axe()
_OPTIONS = {
    "runOnly": {"type": "tag", "values": WCAG_AA},
    # WCAG 2.5.3 (A), label in name: a rule axe still calls experimental, so off unless asked for.
    "rules": {"label-content-name-mismatch": {"enabled": True}},
    "resultTypes": ["violations"],
}


def violations(page: Any) -> dict[str, list[str]]:
    """The page's violations as it is now: each rule broken, with the elements (CSS selectors) breaking it."""
    results = _AXE.run(page, options=_OPTIONS)
    return {v["id"]: [" ".join(n["target"]) for n in v["nodes"]] for v in results.response["violations"]}


def check(page: Any, what: str, found: dict[str, dict[str, list[str]]]) -> None:
    """Record the page's violations under ``what`` in ``found``, so that one test reports every page."""
    broken = violations(page)
    if broken:
        found[what] = broken


def check_reflow(page: Any, what: str, found: dict[str, dict[str, list[str]]]) -> None:
    """WCAG 1.4.10: at 320 CSS pixels wide (1280 at 400% zoom) the page scrolls one way only; a data
    table may scroll inside a box of its own. Records the elements that stick out under ``what``. A chart's
    canvas is left out: Chart.js redraws it to its box's width a few frames later (the box is checked)."""
    size = page.viewport_size
    page.set_viewport_size({"width": 320, "height": 640})
    wider = page.evaluate(_WIDER)
    page.set_viewport_size(size)
    if wider:
        found.setdefault(what, {})["reflow (1.4.10)"] = wider


def assert_accessible(page: Any, what: str) -> None:
    found: dict[str, dict[str, list[str]]] = {}
    check(page, what, found)
    assert found == {}, report(found)


def report(found: dict[str, dict[str, list[str]]]) -> str:
    lines = ["axe violations, by page, rule and element:"]
    for what, rules in found.items():
        lines += [f"  {what}: {rule} ({len(nodes)}) {nodes[:4]}" for rule, nodes in rules.items()]
    return "\n".join(lines)


_WIDER = """() => {
  const scrolls = (e) => ["auto", "scroll"].includes(getComputedStyle(e).overflowX);
  const inBox = (e) => { for (let a = e.parentElement; a; a = a.parentElement) if (scrolls(a)) return true; };
  return Array.from(document.querySelectorAll("body *"))
    .filter((e) => e.tagName !== "CANVAS" && e.getBoundingClientRect().right > 320 && !inBox(e))
    .map((e) => `${e.tagName.toLowerCase()}.${e.className}`);
}"""

# The contrast of the focused element's outline with what surrounds it (the nearest opaque background of
# its parent): WCAG 2.1's 1.4.11 asks 3:1 of what shows a control's state, focus included.
_FOCUS_RING = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  if (style.outlineStyle === "none" || parseFloat(style.outlineWidth) < 2) return 0;
  const rgb = (colour) => colour.match(/[\\d.]+/g).map(Number);
  let around = el.parentElement;
  while (around && rgb(getComputedStyle(around).backgroundColor)[3] === 0) around = around.parentElement;
  const luminance = ([r, g, b]) => [r, g, b].map((c) => c / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4))
    .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  const [a, b] = [luminance(rgb(style.outlineColor)),
    luminance(around ? rgb(getComputedStyle(around).backgroundColor) : [255, 255, 255])];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def focus_ring_contrast(page: Any) -> float:
    """The focused element's outline against its surroundings; 0 when it shows no outline."""
    return float(page.evaluate(_FOCUS_RING))


def tab_to(page: Any, selector: str, *, limit: int = 80) -> None:
    """Press Tab until the element ``selector`` has the focus, as a keyboard user would; each element the
    focus passes must show it (an outline of 3:1 contrast)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement.outerHTML.slice(0, 120)")
        # The browser's own parts (the player's controls, a date field's calendar button) draw their own.
        if page.evaluate("() => document.activeElement.matches(':focus:not(audio)')"):
            assert focus_ring_contrast(page) >= 3, f"no visible focus on {focused}"
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")
