"""PDF: page text without running headers, footers or page numbers; chapters; page numbers.

Chapters come from the outline (bookmarks) when the PDF has one, else from lines set larger than
the body text. Paragraphs are found from the gaps between lines; words hyphenated at a line end
are joined (a real compound hyphen "-" is kept, a typesetter's U+2010 or soft hyphen dropped).
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from corpus.errors import NoTextLayer
from corpus.formats.document import Document, Part, Section, clean_text
from corpus.formats.ocr_pages import ocr_lines, page_texts, require_some_text
from corpus.formats.pdf_pages import Line, PdfFile, open_pdf
from corpus.metadata import BookMeta, gutenberg_number

__all__ = ["document_sections", "extract_pdf"]

# Lines this much larger than the body text are headings.
_HEADING_RATIO = 1.15
_MAX_HEADING_CHARS = 150
# A gap between lines this much wider than the usual line step starts a new paragraph.
_PARAGRAPH_GAP_RATIO = 1.3
# How many lines at each end of a page can be running headers or footers, and on how many
# pages a line (digits ignored) must recur to be one.
_EDGE_LINES = 2
_RECURRING_SHARE = 0.4
_MIN_RECURRING_PAGES = 3
_DIGITS = re.compile(r"\d+")
_SOFT_BREAK_HYPHENS = ("\u2010", "\u00ad")
# A page with fewer characters of text than this and an image is a scan (a stamped page number
# or a library's watermark is not a text layer).
_SCAN_MAX_CHARS = 20


@dataclass
class _Builder:
    """Sections being assembled from headings and paragraphs, each paragraph with its page."""

    sections: list[Section] = field(default_factory=list)
    title: str = ""
    parts: list[Part] = field(default_factory=list)

    def heading(self, text: str) -> None:
        if self.parts:
            self.sections.append(Section(self.title, tuple(self.parts)))
            self.title, self.parts = text, []
        else:
            # A heading wrapped over two lines; a dash at the line end joins without a space.
            space = "" if self.title.endswith(("\u2014", "-", "\u2010")) else " "
            self.title = f"{self.title}{space}{text}" if self.title else text

    def paragraph(self, text: str, page: int, joins_previous: bool) -> None:
        text = clean_text(text)
        if not text:
            return
        joins_previous = joins_previous and bool(self.parts)
        if joins_previous and self.parts[-1].text.endswith(_SOFT_BREAK_HYPHENS):
            # A word hyphenated across the page break: its first half moves to this page.
            last = self.parts.pop()
            head, _, fragment = last.text[:-1].rpartition(" ")
            if head:
                self.parts.append(Part(head, last.page, last.joins_previous))
            text = fragment + text
            joins_previous = bool(head) or last.joins_previous
            page = page if head else (last.page or page)
        self.parts.append(Part(text, page, joins_previous))

    def finish(self) -> list[Section]:
        if self.parts or self.title:
            self.sections.append(Section(self.title, tuple(self.parts)))
        return self.sections


def extract_pdf(data: bytes, name: str) -> Document:
    """The sections of a PDF, every part tagged with its 1-based page number.

    A page with (almost) no text but an image on it is a scan: it is read with OCR, each page
    decided on its own (corpus/formats/ocr_pages.py says where the reading happens).
    """
    pdf = open_pdf(data, name)
    try:
        pages = list(pdf.pages())
        meta = _meta(pdf)
        outline = pdf.outline()
        scans = [n for n, lines in enumerate(pages, 1) if _is_scan(lines, pdf, n)]
        texts = page_texts(name, data, scans, lambda n: pdf.page_bytes(n - 1)) if scans else {}
    finally:
        pdf.close()
    typed = sum(1 for number, lines in enumerate(pages, 1) if lines and number not in texts)
    require_some_text(name, texts, text_pages=typed)
    for number, text in texts.items():
        pages[number - 1] = ocr_lines(text)
    if not any(pages):
        raise NoTextLayer(f"{name}: scanned: no text to extract; OCR it first")
    return Document("pdf", meta, document_sections(pages, outline, set(scans)))


def document_sections(
    pages: list[list[Line]], outline: list[tuple[int, str, int]], scans: set[int]
) -> list[Section]:
    """Sections from each page's lines; ``scans`` are the pages whose lines came from OCR."""
    pages = _drop_running_lines(pages)
    body_size = _body_size(pages)
    chapter_starts = {page: title for level, title, page in outline if level == 0}
    builder = _Builder()
    for number, lines in enumerate(pages, start=1):
        if outline and number in chapter_starts:
            builder.heading(chapter_starts[number])
            lines = _without_heading(lines, chapter_starts[number])
        # OCR lines have no font size: their own line step (0 size) splits their paragraphs.
        size = 0.0 if number in scans else body_size
        _read_page(lines, number, size, builder, use_sizes=not outline and number not in scans)
    return builder.finish()


