"""Extraction throughput per format on a folder of documents: MB/s, and pages/s for PDF.

    python -m benchmarks.extraction /work/shared/corpus/formats

Each file is read into memory first, so the figures are extraction alone (detection, parsing,
boilerplate removal), not disk reads or chunking.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from corpus.errors import CorpusError
from corpus.formats.extract import extract_document
from corpus.sources import sniff_file

__all__ = ["FormatFigures", "main", "measure"]


@dataclass
class FormatFigures:
    """Totals for one format: files, input bytes, best-of-runs seconds, PDF pages, sections."""

    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    pages: int = 0
    sections: int = 0

    @property
    def mb_per_second(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


def measure(folder: Path, *, repeat: int = 3) -> dict[str, FormatFigures]:
    """Time extraction of every document under ``folder`` (best of ``repeat`` runs each)."""
    figures: dict[str, FormatFigures] = defaultdict(FormatFigures)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        kind = sniff_file(path)
        if kind is None:
            continue
        data = path.read_bytes()
        best = float("inf")
        try:
            for _ in range(repeat):
                start = time.perf_counter()
                document = extract_document(data, path.name)
                best = min(best, time.perf_counter() - start)
        except CorpusError as err:
            print(f"skipped: {err}")
            continue
        total = figures[kind]
        total.files += 1
        total.bytes += len(data)
        total.seconds += best
        total.sections += len(document.sections)
        pages = {p.page for s in document.sections for p in s.parts if p.page is not None}
        total.pages += max(pages, default=0)
    return dict(figures)


def main(argv: list[str] | None = None) -> None:
    """Print a table of extraction throughput per format for the folder given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--repeat", type=int, default=3, help="runs per file; the best counts")
    args = parser.parse_args(argv)
    figures = measure(args.folder, repeat=args.repeat)
    print(f"{'format':<7}{'files':>6}{'MB':>8}{'seconds':>9}{'MB/s':>8}{'pages/s':>9}")
    for kind, total in sorted(figures.items()):
        pages = f"{total.pages_per_second:9.0f}" if total.pages else f"{'':>9}"
        print(
            f"{kind:<7}{total.files:>6}{total.bytes / 1e6:>8.2f}{total.seconds:>9.2f}"
            f"{total.mb_per_second:>8.2f}{pages}"
        )


if __name__ == "__main__":
    main()
