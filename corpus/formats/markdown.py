"""Markdown (CommonMark): ATX and setext headings open sections; YAML front matter is metadata."""

from __future__ import annotations

import re
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from corpus.decode import decode_bytes
from corpus.formats.document import Document, sections_from_blocks
from corpus.metadata import BookMeta, gutenberg_number

__all__ = ["extract_markdown"]

_FRONT_MATTER = re.compile(
    r"\A(?:\ufeff)?---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL
)
# Raw HTML in Markdown is markup, not text; tables are left to the table plugin-free parser.
_PARSER = MarkdownIt("commonmark", {"html": True})
_INLINE_TEXT = {"text": None, "code_inline": None, "softbreak": " ", "hardbreak": "\n"}


def extract_markdown(data: bytes, name: str) -> Document:
    """The sections of a Markdown file and the metadata its front matter declares."""
    text = decode_bytes(data)
    meta = BookMeta()
    front = _FRONT_MATTER.match(text)
    if front is not None:
        meta = _front_matter_meta(front.group(1))
        text = text[front.end() :]
    blocks: list[tuple[str, str]] = []
    kind = "text"
    for token in _PARSER.parse(text):
        if token.type == "heading_open":
            kind = "heading"
        elif token.type == "heading_close":
            kind = "text"
        elif token.type == "inline":
            blocks.append((kind, _inline_text(token)))
        elif token.type in ("fence", "code_block"):
            blocks.append(("text", token.content))
    return Document("md", meta, sections_from_blocks(blocks))


def _inline_text(token: Token) -> str:
    parts = []
    for child in token.children or []:
        if child.type in _INLINE_TEXT:
            parts.append(_INLINE_TEXT[child.type] or child.content)
        elif child.type == "image":
            # An image's alt text is what a reader without the picture gets.
            parts.append(child.content)
    return "".join(parts)


def _front_matter_meta(block: str) -> BookMeta:
    try:
        loaded: Any = yaml.safe_load(block)
    except yaml.YAMLError:
        return BookMeta()
    if not isinstance(loaded, dict):
        return BookMeta()

    def field(*keys: str) -> str:
        for key in keys:
            value = loaded.get(key)
            if isinstance(value, list):
                value = "; ".join(str(item) for item in value)
            if value:
                return " ".join(str(value).split())
        return ""

    return BookMeta(
        title=field("title"),
        author=field("author", "authors", "creator"),
        language=field("lang", "language"),
        gutenberg_id=gutenberg_number(field("identifier", "source", "url")),
    )
