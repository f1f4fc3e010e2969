"""Filtered search against a real Chroma server: the CLI's options and the library call agree."""

from __future__ import annotations

import os
import re

import pytest

from pipeline.errors import UsageError
from pipeline.search.filters import Filters, filtered_search
from tasks.embedding import Embedder
from tasks.settings import Settings
from tasks.store import ChunkStore
from tests.conftest import run_cli

pytestmark = pytest.mark.e2e


def run(library: Settings, embedder: Embedder, text: str, k: int = 18, **values: object) -> list:
    store = ChunkStore.connect(str(library.chroma_url), library.collection)
    return filtered_search(store, library, text, k, Filters.from_values(**values),
                           embedder=embedder)


def test_unfiltered_search_finds_the_book_on_the_subject(library: Settings,
                                                         embedder: Embedder) -> None:
    results = run(library, embedder, "a harpoon thrown at a whale", k=3)
    assert [r.book_id for r in results] == ["1001"] * 3


def test_book_filter_keeps_only_that_book_even_off_subject(library: Settings,
                                                           embedder: Embedder) -> None:
    results = run(library, embedder, "a harpoon thrown at a whale", book="1003")
    assert results and {r.book_id for r in results} == {"1003"}
    assert len(results) == 6  # k beyond the matching chunks returns what matches


def test_language_author_title_and_raw_where_combine(library: Settings,
                                                     embedder: Embedder) -> None:
    english = run(library, embedder, "trains", language="en")
    assert {r.book_id for r in english} == {"1001", "1002"}
    by_author = run(library, embedder, "trains", author=["Rosa Greenleaf", "Stephen Rail"])
    assert {r.book_id for r in by_author} == {"1002", "1003"}
    titled = run(library, embedder, "trains", title="The Whaling Voyage",
                 where='{"position": {"$lt": 2}}')
    assert sorted(r.position for r in titled) == [0, 1] and {r.book_id for r in titled} == {
        "1001"
    }


def test_chapter_filter_and_chapter_and_pages_in_results(library: Settings,
                                                         embedder: Embedder) -> None:
    results = run(library, embedder, "roses", chapter="Chapter 2")
    assert sorted(r.position for r in results) == [3, 4, 5]
    assert all(r.chapter == "Chapter 2" and r.page_first == r.position + 1 and
               r.page_last == r.position + 2 for r in results)
    whale = run(library, embedder, "whales", k=1)[0]
    assert whale.chapter is None and whale.page_first is None


def test_unknown_book_is_refused_by_name(library: Settings, embedder: Embedder) -> None:
    with pytest.raises(UsageError, match="book 999 is not in collection library"):
        run(library, embedder, "whales", book=["1001", "999"])


def test_cli_query_takes_the_filters_and_says_bad_ones_in_one_line(library: Settings) -> None:
    env = {**os.environ, "CHROMA_URL": str(library.chroma_url),
           "RAGMILL_COLLECTION": library.collection, "HF_HUB_OFFLINE": "1"}
    done = run_cli(["query", "whales", "--json", "-k", "10", "--book", "1002",
                    "--where", '{"position": {"$gte": 4}}'], env)
    assert done.code == 0, done.stderr
    found = done.json()
    assert isinstance(found, list)
    assert {(r["book_id"], r["position"]) for r in found} == {("1002", 4), ("1002", 5)}
    assert found[0]["chapter"] == "Chapter 2"
    for args, says in [
        (["--where", "{oops"], "--where is not valid JSON"),
        (["--book", "999"], "book 999 is not in collection library"),
        (["--title", ""], "filter title has an empty value"),
    ]:
        bad = run_cli(["query", "whales", *args], env)
        assert bad.code == 2, bad.stderr
        assert bad.stderr.count("\n") == 1 and says in bad.stderr, bad.stderr
    text = run_cli(["query", "roses", "-k", "1", "--book", "1002"], env)
    assert text.code == 0 and re.search(r"book 1002 · Chapter \d+ · pp?\. \d", text.stdout)
