"""PDF extraction on PDFs the tests write by hand: headings, pages, running lines, bad files."""

from __future__ import annotations

import tracemalloc

import pytest

from corpus.errors import CorruptDocument, NoTextLayer, ProtectedDocument
from corpus.formats.extract import extract_document
from corpus.formats.pdf import _join_lines
from tests.corpus.formats.builders import pdf

WORDS = ["apple", "bridge", "candle", "dragon", "ember", "forest", "garden", "harbour"]


def body_page(number: int) -> list[tuple[float, str]]:
    word = WORDS[number % len(WORDS)]
    return [
        (10, "The Running Title"),
        (10, f"The {word} stood where it had always stood, quiet and"),
        (10, f"patient, waiting for the {word} keeper to return."),
        (10, ""),
        (10, f"Nobody came for the {word} that day."),
        (10, f"Page {number} of 6"),
    ]


def book_pages() -> list[list[tuple[float, str]]]:
    pages = [body_page(number) for number in range(1, 7)]
    pages[2] = [pages[2][0], (20, "Chapter Two"), *pages[2][1:]]
    pages[0] = [pages[0][0], (20, "Chapter One"), *pages[0][1:]]
    return pages


def test_headings_open_chapters_and_each_part_knows_its_page() -> None:
    document = extract_document(pdf(book_pages()), "book.pdf")
    assert [s.title for s in document.sections] == ["Chapter One", "Chapter Two"]
    assert document.sections[1].parts[0].page == 3
    assert {p.page for s in document.sections for p in s.parts} == set(range(1, 7))


def test_running_headers_and_page_numbers_are_removed() -> None:
    text = extract_document(pdf(book_pages()), "book.pdf").text
    assert "Running Title" not in text
    assert "of 6" not in text
    assert "The bridge stood where it had always stood, quiet and patient" in text.replace(
        "\n", " "
    )


def test_a_paragraph_gap_separates_parts() -> None:
    section = extract_document(pdf(book_pages()), "book.pdf").sections[0]
    assert section.parts[1].text == "Nobody came for the bridge that day."


def test_a_page_that_opens_mid_paragraph_joins_the_previous_part() -> None:
    section = extract_document(pdf(book_pages()), "book.pdf").sections[0]
    # Page 2's first paragraph follows page 1's last without a gap we can see.
    assert section.parts[2].page == 2 and section.parts[2].joins_previous


def test_line_end_hyphens_join_words_and_real_hyphens_stay() -> None:
    assert _join_lines(["conver\u2010", "sation and a waistcoat-", "pocket"]) == (
        "conversation and a waistcoat-pocket"
    )


def test_an_encrypted_pdf_is_refused_in_one_line() -> None:
    with pytest.raises(ProtectedDocument, match=r"^secret\.pdf: the PDF is encrypted"):
        extract_document(pdf(book_pages(), encrypt=True), "secret.pdf")


def test_a_truncated_pdf_is_corrupt() -> None:
    with pytest.raises(CorruptDocument, match=r"^cut\.pdf: the PDF is truncated or corrupt"):
        extract_document(pdf(book_pages())[:700], "cut.pdf")


def test_a_pdf_without_text_is_a_scan() -> None:
    with pytest.raises(NoTextLayer, match="scanned: no text to extract; OCR it first"):
        extract_document(pdf([[], []]), "scan.pdf")


def test_a_pdf_named_file_that_is_not_a_pdf_is_corrupt() -> None:
    with pytest.raises(CorruptDocument, match=r"^fake\.pdf: not a valid PDF"):
        extract_document(b"just some text", "fake.pdf")


def test_a_2000_page_pdf_is_read_page_by_page_in_bounded_memory() -> None:
    pages = [body_page(number) for number in range(1, 2001)]
    data = pdf(pages)
    tracemalloc.start()
    document = extract_document(data, "long.pdf")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert document.sections[-1].parts[-1].page == 2000
    # The text is ~200 KB; Python-side peak stays a small multiple of it, not of the pages.
    assert peak < 40 * len(document.text)
