"""Reading one page with Tesseract: a one-page PDF or a page image in, its text out.

Tesseract 5 runs in this process through tesserocr (MIT), one recognition thread, with the
language packs Debian installs (`tesseract-ocr-eng`, `-deu`, ...). docs/formats.md has the
measurements that chose tesserocr over pytesseract's process per page and the resolution.
An engine is made once per process and language (loading a model takes 0.07 s) and reused
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
from corpus.formats.ocr_language import guess_language

__all__ = [
    "AUTO",
    "DEFAULT_DPI",
    "DEFAULT_LANGUAGE",
    "DEFAULT_TIMEOUT",
    "OcrSettings",
    "OcrTimeout",
    "ocr_page",
    "ocr_unavailable",
    "tessdata_dir",
]

# A scanned page is rendered at its image's own resolution, within these bounds: measured in
# docs/formats.md, resampling a 150-dpi scan up to 200 or 300 dpi multiplies its error rate by
# four to six (its noise is enlarged with its letters), and a 300-dpi scan reads no better above
# 300. Below 150 dpi body text gets too small for Tesseract, so such scans are enlarged.
MIN_DPI, DEFAULT_DPI = 150, 300
DEFAULT_LANGUAGE = "eng"
# Read in English, then again in German, French, Italian, Spanish or Dutch when the page is.
AUTO = "auto"
# A book page costs about 1.5 s of a core; one still running after this is pathological. Two
# tries of two readings (English, then the page's language) stay under the worker's soft time
# limit at the default visibility timeout (0.7 x 300 s).
DEFAULT_TIMEOUT = 40.0
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
    """How pages are read: Tesseract languages ("eng", "deu+eng"), resolution, limits.

    ``dpi`` None renders a PDF page at its scanned image's resolution (MIN_DPI to DEFAULT_DPI);
    a number renders every page at that resolution (the benchmark compares them).
    """

    language: str = AUTO
    dpi: int | None = None
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
    image, dpi = _page_image(data, name, page, settings)
    if settings.language != AUTO:
        return _recognise(image, dpi, settings.language, settings.timeout, f"{name}: page {page}")
    # Read in English, and again in the page's language when its words say it is another.
    text = _recognise(image, dpi, DEFAULT_LANGUAGE, settings.timeout, f"{name}: page {page}")
    language = guess_language(text)
    if language is None or ocr_unavailable(language) is not None:
        return text
    return _recognise(image, dpi, language, settings.timeout, f"{name}: page {page}")


def _recognise(image: Image.Image, dpi: int, language: str, timeout: float, where: str) -> str:
    api = _engine(language)
    api.SetImage(image)
    if dpi:
        api.SetSourceResolution(dpi)
    try:
        if not api.Recognize(timeout=int(timeout * 1000)):
            raise OcrTimeout(
                f"{where}: OCR ran past its {timeout:g} s limit; check that the page is a scan "
                "of text (a photo or a dense drawing reads slowly)"
            )
        text: str = api.GetUTF8Text()
        return text
    finally:
        api.Clear()


def _page_image(
    data: bytes, name: str, page: int, settings: OcrSettings
) -> tuple[Image.Image, int]:
    """The page as an 8-bit grey image, and its resolution (0 when an image file has none)."""
    if not data.startswith(b"%PDF"):
        image = decode_page_image(data, name, page, settings.max_pixels)
        return image, int(image.info.get("dpi", (0, 0))[0])
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        pdf_page = document[0]
        dpi = settings.dpi or _scan_dpi(pdf_page, name, page, settings.max_pixels)
        scale = dpi / _PDF_POINTS_PER_INCH
        width, height = pdf_page.get_size()
        check_pixels(width * scale, height * scale, name, page, settings.max_pixels)
        bitmap = pdf_page.render(scale=scale, grayscale=True)
        return bitmap.to_pil().convert("L"), dpi
    finally:
        document.close()


def _scan_dpi(pdf_page: Any, name: str, page: int, max_pixels: int) -> int:
    """The resolution of the page's largest image as placed on the page, within bounds.

    Each image's size is read from its dictionary and checked against the pixel limit first:
    PDFium decodes an image whole however small the page shows it.
    """
    import pypdfium2 as pdfium

    best, dpi = 0, DEFAULT_DPI
    for item in pdf_page.get_objects(filter=(pdfium.raw.FPDF_PAGEOBJ_IMAGE,), max_depth=2):
        pixels_wide, pixels_high = item.get_px_size()
        check_pixels(pixels_wide, pixels_high, name, page, max_pixels)
        left, _, right, _ = item.get_bounds()
        if pixels_wide * pixels_high > best and right > left:
            best = pixels_wide * pixels_high
            dpi = round(pixels_wide / ((right - left) / _PDF_POINTS_PER_INCH))
    return max(MIN_DPI, min(DEFAULT_DPI, dpi))


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
