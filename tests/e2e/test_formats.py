"""Documents of every format go through real workers into Chroma with their chapters and pages.

The mixed folder holds the real books of `shared/corpus/formats/` when they are there and small
documents the tests build otherwise; the EPUB edition of a Gutenberg id comes from the test mirror.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tasks.store import ChunkStore
from tests.conftest import Cluster, run_cli
from tests.corpus.formats.builders import CONTAINER, docx, pdf, xhtml, zip_bytes
from tests.corpus.formats.builders import OPF as TEST_OPF
from tests.support.shared import shared_dir

pytestmark = pytest.mark.e2e

PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)
TITLES = ["One", "Two", "Three"]
WORDS = ["apple", "bridge", "candle", "dragon", "ember", "forest", "garden", "harbour", "island"]


@dataclass
class Library:
    """A folder to ingest and what must come out of it."""

    folder: Path
    # PDF chapter title -> the page its heading is printed on.
    pdf_chapters: dict[str, int]
    min_chapters: int
    phrase: str
    skipped: list[str] = field(default_factory=list)


def real_library(root: Path, formats: Path) -> Library:
    folder = root / "library"
    folder.mkdir()
    for name in ("alice-in-wonderland.pdf", "alice-in-wonderland.epub", "alice-in-wonderland.docx"):
        (folder / name).write_bytes((formats / name).read_bytes())
    (folder / "cover.png").write_bytes(PNG)
    with (formats / "pdf-chapter-pages.csv").open() as handle:
        pages = {
            row["chapter"]: int(row["page"])
            for row in csv.DictReader(handle)
            if row["file"] == "alice-in-wonderland.pdf"
        }
    return Library(folder, pages, min_chapters=12, phrase="the White Rabbit with pink eyes")


def pdf_page(number: int) -> list[tuple[float, str]]:
    # Titles that differ in words, not only digits, or they would read as a running header.
    heading = [(20.0, f"Chapter {TITLES[number // 2]}")] if number % 2 else []
    lines = [(10.0, f"The {WORDS[number]} of page {number} stands by the sea.") for _ in (0, 1)]
    return heading + lines


def built_library(root: Path) -> Library:
    folder = root / "library"
    folder.mkdir()
    (folder / "harbour.pdf").write_bytes(pdf([pdf_page(n) for n in range(1, 7)]))
    (folder / "moor.epub").write_bytes(gutenberg_epub("4242", "A Test Book"))
    (folder / "letters.docx").write_bytes(
        docx([("Kapitel", "Erstes Kapitel"), ("Normal", "Roses climb the old stone wall."),
              ("Kapitel", "Zweites Kapitel"), ("Normal", "The gardener prunes them in March.")])
    )
    (folder / "cover.png").write_bytes(PNG)
    pages = {"Chapter One": 1, "Chapter Two": 3, "Chapter Three": 5}
    return Library(folder, pages, min_chapters=2, phrase="the harbour by the sea")


def gutenberg_epub(book_id: str, title: str) -> bytes:
    """An EPUB 3 edition the way Gutenberg builds one: header block, two chapters, license."""
    chapter = (
        "<h2>Chapter One</h2><p>The lighthouse keeper climbed the spiral stairs at dusk.</p>"
        "<h2>Chapter Two</h2><p>Storm waves broke against the rocks below the lamp.</p>"
    )
    header = (
        '<section class="pg-boilerplate" id="pg-header"><p>The Project Gutenberg eBook of '
        f"{title}</p><p>Release date: June 1, 1998 [eBook #{book_id}]</p>"
        f"<p>*** START OF THE PROJECT GUTENBERG EBOOK {title.upper()} ***</p></section>"
    )
    footer = (
        '<section class="pg-boilerplate" id="pg-footer">'
        f"<p>*** END OF THE PROJECT GUTENBERG EBOOK {title.upper()} ***</p>"
        "<p>THE FULL PROJECT GUTENBERG LICENSE applies to this work.</p></section>"
    )
    opf = TEST_OPF.replace(b"gutenberg.org/4242", f"gutenberg.org/{book_id}".encode())
    nav = (
        b'<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">'
        b'<body><nav epub:type="toc"><ol><li><a href="text/one.xhtml">Chapter One</a></li>'
        b"</ol></nav></body></html>"
    )
    return zip_bytes(
        {
            "META-INF/container.xml": CONTAINER,
            "OEBPS/content.opf": opf,
            "OEBPS/nav.xhtml": nav,
            "OEBPS/text/two.xhtml": xhtml(header),
            "OEBPS/text/one.xhtml": xhtml(chapter + footer),
        },
        mimetype=b"application/epub+zip",
    )


@pytest.fixture
def library(tmp_path: Path) -> Library:
    formats = shared_dir() / "corpus" / "formats"
    if (formats / "pdf-chapter-pages.csv").is_file():
        return real_library(tmp_path, formats)
    return built_library(tmp_path)


def stored(store: ChunkStore) -> list[dict[str, Any]]:
    return [dict(m) for m in store.collection.get(include=["metadatas"])["metadatas"] or []]


def test_a_mixed_folder_lands_with_chapters_and_pages_and_the_rest_skipped(
    cluster: Cluster, collection: str, library: Library
) -> None:
    result = run_cli(
        ["ingest", str(library.folder), "--json", "--no-progress", "--collection", collection],
        cluster.env(), timeout=480,
    )
    assert result.code == 0, result.stderr
    summary = result.json()
    assert isinstance(summary, dict)
    assert (summary["books_done"], summary["books_failed"]) == (3, 0)
    assert summary["files_skipped"] == 1
    assert [Path(name).name for name in summary["skipped"]] == ["cover.png"]
    assert "Skipped (not documents): 1 file:" in result.stderr
    metadatas = stored(ChunkStore.connect(cluster.chroma_url, collection))
    by_source: dict[str, list[dict[str, Any]]] = {}
    for m in metadatas:
        by_source.setdefault(Path(str(m["source"])).suffix, []).append(m)
    assert set(by_source) == {".pdf", ".epub", ".docx"}
    for suffix, chunks in by_source.items():
        assert len({m.get("chapter") for m in chunks} - {None}) >= library.min_chapters, suffix
        paged = [m for m in chunks if "page_first" in m]
        assert (len(paged) == len(chunks)) if suffix == ".pdf" else not paged, suffix
    # Each chapter's first chunk starts on the page its heading is printed on (or the next,
    # when the heading ends a page).
    first_page: dict[str, int] = {}
    for m in by_source[".pdf"]:
        assert m["page_first"] <= m["page_last"]
        chapter = str(m["chapter"])
        first_page[chapter] = min(first_page.get(chapter, 10**6), int(m["page_first"]))
    for chapter, page in library.pdf_chapters.items():
        assert first_page[chapter] in (page, page + 1), chapter

    query = run_cli(
        ["query", library.phrase, "-k", "10", "--json", "--collection", collection],
        cluster.env(),
    )
    assert query.code == 0, query.stderr
    hits = query.json()
    assert isinstance(hits, list)
    assert all(h["chapter"] for h in hits)
    assert any(isinstance(h["page_first"], int) and h["page_last"] >= h["page_first"]
               for h in hits)
    shown = run_cli(["query", library.phrase, "-k", "10", "--collection", collection],
                    cluster.env())
    assert any(" · p. " in line or " · pp. " in line for line in shown.stdout.splitlines())


def test_a_gutenberg_id_from_its_epub_edition_replaces_its_text_edition(
    cluster: Cluster, collection: str
) -> None:
    cluster.mirror.put("cache/epub/1002/pg1002-images-3.epub", gutenberg_epub("1002", "Roses"))
    store = ChunkStore.connect(cluster.chroma_url, collection)
    as_text = run_cli(["ingest", "1002", "--json", "--no-progress", "--collection", collection],
                      cluster.env())
    assert as_text.code == 0, as_text.stderr
    as_epub = run_cli(
        ["ingest", "1002", "--gutenberg-edition", "epub", "--json", "--no-progress",
         "--collection", collection],
        cluster.env(),
    )
    assert as_epub.code == 0, as_epub.stderr
    assert cluster.mirror.requests["/cache/epub/1002/pg1002-images-3.epub"] == 1
    found = store.collection.get(include=["metadatas", "documents"])
    metadatas = found["metadatas"] or []
    # One book, whose chunks are now the EPUB's: the text edition's were replaced.
    assert {m["book_id"] for m in metadatas} == {"1002"}
    assert {m.get("chapter") for m in metadatas} == {"Chapter One", "Chapter Two"}
    text = " ".join(found["documents"] or [])
    assert "lighthouse keeper" in text
    assert "PROJECT GUTENBERG" not in text.upper() and "eBook #" not in text
