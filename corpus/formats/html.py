"""HTML pages (Gutenberg's HTML editions included): headings open sections, boilerplate aside."""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from corpus.decode import decode_bytes
from corpus.errors import DecodeError
from corpus.formats.document import Document, sections_from_blocks
from corpus.formats.markup import read_blocks
from corpus.metadata import BookMeta, merge_meta, read_header

__all__ = ["extract_html", "html_meta"]

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
# <meta name=...> spellings of Dublin Core and plain HTML, by the field they fill.
_META_NAMES = {
    "title": ("dc.title", "dcterms.title", "citation_title"),
    "author": ("dc.creator", "dcterms.creator", "author", "citation_author"),
    "language": ("dc.language", "dcterms.language"),
}


def extract_html(data: bytes, name: str) -> Document:
    """The sections of an HTML page; DecodeError when it holds no readable text."""
    text = _XML_DECLARATION.sub("", decode_bytes(data), count=1)
    try:
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as err:
        raise DecodeError(f"{name}: the HTML page has no text; check the file") from err
    found = read_blocks(root)
    sections = sections_from_blocks(found.blocks)
    if not sections:
        raise DecodeError(f"{name}: the HTML page has no text; check that it holds a book")
    meta = merge_meta(html_meta(root), read_header("\n".join(found.boilerplate)))
    return Document("html", meta, sections)


def html_meta(root: etree._Element) -> BookMeta:
    """Title, author and language from <meta> tags, <title> and the lang attribute."""
    named: dict[str, str] = {}
    for meta in root.iter("meta"):
        key = (meta.get("name") or "").lower()
        if key and meta.get("content"):
            named.setdefault(key, " ".join(meta.get("content", "").split()))

    def first(field: str) -> str:
        return next((named[key] for key in _META_NAMES[field] if key in named), "")

    title = first("title") or " ".join(root.findtext(".//title", default="").split())
    return BookMeta(
        title=title,
        author=first("author"),
        language=first("language") or root.get("lang", ""),
    )
