"""All the real books in ../shared/corpus/gutenberg: chunks, no boilerplate, window, metadata.

Skipped where the folder is absent (a fresh clone). Preparing all 50 books (28 MB) takes
about 15 s on the 2-core dev machine; they are prepared once for the module.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from corpus.book import Book, prepare_book
from corpus.chunking import ChunkConfig
from corpus.decode import decode_text
from corpus.metadata import read_header

CONFIG = ChunkConfig(window=256)
BOILERPLATE = re.compile(
    r"project gutenberg|gutenberg\.(?:org|net)|small print|START OF|END OF THE PROJECT"
    r"|full license|\*\*\*[ ]*(?:start|end)",
    re.IGNORECASE,
)
# Genuine text that mentions Gutenberg: editors' notes printed as part of the edition,
# not license or header boilerplate. Each entry is (book id, exact phrase).
ALLOWED = [
    ("2701", "one from Project Gutenberg\u2019s archives"),
    ("18857", "it is entered into Project Gutenberg for reference purposes only"),
    ("18857", "also available on Project Gutenberg"),
]
# "the start of" is ordinary English (1153, 2701, 4300, ...); only the upper-case marker counts.
CASE_SENSITIVE = re.compile(r"START OF|END OF THE PROJECT")


def normal(value: str) -> str:
    return " ".join(value.casefold().split())


@pytest.fixture(scope="module")
def catalog(shared_books: Path) -> list[dict[str, str]]:
    with (shared_books / "catalog.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def books(
    shared_books: Path, catalog: list[dict[str, str]], tokenizer: Tokenizer
) -> dict[str, Book]:
    return {
        row["id"]: prepare_book(
            (shared_books / f"pg{row['id']}.txt").read_bytes(),
            name=f"pg{row['id']}.txt",
            tokenizer=tokenizer,
            config=CONFIG,
            fallback_id="unused",
        )
        for row in catalog
    }


def test_the_catalog_lists_every_book_file(
    shared_books: Path, catalog: list[dict[str, str]]
) -> None:
    assert sorted(f"pg{row['id']}.txt" for row in catalog) == sorted(
        p.name for p in shared_books.glob("pg*.txt")
    )


def test_every_book_yields_chunks_under_its_gutenberg_id(books: dict[str, Book]) -> None:
    empty = [book_id for book_id, book in books.items() if not book.chunks]
    assert empty == []
    assert all(book.book_id == book_id for book_id, book in books.items())


def test_every_book_has_markers(books: dict[str, Book]) -> None:
    assert {book_id: book.warnings for book_id, book in books.items() if book.warnings} == {}


def test_no_chunk_exceeds_the_model_window(books: dict[str, Book]) -> None:
    over = [c.id for book in books.values() for c in book.chunks if c.n_tokens > CONFIG.window]
    assert over == []


def test_no_chunk_contains_boilerplate(books: dict[str, Book]) -> None:
    found = []
    for book_id, book in books.items():
        for chunk in book.chunks:
            text = chunk.text
            for allowed_id, phrase in ALLOWED:
                if allowed_id == book_id:
                    text = text.replace(phrase, "")
            for match in BOILERPLATE.finditer(text):
                if match.group(0).isupper() or not CASE_SENSITIVE.fullmatch(match.group(0).upper()):
                    found.append(
                        f"{chunk.id}: ...{text[max(0, match.start() - 40) : match.end() + 40]}..."
                    )
    assert found == []


def test_header_metadata_matches_the_catalog(
    shared_books: Path, catalog: list[dict[str, str]]
) -> None:
    mismatches = []
    for row in catalog:
        meta = read_header(
            decode_text((shared_books / f"pg{row['id']}.txt").read_bytes(), row["id"])
        )
        got = (meta.gutenberg_id, normal(meta.title), normal(meta.author), normal(meta.language))
        want = (row["id"], normal(row["title"]), normal(row["author"]), normal(row["language"]))
        if got != want:
            mismatches.append((got, want))
    assert mismatches == []
