"""Telling a document's format from its bytes (magic numbers, zip manifest), not its name."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePosixPath
from typing import Literal

from corpus.decode import looks_binary
from corpus.formats.page_folder import MAGIC as PAGE_FOLDER_MAGIC

__all__ = ["FORMATS", "Format", "detect_format", "is_page_image"]

Format = Literal["txt", "md", "html", "epub", "docx", "pdf", "image", "pages"]
# The document formats a person hands in; a page image ("image") is told by `is_page_image` and
# read with OCR when it is named on its own or its folder is a book of page images, which the
# client sends as one document ("pages", corpus/formats/page_folder.py).
FORMATS: tuple[Format, ...] = ("txt", "md", "html", "epub", "docx", "pdf")

_SNIFF_BYTES = 4096
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# A PDF header may follow a little junk; readers accept it within the first kilobyte.
_PDF_MAGIC = b"%PDF-"
# PNG, JPEG and TIFF (either byte order): page images, read with OCR.
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")
_HTML = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>]|<head[\s>]"
    rb"|<body[\s>])",
    re.IGNORECASE | re.DOTALL,
)
_MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown", ".mkd"})
_HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
# Markdown without the extension: front matter, or ATX headings at line starts.
_MARKDOWN_SIGNS = re.compile(rb"\A---\r?\n.*?\n---\r?\n|^#{1,6} \S", re.DOTALL | re.MULTILINE)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def detect_format(data: bytes, name: str = "") -> Format | None:
    """The format of ``data``, or None when it is not a document we read.

    ``name`` only breaks ties the bytes cannot: Markdown versus plain text, and the HTML
    extension for a fragment without ``<html>``.
    """
    head = data[:_SNIFF_BYTES]
    if data.startswith(PAGE_FOLDER_MAGIC):
        return "pages"
    if _PDF_MAGIC in data[:1024]:
        return "pdf"
    if head.startswith(_ZIP_MAGIC):
        return _zip_format(data)
    suffix = PurePosixPath(name.replace("\\", "/").split("?", 1)[0]).suffix.lower()
    if not head.startswith(_BOMS) and looks_binary(head):
        return None
    text_head = _ascii_view(head)
    if _HTML.match(text_head) or (suffix in _HTML_SUFFIXES and b"<" in text_head):
        return "html"
    if suffix in _MARKDOWN_SUFFIXES:
        return "md"
    if not suffix and _MARKDOWN_SIGNS.search(text_head):
        return "md"
    return "txt"


def is_page_image(head: bytes) -> bool:
    """Whether ``head`` starts like a PNG, JPEG or TIFF file (a scanned page, or a picture)."""
    return head.startswith(_IMAGE_MAGIC)


def _zip_format(data: bytes) -> Format | None:
    """EPUB by its ``mimetype`` member or container.xml, DOCX by word/document.xml."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                mimetype = archive.open("mimetype").read(64).strip()
                if mimetype == b"application/epub+zip":
                    return "epub"
            if "META-INF/container.xml" in names:
                return "epub"
            if "[Content_Types].xml" in names and "word/document.xml" in names:
                return "docx"
    except (zipfile.BadZipFile, OSError, ValueError, KeyError):
        return None
    return None


def _ascii_view(head: bytes) -> bytes:
    """The head with UTF-16 NULs and a BOM removed, so HTML sniffing sees its tags."""
    for bom in _BOMS:
        if head.startswith(bom):
            head = head[len(bom) :]
            break
    return head.replace(b"\x00", b"")
