"""Filtered searches against a real Chroma server: a filter matching few chunks is ranked in
ragmill from their vectors, and finds what Chroma's own filtered query finds."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from tasks import store as store_module
from tasks.store import ChunkStore, Metadata, chroma_client
from tests.support.servers import chroma_server

BOOKS = 6
PER_BOOK = 150
DIMENSION = 32


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChunkStore]:
    with chroma_server(tmp_path_factory.mktemp("filtered-chroma")) as url:
        chunks = ChunkStore(chroma_client(url), "filtered")
        rng = np.random.default_rng(11)
        total = BOOKS * PER_BOOK
        vectors = rng.normal(size=(total, DIMENSION)).astype(np.float32)
        metadatas: list[Metadata] = [
            {"book_id": str(i % BOOKS), "title": f"Book {i % BOOKS}", "author": "",
             "language": "en", "source": "test", "position": i // BOOKS}
            for i in range(total)
        ]
        chunks.upsert([f"c{i}" for i in range(total)], vectors,
                      [f"passage {i}" for i in range(total)], metadatas)
        yield chunks


def chroma_query(store: ChunkStore, vector: np.ndarray, k: int, where: dict) -> list[tuple]:
    """What Chroma's own filtered query answers: (id, score) best first."""
    found = store.collection.query(query_embeddings=[vector], n_results=k, where=where,
                                   include=["distances"])
    return [(i, 1.0 - d) for i, d in zip(found["ids"][0], found["distances"][0], strict=True)]


def test_a_one_book_search_finds_what_chromas_filtered_query_finds(store: ChunkStore) -> None:
    rng = np.random.default_rng(5)
    where = {"book_id": "3"}
    for _ in range(10):
        vector = rng.normal(size=DIMENSION).astype(np.float32)
        hits = store.search(vector, 5, where)
        expected = chroma_query(store, vector, 5, where)
        assert [h.id for h in hits] == [i for i, _ in expected]
        assert [h.score for h in hits] == pytest.approx([s for _, s in expected], abs=1e-4)
        assert all(h.metadata["book_id"] == "3" and h.text.startswith("passage ") for h in hits)


def test_many_questions_at_once_and_a_filter_matching_nothing(store: ChunkStore) -> None:
    rng = np.random.default_rng(6)
    vectors = list(rng.normal(size=(3, DIMENSION)).astype(np.float32))
    where = {"$and": [{"book_id": "1"}, {"position": {"$lt": 20}}]}
    found = store.search_many(vectors, 4, where)
    for vector, hits in zip(vectors, found, strict=True):
        assert [h.id for h in hits] == [i for i, _ in chroma_query(store, vector, 4, where)]
    assert store.search_many(vectors, 4, {"book_id": "no such book"}) == [[], [], []]


def test_a_filter_matching_more_than_the_limit_is_left_to_chroma(
    store: ChunkStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "EXACT_FILTER_LIMIT", PER_BOOK - 1)
    vector = np.random.default_rng(8).normal(size=DIMENSION).astype(np.float32)
    assert store._search_few([vector], 5, {"book_id": "2"}) is None
    hits = store.search(vector, 5, {"book_id": "2"})
    assert [h.id for h in hits] == [i for i, _ in chroma_query(store, vector, 5, {"book_id": "2"})]
