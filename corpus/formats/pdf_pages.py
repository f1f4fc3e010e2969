"""Reading a PDF's pages into lines with their font size and position, one page at a time.

pypdfium2 (PDFium, BSD/Apache) was chosen by measurement: see docs/formats.md. Each page is
loaded, read and closed before the next, so memory holds the document bytes and the text so far,
never every page's objects.
"""

from __future__ import annotations

import ctypes
import io
from collections.abc import Iterator
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from corpus.errors import CorruptDocument, ProtectedDocument

__all__ = ["Line", "PdfFile", "open_pdf"]

# PDFium writes U+FFFE where it saw a hyphen it took for a line-end hyphen; it is a plain "-".
_PDFIUM_HYPHEN = "\ufffe"


@dataclass(frozen=True)
class Line:
    """One line of text: its font size, the origin of its first glyph, the baseline of its last.

    PDFium sometimes returns two printed lines as one (after a hyphen it took for a line-end
    hyphen), so the first and last baselines can differ.
    """

    text: str
    size: float
    x: float
    y: float
    last_y: float


@dataclass
class PdfFile:
    """An open PDF: page count, metadata, outline and a page-by-page line reader."""

    document: pdfium.PdfDocument
    name: str

    @property
    def page_count(self) -> int:
        return len(self.document)

    def metadata(self) -> dict[str, str]:
        """The document information dictionary (Title, Author, Subject, Keywords)."""
        return {key: str(value) for key, value in self.document.get_metadata_dict().items()}

    def outline(self) -> list[tuple[int, str, int]]:
        """Bookmarks as (level, title, 1-based page), in document order."""
        entries = []
        for item in self.document.get_toc(max_depth=4):
            page = item.get_dest().get_index() if item.get_dest() is not None else None
            title = " ".join(item.get_title().split())
            if page is not None and title:
                entries.append((item.level, title, page + 1))
        return entries

    def pages(self) -> Iterator[list[Line]]:
        """The lines of each page in turn."""
        for index in range(self.page_count):
            page = self.document[index]
            try:
                textpage = page.get_textpage()
                try:
                    yield _lines(textpage)
                finally:
                    textpage.close()
            finally:
                page.close()

    def has_image(self, index: int) -> bool:
        """Whether page ``index`` (0-based) draws an image: a scan has one, a blank page none."""
        page = self.document[index]
        try:
            images = page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=2)
            return next(iter(images), None) is not None
        finally:
            page.close()

    def page_bytes(self, index: int) -> bytes:
        """Page ``index`` (0-based) as a PDF of its own, to be read elsewhere (OCR)."""
        single = pdfium.PdfDocument.new()
        try:
            single.import_pages(self.document, [index])
            out = io.BytesIO()
            single.save(out)
            return out.getvalue()
        finally:
            single.close()

    def close(self) -> None:
        self.document.close()


def open_pdf(data: bytes, name: str) -> PdfFile:
    """Open a PDF from bytes; one-line errors for encrypted, truncated or corrupt files."""
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as err:
        if "password" in str(err).lower():
            raise ProtectedDocument(
                f"{name}: the PDF is encrypted (password-protected); decrypt it or export "
                "an unprotected copy"
            ) from err
        raise CorruptDocument(
            f"{name}: the PDF is truncated or corrupt ({err}); re-download or re-export it"
        ) from err
    if len(document) == 0:
        document.close()
        raise CorruptDocument(f"{name}: the PDF has no pages; re-download or re-export it")
    return PdfFile(document, name)


def _lines(textpage: pdfium.PdfTextPage) -> list[Line]:
    text = textpage.get_text_range()
    # Character indexes line up with the string when no character needed a surrogate pair.
    aligned = textpage.count_chars() == len(text)
    x, y = ctypes.c_double(), ctypes.c_double()
    lines: list[Line] = []
    offset = 0
    for raw in text.split("\r\n"):
        stripped = raw.strip()
        if stripped:
            first = offset + (len(raw) - len(raw.lstrip()))
            last = offset + len(raw.rstrip()) - 1
            size, left, bottom, last_bottom = 0.0, 0.0, 0.0, 0.0
            if aligned:
                size = pdfium_c.FPDFText_GetFontSize(textpage.raw, first)
                if pdfium_c.FPDFText_GetCharOrigin(textpage.raw, first, x, y):
                    left, bottom = x.value, y.value
                last_bottom = bottom
                if pdfium_c.FPDFText_GetCharOrigin(textpage.raw, last, x, y):
                    last_bottom = y.value
            text = stripped.replace(_PDFIUM_HYPHEN, "-")
            lines.append(Line(text, size, left, bottom, last_bottom))
        offset += len(raw) + 2
    return lines
