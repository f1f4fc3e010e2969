"""HTML, Markdown and plain-text extraction, and format detection by content."""

from __future__ import annotations

import pytest

from corpus.errors import DecodeError
from corpus.formats.detect import detect_format
from corpus.formats.extract import extract_document
from tests.corpus.books import MODERN
from tests.corpus.formats.builders import docx, epub, pdf, zip_bytes

HTML = """<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Page</title>
<meta name="dc.creator" content="Ann Author"><style>p{STYLE-MARKER}</style>
<script>SCRIPT-MARKER</script></head><body>
<section class="pg-boilerplate pgheader" id="pg-header"><h2>The Project Gutenberg eBook</h2>
<p>Title: A Test Book</p><p>Release date: June 1, 1998 [eBook #4242]</p></section>
<nav id="TOC"><ul><li><a href="#c1">Chapter One</a></li></ul></nav>
<h1 id="c1">Chapter <em>One</em></h1><p>It was a dark
night.</p><p>The wind blew.</p><h2>Part two</h2><p>Later, calm.</p>
<section class="pg-boilerplate pgfooter" id="pg-footer"><p>THE FULL LICENSE</p></section>
</body></html>"""


def test_html_headings_open_sections_without_scripts_styles_navigation_or_boilerplate() -> None:
    document = extract_document(HTML.encode(), "page.html")
    assert [(s.title, s.text) for s in document.sections] == [
        ("Chapter One", "It was a dark night.\n\nThe wind blew."),
        ("Part two", "Later, calm."),
    ]
    assert (document.meta.gutenberg_id, document.meta.author, document.meta.language) == (
        "4242",
        "Ann Author",
        "fr",
    )


def test_html_with_no_text_is_refused_in_one_line() -> None:
    with pytest.raises(DecodeError, match=r"^empty\.html: the HTML page has no text"):
        extract_document(b"<html><body><script>x()</script></body></html>", "empty.html")


def test_html_meta_charset_is_honoured() -> None:
    page = '<html><head><meta charset="windows-1251"></head><body><p>Привет, мир</p></body></html>'
    document = extract_document(page.encode("cp1251"), "ru.html")
    assert document.sections[0].text == "Привет, мир"


def test_markdown_front_matter_is_metadata_and_headings_open_sections() -> None:
    text = (
        '---\ntitle: "A Test Book"\nauthor: Ann Author\nlang: en\n'
        'identifier: "http://www.gutenberg.org/4242"\n---\n\nTitle page.\n\n'
        "# CHAPTER I. The \\*Start\\*\n\nIt was _dark_.\nThe wind blew.\n\n* * *\n\n"
        "## Two\n\nEnd.\n"
    )
    document = extract_document(text.encode(), "book.md")
    assert [(s.title, s.text) for s in document.sections] == [
        ("", "Title page."),
        ("CHAPTER I. The *Start*", "It was dark. The wind blew."),
        ("Two", "End."),
    ]
    assert (document.meta.title, document.meta.gutenberg_id) == ("A Test Book", "4242")


def test_plain_text_chapter_headings_are_found_where_clear() -> None:
    paragraph = "Some words of the story go on here for a while. " * 6
    text = (
        f"CHAPTER I.\nThe Beginning\n\n{paragraph}\n\nChapter 2 was mentioned in passing here\n"
        f"and it is not a heading.\n\nCHAPTER II.\n\n{paragraph}\n"
    )
    document = extract_document(text.encode(), "book.txt")
    assert [s.title for s in document.sections] == ["CHAPTER I. The Beginning", "CHAPTER II."]


def test_a_contents_list_is_not_taken_for_chapters() -> None:
    paragraph = "Some words of the story go on here for a while. " * 6
    text = f"CONTENTS\n\nCHAPTER I.\n\nCHAPTER II.\n\nCHAPTER I.\n\n{paragraph}\n"
    assert [s.title for s in extract_document(text.encode(), "b.txt").sections] == [
        "",
        "CHAPTER I.",
    ]


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (pdf([[(10, "x")]]), "noext", "pdf"),
        (epub(), "book.zip", "epub"),
        (docx([("Normal", "x")]), "file.bin", "docx"),
        (b"<!DOCTYPE html><html><body>x</body></html>", "page", "html"),
        (b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml">', "c.xhtml", "html"),
        (b"# Title\n\ntext", "notes.md", "md"),
        (b"---\ntitle: x\n---\n# Title\n", "README", "md"),
        (MODERN.encode(), "book.txt", "txt"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "cover.txt", None),
        (b"\x00\x00\x00\x01Bud1\x00\x00", ".DS_Store", None),
        (zip_bytes({"a.txt": b"x"}), "a.zip", None),
        (b"\x1f\x8b\x08\x00" + bytes(50), "a.tar.gz", None),
    ],
)
def test_formats_are_told_by_content(data: bytes, name: str, expected: str | None) -> None:
    assert detect_format(data, name) == expected
