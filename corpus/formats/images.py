"""Page images (PNG, JPEG, TIFF and multi-page TIFF): told by their magic, split into pages and
decoded only after their header says they fit under the pixel limit.

A decompression bomb is a small file whose header promises a huge image (a 40 kB PNG can
decode to 10 GB of pixels); the header is read without decoding, so the size is checked first.
"""

from __future__ import annotations

import io
import warnings
from typing import BinaryIO

from PIL import Image

from corpus.errors import CorruptDocument, DocumentTooLarge

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "check_pixels",
    "decode_page_image",
    "image_pages",
    "readable_image",
]

# A 600-dpi A3 scan is 70 million pixels; a 300-dpi A4 page, 8.7 million. Past this a page is
# refused before decoding: an 80-million-pixel grey page holds 80 MB, and Tesseract several times
# that.
DEFAULT_MAX_PIXELS = 80_000_000


def readable_image(data: bytes | BinaryIO) -> bool:
    """Whether the image's header can be read (a file with only the magic of one is not); from
    its bytes or an open file, of which Pillow reads only the header."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
                return image.width > 0 and image.height > 0
    except Image.DecompressionBombError:
        return True  # an image, which extraction refuses with the pixel limit in its line
    except (OSError, ValueError, SyntaxError):
        return False


def check_pixels(width: float, height: float, name: str, page: int, max_pixels: int) -> None:
    """Refuse a page that would decode to more than ``max_pixels`` pixels, in one line."""
    if width * height > max_pixels:
        raise DocumentTooLarge(
            f"{name}: page {page} would decode to {int(width)}x{int(height)} pixels, over the "
            f"{max_pixels:,}-pixel limit; scan it at a lower resolution"
        )


def image_pages(data: bytes, name: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> list[bytes]:
    """Each page of an image file as image bytes of its own (a TIFF frame becomes a PNG).

    Sizes are checked from the headers before any page is decoded.
    """
    image = _open(data, name, max_pixels)
    frames = getattr(image, "n_frames", 1)
    if frames == 1:
        check_pixels(*image.size, name, 1, max_pixels)
        return [data]
    pages = []
    for index in range(frames):
        image.seek(index)
        check_pixels(*image.size, name, index + 1, max_pixels)
    for index in range(frames):
        image.seek(index)
        pages.append(_png(_decoded(image, name, index + 1)))
    return pages


def decode_page_image(data: bytes, name: str, page: int, max_pixels: int) -> Image.Image:
    """One page image, decoded to 8-bit grey once its header says it fits."""
    image = _open(data, name, max_pixels)
    check_pixels(*image.size, name, page, max_pixels)
    return _decoded(image, name, page)


def _open(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """The image with its header read and its pixels not yet decoded."""
    # Our own check follows; Pillow refuses by itself only past twice its 89-Mpx default.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise DocumentTooLarge(
            f"{name}: page 1 would decode to more than {max_pixels:,} pixels (its header says "
            "so); scan it at a lower resolution"
        ) from None
    except (OSError, ValueError) as err:
        raise CorruptDocument(
            f"{name}: not a readable PNG, JPEG or TIFF image ({err}); re-export it"
        ) from None


def _decoded(image: Image.Image, name: str, page: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return image.convert("L")
    except (OSError, ValueError, SyntaxError) as err:
        raise CorruptDocument(
            f"{name}: page {page}: the image is truncated or corrupt ({err}); re-export it"
        ) from None


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
