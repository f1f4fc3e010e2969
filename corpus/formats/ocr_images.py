"""A document made of page images (a PNG, a JPEG, a TIFF of one or many pages): every page OCR'd.

The pages go through the same reader as a scanned PDF's (corpus/formats/ocr_pages.py), so they
are read in parallel on the workers and keep their page numbers.
"""

from __future__ import annotations

from corpus.errors import DecodeError
from corpus.formats.document import Document
from corpus.formats.images import image_pages
from corpus.formats.ocr_pages import current_plan, ocr_lines, page_texts, require_some_text
from corpus.formats.pdf import document_sections
from corpus.metadata import BookMeta

__all__ = ["extract_images"]


def extract_images(data: bytes, name: str) -> Document:
    """The text of every page of an image file, each part tagged with its 1-based page."""
    pages = image_pages(data, name, current_plan().settings.max_pixels)
    numbers = list(range(1, len(pages) + 1))
    texts = page_texts(name, data, numbers, lambda number: pages[number - 1])
    require_some_text(name, texts, text_pages=0)
    lines = [ocr_lines(texts[number]) for number in numbers]
    if not any(lines):
        raise DecodeError(f"{name}: OCR found no text in the image; check that it shows text")
    return Document("image", BookMeta(), document_sections(lines, [], set(numbers)))
