"""Plain text: Gutenberg boilerplate cut, then `CHAPTER I`-style headings where they are clear."""

from __future__ import annotations

import re

from corpus.boilerplate import strip_boilerplate
from corpus.decode import decode_text
from corpus.formats.document import Document, Part, Section
from corpus.metadata import read_header

__all__ = ["extract_text", "text_sections"]

# A heading is a whole line standing alone (blank line before), in one of the shapes books use:
# "CHAPTER I.", "Chapter 12", "CHAPTER 1. Loomings.", "Letter 4", "BOOK II", "PREFACE.", ...
_NUMBER = r"(?:[IVXLCDM]+|\d+|[A-Z][a-z]+|[A-Z]+)"
_HEADING = re.compile(
    rf"^(?:(?:CHAPTER|Chapter|CHAP\.|Chap\.|BOOK|Book|PART|Part|LETTER|Letter|STAVE|Stave"
    rf"|VOLUME|Volume)[ \t]+{_NUMBER}\b[^\n]{{0,80}}"
    r"|(?:PREFACE|Preface|INTRODUCTION|Introduction|PROLOGUE|Prologue|EPILOGUE|Epilogue"
    r"|ETYMOLOGY|EXTRACTS|CONCLUSION|Conclusion)\b[^\n]{0,60})$"
)
# A heading's title on the next line ("CHAPTER I." / "Down the Rabbit-Hole") is short.
_TITLE_LINE = re.compile(r"^\S[^\n]{0,70}$")
# Headings with less text than this before the next one are a contents list, not chapters.
_MIN_SECTION_CHARS = 200


def extract_text(data: bytes, name: str) -> Document:
    """A plain-text book: metadata from its header, sections from its body."""
    text = decode_text(data, name)
    stripped = strip_boilerplate(text)
    return Document(
        "txt", read_header(text), text_sections(stripped.body), had_markers=stripped.had_markers
    )


def text_sections(body: str) -> list[Section]:
    """``body`` cut at clear chapter headings; all of it in one untitled section otherwise."""
    lines = body.split("\n")
    headings = _headings(lines)
    sections: list[Section] = []
    bounds = [*headings, (len(lines), len(lines), "")]
    start, title = 0, ""
    for first, after, next_title in bounds:
        text = "\n".join(lines[start:first]).strip("\n")
        if text.strip() or title:
            sections.append(Section(title, (Part(text),) if text.strip() else ()))
        start, title = after, next_title
    return sections


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(first line, line after, title) of each clear heading."""
    found: list[tuple[int, int, str]] = []
    for index, line in enumerate(lines):
        if not _HEADING.match(line.strip()) or line[:1].isspace():
            continue
        if index > 0 and lines[index - 1].strip():
            continue
        title, after = line.strip(), index + 1
        following = lines[index + 1].strip() if index + 1 < len(lines) else ""
        beyond = lines[index + 2].strip() if index + 2 < len(lines) else ""
        if following and not beyond and _TITLE_LINE.match(following):
            title, after = f"{title} {following}", index + 2
        elif following:
            continue  # a line like "Chapter 3 was ..." running into a paragraph
        found.append((index, after, title))
    return [
        heading
        for heading, following in zip(found, [*found[1:], (len(lines), 0, "")], strict=False)
        if len("".join(lines[heading[1] : following[0]]).strip()) >= _MIN_SECTION_CHARS
    ]
