"""EPUB and DOCX extraction on files built with zipfile, and their bad-input refusals."""

from __future__ import annotations

import pytest

from corpus.errors import CorruptDocument, DocumentTooLarge, ProtectedDocument
from corpus.formats.extract import extract_document
from tests.corpus.formats.builders import CHAPTER_TEXT, docx, epub, xhtml, zip_bytes


def test_epub_follows_the_spine_titles_from_navigation_and_drops_boilerplate() -> None:
    document = extract_document(epub(), "book.epub")
    assert [(s.title, s.text) for s in document.sections] == [
        ("The Prologue", "Before the story begins, a word."),
        ("Chapter One", CHAPTER_TEXT),
    ]
    assert "MARKER" not in document.text and "START OF" not in document.text


def test_epub_metadata_comes_from_the_package() -> None:
    meta = extract_document(epub(), "book.epub").meta
    assert (meta.title, meta.author, meta.language, meta.gutenberg_id) == (
        "A Test Book",
        "Ann Author",
        "en",
        "4242",
    )


def test_drm_protected_epub_is_refused() -> None:
    encryption = (
        b'<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
        b'<EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#">'
        b'<EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
        b"</EncryptedData></encryption>"
    )
    with pytest.raises(ProtectedDocument, match=r"^drm\.epub: the EPUB is DRM-protected"):
        extract_document(epub({"META-INF/encryption.xml": encryption}), "drm.epub")


def test_font_obfuscation_alone_is_not_drm() -> None:
    encryption = (
        b'<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
        b'<EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#">'
        b'<EncryptionMethod Algorithm="http://www.idpf.org/2008/embedding"/>'
        b"</EncryptedData></encryption>"
    )
    document = extract_document(epub({"META-INF/encryption.xml": encryption}), "fonts.epub")
    assert document.sections[-1].text == CHAPTER_TEXT


def test_an_epub_that_is_not_a_zip_is_corrupt() -> None:
    with pytest.raises(CorruptDocument, match=r"^book\.epub: not a valid EPUB \(not a zip"):
        extract_document(b"\x89PNG\r\n\x1a\n" + bytes(200), "book.epub")


def test_a_zip_bomb_stops_at_the_size_cap() -> None:
    bomb = xhtml("<p>" + "a" * 2_000_000 + "</p>")
    with pytest.raises(DocumentTooLarge, match=r"^bomb\.epub: .*RAGMILL_MAX_BOOK_BYTES"):
        extract_document(epub({"OEBPS/text/one.xhtml": bomb}), "bomb.epub", max_bytes=1_000_000)


def test_external_entities_are_never_resolved(tmp_path: pytest.TempPathFactory) -> None:
    secret = "TOP-SECRET-FILE-CONTENT"
    path = f"{tmp_path}/secret.txt"
    with open(path, "w") as handle:
        handle.write(secret)
    doctype = f'<!DOCTYPE html [<!ENTITY xxe SYSTEM "file://{path}">]>\n'
    one = xhtml(f"<h1>Chapter One</h1><p>{CHAPTER_TEXT} &xxe;</p>", doctype)
    document = extract_document(epub(one=one), "xxe.epub")
    assert secret not in document.text
    assert CHAPTER_TEXT in document.text


def test_docx_heading_styles_open_sections_and_core_properties_are_metadata() -> None:
    data = docx(
        [
            ("Title", "Word Book"),
            ("Kapitel", "First"),
            ("BodyText", "Line one\nline two."),
            ("Heading2", "Second"),
            ("BodyText", "More."),
        ]
    )
    document = extract_document(data, "book.docx")
    assert [(s.title, s.text) for s in document.sections] == [
        ("", "Word Book"),
        ("First", "Line one\nline two."),
        ("Second", "More."),
    ]
    assert (document.meta.title, document.meta.author) == ("Word Book", "Wanda Writer")


def test_a_docx_that_is_a_renamed_binary_is_corrupt() -> None:
    with pytest.raises(CorruptDocument, match=r"^report\.docx: not a valid DOCX"):
        extract_document(bytes(range(256)) * 4, "report.docx")


def test_a_zip_archive_is_not_a_document() -> None:
    from corpus.errors import UnsupportedFormat

    with pytest.raises(UnsupportedFormat, match=r"^photos\.zip: a binary file, not a document"):
        extract_document(zip_bytes({"a.jpg": b"\xff\xd8\xff"}), "photos.zip")
