"""Preparing books of every format: one id per Gutenberg book, chapters and pages on chunks."""

from __future__ import annotations

from tokenizers import Tokenizer

from corpus.book import prepare_book
from corpus.chunking import ChunkConfig
from tests.corpus.books import MODERN
from tests.corpus.formats.builders import epub, pdf

SMALL = ChunkConfig(max_tokens=24, overlap_tokens=8, window=64)


def test_the_same_gutenberg_book_as_text_and_epub_gets_one_id(tokenizer: Tokenizer) -> None:
    as_text = prepare_book(
        MODERN.encode(), name="pg4242.txt", tokenizer=tokenizer, config=SMALL, fallback_id="t"
    )
    as_epub = prepare_book(
        epub(), name="pg4242.epub", tokenizer=tokenizer, config=SMALL, fallback_id="e"
    )
    assert as_text.book_id == as_epub.book_id == "4242"
    assert (as_epub.format, as_epub.warnings) == ("epub", [])


def test_chunks_carry_their_chapter_and_never_straddle_two(tokenizer: Tokenizer) -> None:
    book = prepare_book(epub(), name="b.epub", tokenizer=tokenizer, config=SMALL, fallback_id="e")
    assert book.chunks[0].chapter == "The Prologue"
    assert book.chunks[-1].chapter == "Chapter One"
    assert all("word." not in c.text or c.chapter == "The Prologue" for c in book.chunks)
    assert [c.position for c in book.chunks] == list(range(len(book.chunks)))
    assert all(c.pages is None for c in book.chunks)


def pdf_page(number: int) -> list[tuple[float, str]]:
    heading = [(20.0, "Chapter One")] if number == 1 else []
    # Each page says something different, as pages of a book do.
    words = ["apple", "bridge", "candle", "dragon", "ember", "forest", "garden", "harbour"]
    lines = [(10.0, f"The {words[number + i]} of page {number} says something.") for i in (0, 3)]
    return heading + lines


def test_pdf_chunks_carry_their_first_and_last_page(tokenizer: Tokenizer) -> None:
    data = pdf([pdf_page(number) for number in range(1, 5)])
    book = prepare_book(data, name="b.pdf", tokenizer=tokenizer, config=SMALL, fallback_id="p")
    spans = [c.pages for c in book.chunks]
    assert spans[0] is not None and spans[0][0] == 1
    assert spans[-1] is not None and spans[-1][1] == 4
    assert all(span is not None and span[0] <= span[1] for span in spans)
    assert {c.chapter for c in book.chunks} == {"Chapter One"}
    page_two = next(c for c in book.chunks if "of page 2" in c.text)
    assert page_two.pages is not None and page_two.pages[0] <= 2 <= page_two.pages[1]


def test_ids_repeat_for_the_same_bytes(tokenizer: Tokenizer) -> None:
    first = prepare_book(epub(), name="b.epub", tokenizer=tokenizer, config=SMALL, fallback_id="e")
    again = prepare_book(epub(), name="b.epub", tokenizer=tokenizer, config=SMALL, fallback_id="e")
    assert [c.id for c in first.chunks] == [c.id for c in again.chunks]