def _is_scan(lines: list[Line], pdf: PdfFile, number: int) -> bool:
    """Almost no text layer, and an image to read: a blank page is not sent to OCR."""
    return sum(len(line.text) for line in lines) < _SCAN_MAX_CHARS and pdf.has_image(number - 1)


def _read_page(
    lines: list[Line], page: int, body_size: float, builder: _Builder, *, use_sizes: bool
) -> None:
    step = _line_step(lines, body_size)
    paragraph: list[str] = []
    # The first paragraph of a page continues the last one of the page before, unless the
    # page opens with a heading or a new paragraph; we cannot see an indent across pages.
    continues = True
    previous: Line | None = None
    for line in lines:
        if use_sizes and line.size >= body_size * _HEADING_RATIO and _headingish(line.text):
            builder.paragraph(_join_lines(paragraph), page, continues)
            paragraph, continues, previous = [], False, None
            builder.heading(clean_text(line.text))
            continue
        gap = previous.last_y - line.y if previous is not None else 0.0
        if step and gap > step * _PARAGRAPH_GAP_RATIO:
            builder.paragraph(_join_lines(paragraph), page, continues)
            paragraph, continues = [], False
        paragraph.append(line.text)
        previous = line
    builder.paragraph(_join_lines(paragraph), page, continues)


def _join_lines(lines: list[str]) -> str:
    """One paragraph from its lines, rejoining words hyphenated at line ends."""
    text = ""
    for line in lines:
        if not text:
            text = line
        elif text.endswith(_SOFT_BREAK_HYPHENS):
            text = text[:-1] + line
        elif text.endswith("-") and line[:1].isalpha():
            text += line  # "waistcoat-" + "pocket": a real hyphen, kept
        else:
            text = f"{text} {line}"
    return text


def _headingish(text: str) -> bool:
    return len(text) <= _MAX_HEADING_CHARS and any(char.isalpha() for char in text)


def _line_step(lines: list[Line], body_size: float) -> float:
    """The usual distance between consecutive body lines of a page."""
    gaps = [
        above.last_y - below.y
        for above, below in itertools.pairwise(lines)
        if above.last_y > below.y and abs(below.size - body_size) < 0.5
    ]
    return statistics.median(gaps) if gaps else 0.0


def _body_size(pages: list[list[Line]]) -> float:
    """The font size most of the text is set in."""
    sizes: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            if line.size:  # OCR lines have no size
                sizes[round(line.size, 1)] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _drop_running_lines(pages: list[list[Line]]) -> list[list[Line]]:
    """Pages without the header and footer lines (digits ignored) that recur on most pages."""
    if len(pages) < _MIN_RECURRING_PAGES:
        return pages
    seen: Counter[str] = Counter()
    for lines in pages:
        seen.update({_shape(line.text) for line in _edges(lines)})
    threshold = max(_MIN_RECURRING_PAGES, _RECURRING_SHARE * len(pages))
    running = {shape for shape, count in seen.items() if count >= threshold}
    kept = []
    for lines in pages:
        edges = {id(line) for line in _edges(lines)}
        kept.append(
            [line for line in lines if id(line) not in edges or _shape(line.text) not in running]
        )
    return kept


def _edges(lines: list[Line]) -> list[Line]:
    # Stamped headers and footers may come last in content order, so both ends are edges,
    # and so is a bare page number anywhere.
    return (
        lines[:_EDGE_LINES] + lines[-_EDGE_LINES:] + [line for line in lines if line.text.isdigit()]
    )


def _shape(text: str) -> str:
    return _DIGITS.sub("#", " ".join(text.lower().split()))


def _without_heading(lines: list[Line], title: str) -> list[Line]:
    """The page's lines without the printed copy of an outline title at its top."""
    wanted = _shape(title)
    for index, line in enumerate(lines[:3]):
        if _shape(line.text) == wanted:
            return lines[:index] + lines[index + 1 :]
    return lines


def _meta(pdf: PdfFile) -> BookMeta:
    info = pdf.metadata()
    return BookMeta(
        title=" ".join(info.get("Title", "").split()),
        author=" ".join(info.get("Author", "").split()),
        gutenberg_id=gutenberg_number(f"{info.get('Subject', '')} {info.get('Keywords', '')}"),
    )
