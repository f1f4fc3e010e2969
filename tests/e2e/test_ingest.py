"""Ingest through a real redis-server, real Celery worker processes and a real Chroma server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tasks.store import ChunkStore
from tests.conftest import Cluster, run_cli
from tests.support.books import expected_chunk_ids

pytestmark = pytest.mark.e2e



def ingest(cluster: Cluster, collection: str, *args: str, program: str | None = None) -> Any:
    extra = {"program": program} if program else {}
    result = run_cli(
        ["--json", "--no-progress", "--collection", collection, *args],
        cluster.env(),
        **extra,
    ) if program else run_cli(
        ["ingest", "--json", "--no-progress", "--collection", collection, *args], cluster.env()
    )
    return result


def test_three_books_land_exactly_once_and_reingest_changes_nothing(
    cluster: Cluster, collection: str
) -> None:
    first = ingest(cluster, collection, "1001", "1002", "1003")
    assert first.code == 0, first.stderr
    summary = first.json()
    store = ChunkStore.connect(cluster.chroma_url, collection)
    expected = expected_chunk_ids(cluster.books)
    assert summary["books_done"] == 3 and summary["books_failed"] == 0
    assert summary["chunks"] == len(expected) == store.count()
    assert set(store.all_ids()) == expected

    again = ingest(cluster, collection, "1001", "1002", "1003")
    assert again.code == 0, again.stderr
    assert again.json()["chunks_new"] == 0
    assert again.json()["chunks_already_stored"] == len(expected)
    assert store.count() == len(expected)


def test_second_ingest_of_an_id_does_not_download_again(
    cluster: Cluster, collection: str
) -> None:
    path = "/cache/epub/1001/pg1001.txt"
    assert ingest(cluster, collection, "1001").code == 0
    downloads = cluster.mirror.requests[path]
    assert ingest(cluster, collection, "1001").code == 0
    assert downloads >= 1
    assert cluster.mirror.requests[path] == downloads


def test_query_for_a_phrase_finds_its_book_first(cluster: Cluster, collection: str) -> None:
    assert ingest(cluster, collection, "1001", "1002", "1003").code == 0
    result = run_cli(
        ["query", "pruning climbing roses before the frost", "-k", "3", "--json",
         "--collection", collection],
        cluster.env(),
    )
    assert result.code == 0, result.stderr
    hits = result.json()
    assert len(hits) == 3
    assert hits[0]["book_id"] == "1002"
    assert hits[0]["title"] == "A Garden of Roses"
    assert hits[0]["author"] == "Rosa Greenleaf"
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]
    assert "rose" in hits[0]["text"].lower()


def test_ingest_alias_command_runs_the_same_ingest(cluster: Cluster, collection: str) -> None:
    from tests.conftest import RAGMILL

    alias = str(Path(RAGMILL).with_name("ingest"))
    result = ingest(cluster, collection, "1003", program=alias)
    assert result.code == 0, result.stderr
    assert result.json()["books_done"] == 1
    assert ChunkStore.connect(cluster.chroma_url, collection).count() == result.json()["chunks"]


def test_a_changed_book_replaces_its_stale_chunks(
    cluster: Cluster, collection: str, tmp_path: Path
) -> None:
    from tests.support.books import gutenberg_text

    book = tmp_path / "garden.txt"
    book.write_text(gutenberg_text("1002", paragraphs=30, seed=1).text)
    assert ingest(cluster, collection, str(book)).code == 0
    store = ChunkStore.connect(cluster.chroma_url, collection)
    before = set(store.all_ids())

    book.write_text(gutenberg_text("1002", paragraphs=20, seed=2).text)
    result = ingest(cluster, collection, str(book))
    assert result.code == 0, result.stderr
    after = set(store.all_ids())
    assert len(after) == result.json()["chunks"]
    assert after != before
    assert not (before - after) & after
    texts = store.collection.get(include=["documents"])["documents"]
    assert all("Chapter 21 goes on" not in t for t in texts)


def test_bad_inputs_fail_one_by_one_and_the_good_book_lands(
    cluster: Cluster, collection: str, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    binary = tmp_path / "image.txt"
    binary.write_bytes(bytes(range(256)) * 64)
    missing = tmp_path / "missing.txt"
    result = ingest(
        cluster, collection, "99999999", "abc", str(missing), str(empty), str(binary), "1001"
    )
    assert result.code == 1
    summary = result.json()
    failures = summary["failures"]
    assert set(failures) == {"99999999", "abc", str(missing), str(empty), str(binary)}
    assert "404" in failures["99999999"]
    for label, reason in failures.items():
        assert label in reason and "\n" not in reason
    assert summary["books_done"] == 1 and summary["books_failed"] == 5
    assert ChunkStore.connect(cluster.chroma_url, collection).count() == summary["chunks"] > 0
    # Each failure is one line on stderr, naming its input.
    for label in failures:
        assert any(label in line and "failed" in line for line in result.stderr.splitlines())
