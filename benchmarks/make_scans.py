"""Scans of real book pages, clean and poor, with the text each page must give back.

    python -m benchmarks.make_scans --out data/scans --pages 8

Pages of the PDFs in `shared/corpus/formats/` are rendered with PDFium and saved as image-only
PDFs, as a scanner writes them:

    clean.pdf   300 dpi, grey, straight: a good flatbed scan
    poor.pdf    150 dpi, turned by up to 1.5 degrees, blurred, grey noise and specks: a hurried
                photocopy

`truth.json` holds each page's text from the book's own text layer. Pages are picked evenly over
each book, away from its front matter; everything random is seeded, so two runs write the same
scans.
"""

from __future__ import annotations

import argparse
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageFilter

from corpus.formats.pdf_pages import _lines

__all__ = ["Scans", "main", "make_scans"]

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "formats"
DEFAULT_BOOKS = ("alice-in-wonderland", "frankenstein", "moby-dick", "pride-and-prejudice")
CLEAN_DPI, POOR_DPI = 300, 150
_POOR_MAX_DEGREES = 1.5
_POOR_NOISE_SIGMA = 18.0
_POOR_SPECKS = 0.002
# Skip the title page, contents and licence: pages of running text are what a scan is read for.
_FIRST_PAGE_SHARE, _LAST_PAGE_SHARE = 0.1, 0.9


@dataclass(frozen=True)
class Scans:
    """Where a set of scans lies: the two PDFs and the expected text of each page."""

    folder: Path

    @property
    def clean(self) -> Path:
        return self.folder / "clean.pdf"

    @property
    def poor(self) -> Path:
        return self.folder / "poor.pdf"

    def truth(self) -> list[str]:
        texts: list[str] = json.loads((self.folder / "truth.json").read_text())
        return texts


def pick_pages(count: int, books: int) -> list[float]:
    """Positions (shares of a book's length) of ``count`` pages spread over ``books`` books."""
    per_book = -(-count // books)
    span = _LAST_PAGE_SHARE - _FIRST_PAGE_SHARE
    return [_FIRST_PAGE_SHARE + span * (i + 0.5) / per_book for i in range(per_book)]


def book_pages(pdf_dir: Path, count: int) -> list[tuple[pdfium.PdfPage, str]]:
    """``count`` real pages and their text layers, taken in turn from each book."""
    documents = [pdfium.PdfDocument(pdf_dir / f"{stem}.pdf") for stem in DEFAULT_BOOKS]
    pages = []
    for share in pick_pages(count, len(documents)):
        for document in documents:
            page = document[int(share * len(document))]
            pages.append((page, reading_order(page)))
    return pages[:count]


def reading_order(page: pdfium.PdfPage) -> str:
    """The page's text layer top to bottom, as a reader (and Tesseract) meets it.

    The layer's own order may differ: these books stamp their running header and footer last,
    which would count a correct reading of the header as a block of errors.
    """
    textpage = page.get_textpage()
    try:
        lines = _lines(textpage)
    finally:
        textpage.close()
    ordered = sorted(enumerate(lines), key=lambda item: (-round(item[1].y), item[0]))
    return " ".join(" ".join(line.text for _, line in ordered).split())


def clean_scan(page: pdfium.PdfPage) -> Image.Image:
    return page.render(scale=CLEAN_DPI / 72, grayscale=True).to_pil().convert("L")


def poor_scan(page: pdfium.PdfPage, rng: random.Random) -> Image.Image:
    """A low-resolution, skewed, blurred, noisy copy of the page."""
    image = page.render(scale=POOR_DPI / 72, grayscale=True).to_pil().convert("L")
    angle = rng.uniform(-_POOR_MAX_DEGREES, _POOR_MAX_DEGREES)
    image = image.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    noise = np.random.default_rng(rng.randrange(2**32))
    pixels = np.asarray(image, dtype=np.float32)
    pixels += noise.normal(0.0, _POOR_NOISE_SIGMA, pixels.shape)
    specks = noise.random(pixels.shape) < _POOR_SPECKS
    pixels[specks] = noise.choice([0.0, 255.0], size=int(specks.sum()))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")


def image_pdf(images: list[Image.Image], dpi: int) -> bytes:
    """An image-only PDF, one page per image (JPEG inside, as most scanners write)."""
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=dpi,
                   quality=90)
    return out.getvalue()


def make_scans(out: Path, pages: int, *, seed: int = 29, corpus: Path | None = None) -> Scans:
    """Write clean.pdf, poor.pdf and truth.json of ``pages`` real pages into ``out``."""
    pdf_dir = corpus or DEFAULT_CORPUS
    if not (pdf_dir / f"{DEFAULT_BOOKS[0]}.pdf").is_file():
        raise SystemExit(f"{pdf_dir}: no book PDFs here; pass --corpus FOLDER of the format files")
    rng = random.Random(seed)
    picked = book_pages(pdf_dir, pages)
    out.mkdir(parents=True, exist_ok=True)
    scans = Scans(out)
    scans.clean.write_bytes(image_pdf([clean_scan(p) for p, _ in picked], CLEAN_DPI))
    scans.poor.write_bytes(image_pdf([poor_scan(p, rng) for p, _ in picked], POOR_DPI))
    (out / "truth.json").write_text(json.dumps([text for _, text in picked], indent=1))
    return scans


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/scans"))
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--corpus", type=Path, help="folder of the book PDFs")
    args = parser.parse_args(argv)
    scans = make_scans(args.out, args.pages, seed=args.seed, corpus=args.corpus)
    print(f"{scans.clean}, {scans.poor}: {args.pages} pages; expected text in truth.json")


if __name__ == "__main__":
    main()
