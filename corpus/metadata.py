"""Reading a book's title, author, language and Gutenberg number from its header."""

from __future__ import annotations

import re
from dataclasses import dataclass

from corpus.markers import HEADER_FIELD, OLD_STYLE_FIRST_LINE, START

__all__ = ["BookMeta", "gutenberg_number", "merge_meta", "read_header"]

# Without a START marker the header is somewhere in the opening lines.
_HEADER_LINES = 200
# [eBook #1342], [EBook #14263], [Etext #3261], [E-Book #...]
_EBOOK_NUMBER = re.compile(r"\[[ \t]*e-?(?:book|text)[ \t]*#[ \t]*(\d+)[ \t]*\]", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
# Identifiers Gutenberg's editions carry: http://www.gutenberg.org/84,
# https://www.gutenberg.org/ebooks/84, urn:gutenberg:84, "Project Gutenberg #84".
_GUTENBERG_IDENTIFIER = re.compile(
    r"gutenberg\.org/(?:ebooks/|files/|etext/)?(\d+)\b|urn:gutenberg:(\d+)\b"
    r"|project gutenberg[^0-9]{0,12}#\s*(\d+)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class BookMeta:
    """What the header says about a book; empty strings where it says nothing."""

    title: str = ""
    author: str = ""
    language: str = ""
    gutenberg_id: str = ""


def read_header(text: str) -> BookMeta:
    """Parse the header (before START, or the first lines when there is none)."""
    header = _header_text(text)
    fields = _fields(header)
    title = _join_title(fields.get("title", []))
    author = "; ".join(fields.get("author", []))
    if not title or not author:
        old_title, old_author = _old_style_first_line(header)
        title = title or old_title
        author = author or old_author
    number = _EBOOK_NUMBER.search(header)
    return BookMeta(
        title=title,
        author=author,
        language="; ".join(fields.get("language", [])),
        gutenberg_id=str(int(number.group(1))) if number else "",
    )


def _header_text(text: str) -> str:
    """The part of the text that can hold header fields."""
    start = START.search(text)
    if start is not None:
        return text[: start.start()]
    return "\n".join(text.split("\n", _HEADER_LINES)[:_HEADER_LINES])


def _fields(header: str) -> dict[str, list[str]]:
    """Map each field name (lower case) to its first value and its indented continuations.

    A field's value continues on following indented lines until a blank line.
    """
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in header.removeprefix("\ufeff").split("\n"):
        line = raw.rstrip()
        match = HEADER_FIELD.match(line)
        if match is not None:
            key = _SPACES.sub(" ", match.group("key").lower())
            value = _clean(match.group("value"))
            if key in fields:
                # Only the first occurrence counts; later ones belong to other text.
                current = None
                continue
            current = fields[key] = [value] if value else []
        elif current is not None and line.strip() and line[:1].isspace():
            current.append(_clean(line))
        else:
            current = None
    return fields


def _join_title(parts: list[str]) -> str:
    """Join a title's lines: the second line is a subtitle, later ones wrap it."""
    if not parts:
        return ""
    title = parts[0]
    for index, part in enumerate(parts[1:]):
        if index == 0 and not title.endswith((":", ";", ",")):
            # Gutenberg's catalog writes a subtitle on its own header line as "Title: Subtitle".
            title = f"{title}: {part}"
        else:
            title = f"{title} {part}"
    return title


def _old_style_first_line(header: str) -> tuple[str, str]:
    """Title and author from "The Project Gutenberg EBook of <T>, by <A>"."""
    first = next((line for line in header.removeprefix("\ufeff").split("\n") if line.strip()), "")
    match = OLD_STYLE_FIRST_LINE.match(first)
    if match is None:
        return "", ""
    title, separator, author = match.group("rest").rpartition(", by ")
    if not separator:
        return _clean(match.group("rest")), ""
    return _clean(title), _clean(author)


def _clean(value: str) -> str:
    """Collapse whitespace runs to single spaces."""
    return _SPACES.sub(" ", value).strip()


def gutenberg_number(identifier: str) -> str:
    """The eBook number in a Gutenberg identifier or URL, or "" when it names none."""
    match = _GUTENBERG_IDENTIFIER.search(identifier)
    if match is None:
        return ""
    return str(int(next(group for group in match.groups() if group)))


def merge_meta(first: BookMeta, second: BookMeta) -> BookMeta:
    """``first`` with its empty fields filled from ``second``."""
    return BookMeta(
        title=first.title or second.title,
        author=first.author or second.author,
        language=first.language or second.language,
        gutenberg_id=first.gutenberg_id or second.gutenberg_id,
    )
