"""The bench's books and chunks: real Gutenberg books cut to exact-size corpora.

Each corpus size is a run of books in catalog order (repeated under new ids when the 50 books are
not enough), the last one cut short so the total lands on the size. Every run gets its own ids,
so no run finds another's download in the cache and every run downloads, chunks and embeds all of
its books. The bench chunks each book here exactly as a worker will, so the bare-encode
measurements use the very texts the pipeline embeds.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from corpus.book import prepare_book
from corpus.chunking import ChunkConfig
from corpus.tokens import load_tokenizer, model_window
from tasks.settings import Settings

# Served ids: run * RUN_STRIDE + copy * COPY_STRIDE + the Gutenberg id (all ids are < 100000).
RUN_STRIDE = 10_000_000
COPY_STRIDE = 100_000


class BenchCorpusError(ValueError):
    """The bench corpus directory cannot be used."""


@dataclass(frozen=True)
class ServedBook:
    """One book as the bench mirror serves it: a new id over a real book, maybe cut short."""

    served_id: str
    source_id: str
    lines: int | None  # keep only the first `lines` lines; None keeps the whole book


@dataclass
class CorpusSet:
    """The books of one run and the chunk texts the pipeline will make of them."""

    books: list[ServedBook]
    texts: list[str]


@dataclass
class BenchCorpus:
    """Gutenberg books on disk (pg<id>.txt beside catalog.csv), chunked on demand."""

    directory: Path
    settings: Settings
    _chunks: dict[tuple[str, int | None], list[str]] = field(default_factory=dict)

    @cached_property
    def ids(self) -> list[str]:
        catalog = self.directory / "catalog.csv"
        if not catalog.is_file():
            raise BenchCorpusError(
                f"{self.directory}: no catalog.csv; point --corpus at a folder of pg<id>.txt "
                "files with a catalog.csv (id,title,...)"
            )
        with open(catalog, newline="", encoding="utf-8") as handle:
            ids = [row["id"] for row in csv.DictReader(handle)]
        ids = [i for i in ids if (self.directory / f"pg{i}.txt").is_file()]
        if not ids:
            raise BenchCorpusError(f"{self.directory}: catalog.csv names no pg<id>.txt present")
        return ids

    @cached_property
    def _config(self) -> tuple[object, ChunkConfig]:
        model = Path(self.settings.model)
        config = ChunkConfig(
            max_tokens=self.settings.chunk_tokens,
            overlap_tokens=self.settings.chunk_overlap,
            window=model_window(model),
        )
        return load_tokenizer(model), config

    def raw(self, source_id: str) -> bytes:
        return (self.directory / f"pg{source_id}.txt").read_bytes()

    def served_bytes(self, book: ServedBook) -> bytes:
        """The bytes the mirror serves for `book`: header renumbered, maybe cut short."""
        text = self.raw(book.source_id).decode("utf-8", errors="replace")
        if book.lines is not None:
            text = "".join(text.splitlines(keepends=True)[: book.lines])
        # The header names the real eBook number; a copy says its own so nothing warns.
        text = re.sub(rf"#{book.source_id}\b", f"#{book.served_id}", text, count=3)
        return text.encode("utf-8")

    def chunk_texts(self, source_id: str, lines: int | None) -> list[str]:
        """Chunk texts of a book (or its first `lines` lines) as a worker makes them."""
        key = (source_id, lines)
        if key not in self._chunks:
            tokenizer, config = self._config
            probe = ServedBook(served_id=source_id, source_id=source_id, lines=lines)
            book = prepare_book(
                self.served_bytes(probe),
                name=f"book {source_id}",
                tokenizer=tokenizer,
                config=config,
                gutenberg_id=source_id,
                fallback_id=source_id,
            )
            self._chunks[key] = [c.text for c in book.chunks]
        return self._chunks[key]

    def line_count(self, source_id: str) -> int:
        return len(self.raw(source_id).decode("utf-8", errors="replace").splitlines())

    def take(self, size: int, run: int) -> CorpusSet:
        """Books for a run of about `size` chunks (the last one cut to fit), under `run`'s ids."""
        books: list[ServedBook] = []
        texts: list[str] = []
        copy = 0
        while len(texts) < size:
            for source_id in self.ids:
                served = str(run * RUN_STRIDE + copy * COPY_STRIDE + int(source_id))
                whole = self.chunk_texts(source_id, None)
                missing = size - len(texts)
                if len(whole) <= missing:
                    books.append(ServedBook(served, source_id, None))
                    texts += whole
                else:
                    lines, part = self._cut(source_id, missing)
                    books.append(ServedBook(served, source_id, lines))
                    texts += part
                if len(texts) >= size:
                    break
            copy += 1
        return CorpusSet(books, texts)

    def _cut(self, source_id: str, wanted: int) -> tuple[int, list[str]]:
        """The first lines of a book that chunk into `wanted` chunks or just over."""
        low, high = 1, self.line_count(source_id)
        # Chunk count grows with the lines kept; a bisection finds the cut in a few chunkings.
        while low < high:
            middle = (low + high) // 2
            if len(self._safe_chunks(source_id, middle)) >= wanted:
                high = middle
            else:
                low = middle + 1
        return low, self._safe_chunks(source_id, low)

    def _safe_chunks(self, source_id: str, lines: int) -> list[str]:
        from corpus.errors import CorpusError

        try:
            return self.chunk_texts(source_id, lines)
        except CorpusError:
            # Too few lines to leave any text after the header.
            return []
