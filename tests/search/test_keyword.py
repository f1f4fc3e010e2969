"""Keyword (BM25) and hybrid search against a real Chroma server: a rare word is found first,
filters hold, the index is rebuilt when the collection changes, and the CLI, Python and HTTP
APIs agree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.errors import UsageError
from pipeline.search import keyword
from pipeline.search.filters import Filters, filtered_search
from pipeline.search.keyword import KeywordIndex, fuse, keyword_index, words
from pipeline.search.library import Library
from pipeline.serve.app import create_app
from tasks.embedding import Embedder
from tasks.settings import Settings
from tasks.store import ChunkStore, Hit
from tests.conftest import run_cli
from tests.search.conftest import book_chunks, fill

pytestmark = pytest.mark.e2e

RARE = "Queequeg carved his own coffin from the dark timber of the ship."
RARE_ID = "1001-09999"


@pytest.fixture(scope="module")
def rare_store(chroma_url: str, embedder: Embedder) -> ChunkStore:
    """The three books and one more whaling chunk naming Queequeg, who appears nowhere else."""
    store = ChunkStore.connect(chroma_url, "keywords")
    fill(store, embedder)
    meta = {**book_chunks("1001")[2][0], "position": 9999}
    store.upsert([RARE_ID], embedder.encode([RARE]), [RARE], [meta])
    return store


def run(store: ChunkStore, settings: Settings, embedder: Embedder, text: str, mode: str,
        k: int = 5, **values: object) -> list:
    return filtered_search(store, settings, text, k, Filters.from_values(**values),
                           embedder=embedder, mode=mode)


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_a_name_in_one_chunk_is_found_first(rare_store: ChunkStore, library: Settings,
                                            embedder: Embedder, mode: str) -> None:
    found = run(rare_store, library, embedder, "Where is Queequeg?", mode)
    assert found[0].chunk_id == RARE_ID and found[0].rank == 1
    assert found[0].text == RARE and found[0].book_id == "1001" and found[0].position == 9999
    if mode == "keyword":  # only chunks sharing a word with the question, BM25 scores falling
        assert all(r.score > 0 for r in found)
        assert [r.score for r in found] == sorted((r.score for r in found), reverse=True)
    else:  # first by keyword (1/61) and somewhere in the meaning ranking too
        assert 1 / 61 < found[0].score <= round(2 / 61, 4)


def test_keyword_search_finds_only_chunks_sharing_a_word(rare_store: ChunkStore,
                                                         library: Settings,
                                                         embedder: Embedder) -> None:
    assert run(rare_store, library, embedder, "zzyzx qwertyuiop", "keyword") == []
    found = run(rare_store, library, embedder, "creosoted", "keyword")
    assert [(r.book_id, r.position) for r in found] == [("1003", 4)]


def test_filters_apply_in_keyword_and_hybrid_mode(library: Settings,
                                                  embedder: Embedder) -> None:
    store = ChunkStore.connect(str(library.chroma_url), library.collection)
    # "the" is in nearly every chunk of every book: the filter alone decides which come back.
    roses = run(store, library, embedder, "the", "keyword", k=20, book="1002")
    assert roses and {r.book_id for r in roses} == {"1002"}
    early = run(store, library, embedder, "the", "keyword", k=20, language="en",
                where='{"position": {"$lt": 2}}')
    assert {(r.book_id, r.position) for r in early} <= {
        ("1001", 0), ("1001", 1), ("1002", 0), ("1002", 1)
    } and {r.book_id for r in early} == {"1001", "1002"}
    assert run(store, library, embedder, "whale", "keyword", book="1003") == []
    fused = run(store, library, embedder, "whale", "hybrid", k=20, book="1003")
    assert len(fused) == 6 and {r.book_id for r in fused} == {"1003"}
    with pytest.raises(UsageError, match="book 999 is not in collection library"):
        run(store, library, embedder, "whale", "keyword", book="999")


def test_the_index_is_built_once_and_again_when_the_collection_changes(
    chroma_url: str, library: Settings, embedder: Embedder
) -> None:
    store = ChunkStore.connect(chroma_url, "keywords-growing")
    fill(store, embedder, ("1002",))
    first = keyword_index(store)
    assert keyword_index(store) is first and len(first.ids) == 6
    assert run(store, library, embedder, "Nantucket", "keyword") == []
    fill(store, embedder, ("1001",))
    assert keyword_index(store) is not first
    found = run(store, library, embedder, "Nantucket", "keyword")
    assert [(r.book_id, r.position) for r in found] == [("1001", 3)]


def test_the_index_is_kept_on_disk_and_read_back_until_the_collection_changes(
    chroma_url: str, embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ChunkStore.connect(chroma_url, "keywords-kept")
    fill(store, embedder, ("1001",))
    built = keyword_index(store, tmp_path)
    assert len(list((tmp_path / "keyword").iterdir())) == 1

    def no_building(store: ChunkStore) -> KeywordIndex:
        raise AssertionError("the index was built again")

    # As in the next process: nothing in memory, so the kept index is read, not built.
    keyword._INDEXES.clear()
    with monkeypatch.context() as patched:
        patched.setattr(KeywordIndex, "build", no_building)
        read = keyword_index(store, tmp_path)
    assert read is not built and read.ids == built.ids
    assert read.rank("the harpooned whale", 6) == built.rank("the harpooned whale", 6)

    # One chunk replaced by another: the same count, other contents, so a new index.
    store.delete(["1001-00000"])
    store.upsert(["1001-00099"], embedder.encode([RARE]), [RARE], [{"book_id": "1001"}])
    keyword._INDEXES.clear()
    fresh = keyword_index(store, tmp_path)
    assert len(fresh.ids) == 6 and fresh.rank("Queequeg", 1)[0][0] == "1001-00099"
    assert len(list((tmp_path / "keyword").iterdir())) == 2


def test_words_keep_accents_and_every_word(library: Settings) -> None:
    assert words(["Ça, l'été à Paris: THE Sea!"]) == [["ça", "été", "paris", "the", "sea"]]


def test_fusion_rewards_a_chunk_both_rankings_hold() -> None:
    def hits(*ids: str) -> list[Hit]:
        return [Hit(id=i, score=0.0, text=i, metadata={}) for i in ids]

    fused = fuse([hits("a", "b", "c"), hits("c", "d")], 3)
    # b and d tie (both second); the tie keeps the order the chunks were first seen in.
    assert [h.id for h in fused] == ["c", "a", "b"]
    assert fused[0].score == pytest.approx(1 / 63 + 1 / 61)
    assert fused[1].score == pytest.approx(1 / 61)


def test_python_api_keyword_mode_loads_no_model(library: Settings) -> None:
    reader = Library(settings=library)
    found = reader.search("Nantucket", k=3, mode="keyword")
    assert [(r.book_id, r.position) for r in found] == [("1001", 3)]
    assert reader._embedder is None
    with pytest.raises(UsageError, match="unknown search mode 'fuzzy'"):
        reader.search("whales", mode="fuzzy")


def test_http_api_answers_as_the_cli_does(library: Settings, embedder: Embedder) -> None:
    env = {**os.environ, "CHROMA_URL": str(library.chroma_url),
           "RAGMILL_COLLECTION": library.collection, "HF_HUB_OFFLINE": "1"}
    cli = run_cli(["query", "the whale and the roses", "--json", "--mode", "keyword", "-k", "4",
                   "--language", "en"], env)
    assert cli.code == 0, cli.stderr
    with TestClient(create_app(Library(settings=library, embedder=embedder))) as client:
        api = client.get("/api/search", params={"q": "the whale and the roses", "k": 4,
                                                "mode": "keyword", "language": "en"})
        assert api.status_code == 200 and api.json() == cli.json()
        assert len(api.json()) == 4 and {r["book_id"] for r in api.json()} <= {"1001", "1002"}
        bad = client.get("/api/search", params={"q": "whales", "mode": "fuzzy"})
        assert bad.status_code == 400 and "unknown search mode 'fuzzy'" in bad.json()["error"]


def test_cli_bad_mode_is_one_line_and_hybrid_works(library: Settings) -> None:
    env = {**os.environ, "CHROMA_URL": str(library.chroma_url),
           "RAGMILL_COLLECTION": library.collection, "HF_HUB_OFFLINE": "1"}
    for command in ("query", "ask"):
        bad = run_cli([command, "whales", "--mode", "fuzzy"], env)
        assert bad.code == 2, bad.stderr
        assert bad.stderr.count("\n") == 1 and "meaning, keyword, hybrid" in bad.stderr
    fused = run_cli(["query", "Nantucket whale oil", "--json", "--mode", "hybrid", "-k", "2"], env)
    assert fused.code == 0, fused.stderr
    assert (fused.json()[0]["book_id"], fused.json()[0]["position"]) == ("1001", 3)
