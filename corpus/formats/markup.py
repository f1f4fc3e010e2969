"""Reading the text blocks of an HTML or XHTML tree: headings, paragraphs, no scripts or menus."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from corpus.formats.xml import local_name

__all__ = ["Blocks", "read_blocks"]

# Never book text: code, styling, page furniture and navigation (tables of contents included).
_SKIPPED = frozenset(
    {
        "script",
        "style",
        "head",
        "nav",
        "template",
        "noscript",
        "svg",
        "math",
        "button",
        "form",
        "select",
        "iframe",
        "object",
        "title",
    }
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Elements that end the running paragraph; inline ones (a, em, span, ...) do not.
_BLOCKS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "aside",
        "header",
        "footer",
        "main",
        "blockquote",
        "pre",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "table",
        "tr",
        "td",
        "th",
        "figure",
        "figcaption",
        "hr",
        "address",
        "center",
        "body",
        "html",
        "details",
        "summary",
        "caption",
        "tbody",
        "thead",
    }
    | _HEADINGS
)
# Gutenberg's header and license blocks in its HTML and EPUB editions, and pandoc's title block.
_BOILERPLATE_IDS = frozenset(
    {
        "pg-header",
        "pg-footer",
        "pg-machine-header",
        "pg-start-separator",
        "pg-end-separator",
        "title-block-header",
    }
)
_BOILERPLATE_CLASSES = frozenset({"pg-boilerplate", "pgheader", "pgfooter"})
_TOC = re.compile(r"^(?:toc|contents|table-of-contents)$", re.IGNORECASE)


@dataclass
class Blocks:
    """What a tree holds: ``(kind, text)`` blocks of the body and the boilerplate's own text."""

    blocks: list[tuple[str, str]] = field(default_factory=list)
    boilerplate: list[str] = field(default_factory=list)


def read_blocks(root: etree._Element) -> Blocks:
    """Headings and paragraphs of ``root`` in reading order; boilerplate text kept aside."""
    found = Blocks()
    _walk(root, found, [], found.blocks)
    return found


def _walk(
    element: etree._Element, found: Blocks, buffer: list[str], out: list[tuple[str, str]]
) -> None:
    tag = local_name(element)
    if tag in _SKIPPED or not tag:
        _tail(element, buffer)
        return
    if _is_boilerplate(element):
        side = Blocks()
        _walk_children(element, side, side.blocks)
        found.boilerplate.extend(text for _, text in side.blocks)
        _tail(element, buffer)
        return
    if _is_toc(element):
        _tail(element, buffer)
        return
    if tag == "br":
        buffer.append("\n")
        _tail(element, buffer)
        return
    if tag not in _BLOCKS:
        buffer.append(element.text or "")
        for child in element:
            _walk(child, found, buffer, out)
        _tail(element, buffer)
        return
    _flush(buffer, out, "text")
    if tag in _HEADINGS:
        heading: list[str] = [element.text or ""]
        for child in element:
            _walk(child, found, heading, out)
        _flush(heading, out, "heading")
    else:
        _walk_children(element, found, out)
    _tail(element, buffer)


def _walk_children(element: etree._Element, found: Blocks, out: list[tuple[str, str]]) -> None:
    inner: list[str] = [element.text or ""]
    for child in element:
        _walk(child, found, inner, out)
    _flush(inner, out, "text")


def _tail(element: etree._Element, buffer: list[str]) -> None:
    if element.tail:
        buffer.append(element.tail)


def _flush(buffer: list[str], out: list[tuple[str, str]], kind: str) -> None:
    # Whitespace runs are source wrapping, not breaks; the chunker joins a paragraph's lines
    # with spaces anyway, so <br> (recorded as "\n") needs no special treatment here.
    text = " ".join("".join(buffer).split())
    buffer.clear()
    if text:
        out.append((kind, text))


def _is_boilerplate(element: etree._Element) -> bool:
    classes = set((element.get("class") or "").split())
    return element.get("id") in _BOILERPLATE_IDS or bool(classes & _BOILERPLATE_CLASSES)


def _is_toc(element: etree._Element) -> bool:
    if (element.get("role") or "") == "doc-toc":
        return True
    names = [element.get("id") or "", *(element.get("class") or "").split()]
    return any(_TOC.match(name) for name in names)
