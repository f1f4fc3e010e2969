"""Listing and deleting books, and listing collections, against a real Chroma server."""

from __future__ import annotations

import os

import pytest

from pipeline.search.library import Library, UnknownCollection, summarize_books
from tasks.embedding import Embedder
from tasks.settings import Settings
from tasks.store import ChunkStore, chroma_client
from tests.conftest import run_cli
from tests.search.conftest import LIBRARY, fill

pytestmark = pytest.mark.e2e


def cli_env(library: Settings, collection: str) -> dict[str, str]:
    return {**os.environ, "CHROMA_URL": str(library.chroma_url),
            "RAGMILL_COLLECTION": collection, "HF_HUB_OFFLINE": "1"}


def test_books_lists_each_book_with_its_chunks_and_when_it_was_ingested(
    library: Settings,
) -> None:
    found = Library(settings=library).books()
    assert [(b.book_id, b.title, b.language, b.chunks) for b in found] == [
        ("1001", "The Whaling Voyage", "en", 6),
        ("1002", "A Garden of Roses", "en", 6),
        ("1003", "Engines of the Railway", "fr", 6),
    ]
    assert all(b.source == f"gutenberg:{b.book_id}" for b in found)
    assert all(b.ingested_at and b.ingested_at.endswith("+00:00") for b in found)


def test_chunks_stored_without_a_time_show_none_and_the_newest_time_wins() -> None:
    books = summarize_books([
        {"book_id": "7", "title": "Old"},
        {"book_id": "10", "title": "New", "ingested_at": "2026-01-01T00:00:00+00:00"},
        {"book_id": "10", "title": "New", "ingested_at": "2026-02-01T00:00:00+00:00"},
        {"book_id": "notes.txt", "title": "Notes"},
    ])
    assert [(b.book_id, b.chunks, b.ingested_at) for b in books] == [
        ("7", 1, None), ("10", 2, "2026-02-01T00:00:00+00:00"), ("notes.txt", 1, None)
    ]


def test_delete_removes_those_books_only_and_names_unknown_ids(
    library: Settings, embedder: Embedder, collection: str
) -> None:
    store = ChunkStore.connect(str(library.chroma_url), collection)
    fill(store, embedder)
    before_other = ChunkStore.connect(str(library.chroma_url), LIBRARY).all_ids()
    kept = store.ids_of_book("1001") | store.ids_of_book("1003")
    done = run_cli(["delete", "1002", "999", "abc"], cli_env(library, collection))
    assert done.code == 1
    assert done.stdout.strip() == "deleted book 1002: 6 chunks"
    assert done.stderr.splitlines() == [
        f"error: book 999 is not in collection {collection}; `ragmill books` lists its books",
        f"error: book abc is not in collection {collection}; `ragmill books` lists its books",
    ]
    assert set(store.all_ids()) == kept
    # Another collection on the same server is untouched.
    assert ChunkStore.connect(str(library.chroma_url), LIBRARY).all_ids() == before_other
    listed = run_cli(["books", "--json"], cli_env(library, collection))
    assert [b["book_id"] for b in listed.json()] == ["1001", "1003"]  # type: ignore[union-attr]


def test_collections_show_the_recorded_model_or_unrecorded(library: Settings) -> None:
    client = chroma_client(str(library.chroma_url))
    client.get_or_create_collection(
        "recorded_one", metadata={"ragmill:model": "all-MiniLM-L6-v2", "ragmill:backend": "onnx"}
    )
    client.get_or_create_collection("unrecorded_one")
    done = run_cli(["collections", "--json"], cli_env(library, LIBRARY))
    assert done.code == 0, done.stderr
    by_name = {c["name"]: c for c in done.json()}  # type: ignore[union-attr]
    assert by_name["recorded_one"] == {"name": "recorded_one", "chunks": 0,
                                       "model": "all-MiniLM-L6-v2", "backend": "onnx"}
    assert by_name[LIBRARY]["chunks"] == 18 and by_name[LIBRARY]["model"] == "all-MiniLM-L6-v2"
    assert by_name["unrecorded_one"]["model"] == "unrecorded"
    table = run_cli(["collections"], cli_env(library, LIBRARY))
    assert "recorded_one" in table.stdout and "unrecorded" in table.stdout


def test_a_missing_collection_is_one_line_and_is_not_created(library: Settings) -> None:
    with pytest.raises(UnknownCollection, match="collection no_such_books does not exist"):
        Library("no_such_books", settings=library).books()
    done = run_cli(["books"], cli_env(library, "no_such_books"))
    assert done.code == 2 and done.stderr.count("\n") == 1, done.stderr
    names = [c.name for c in chroma_client(str(library.chroma_url)).list_collections()]
    assert "no_such_books" not in names
