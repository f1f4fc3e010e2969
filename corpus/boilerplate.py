"""Cutting Project Gutenberg's header, license and legal blocks away from a book's text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from corpus.formats.document import Part, Section
from corpus.markers import BODY_END, HEADER_FIELD, OLD_STYLE_FIRST_LINE, SMALL_PRINT_END, START

__all__ = ["Stripped", "strip_boilerplate", "strip_sections"]

# Header fields sit near the top; a "Title:" deep in a book is the book's own text.
_HEADER_LINES = 200
# A START title too long for one line wraps; its tail is a short line ending in "***".
_WRAPPED_MARKER_TAIL = re.compile(r"^[^\n]{0,100}\*{3}[ \t]*$")
# Credit lines right after START name Gutenberg's volunteers, not the book.
_CREDIT = re.compile(
    r"^[ \t]*(?:this[ \t]+)?(?:e-?text[ \t]+|e-?book[ \t]+)?(?:was[ \t]+)?"
    r"(?:produced|prepared|transcribed)[ \t]+(?:by|from)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Stripped:
    """A book's text without boilerplate, and whether any Gutenberg marker was seen."""

    body: str
    had_markers: bool


def strip_boilerplate(text: str) -> Stripped:
    """Return the text between Gutenberg's header and its end matter.

    Text with no marker at all is returned whole, with ``had_markers`` False.
    """
    start, start_found = _body_start(text)
    end_match = BODY_END.search(text, start)
    end = end_match.start() if end_match else len(text)
    if not start_found and end_match is None:
        return Stripped(body=text.strip("\n"), had_markers=False)
    body = _drop_leading_credits(text[start:end])
    return Stripped(body=body.strip("\n"), had_markers=True)


def _body_start(text: str) -> tuple[int, bool]:
    """Offset where the book's own text begins, and whether a marker placed it."""
    start = START.search(text)
    if start is not None:
        return _skip_wrapped_tail(text, start), True
    small_print = SMALL_PRINT_END.search(text)
    # The legal block opens old files but closes some others; only an opening one
    # (in the first half) marks where the text starts.
    if small_print is not None and small_print.start() < len(text) // 2:
        return _after_line(text, small_print.end()), True
    header_end = _old_header_end(text)
    if header_end is not None:
        return header_end, True
    return 0, False


def _skip_wrapped_tail(text: str, start: re.Match[str]) -> int:
    """Step past a START line, and past its continuation if the title wrapped."""
    after = _after_line(text, start.end())
    if start.group(0).rstrip().endswith("*") or not start.group(0).lstrip().startswith("*"):
        return after
    next_end = text.find("\n", after)
    next_line = text[after : next_end if next_end != -1 else len(text)]
    if _WRAPPED_MARKER_TAIL.match(next_line):
        return _after_line(text, after + len(next_line))
    return after


def _old_header_end(text: str) -> int | None:
    """End of a header block (Title:, Author:, ...) in a file that opens with Gutenberg's name.

    Some old files have neither START nor the legal block, only a header and an
    "End of Project Gutenberg Etext" line.
    """
    lines = text.split("\n", _HEADER_LINES)[:_HEADER_LINES]
    first = next((line for line in lines if line.strip()), "")
    if not OLD_STYLE_FIRST_LINE.match(first):
        return None
    offset = 0
    header_end: int | None = None
    for line in lines:
        offset += len(line) + 1
        if HEADER_FIELD.match(line):
            header_end = offset
    return min(header_end, len(text)) if header_end is not None else None


def _drop_leading_credits(body: str) -> str:
    """Remove a "Produced by ..." paragraph at the very start of the body."""
    stripped = body.lstrip("\n")
    if not _CREDIT.match(stripped):
        return body
    paragraph_end = stripped.find("\n\n")
    return "" if paragraph_end == -1 else stripped[paragraph_end:]


def _after_line(text: str, position: int) -> int:
    """Offset of the first character after the line containing ``position``."""
    newline = text.find("\n", position)
    return len(text) if newline == -1 else newline + 1


def strip_sections(sections: list[Section]) -> tuple[list[Section], bool]:
    """Sections without what precedes a START marker and what follows an end marker.

    For formats whose Gutenberg header and license arrive as text (old HTML editions in
    ``<pre>``, PDFs printed from the text edition). Returns the sections and whether a
    marker was seen.
    """
    flat = [(index, part) for index, section in enumerate(sections) for part in section.parts]
    start = next((n for n, (_, part) in enumerate(flat) if START.search(part.text)), None)
    end = next(
        (
            n
            for n, (_, part) in enumerate(flat[(start or 0) :], start or 0)
            if n != start and BODY_END.search(part.text)
        ),
        None,
    )
    if start is None and end is None:
        return sections, False
    keep: dict[int, list[Part]] = {}
    for n, (index, part) in enumerate(flat):
        if (start is not None and n <= start) or (end is not None and n >= end):
            continue
        keep.setdefault(index, []).append(part)
    first = flat[start][0] if start is not None else 0
    result = [
        Section(section.title, tuple(keep.get(index, [])))
        for index, section in enumerate(sections)
        if index in keep or (index > first and section.title and index not in _after(end, flat))
    ]
    return result, True


def _after(end: int | None, flat: list[tuple[int, Part]]) -> set[int]:
    """Indexes of sections lying wholly at or after the end marker."""
    if end is None:
        return set()
    return {index for index, _ in flat[end:]} - {index for index, _ in flat[:end]}
