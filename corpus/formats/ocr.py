"""Reading one page with Tesseract: a one-page PDF or a page image in, its text out.

Tesseract 5 runs in this process through tesserocr (MIT), one recognition thread, with the
language packs Debian installs (`tesseract-ocr-eng`, `-deu`, ...). docs/formats.md has the
measurements that chose tesserocr over pytesseract's process per page and the resolution.
An engine is made once per process and language (loading a model costs about 0.3 s) and reused
page after page; nothing here knows about queues or workers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image

from corpus.errors import DecodeError, NoTextLayer
from corpus.formats.images import DEFAULT_MAX_PIXELS, check_pixels, decode_page_image

__all__ = [
    "DEFAULT_DPI",
    "DEFAULT_LANGUAGE",
    "DEFAULT_TIMEOUT",
    "OcrSettings",
    "OcrTimeout",
    "ocr_page",
    "ocr_unavailable",
    "tessdata_dir",
]

# Measured in docs/formats.md: 300 dpi reads a poor scan markedly better than 200 for about
# the same time on a clean page, the resolution Tesseract's own documentation asks for.
DEFAULT_DPI = 300
DEFAULT_LANGUAGE = "eng"
# A book page takes 2-4 s on one core; a page still running after this is pathological.
DEFAULT_TIMEOUT = 60.0
_TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)
_PDF_POINTS_PER_INCH = 72
_INSTALL = "run scripts/setup.sh (apt-get install tesseract-ocr tesseract-ocr-eng)"


class OcrTimeout(DecodeError):
    """A page whose recognition ran past its time limit."""


@dataclass(frozen=True)
class OcrSettings:
    """How pages are read: Tesseract languages ("eng", "deu+eng"), resolution, limits."""

    language: str = DEFAULT_LANGUAGE
    dpi: int = DEFAULT_DPI
    max_pixels: int = DEFAULT_MAX_PIXELS
    timeout: float = DEFAULT_TIMEOUT


def tessdata_dir() -> Path | None:
    """Where the language packs are: TESSDATA_PREFIX, else Debian's and the usual places."""
    candidates = [os.environ.get("TESSDATA_PREFIX", ""), *_TESSDATA_DIRS]
    for candidate in filter(None, candidates):
        if any(Path(candidate).glob("*.traineddata")):
            return Path(candidate)
    return None


def ocr_unavailable(language: str = DEFAULT_LANGUAGE) -> str | None:
    """Why pages in ``language`` cannot be read here, in one line; None when they can."""
    try:
        import tesserocr  # noqa: F401
    except ImportError:
        return f"the tesserocr package is not installed; {_INSTALL}"
    found = tessdata_dir()
    if found is None:
        return f"no Tesseract language packs found; {_INSTALL}"
    for code in language.split("+"):
        if not (found / f"{code}.traineddata").exists():
            return (
                f"Tesseract has no language pack {code!r} in {found}; "
                f"apt-get install tesseract-ocr-{code}"
            )
    return None


def ocr_page(data: bytes, *, name: str, page: int, settings: OcrSettings) -> str:
    """The text Tesseract reads on one page (a one-page PDF or an image), "" when none.

    Raises DocumentTooLarge for a page over the pixel limit (checked before decoding),
    OcrTimeout past the time limit, NoTextLayer when Tesseract is missing.
    """
    image = _page_image(data, name, page, settings)
    api = _engine(settings.language)
    api.SetImage(image)
    api.SetSourceResolution(settings.dpi)
    if not api.Recognize(timeout=int(settings.timeout * 1000)):
        api.Clear()
        raise OcrTimeout(
            f"{name}: page {page}: OCR ran past its {settings.timeout:g} s limit; "
            "check the scan or raise RAGMILL_OCR_TIMEOUT"
        )
    text: str = api.GetUTF8Text()
    api.Clear()
    return text


def _page_image(data: bytes, name: str, page: int, settings: OcrSettings) -> Image.Image:
    if not data.startswith(b"%PDF"):
        return decode_page_image(data, name, page, settings.max_pixels)
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        pdf_page = document[0]
        scale = settings.dpi / _PDF_POINTS_PER_INCH
        width, height = pdf_page.get_size()
        check_pixels(width * scale, height * scale, name, page, settings.max_pixels)
        # An image inside the page may be far larger than the page rendered; PDFium decodes it
        # whole, so its size, read from its dictionary, is checked as well.
        for item in pdf_page.get_objects(filter=(pdfium.raw.FPDF_PAGEOBJ_IMAGE,), max_depth=2):
            image_width, image_height = item.get_px_size()
            check_pixels(image_width, image_height, name, page, settings.max_pixels)
        bitmap = pdf_page.render(scale=scale, grayscale=True)
        return bitmap.to_pil().convert("L")
    finally:
        document.close()


@cache
def _engine(language: str) -> Any:
    """This process's Tesseract for ``language``, loaded on first use."""
    # One recognition thread per process: the workers already run one process per core.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    reason = ocr_unavailable(language)
    if reason is not None:
        raise NoTextLayer(f"pages without a text layer cannot be read: {reason}")
    import tesserocr

    return tesserocr.PyTessBaseAPI(path=f"{tessdata_dir()}/", lang=language)
