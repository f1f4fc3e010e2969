"""Word DOCX: paragraphs in body order, heading styles (or outline levels) open sections.

Read with lxml from the zip directly rather than python-docx so the unpacked size is capped the
same way as for EPUB (python-docx inflates members without a limit).
"""

from __future__ import annotations

import re

from lxml import etree

from corpus.errors import DecodeError
from corpus.formats.archive import Archive
from corpus.formats.document import Document, sections_from_blocks
from corpus.formats.xml import local_name, parse_xml
from corpus.metadata import BookMeta, gutenberg_number

__all__ = ["extract_docx"]

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DOCUMENT = "word/document.xml"
_STYLES = "word/styles.xml"
_CORE = "docProps/core.xml"
# Word's built-in heading styles are named "heading 1".."heading 9" whatever the UI language.
_HEADING_NAME = re.compile(r"^heading\s*\d$", re.IGNORECASE)
_BREAKS = frozenset({"br", "cr"})


def extract_docx(data: bytes, name: str, *, max_bytes: int) -> Document:
    """The sections of a Word document and the metadata in its core properties."""
    archive = Archive(data, name=name, kind="DOCX", max_bytes=max_bytes)
    body = parse_xml(archive.read(_DOCUMENT), name=name, what=_DOCUMENT)
    headings = _heading_styles(archive) if archive.has(_STYLES) else set()
    blocks: list[tuple[str, str]] = []
    for paragraph in body.iter(f"{_W}p"):
        text = _paragraph_text(paragraph)
        kind = "heading" if _is_heading(paragraph, headings) else "text"
        blocks.append((kind, text))
    sections = sections_from_blocks(blocks)
    if not sections:
        raise DecodeError(f"{name}: the DOCX holds no text; check that it is a document")
    meta = _core_meta(archive) if archive.has(_CORE) else BookMeta()
    return Document("docx", meta, sections)


def _paragraph_text(paragraph: etree._Element) -> str:
    parts = []
    for element in paragraph.iter():
        tag = local_name(element)
        if tag == "t":
            parts.append(element.text or "")
        elif tag == "tab":
            parts.append(" ")
        elif tag in _BREAKS:
            parts.append("\n")
    return "".join(parts)


def _is_heading(paragraph: etree._Element, headings: set[str]) -> bool:
    properties = paragraph.find(f"{_W}pPr")
    if properties is None:
        return False
    style = properties.find(f"{_W}pStyle")
    if style is not None and style.get(f"{_W}val") in headings:
        return True
    level = properties.find(f"{_W}outlineLvl")
    return level is not None and (level.get(f"{_W}val") or "9") < "9"


def _heading_styles(archive: Archive) -> set[str]:
    """Ids of paragraph styles that are headings by name or by outline level."""
    root = parse_xml(archive.read(_STYLES), name=archive.name, what=_STYLES)
    ids = {"Heading1", "Heading2", "Heading3", "Heading4", "Heading5", "Heading6"}
    for style in root.iter(f"{_W}style"):
        style_id = style.get(f"{_W}styleId")
        name = style.find(f"{_W}name")
        level = style.find(f"{_W}pPr/{_W}outlineLvl")
        named = name is not None and _HEADING_NAME.match(name.get(f"{_W}val") or "")
        if style_id and (named or (level is not None and (level.get(f"{_W}val") or "9") < "9")):
            ids.add(style_id)
    return ids


def _core_meta(archive: Archive) -> BookMeta:
    root = parse_xml(archive.read(_CORE), name=archive.name, what=_CORE)
    fields: dict[str, str] = {}
    for element in root:
        text = " ".join("".join(element.itertext()).split())
        if text:
            fields.setdefault(local_name(element), text)
    return BookMeta(
        title=fields.get("title", ""),
        author=fields.get("creator", ""),
        language=fields.get("language", ""),
        gutenberg_id=gutenberg_number(fields.get("identifier", "")),
    )
