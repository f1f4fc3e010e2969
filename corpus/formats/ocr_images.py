"""Documents made of page images, every page OCR'd: an image file (a PNG, a JPEG, a TIFF of one
or many pages), or a folder of them sent as one document (corpus/formats/page_folder.py).

The pages go through the same reader as a scanned PDF's (corpus/formats/ocr_pages.py), so they
are read in parallel on the workers and keep their page numbers.
"""

from __future__ import annotations

from corpus.errors import DecodeError
from corpus.formats.document import Document
from corpus.formats.images import image_pages
from corpus.formats.ocr_pages import current_plan, ocr_lines, page_texts, require_some_text
from corpus.formats.page_folder import unpack_pages
from corpus.formats.pdf import document_sections
from corpus.metadata import BookMeta

__all__ = ["extract_images", "extract_page_folder"]


def extract_images(data: bytes, name: str) -> Document:
    """The text of every page of an image file, each part tagged with its 1-based page."""
    pages = image_pages(data, name, current_plan().settings.max_pixels)
    return _read(data, name, pages, "image", pages_by_content=False)


def extract_page_folder(data: bytes, name: str) -> Document:
    """The text of a folder's page images, packed in page order: page N is the Nth image (a
    multi-page TIFF gives as many pages as it has). Each page's text is found again by the page's
    own content, so adding, removing or renaming a page reads only the pages new to it."""
    max_pixels = current_plan().settings.max_pixels
    pages: list[bytes] = []
    for file, image in unpack_pages(data, name):
        pages += image_pages(image, f"{name}/{file}", max_pixels)
    return _read(data, name, pages, "pages", pages_by_content=True)


def _read(
    data: bytes, name: str, pages: list[bytes], kind: str, *, pages_by_content: bool
) -> Document:
    numbers = list(range(1, len(pages) + 1))
    texts = page_texts(
        name, data, numbers, lambda number: pages[number - 1], pages_by_content=pages_by_content
    )
    require_some_text(name, texts, text_pages=0)
    lines = [ocr_lines(texts[number]) for number in numbers]
    if not any(lines):
        raise DecodeError(f"{name}: OCR found no text in the image; check that it shows text")
    return Document(kind, BookMeta(), document_sections(lines, [], set(numbers)))
