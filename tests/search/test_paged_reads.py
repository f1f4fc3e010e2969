"""Readers that go through a whole collection or filter read it in pages, and find exactly what
one read of everything finds: the pages are made tiny here, so the library's 18 chunks span many."""

from __future__ import annotations

import pytest

import tasks.store
from pipeline.search.keyword import keyword_hits, keyword_index
from pipeline.search.library import Library, summarize_books
from tasks.settings import Settings
from tasks.store import ChunkStore

pytestmark = pytest.mark.e2e


@pytest.fixture
def tiny_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks.store, "READ_PAGE", 4)
    monkeypatch.setattr(tasks.store, "ID_PAGE", 5)


@pytest.mark.usefixtures("tiny_pages")
def test_books_read_in_pages_are_the_books_of_one_read(library: Settings) -> None:
    store = ChunkStore.connect(str(library.chroma_url), library.collection)
    assert Library(settings=library).books() == summarize_books(store.metadatas())


@pytest.mark.usefixtures("tiny_pages")
@pytest.mark.parametrize("where", [{"language": "en"}, {"book_id": "1002"},
                                   {"position": {"$gte": 2}}])
def test_a_filtered_keyword_search_read_in_pages_ranks_as_one_read(
    library: Settings, where: dict[str, object]
) -> None:
    store = ChunkStore.connect(str(library.chroma_url), library.collection)
    text = "the whale and the roses of the railway"
    allowed = set(store.collection.get(where=where, include=[])["ids"])
    assert len(allowed) > tasks.store.ID_PAGE
    once = keyword_index(store).rank(text, 8, allowed)
    paged = keyword_hits(store, text, 8, where)
    assert once and [(h.id, h.score) for h in paged] == once
