"""One entry point from a document's bytes to its sections, whatever the format."""

from __future__ import annotations

from dataclasses import replace
from pathlib import PurePosixPath

from corpus.boilerplate import strip_sections
from corpus.errors import CorruptDocument, DecodeError, UnsupportedFormat
from corpus.formats.detect import Format, detect_format, is_page_image
from corpus.formats.document import Document

__all__ = ["DEFAULT_MAX_BYTES", "extract_document"]

# The same default as RAGMILL_MAX_BOOK_BYTES: what a container may unpack to.
DEFAULT_MAX_BYTES = 64 * 2**20
# Extensions that promise a container; bytes that are not one are a broken file, not text.
_CONTAINERS: dict[str, Format] = {".epub": "epub", ".docx": "docx", ".pdf": "pdf"}
_KIND = {"epub": "EPUB", "docx": "DOCX", "pdf": "PDF"}
_SUPPORTED = "pass TXT, Markdown, HTML, EPUB, PDF or DOCX"


def extract_document(data: bytes, name: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """The document in ``data``, its format told by content, Gutenberg boilerplate removed.

    Raises a DecodeError subclass with one line naming ``name`` for anything unreadable.
    """
    found = detect_format(data, name)
    if found is None and is_page_image(data) and _readable_image(data):
        found = "image"
    suffix = PurePosixPath(name.replace("\\", "/").split("?", 1)[0]).suffix.lower()
    promised = _CONTAINERS.get(suffix)
    if promised is not None and found != promised and data.strip():
        kind = _KIND[promised]
        reason = "not a zip archive" if promised != "pdf" else "no %PDF header"
        raise CorruptDocument(f"{name}: not a valid {kind} ({reason}); re-download or re-export it")
    if found is None:
        raise UnsupportedFormat(
            f"{name}: a binary file, not a document format ragmill reads; {_SUPPORTED}"
        )
    document = _extract(found, data, name, max_bytes)
    if found == "txt":
        return document
    sections, had_markers = strip_sections(document.sections)
    if not any(section.parts for section in sections):
        raise DecodeError(f"{name}: no text left after removing Gutenberg boilerplate")
    return replace(document, sections=sections, had_markers=had_markers)


def _readable_image(data: bytes) -> bool:
    from corpus.formats.images import readable_image

    return readable_image(data)


def _extract(found: Format, data: bytes, name: str, max_bytes: int) -> Document:
    # Imported here so reading a text file never loads lxml or PDFium.
    if found == "txt":
        from corpus.formats.text import extract_text

        return extract_text(data, name)
    if found == "md":
        from corpus.formats.markdown import extract_markdown

        return extract_markdown(data, name)
    if found == "html":
        from corpus.formats.html import extract_html

        return extract_html(data, name)
    if found == "epub":
        from corpus.formats.epub import extract_epub

        return extract_epub(data, name, max_bytes=max_bytes)
    if found == "docx":
        from corpus.formats.docx import extract_docx

        return extract_docx(data, name, max_bytes=max_bytes)
    if found == "image":
        from corpus.formats.ocr_images import extract_images

        return extract_images(data, name)
    if found == "pages":
        from corpus.formats.ocr_images import extract_page_folder

        return extract_page_folder(data, name)
    from corpus.formats.pdf import extract_pdf

    return extract_pdf(data, name)
