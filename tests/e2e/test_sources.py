"""Every kind of source reaches the store: folders, files, URLs and a Gutenberg catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.store import ChunkStore
from tests.conftest import Cluster, run_cli
from tests.support.books import body, gutenberg_text

pytestmark = pytest.mark.e2e

CATALOG = """Text#,Type,Issued,Title,Language,Authors,Subjects,LoCC,Bookshelves
1001,Text,2001-01-01,The Whaling Voyage,en,"Testwright, Ishmael",Whaling,PS,
1002,Text,2001-01-01,A Garden of Roses,fr,"Greenleaf, Rosa",Roses,SB,
1003,Text,2001-01-01,Engines of the Railway,en,"Rail, Stephen",Railways,TF,
1004,Sound,2001-01-01,A Recording,en,"Nobody",,,
"""


def books_in(store: ChunkStore) -> set[str]:
    metadatas = store.collection.get(include=["metadatas"])["metadatas"] or []
    return {str(m["book_id"]) for m in metadatas}


def test_folders_files_and_urls_all_land(cluster: Cluster, collection: str, tmp_path: Path) -> None:
    shelf = tmp_path / "books" / "shelf"
    shelf.mkdir(parents=True)
    (shelf / "whales.txt").write_text(gutenberg_text("1001", paragraphs=10).text)
    # A folder yields every document, recognised by content: Markdown lands as a book too.
    (tmp_path / "books" / "notes.md").write_text(
        "# Notes\n\nRoses bloom in June in the walled garden behind the old mill.\n"
    )
    plain = tmp_path / "roses.txt"
    plain.write_text(body("1002", paragraphs=10))
    cluster.mirror.put("shared/railway.txt", gutenberg_text("1003", paragraphs=10).text.encode())

    result = run_cli(
        ["ingest", str(tmp_path / "books"), str(plain), f"{cluster.mirror.url}/shared/railway.txt",
         "--json", "--no-progress", "--collection", collection],
        cluster.env(),
    )
    assert result.code == 0, result.stderr
    summary = result.json()
    assert summary["books_done"] == 4
    store = ChunkStore.connect(cluster.chroma_url, collection)
    assert store.count() == summary["chunks"]
    found = books_in(store)
    # Files with an eBook number in their header keep it; the unmarked file gets a name-based id.
    assert "1001" in found and "1003" in found
    assert any(b.startswith("roses-") for b in found)
    assert any("no Gutenberg markers" in w for w in summary["warnings"])


def test_catalog_picks_books_by_language_and_limit(cluster: Cluster, collection: str) -> None:
    cluster.mirror.put("cache/epub/feeds/pg_catalog.csv", CATALOG.encode())
    result = run_cli(
        ["ingest", "--catalog", "--language", "en", "--limit", "5",
         "--json", "--no-progress", "--collection", collection],
        cluster.env(),
    )
    assert result.code == 0, result.stderr
    assert result.json()["books_done"] == 2
    assert books_in(ChunkStore.connect(cluster.chroma_url, collection)) == {"1001", "1003"}


def test_catalog_from_a_local_path_with_limit(
    cluster: Cluster, collection: str, tmp_path: Path
) -> None:
    catalog = tmp_path / "pg_catalog.csv"
    catalog.write_text(CATALOG)
    result = run_cli(
        ["ingest", "--catalog", str(catalog), "--limit", "1", "--json", "--no-progress",
         "--collection", collection],
        cluster.env(),
    )
    assert result.code == 0, result.stderr
    assert books_in(ChunkStore.connect(cluster.chroma_url, collection)) == {"1001"}


def test_nothing_to_ingest_is_a_usage_error(cluster: Cluster) -> None:
    result = run_cli(["ingest"], cluster.env())
    assert result.code == 2
    assert "nothing to ingest" in result.stderr
