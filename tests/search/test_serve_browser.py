"""The search page in a real browser: a search, a filtered search, a keyword search and an ask.

Debian's headless Chromium, driven by selenium (the same browser fixture as Flower's test), uses
the page of a real `ragmill serve` whose LLM is the local OpenAI-compatible test server.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_flower_browser import browser  # noqa: F401 - the shared Chromium fixture
from tests.search.conftest import Service
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def hits(page: Any) -> list[str]:
    """The text of each result's header line, once the page says how many it found."""
    status = page.find_element("id", "status").text
    if "passages" not in status and "sources" not in status:
        return []
    return [e.text for e in page.find_elements("css selector", "#results .hit .meta")]


def submit(page: Any, question: str, mode: str = "search", by: str = "meaning") -> None:
    from selenium.webdriver.support.ui import Select

    box = page.find_element("id", "q")
    box.clear()
    box.send_keys(question)
    Select(page.find_element("id", "mode")).select_by_value(mode)
    Select(page.find_element("id", "match")).select_by_value(by)
    page.find_element("id", "go").click()


def test_search_filter_and_ask_through_the_page(
    service: Service, browser: Any, tmp_path: Path  # noqa: F811 - the fixture imported above
) -> None:
    from selenium.webdriver.support.ui import Select

    browser.get(service.url)
    books = Select(browser.find_element("id", "book"))
    wait_for(lambda: len(books.options) == 4, 30, "the book list filled from /api/books")

    submit(browser, "a harpoon thrown at a whale")
    found = wait_for(lambda: hits(browser), 30, "search results")
    assert found[0].startswith("1. book 1001") and "The Whaling Voyage" in found[0]
    browser.save_screenshot(str(tmp_path / "search-page.png"))

    books.select_by_value("1002")
    submit(browser, "a harpoon thrown at a whale")
    filtered = wait_for(lambda: [h for h in hits(browser) if "1001" not in h], 30,
                        "results of book 1002 only")
    assert all("book 1002" in h and "chapter Chapter" in h and "p. " in h for h in filtered)

    # By keyword: exactly the chunks holding the word (two books' worth), not the k closest.
    books.select_by_value("")
    submit(browser, "watched", by="keyword")
    wait_for(lambda: "2 passages" in browser.find_element("id", "status").text, 30,
             "the two chunks holding the word")
    passages = [e.text for e in browser.find_elements("css selector", "#results .passage")]
    assert len(passages) == 2 and all("watched" in p for p in passages)

    books.select_by_value("1001")
    submit(browser, "What did the harpooner watch?", mode="ask")
    wait_for(lambda: "sources" in browser.find_element("id", "status").text, 30, "an answer")
    answer = browser.find_element("css selector", "#answer .text").text
    cited = [e.text for e in browser.find_elements("css selector", "#results .hit .meta")]
    assert answer and cited and all(c.startswith("[1001:") for c in cited)
    assert all(c.split("]")[0] + "]" in answer for c in cited)
    browser.save_screenshot(str(tmp_path / "search-page-ask.png"))

    if os.environ.get("RAGMILL_DOCS_SCREENSHOTS") == "1":
        for name in ("search-page.png", "search-page-ask.png"):
            shutil.copy(tmp_path / name, ROOT / "docs" / name)
