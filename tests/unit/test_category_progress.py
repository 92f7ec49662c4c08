"""How the Categories page and the operations page word the count of analysed calls evaluated with the
categories in force: none, one, many (the templates rendered as the pages render them)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from callsense.calls.categories import Progress
from callsense.web.site import templates


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.parametrize(
    ("total", "said", "news"),
    [
        (
            0,
            "No call is analysed yet: each is evaluated with the categories below when its analysis is done.",
            "Re-evaluation finished.",
        ),
        (
            1,
            "The one analysed call is evaluated with the categories below.",
            "Re-evaluation finished: the one analysed call is evaluated.",
        ),
        (
            1234,
            "All 1,234 analysed calls are evaluated with the categories below.",
            "Re-evaluation finished: all 1,234 analysed calls are evaluated.",
        ),
    ],
)
def test_the_categories_page_words_none_one_and_many_calls(total: int, said: str, news: str) -> None:
    shown = templates.get_template("_category_progress.html").render(
        progress=Progress(done=total, total=total), polled=True
    )
    assert _text(shown) == f"{said} {news}"


@pytest.mark.parametrize(
    ("total", "said"),
    [
        (0, "no analysed calls yet"),
        (1, "the one analysed call up to date"),
        (5, "all 5 analysed calls up to date"),
    ],
)
def test_the_operations_page_words_none_one_and_many_calls(total: int, said: str) -> None:
    queue = SimpleNamespace(stage="categories", jobs={}, calls=Progress(done=total, total=total))
    page = templates.get_template("operations.html").render(
        queues=[queue], retention=SimpleNamespace(rules=[])
    )
    shown = re.search(r'<span class="small muted" id="reevaluation">(.*?)</span>', page)
    assert shown is not None and shown[1] == said
