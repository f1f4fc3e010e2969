"""The one shape every format is extracted into: metadata plus titled sections of text parts."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from corpus.metadata import BookMeta

__all__ = ["Document", "Part", "Section", "clean_text", "sections_from_blocks"]


@dataclass(frozen=True)
class Part:
    """A run of text with the page it was printed on (PDF only).

    ``joins_previous`` marks a paragraph that continues from the part before (across a page
    break), so the chunker joins the two with a space instead of a paragraph break.
    """

    text: str
    page: int | None = None
    joins_previous: bool = False


@dataclass(frozen=True)
class Section:
    """A chapter or other titled stretch of a document; the title may be empty."""

    title: str
    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        """The section's text with paragraph breaks between parts."""
        return "\n\n".join(part.text for part in self.parts)


@dataclass(frozen=True)
class Document:
    """A document read from any format: what it says about itself and its sections in order."""

    format: str
    meta: BookMeta
    sections: list[Section] = field(default_factory=list)
    # Whether Gutenberg's START/END markers (or its boilerplate blocks) were found and cut.
    had_markers: bool = False

    @property
    def text(self) -> str:
        """All sections' text, titles included, as a reader would see it."""
        return "\n\n".join(
            "\n\n".join(filter(None, [section.title, section.text])) for section in self.sections
        )


# Ligatures (U+FB00-FB06) and compatibility spaces become what they stand for. Full NFKC would
# also rewrite ½, ², … and full-width CJK punctuation, which change what a reader sees.
_COMPATIBILITY = {
    code: unicodedata.normalize("NFKC", chr(code))
    for code in [*range(0xFB00, 0xFB07), 0x00A0, *range(0x2000, 0x200B), 0x202F, 0x205F]
}
_COMPATIBILITY.update({0x00AD: "", 0x200B: "", 0xFEFF: ""})
_SPACES = re.compile(r"[^\S\n]+")


def clean_text(text: str) -> str:
    """Text with ligatures and odd spaces normalised, soft hyphens dropped, spaces collapsed."""
    return _SPACES.sub(" ", text.translate(_COMPATIBILITY)).strip()


def sections_from_blocks(blocks: list[tuple[str, str]]) -> list[Section]:
    """Group ``(kind, text)`` blocks, kind ``"heading"`` or ``"text"``, into sections.

    Each heading opens a section; text before the first heading forms an untitled one.
    Consecutive headings with no text between them merge ("CHAPTER I" + "Down the ...").
    """
    sections: list[Section] = []
    title = ""
    parts: list[Part] = []
    for kind, raw in blocks:
        text = clean_text(raw)
        if not text:
            continue
        if kind != "heading":
            parts.append(Part(text))
        elif parts:
            sections.append(Section(title, tuple(parts)))
            title, parts = text, []
        else:
            title = f"{title} {text}" if title else text
    if parts or title:
        sections.append(Section(title, tuple(parts)))
    return sections
