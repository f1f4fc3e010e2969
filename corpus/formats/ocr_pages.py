"""Which pages of a document need OCR, and how their OCR text joins the rest of the book.

Extraction finds pages without a text layer and either reads them here, one after another
(a caller of `extract_document` with no workers), or, when its caller runs the pages in
parallel elsewhere, stops with `PagesNeedOcr` carrying each such page as bytes of its own. The
caller reads them and extracts again with the texts supplied (`ocr_plan`). The plan rides in a
context variable so `prepare_book` and `extract_document` keep their signatures.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from corpus.errors import DecodeError, NoTextLayer
from corpus.formats.ocr import OcrSettings, OcrTimeout, ocr_page
from corpus.formats.pdf_pages import Line

__all__ = [
    "OcrPlan",
    "PagesNeedOcr",
    "current_plan",
    "ocr_lines",
    "ocr_plan",
    "page_texts",
    "read_inline",
    "require_some_text",
]


@dataclass(frozen=True)
class OcrPlan:
    """Texts already read (page number -> text) and whether missing pages are read inline."""

    texts: Mapping[int, str] = field(default_factory=dict)
    inline: bool = True
    settings: OcrSettings = field(default_factory=OcrSettings)


_PLAN: ContextVar[OcrPlan | None] = ContextVar("ocr_plan", default=None)


@contextmanager
def ocr_plan(plan: OcrPlan) -> Iterator[None]:
    """Extraction inside the block uses ``plan`` for pages without a text layer."""
    token = _PLAN.set(plan)
    try:
        yield
    finally:
        _PLAN.reset(token)


def current_plan() -> OcrPlan:
    return _PLAN.get() or OcrPlan()


class PagesNeedOcr(NoTextLayer):
    """Pages to read before the document can be extracted: page number -> the page's bytes.

    ``digest`` names the document's content, so pages already read can be found again; a page
    in ``page_digests`` is found by its own content instead (a page image of a folder, whose text
    stays found when other pages are added, removed or renumbered).
    """

    def __init__(
        self, name: str, digest: str, pages: dict[int, bytes],
        page_digests: dict[int, str] | None = None,
    ) -> None:
        super().__init__(f"{name}: {len(pages)} page(s) without a text layer need OCR")
        self.name, self.digest, self.pages = name, digest, pages
        self.page_digests = page_digests or {}

    def __reduce__(self) -> tuple[Any, ...]:
        # Crosses from an extraction process to the worker thread with all its pages.
        return (PagesNeedOcr, (self.name, self.digest, self.pages, self.page_digests))


def page_texts(
    name: str, data: bytes, numbers: list[int], page_bytes: Callable[[int], bytes], *,
    pages_by_content: bool = False,
) -> dict[int, str]:
    """The OCR text of pages ``numbers``: from the plan, or read here when the plan says inline.

    ``page_bytes`` gives a page as bytes of its own (a one-page PDF, an image). Raises
    PagesNeedOcr when the caller reads pages elsewhere and some are not in the plan, each page
    named by its own content when ``pages_by_content``.
    """
    plan = current_plan()
    missing = {number: page_bytes(number) for number in numbers if number not in plan.texts}
    if missing and not plan.inline:
        own = {n: hashlib.sha256(page).hexdigest() for n, page in missing.items()}
        raise PagesNeedOcr(
            name, hashlib.sha256(data).hexdigest(), missing, own if pages_by_content else None
        )
    texts = {number: plan.texts[number] for number in numbers if number in plan.texts}
    texts.update(read_inline(name, missing, plan.settings))
    return texts


def read_inline(name: str, pages: dict[int, bytes], settings: OcrSettings) -> dict[int, str]:
    """Each page read in this process in turn; a page that runs past its limit reads as ""."""
    texts = {}
    for number, page in sorted(pages.items()):
        try:
            texts[number] = ocr_page(page, name=name, page=number, settings=settings)
        except OcrTimeout:
            texts[number] = ""
    return texts


def ocr_lines(text: str) -> list[Line]:
    """OCR text as lines the PDF reader understands: size 0 (unknown), and a wider gap in ``y``
    between paragraphs (Tesseract separates its paragraphs with a blank line)."""
    lines: list[Line] = []
    y = 0.0
    for paragraph in text.split("\n\n"):
        for raw in paragraph.splitlines():
            if raw.strip():
                lines.append(Line(raw.strip(), 0.0, 0.0, y, y))
                y -= 1.0
        y -= 2.0
    return lines


def require_some_text(name: str, texts: Mapping[int, str], text_pages: int) -> None:
    """A document whose every page is a scan and whose OCR found nothing fails in one line."""
    if text_pages == 0 and texts and not any(t.strip() for t in texts.values()):
        raise DecodeError(
            f"{name}: OCR found no text on any of its {len(texts)} scanned page(s); check that "
            "the scan is of text and legible"
        )
