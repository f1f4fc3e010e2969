"""The real Gutenberg books in five formats (../shared/corpus/formats), when they are present."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from functools import cache

import pytest
from tokenizers import Tokenizer

from corpus.book import Book, prepare_book
from corpus.chunking import ChunkConfig
from corpus.formats.document import Document
from corpus.formats.extract import extract_document
from tests.support.shared import shared_dir

FORMATS_DIR = shared_dir() / "corpus" / "formats"
CONFIG = ChunkConfig(max_tokens=200, overlap_tokens=32, window=256)
# What must never reach a chunk: markup, scripts, styles, Gutenberg's markers and license.
LEAKS = re.compile(
    r"<[a-z/!][^>]*>|MUST-NOT-BE-EXTRACTED|\*\*\* ?(?:START|END) OF|FULL PROJECT GUTENBERG "
    r"LICEN[CS]E|Page \d+ of \d+|[\ufb00-\ufb06\u2010\ufffe]|\\[*\[\]#_]",
)


def catalog() -> list[dict[str, str]]:
    path = FORMATS_DIR / "catalog.csv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


ROWS = catalog()
pytestmark = pytest.mark.skipif(not ROWS, reason=f"real format files not found at {FORMATS_DIR}")


@cache
def document(name: str) -> Document:
    return extract_document((FORMATS_DIR / name).read_bytes(), name)


def book(name: str, tokenizer: Tokenizer) -> Book:
    return prepare_book(
        (FORMATS_DIR / name).read_bytes(),
        name=name,
        tokenizer=tokenizer,
        config=CONFIG,
        fallback_id=name,
    )


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row["file"])
def test_every_file_yields_clean_chunks_with_its_chapters(
    tokenizer: Tokenizer, row: dict[str, str]
) -> None:
    prepared = book(row["file"], tokenizer)
    assert prepared.chunks
    leaks = [c.text[:80] for c in prepared.chunks if LEAKS.search(c.text)]
    assert leaks == []
    assert all(c.n_tokens <= CONFIG.window for c in prepared.chunks)
    titled = [s.title for s in document(row["file"]).sections if s.title]
    # The title block some formats open with is not a chapter of the book.
    chapters = [t for t in titled if t != prepared.meta.title]
    assert len(chapters) == int(row["chapters"])
    assert {c.chapter for c in prepared.chunks} >= set(chapters)


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row["file"])
def test_metadata_is_read_and_gutenberg_editions_share_an_id(
    tokenizer: Tokenizer, row: dict[str, str]
) -> None:
    meta = document(row["file"]).meta
    assert meta.title == row["title"]
    assert meta.author == row["author"]
    if row["format"] in ("md", "epub", "html"):
        assert meta.gutenberg_id == row["book_id"]


def pdf_chapter_pages() -> dict[str, list[tuple[str, int]]]:
    expected: dict[str, list[tuple[str, int]]] = defaultdict(list)
    path = FORMATS_DIR / "pdf-chapter-pages.csv"
    if path.is_file():
        with path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                expected[row["file"]].append((row["chapter"], int(row["page"])))
    return expected


PDF_PAGES = pdf_chapter_pages()


@pytest.mark.parametrize("name", sorted(PDF_PAGES))
def test_pdf_chapters_start_on_their_printed_pages(name: str) -> None:
    found = [
        (section.title, section.parts[0].page)
        for section in document(name).sections
        # The title page (untitled, or titled with the book's title) is not a chapter.
        if section.parts and section.title and section.title != document(name).meta.title
    ]
    assert found == PDF_PAGES[name]
